// The reading and writing of a pseudo-terminal's master from the event loop (lib/pty.ts's Pty).
//
// Not a libuv stream: libuv ends a stream at POLLHUP after a short read (uv__stream_io), and a
// master reports POLLHUP as soon as the slave's last fd closes, while the tty layer may still
// hold output not yet passed to the line discipline; that is the "lost tail" of pty libraries
// built on libuv streams (node-pty's tty.ReadStream). Here the master is read until read(2)
// itself says EIO, which n_tty only says once the buffered output has all been read. Reads are
// gathered into chunks of up to 64 KiB (a pty read gives at most 4 KiB) before they reach
// JavaScript.
//
// The same stream, read-only, is the parent's end of a child's stdout or stderr pipe
// (lib/spawn/pipe-reader.ts): read to end-of-file, and ended on demand with what the pipe holds
// (ptyStreamDrain) when the child is gone but a process it left behind keeps the pipe open; and,
// read and written, the parent's end of a socket pair for a child's fd 3 and up
// (lib/spawn/socket-stream.ts), written with MSG_NOSIGNAL and half-closed by shutdown(2).
//
// Man pages: pty(7), pipe(7), unix(7), read(2), write(2), send(2), shutdown(2), ioctl(2) FIONREAD,
// uv_poll_t in libuv's docs.
#include "pty_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <new>

#include "util/addon_state.h"
#include "util/arguments.h"
#include "util/error.h"
#include "util/read_slab.h"

namespace posix_process::pty_stream {

namespace {

constexpr size_t kChunkSize = 64 * 1024;
// The largest read of a pipe: all that a pipe can hold, unprivileged (pipe-max-size).
constexpr size_t kMaxPipeChunk = 1024 * 1024;
// Chunks delivered per readiness event before the loop gets a turn.
constexpr int kChunksPerEvent = 16;

// What the facade's callback receives: (kind, value).
enum EventKind { kData = 0, kEnd = 1, kError = 2, kWritable = 3 };

// What the fd is (ptyStreamOpen's third argument).
enum FdKind { kPtyMaster = 0, kPipeReadEnd = 1, kSocket = 2 };

struct Stream {
  uv_poll_t poll;
  int fd = -1;
  napi_env env = nullptr;
  Napi::FunctionReference on_event;
  std::unique_ptr<Napi::AsyncContext> async_context;
  std::unique_ptr<char[]> buffer{new char[kChunkSize]};
  bool pipe = false;    // read to end-of-file (ReadPipe), not a pty master (ReadPty)
  bool socket = false;  // also written with send(MSG_NOSIGNAL), half-closed by shutdown
  bool reading = false;
  bool writing = false;
  bool ended = false;   // EIO (or an error) seen: no more reads
  bool closed = false;  // closed from JavaScript or by the environment's teardown
  // The Stream is freed once both its handle has closed and its External has been collected:
  // either may come first.
  bool handle_closed = false;
  bool finalized = false;
  bool cleanup_hook = false;  // the environment's cleanup hook is registered
};

void DeleteStream(uv_handle_t* handle) {
  auto* stream = static_cast<Stream*>(handle->data);
  stream->handle_closed = true;
  if (stream->finalized) delete stream;
}

void CleanupStream(void* data);

void CloseStream(Stream* stream) {
  if (stream->closed) return;
  if (stream->cleanup_hook) {
    napi_remove_env_cleanup_hook(stream->env, CleanupStream, stream);
    stream->cleanup_hook = false;
  }
  stream->closed = true;
  uv_poll_stop(&stream->poll);
  ::close(stream->fd);
  stream->on_event.Reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&stream->poll), DeleteStream);
}

// The environment is going away: close (the hook is unregistered by CloseStream itself).
void CleanupStream(void* data) {
  auto* stream = static_cast<Stream*>(data);
  stream->cleanup_hook = false;
  CloseStream(stream);
}

void OnPoll(uv_poll_t* handle, int status, int events);

// Returns 0 or a libuv error.
int UpdatePoll(Stream* stream) {
  if (stream->closed) return 0;
  int events =
      (stream->reading && !stream->ended ? UV_READABLE : 0) | (stream->writing ? UV_WRITABLE : 0);
  if (events == 0) return uv_poll_stop(&stream->poll);
  return uv_poll_start(&stream->poll, events, OnPoll);
}

// Calls the facade with (kind, value); false if the stream was closed meanwhile (by the
// callback). `make_value` runs inside the call's handle scope.
template <typename MakeValue>
bool EmitValue(Stream* stream, EventKind kind, MakeValue make_value) {
  Napi::Env env(stream->env);
  Napi::HandleScope scope(env);
  // A worker that an earlier callback made exit can run no JavaScript, and node-addon-api would
  // abort the process making an Error there: stop reading; the environment's cleanup closes us.
  if (!CanRunJavaScript(env)) {
    stream->reading = stream->writing = false;
    UpdatePoll(stream);
    return false;
  }
  try {
    napi_value argv[] = {Napi::Number::New(env, kind), make_value(env)};
    MakeCallbackReporting(env, *stream->async_context, stream->on_event.Value(), 2, argv);
  } catch (...) {
    ReportCurrentException(env);
  }
  return !stream->closed;
}

bool Emit(Stream* stream, EventKind kind, size_t length = 0, int err = 0) {
  return EmitValue(stream, kind, [&](Napi::Env env) -> napi_value {
    if (kind == kData) return Napi::Buffer<char>::Copy(env, stream->buffer.get(), length);
    return Napi::Number::New(env, err);
  });
}

// The end of reading: end-of-file (kEnd) or an error.
void EndReading(Stream* stream, int err) {
  stream->ended = true;
  UpdatePoll(stream);
  Emit(stream, err == 0 ? kEnd : kError, 0, err);
}

// Reads a pty master until EAGAIN, EIO, a full chunk budget, or the facade stops reading.
void ReadPty(Stream* stream) {
  size_t filled = 0;
  int chunks = 0;
  while (stream->reading && !stream->ended) {
    ssize_t n = ::read(stream->fd, stream->buffer.get() + filled, kChunkSize - filled);
    if (n > 0) {
      filled += static_cast<size_t>(n);
      if (filled < kChunkSize) continue;
      if (!Emit(stream, kData, filled)) return;
      filled = 0;
      if (++chunks == kChunksPerEvent) return;
      continue;
    }
    int err = n == 0 ? EIO : errno;
    if (err == EINTR) continue;
    if (filled > 0 && !Emit(stream, kData, filled)) return;
    filled = 0;
    if (err == EAGAIN) return;
    // EIO: the slave's last fd was closed and everything before has been read (the end);
    // anything else is an error. Either way reading is over.
    EndReading(stream, err == EIO ? 0 : err);
    return;
  }
  if (filled > 0) Emit(stream, kData, filled);
}

// Reads up to `size` bytes of a pipe straight into a Buffer and delivers them. Returns the
// bytes read, 0 at end-of-file, or -errno; -EBADF too if the callback closed the stream.
ssize_t DeliverPipeChunk(Stream* stream, size_t size) {
  ssize_t got = -1;
  int err = 0;
  bool open = EmitValue(stream, kData, [&](Napi::Env env) -> napi_value {
    auto chunk = Napi::Buffer<char>::New(env, size);
    do {
      got = ::read(stream->fd, chunk.Data(), size);
    } while (got < 0 && errno == EINTR);
    if (got < 0) err = errno;
    if (got <= 0) return env.Undefined();  // nothing to deliver: the facade ignores it
    if (static_cast<size_t>(got) == size) return chunk;
    return Napi::Buffer<char>::Copy(env, chunk.Data(), static_cast<size_t>(got));
  });
  if (!open) return -EBADF;
  return got < 0 ? -err : got;
}

// Reads a pipe: one read per readiness event, of what it holds (up to a default pipe's 64 KiB),
// into this thread's read slab, delivered as a view of it (util/read_slab.h): no allocation and
// no copy per chunk, where a copy into a Buffer of the size read cost the reader about a tenth of
// its time (docs/output.md). Level-triggered polling brings what comes meanwhile.
void ReadPipe(Stream* stream) {
  napi_handle_scope scope;  // for the slab's values; JavaScript is called only with data
  if (napi_open_handle_scope(stream->env, &scope) != napi_ok) {
    stream->reading = false;  // only in an environment going away
    UpdatePoll(stream);
    return;
  }
  napi_value view = nullptr;
  ssize_t got = read_slab::Read(stream->env, stream->fd, &view);
  if (got > 0) {
    EmitValue(stream, kData, [&](Napi::Env /*env*/) { return view; });
  } else if (got == -ENOMEM) {  // no memory for a slab: the stream's own 64 KiB, copied
    do {
      got = ::read(stream->fd, stream->buffer.get(), kChunkSize);
    } while (got < 0 && errno == EINTR);
    if (got < 0) got = -errno;
    if (got > 0) Emit(stream, kData, static_cast<size_t>(got));
  }
  napi_close_handle_scope(stream->env, scope);
  if (got > 0 || got == -EAGAIN || stream->closed) return;
  EndReading(stream, static_cast<int>(-got));
}

void ReadSome(Stream* stream) {
  if (stream->pipe) {
    ReadPipe(stream);
  } else {
    ReadPty(stream);
  }
}

void OnPoll(uv_poll_t* handle, int status, int events) {
  auto* stream = static_cast<Stream*>(handle->data);
  if (stream->closed) return;
  if (status == UV_EBADF && stream->socket) {
    // libuv reports POLLERR as EBADF, and stops the poll: a socket whose peer closed with our
    // writes unread (ECONNRESET). The read or write says what it is; the poll starts again.
    events =
        (stream->reading && !stream->ended ? UV_READABLE : 0) | (stream->writing ? UV_WRITABLE : 0);
    status = UpdatePoll(stream);
  }
  if (status < 0) {
    stream->ended = true;
    stream->reading = false;
    stream->writing = false;
    UpdatePoll(stream);
    Emit(stream, kError, 0, -status);
    return;
  }
  if ((events & UV_READABLE) != 0) ReadSome(stream);
  if (!stream->closed && stream->writing && (events & UV_WRITABLE) != 0) {
    stream->writing = false;  // the facade asks again if its write is still short
    UpdatePoll(stream);
    Emit(stream, kWritable);
  }
}

void FinalizeStream(Napi::Env /*env*/, Stream* stream) {
  stream->finalized = true;
  CloseStream(stream);
  if (stream->handle_closed) delete stream;
}

Stream* StreamArgument(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "stream: external");
  }
  return info[0].As<Napi::External<Stream>>().Data();
}

// ptyStreamOpen(fd, onEvent, kind) -> a handle that owns fd (closed by ptyStreamClose, the
// environment's teardown, or the garbage collector). The fd is made non-blocking.
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Argument(info, 0, "fd");
  if (info.Length() < 2 || !info[1].IsFunction()) throw Napi::TypeError::New(env, "onEvent");
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    int err = errno;
    throw SyscallError(env, err, "fcntl");
  }
  uv_loop_t* loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    throw Napi::Error::New(env, "napi_get_uv_event_loop failed");
  }
  // Everything that can throw (any N-API call, in a worker being terminated) comes before
  // uv_poll_init: a handle initialised and then left by a throw would never be closed, and the
  // worker's loop would abort at its close ("uv_loop_close() while having open handles").
  auto owned = std::make_unique<Stream>();
  owned->on_event = Napi::Persistent(info[1].As<Napi::Function>());
  int kind = info.Length() > 2 ? info[2].ToNumber().Int32Value() : kPtyMaster;
  owned->pipe = kind == kPipeReadEnd || kind == kSocket;
  owned->socket = kind == kSocket;
  owned->async_context =
      std::make_unique<Napi::AsyncContext>(env, owned->socket ? "posix-process:socket"
                                                : owned->pipe ? "posix-process:pipe"
                                                              : "posix-process:pty");
  int err = uv_poll_init(loop, &owned->poll, fd);
  if (err != 0) throw SyscallError(env, -err, "uv_poll_init");
  ReleaseFd(env, fd);  // the stream's from here on, closed by it or its cleanup hook
  Stream* stream = owned.release();
  stream->poll.data = stream;
  stream->fd = fd;
  stream->env = env;
  // Registered before the External, which may fail too: the environment's teardown closes it then.
  napi_add_env_cleanup_hook(env, CleanupStream, stream);
  stream->cleanup_hook = true;
  return Napi::External<Stream>::New(env, stream, FinalizeStream);
}

// ptyStreamPoll(handle, read, write): which events the facade wants.
Napi::Value Poll(const Napi::CallbackInfo& info) {
  Stream* stream = StreamArgument(info);
  stream->reading = info[1].ToBoolean();
  stream->writing = info[2].ToBoolean();
  int err = UpdatePoll(stream);
  if (err != 0) throw SyscallError(info.Env(), -err, "uv_poll_start");
  return info.Env().Undefined();
}

// Whether no fd of a pty master's slave is open (POLLHUP, until the slave is opened again).
bool SlaveClosed(int fd) {
  pollfd p = {fd, POLLOUT, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLHUP) != 0;
}

// ptyStreamWrite(handle, buffer, offset) -> bytes written, or -errno (EAGAIN: wait for
// writable; EIO: the terminal has hung up; EPIPE: the socket's peer has).
Napi::Value Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Stream* stream = StreamArgument(info);
  if (info.Length() < 3 || !info[1].IsBuffer()) throw Napi::TypeError::New(env, "buffer");
  auto buffer = info[1].As<Napi::Buffer<char>>();
  int32_t offset = Int32Argument(info, 2, "offset");
  if (offset < 0 || static_cast<size_t>(offset) > buffer.Length()) {
    throw Napi::RangeError::New(env, "offset");
  }
  if (stream->closed) return Napi::Number::New(env, -EBADF);
  ssize_t n;
  const char* data = buffer.Data() + offset;
  size_t length = buffer.Length() - offset;
  do {
    // No SIGPIPE for a peer that is gone, whatever this process does with the signal.
    n = stream->socket ? ::send(stream->fd, data, length, MSG_NOSIGNAL)
                       : ::write(stream->fd, data, length);
  } while (n < 0 && errno == EINTR);
  if (n >= 0) return Napi::Number::New(env, static_cast<double>(n));
  int err = errno;
  // A full master whose slave has closed never gets room, yet polls writable (POLLHUP): waiting
  // for it would spin until the output is read, so it is the hang-up's EIO.
  if (err == EAGAIN && !stream->pipe && SlaveClosed(stream->fd)) err = EIO;
  return Napi::Number::New(env, -err);
}

// ptyStreamShutdown(handle) -> 0 or -errno: a socket only; no more writes (the peer reads
// end-of-file), while reading goes on.
Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Stream* stream = StreamArgument(info);
  if (!stream->socket) throw Napi::TypeError::New(env, "ptyStreamShutdown: a socket's stream");
  if (stream->closed) return Napi::Number::New(env, 0);
  return Napi::Number::New(env, ::shutdown(stream->fd, SHUT_WR) == 0 ? 0 : -errno);
}

// ptyStreamRef(handle, ref): whether the stream keeps the event loop alive.
Napi::Value Ref(const Napi::CallbackInfo& info) {
  Stream* stream = StreamArgument(info);
  auto* handle = reinterpret_cast<uv_handle_t*>(&stream->poll);
  if (!stream->closed) info[1].ToBoolean() ? uv_ref(handle) : uv_unref(handle);
  return info.Env().Undefined();
}

// ptyStreamDrain(handle): a pipe or a socket; delivers what it holds now, then the end, whoever
// still holds its other end (a child the library stopped may have left a process behind that does).
Napi::Value Drain(const Napi::CallbackInfo& info) {
  Stream* stream = StreamArgument(info);
  if (!stream->pipe)
    throw Napi::TypeError::New(info.Env(), "ptyStreamDrain: a pipe's or a socket's stream");
  if (stream->closed || stream->ended) return info.Env().Undefined();
  int held = 0;
  if (::ioctl(stream->fd, FIONREAD, &held) != 0) held = 0;
  for (size_t left = static_cast<size_t>(held); left > 0;) {
    ssize_t got = DeliverPipeChunk(stream, left < kMaxPipeChunk ? left : kMaxPipeChunk);
    if (got <= 0) break;
    left -= static_cast<size_t>(got);
  }
  if (!stream->closed && !stream->ended) EndReading(stream, 0);
  return info.Env().Undefined();
}

// ptyStreamDiscard(handle): a pty master whose output has ended (EIO) but whose child still runs
// (lib/native-duplex.ts keeps it open): reads and drops what a process that opened the terminal
// again wrote since, which would otherwise block once the terminal's buffer is full. Not polled:
// a master with no slave open reports POLLHUP at every turn.
Napi::Value Discard(const Napi::CallbackInfo& info) {
  Stream* stream = StreamArgument(info);
  if (stream->pipe) throw Napi::TypeError::New(info.Env(), "ptyStreamDiscard: a pty's stream");
  for (size_t dropped = 0; !stream->closed && dropped < kMaxPipeChunk;) {
    ssize_t n = ::read(stream->fd, stream->buffer.get(), kChunkSize);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EAGAIN: nothing more now; EIO: no slave open
    dropped += static_cast<size_t>(n);
  }
  return info.Env().Undefined();
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  CloseStream(StreamArgument(info));
  return info.Env().Undefined();
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("ptyStreamOpen", Napi::Function::New(env, Open, "ptyStreamOpen"));
  exports.Set("ptyStreamPoll", Napi::Function::New(env, Poll, "ptyStreamPoll"));
  exports.Set("ptyStreamWrite", Napi::Function::New(env, Write, "ptyStreamWrite"));
  exports.Set("ptyStreamClose", Napi::Function::New(env, Close, "ptyStreamClose"));
  exports.Set("ptyStreamRef", Napi::Function::New(env, Ref, "ptyStreamRef"));
  exports.Set("ptyStreamDrain", Napi::Function::New(env, Drain, "ptyStreamDrain"));
  exports.Set("ptyStreamDiscard", Napi::Function::New(env, Discard, "ptyStreamDiscard"));
  exports.Set("ptyStreamShutdown", Napi::Function::New(env, Shutdown, "ptyStreamShutdown"));
}

}  // namespace posix_process::pty_stream
