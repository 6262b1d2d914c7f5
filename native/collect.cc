// run()'s collection of a child's outputs on the event loop: the parent's read ends of the
// stdout and stderr pipes (or the one `all` pipe) are read here when readable (a uv_poll_t each)
// into one growing buffer per output, and JavaScript is called once, when every output has
// reached end-of-file, with the bytes (and once more, earlier, if an output passes maxBuffer).
// Two net.Socket streams cost more than the whole read of a short command's output; see
// docs/output.md.
//
// Man pages: read(2), pipe(7), uv_poll_t in libuv's docs.
#include "collect.h"

#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <new>
#include <vector>

#include "testing.h"
#include "util/addon_state.h"
#include "util/arguments.h"
#include "util/byte_buffer.h"
#include "util/error.h"

namespace posix_process::collect {

namespace {

// What the callback receives: (kind, value).
enum EventKind { kOverflow = 0, kDone = 1, kOutOfMemory = 2 };

// Reads per readiness event before the loop gets a turn (level-triggered: the rest waits).
constexpr int kReadsPerEvent = 16;
// Least room for a read straight into an output's buffer (less goes through the scratch).
constexpr size_t kMinRead = 64 * 1024;
// A pipe's size from pipe(2) (pipe(7)), and what a busy one is enlarged to (EnlargeIfFull).
constexpr size_t kDefaultPipe = 64 * 1024;
constexpr size_t kBigPipe = 1024 * 1024;

struct Collector;

struct Output {
  uv_poll_t poll;
  Collector* owner = nullptr;
  int fd = -1;
  ByteBuffer bytes;
  bool open = false;        // still polled and read
  bool overflowed = false;  // passed maxBuffer (or memory ran out): the rest is read and dropped
  bool out_of_memory = false;
  bool enlarged = false;  // F_SETPIPE_SZ tried (EnlargeIfFull)
};

struct Collector {
  napi_env env = nullptr;
  Napi::FunctionReference callback;
  std::unique_ptr<Napi::AsyncContext> async_context;
  std::unique_ptr<Output[]> outputs;
  size_t count = 0;
  size_t max_buffer = 0;
  size_t open = 0;          // outputs not yet at end-of-file
  size_t handles_open = 0;  // uv handles not yet closed
  bool held = false;        // JavaScript holds the handle (collectStart's External)
  bool finished = false;    // done reported, or the environment is going away
  bool cleanup_hook = false;
};

void CleanupCollector(void* data);

void OnHandleClosed(uv_handle_t* handle) {
  Collector* collector = static_cast<Output*>(handle->data)->owner;
  if (--collector->handles_open == 0 && !collector->held) delete collector;
}

// The External is collected: the Collector goes once its handles have closed too.
void ReleaseHandle(Napi::Env /*env*/, Collector* collector) {
  collector->held = false;
  if (collector->handles_open == 0) delete collector;
}

void CloseOutput(Output* output) {
  if (!output->open) return;
  output->open = false;
  output->owner->open--;
  // uv_close takes the fd out of epoll: closing it afterwards spares a failing epoll_ctl.
  uv_close(reinterpret_cast<uv_handle_t*>(&output->poll), OnHandleClosed);
  ::close(output->fd);
  output->fd = -1;
}

void Unhook(Collector* collector) {
  if (!collector->cleanup_hook) return;
  napi_remove_env_cleanup_hook(collector->env, CleanupCollector, collector);
  collector->cleanup_hook = false;
}

// The environment is going away: close every fd; nothing more is reported.
void CleanupCollector(void* data) {
  auto* collector = static_cast<Collector*>(data);
  collector->cleanup_hook = false;
  collector->finished = true;
  collector->callback.Reset();
  collector->async_context
      .reset();  // while the environment is alive: the close callbacks may never run
  for (size_t i = 0; i < collector->count; i++) CloseOutput(&collector->outputs[i]);
}

void Call(Collector* collector, EventKind kind, napi_value value) {
  Napi::Env env(collector->env);
  try {
    napi_value argv[] = {Napi::Number::New(env, kind), value};
    MakeCallbackReporting(env, *collector->async_context, collector->callback.Value(), 2, argv);
  } catch (...) {
    ReportCurrentException(env);
  }
}

void ReportDone(Collector* collector) {
  collector->finished = true;
  Unhook(collector);
  Napi::Env env(collector->env);
  Napi::HandleScope scope(env);
  // In a worker that an earlier callback made exit, node-addon-api would abort the process
  // making an Error: nothing is reported (the buffers are freed with the collector).
  if (!CanRunJavaScript(env)) {
    collector->callback.Reset();
    collector->async_context.reset();
    return;
  }
  try {
    Napi::Array buffers = Napi::Array::New(env, collector->count);
    for (size_t i = 0; i < collector->count; i++) {
      buffers.Set(static_cast<uint32_t>(i), collector->outputs[i].bytes.TakeBuffer(env));
    }
    Call(collector, kDone, buffers);
  } catch (...) {
    ReportCurrentException(env);
  }
  collector->callback.Reset();
  collector->async_context.reset();
}

void ReportOverflow(Collector* collector, size_t index) {
  Napi::Env env(collector->env);
  Napi::HandleScope scope(env);
  if (!CanRunJavaScript(env)) return;  // see ReportDone
  EventKind kind = collector->outputs[index].out_of_memory ? kOutOfMemory : kOverflow;
  Call(collector, kind, Napi::Number::New(env, static_cast<double>(index)));
}

// The thread's read buffer for outputs with less than kMinRead of room left (and for bytes past
// maxBuffer): a short output then costs a buffer of its own size, not 64 KiB grown to 128 KiB
// (which glibc serves with mmap, page faults and munmap on every run). Null if memory ran out.
char* ThreadScratch() {
  static thread_local std::unique_ptr<char[]> scratch;
  if (!scratch) scratch.reset(new (std::nothrow) char[kMinRead]);
  return scratch.get();
}

// Pipes start at the kernel's default size: a short output (most of them) never pays for a
// bigger one. One that fills it in a single wake-up gets kBigPipe, so that a fast writer blocks
// 16 times less often.
void EnlargeIfFull(Output* output, size_t read_now) {
  if (output->enlarged || read_now < kDefaultPipe) return;
  output->enlarged = true;
  ::fcntl(output->fd, F_SETPIPE_SZ, static_cast<int>(kBigPipe));  // a refusal keeps the default
}

// Reads what `output` has now, up to `max_reads` reads or `max_bytes`: closes it at end-of-file
// and reports an overflow. Level-triggered polling brings the rest.
void ReadAvailable(Output* output, int max_reads, bool ended, size_t max_bytes = SIZE_MAX) {
  Collector* collector = output->owner;
  bool overflow_now = false;
  size_t read_now = 0;
  // Up to maxBuffer + 1 bytes are kept: one past it tells an overflow.
  size_t limit = collector->max_buffer + 1;
  for (int reads = 0; !ended && reads < max_reads && read_now < max_bytes; reads++) {
    // Straight into the output's buffer when it has a pipe's worth of room, else via the scratch.
    ByteBuffer& bytes = output->bytes;
    size_t room = bytes.room();
    bool direct = !output->overflowed && room >= kMinRead;
    char* target = direct ? bytes.end() : ThreadScratch();
    if (!direct) room = kMinRead;
    if (!output->overflowed && room > limit - bytes.size()) room = limit - bytes.size();
    if (room > max_bytes - read_now) room = max_bytes - read_now;
    ssize_t got = ::read(output->fd, target, room);
    if (got > 0) {
      read_now += static_cast<size_t>(got);
      if (output->overflowed) continue;
      if (direct) {
        bytes.Commit(static_cast<size_t>(got));
      } else if (!bytes.Append(target, static_cast<size_t>(got), limit)) {
        overflow_now = output->overflowed = output->out_of_memory = true;
        continue;
      }
      if (bytes.size() > collector->max_buffer) {
        // Keep what fits, as child_process does.
        bytes.Truncate(collector->max_buffer);
        overflow_now = output->overflowed = true;
      }
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && errno == EAGAIN) break;
    ended = true;  // end-of-file, or an error that ends reading (the status tells the rest)
  }
  if (ended) {
    CloseOutput(output);
  } else {
    EnlargeIfFull(output, read_now);
  }
  if (overflow_now)
    ReportOverflow(collector, static_cast<size_t>(output - collector->outputs.get()));
}

void OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  auto* output = static_cast<Output*>(handle->data);
  Collector* collector = output->owner;
  if (!output->open || collector->finished) return;
  ReadAvailable(output, kReadsPerEvent, status < 0);
  if (collector->open == 0 && !collector->finished) ReportDone(collector);
}

// A start that failed: every fd closed, nothing reported; freed by the last close callback.
void Abandon(Collector* collector) {
  collector->finished = true;
  collector->callback.Reset();
  collector->async_context.reset();
  for (size_t i = 0; i < collector->count; i++) {
    Output* output = &collector->outputs[i];
    if (output->open) {
      CloseOutput(output);
    } else if (output->fd >= 0) {
      ::close(output->fd);
      output->fd = -1;
    }
  }
  if (collector->handles_open == 0) delete collector;
}

// collectStart(fds, maxBuffer, onEvent) -> a handle for collectFinish: owns fds (made non-blocking,
// closed at end-of-file or at the environment's teardown); onEvent(0, index) when output `index`
// passes maxBuffer (its first maxBuffer bytes are kept, the rest read and dropped), onEvent(2,
// index) when memory cannot hold it (the same then), onEvent(1, buffers) once all have ended.
Napi::Value Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsArray() || !info[1].IsNumber() || !info[2].IsFunction()) {
    throw Napi::TypeError::New(env, "collectStart(fds, maxBuffer, onEvent)");
  }
  Napi::Array fds = info[0].As<Napi::Array>();
  double max_buffer = info[1].As<Napi::Number>().DoubleValue();
  if (fds.Length() == 0 || fds.Length() > 2 || !(max_buffer >= 0) ||
      max_buffer > 9007199254740991.0) {
    throw Napi::RangeError::New(env, "collectStart: 1 or 2 fds, maxBuffer >= 0");
  }
  uv_loop_t* loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    throw Napi::Error::New(env, "napi_get_uv_event_loop failed");
  }
  auto collector = std::make_unique<Collector>();
  collector->count = fds.Length();
  collector->outputs.reset(new Output[collector->count]);
  for (uint32_t i = 0; i < collector->count; i++) {
    Napi::Value fd = fds.Get(i);
    if (!fd.IsNumber()) throw Napi::TypeError::New(env, "collectStart: fds are numbers");
    collector->outputs[i].fd = fd.As<Napi::Number>().Int32Value();
  }
  // Ours from here on: closed at their end, on a failure below, or at the teardown.
  for (uint32_t i = 0; i < collector->count; i++) ReleaseFd(env, collector->outputs[i].fd);
  collector->env = env;
  collector->max_buffer = static_cast<size_t>(max_buffer);
  collector->callback = Napi::Persistent(info[2].As<Napi::Function>());
  collector->async_context = std::make_unique<Napi::AsyncContext>(env, "posix-process:run");
  if (ThreadScratch() == nullptr) {
    Abandon(collector.release());
    throw SyscallError(env, ENOMEM, "malloc");
  }
  // uv_poll_init makes each fd non-blocking (the parent's read end is an open file description
  // of its own: the child's write end keeps its mode).
  for (size_t i = 0; i < collector->count; i++) {
    Output* output = &collector->outputs[i];
    output->owner = collector.get();
    int err = i == 0 ? -testing::TakeInjectedCollectStartError() : 0;
    if (err == 0) err = uv_poll_init(loop, &output->poll, output->fd);
    if (err == 0) {
      output->poll.data = output;
      output->open = true;
      collector->open++;
      collector->handles_open++;
      err = uv_poll_start(&output->poll, UV_READABLE, OnPoll);
    }
    if (err != 0) {
      Abandon(collector.release());
      throw SyscallError(env, -err, "uv_poll_start");
    }
  }
  Collector* owned = collector.release();
  napi_add_env_cleanup_hook(env, CleanupCollector, owned);
  owned->cleanup_hook = true;
  owned->held = true;
  return Napi::External<Collector>::New(env, owned, ReleaseHandle);
}

// collectFinish(handle): reads what the outputs hold now, closes them and reports done with
// that (at once, unless done already). For a child the library has stopped and reaped: a
// process it left behind may hold a pipe open for as long as it likes.
Napi::Value Finish(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "collectFinish(handle)");
  }
  auto* collector = info[0].As<Napi::External<Collector>>().Data();
  for (size_t i = 0; i < collector->count && !collector->finished; i++) {
    Output* output = &collector->outputs[i];
    if (!output->open) continue;
    // What the pipe holds now, not what a writer still running adds meanwhile.
    int held = 0;
    if (::ioctl(output->fd, FIONREAD, &held) == 0 && held > 0) {
      ReadAvailable(output, INT32_MAX, false, static_cast<size_t>(held));
    }
    CloseOutput(output);
  }
  if (!collector->finished) ReportDone(collector);
  return info.Env().Undefined();
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("collectStart", Napi::Function::New(env, Start, "collectStart"));
  exports.Set("collectFinish", Napi::Function::New(env, Finish, "collectFinish"));
}

}  // namespace posix_process::collect
