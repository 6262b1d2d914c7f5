// fd primitives as a shell uses them: pipe2 with O_CLOEXEC, dup2, dup3, close, close_range; the
// pipe-size knob (F_SETPIPE_SZ) the output path uses; and collectSync, the poll(2) loop behind
// runSync that feeds a child's stdin and drains its pipes without a thread or a fork.
//
// Man pages: pipe(2), dup(2), close(2), close_range(2), fcntl(2) F_SETPIPE_SZ, poll(2), pipe(7),
// waitid(2).
#include "fd_calls.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "background_reaper.h"
#include "testing.h"
#include "util/addon_state.h"
#include "util/arguments.h"
#include "util/byte_buffer.h"
#include "util/error.h"

namespace posix_process::fd_calls {

namespace {

// [fds[0], fds[1]]; if the array cannot be made (a worker being terminated), both are closed:
// the caller would never see their numbers.
Napi::Value TwoFds(Napi::Env env, int fds[2]) {
  try {
    testing::ThrowIfFdResultFailureInjected(env);
    Napi::Array result = Napi::Array::New(env, 2);
    result.Set(0u, fds[0]);
    result.Set(1u, fds[1]);
    return result;
  } catch (...) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw;
  }
}

// fdPipe(nonblock) -> [readFd, writeFd]: pipe2(2) with O_CLOEXEC, at whatever numbers the kernel
// gives (the lowest free ones, as in C).
Napi::Value FdPipe(const Napi::CallbackInfo& info) {
  int flags = O_CLOEXEC | (info[0].ToBoolean() ? O_NONBLOCK : 0);
  int fds[2];
  if (::pipe2(fds, flags) != 0) {
    int err = errno;
    throw SyscallError(info.Env(), err, "pipe2");
  }
  return TwoFds(info.Env(), fds);
}

// fdSocketpair() -> [parentFd, childFd]: an AF_UNIX stream pair, close-on-exec, for a child fd
// 3 or above given as 'pipe' (both ways, like child_process's stdio[3] = 'pipe').
Napi::Value FdSocketpair(const Napi::CallbackInfo& info) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    int err = errno;
    throw SyscallError(info.Env(), err, "socketpair");
  }
  Napi::Value result = TwoFds(info.Env(), fds);
  HoldFd(info.Env(), fds[0]);  // until closeFd or an owner takes it (util/addon_state.h)
  HoldFd(info.Env(), fds[1]);
  return result;
}

// fdDup3(oldfd, newfd, flags) -> newfd; flags -1 means dup2(2) (which, unlike dup3, accepts
// oldfd == newfd).
Napi::Value FdDup3(const Napi::CallbackInfo& info) {
  int oldfd = Int32Argument(info, 0, "oldfd");
  int newfd = Int32Argument(info, 1, "newfd");
  int flags = Int32Argument(info, 2, "flags");
  int result;
  do {
    result = flags == -1 ? ::dup2(oldfd, newfd) : ::dup3(oldfd, newfd, flags);
  } while (result == -1 && errno == EINTR);
  if (result == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, flags == -1 ? "dup2" : "dup3");
  }
  return Napi::Number::New(info.Env(), result);
}

// fdCloseRange(first, last, flags): close_range(2); `last` up to 2**31-1 stands for "all".
Napi::Value FdCloseRange(const Napi::CallbackInfo& info) {
  unsigned first = static_cast<unsigned>(Int32Argument(info, 0, "first"));
  int64_t last = info[1].As<Napi::Number>().Int64Value();
  unsigned flags = static_cast<unsigned>(Int32Argument(info, 2, "flags"));
  unsigned top = last >= INT32_MAX ? ~0u : static_cast<unsigned>(last);
  if (::syscall(SYS_close_range, first, top, flags) != 0) {
    int err = errno;
    throw SyscallError(info.Env(), err, "close_range");
  }
  return info.Env().Undefined();
}

// fdSetPipeSize(fd, bytes) -> the size the kernel set, or -1 if it refused (an unprivileged
// process is held to /proc/sys/fs/pipe-max-size; the pipe then keeps its size).
Napi::Value FdSetPipeSize(const Napi::CallbackInfo& info) {
  int fd = Int32Argument(info, 0, "fd");
  int bytes = Int32Argument(info, 1, "bytes");
  return Napi::Number::New(info.Env(), ::fcntl(fd, F_SETPIPE_SZ, bytes));
}

// fdSetNonblocking(fd, on) -> 1 or 0 (whether O_NONBLOCK was set before), or -errno: runSync
// clears it on a stdin it shares with Node (which sets it on a pipe it reads) for its
// posix_spawn child, as libuv's child does for child_process, and sets it back once the child
// has been reaped.
Napi::Value FdSetNonblocking(const Napi::CallbackInfo& info) {
  int fd = Int32Argument(info, 0, "fd");
  bool on = info[1].ToBoolean().Value();
  int flags = ::fcntl(fd, F_GETFL);
  int wanted = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  if (flags < 0 || (wanted != flags && ::fcntl(fd, F_SETFL, wanted) < 0)) {
    return Napi::Number::New(info.Env(), -errno);
  }
  return Napi::Number::New(info.Env(), (flags & O_NONBLOCK) != 0 ? 1 : 0);
}

int64_t NowMs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

// One output: its fd (-1 once closed) and its bytes.
struct Output {
  int fd = -1;
  ByteBuffer bytes;
  bool overflowed = false;
};

// Whether `pid` (our unreaped child) has exited, without reaping it. ECHILD (reaped by another
// thread's waitpid) counts as exited: waiting on would poll for ever, and wait4 then reports it.
bool ChildExited(pid_t pid) {
  siginfo_t info = {};
  if (::waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return errno == ECHILD;
  return info.si_pid != 0;
}

}  // namespace

// collectSync(pid, inputFd, input, outputFds, maxBuffer, timeoutMs, killSignal, forceKillAfterMs)
//   -> { outputs: Buffer[], timedOut, overflowed, overflowedOutput, outOfMemory, killed, forced }
// Writes `input` (a Buffer or null) to inputFd and reads every output fd, by poll(2), so that a
// child writing both stdout and stderr while reading stdin never deadlocks, until the child has
// exited and its outputs have ended (a pidfd in the poll set tells the exit): input is fed until
// then, and a child that closed its outputs is still under `timeoutMs`. Takes ownership of the
// fds and closes them all. On timeout or when an output passes maxBuffer a child still running
// gets killSignal (`killed`), then SIGKILL after forceKillAfterMs (-1: never; `forced`); its
// outputs are read until it has exited, then what its pipes hold (a process it left behind may
// hold them open): closed earlier, its last words would be lost and a SIGPIPE its status. One
// that has exited is left alone. An output that memory cannot hold counts as an overflow
// (`outOfMemory` too). The caller reaps the child.
Napi::Value CollectSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = Int32Argument(info, 0, "pid");
  int input_fd = Int32Argument(info, 1, "inputFd");
  const uint8_t* input = nullptr;
  size_t input_left = 0;
  if (info[2].IsBuffer()) {
    auto buffer = info[2].As<Napi::Buffer<uint8_t>>();
    input = buffer.Data();
    input_left = buffer.Length();
  }
  Napi::Array fd_list = info[3].As<Napi::Array>();
  double max_buffer = info[4].As<Napi::Number>().DoubleValue();
  // How large an output's buffer may grow (maxBuffer is an integer, or Infinity for no limit).
  size_t buffer_limit =
      max_buffer < 9007199254740992.0 ? static_cast<size_t>(max_buffer) : SIZE_MAX;
  int64_t timeout = info[5].As<Napi::Number>().Int64Value();
  int kill_signal = Int32Argument(info, 6, "killSignal");
  int64_t force_after = info[7].IsNumber() ? info[7].As<Napi::Number>().Int64Value() : -1;

  std::vector<Output> outputs(fd_list.Length());
  for (uint32_t i = 0; i < outputs.size(); i++) {
    outputs[i].fd = fd_list.Get(i).As<Napi::Number>().Int32Value();
  }
  // Ours from here on, closed on every path below.
  if (input_fd >= 0) ReleaseFd(env, input_fd);
  for (auto& output : outputs) ReleaseFd(env, output.fd);
  // Non-blocking: the parent's ends are open file descriptions of their own, the child's ends
  // keep their blocking mode.
  for (auto& output : outputs)
    ::fcntl(output.fd, F_SETFL, ::fcntl(output.fd, F_GETFL) | O_NONBLOCK);
  auto close_input = [&input_fd]() {
    if (input_fd >= 0) ::close(input_fd);
    input_fd = -1;
  };
  if (input_fd >= 0) {
    ::fcntl(input_fd, F_SETFL, ::fcntl(input_fd, F_GETFL) | O_NONBLOCK);
    if (input_left == 0) close_input();
  }
  // Readable once the child has exited; without one (pidfd_open refused), waitid every 10 ms.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  bool exited = false;

  int64_t deadline = timeout > 0 ? NowMs() + timeout : 0;
  int64_t force_at = -1;
  bool timed_out = false;
  bool overflowed = false;
  bool out_of_memory = false;  // an output could not grow: handled as an overflow
  bool killed = false;
  bool forced = false;
  bool stopping = false;  // timed out or overflowed: the child is (being) ended
  char chunk[65536];
  int first_overflow = -1;  // the index of the first output past maxBuffer
  // Appends what was read to `output`, up to maxBuffer; past it the output has overflowed.
  auto keep = [&](Output* output, size_t got) {
    if (output->overflowed) return;
    if (output->bytes.size() + got > max_buffer) {
      output->overflowed = overflowed = true;
    } else if (!output->bytes.Append(chunk, got, buffer_limit)) {
      output->overflowed = overflowed = out_of_memory = true;
    }
    if (output->overflowed && first_overflow == -1)
      first_overflow = static_cast<int>(output - outputs.data());
  };
  // The stop for a timeout or an overflow: killSignal to a child still running; false when the
  // loop ends at once (it has exited: a process it left behind holds the outputs).
  auto stop = [&]() {
    stopping = true;
    close_input();
    if (exited || (exited = ChildExited(pid))) return false;
    killed = ::kill(pid, kill_signal) == 0;
    if (force_after >= 0) force_at = NowMs() + force_after;
    return true;
  };
  std::vector<pollfd> polled;
  std::vector<Output*> polled_outputs;
  for (;;) {
    bool outputs_open = false;
    for (auto& output : outputs) outputs_open = outputs_open || output.fd >= 0;
    if (pidfd < 0 && !exited) exited = ChildExited(pid);
    // Done once the child has exited and its outputs have ended (input that a process it left
    // behind holds is let go); a stopped child's outputs end with its exit (what they hold then
    // is read below).
    if (exited && (!outputs_open || stopping)) break;
    int64_t now = NowMs();
    if (!stopping && deadline != 0 && now >= deadline) {
      timed_out = true;
      if (!stop()) break;
    }
    if (force_at >= 0 && now >= force_at && !forced) {
      forced = ::kill(pid, SIGKILL) == 0;
      force_at = -1;
    }
    int64_t wake = !stopping ? deadline : force_at >= 0 ? force_at : 0;
    int wait_ms = -1;
    if (wake > 0) wait_ms = static_cast<int>(wake - now > INT32_MAX ? INT32_MAX : wake - now);
    if (pidfd < 0 && (wait_ms < 0 || wait_ms > 10)) wait_ms = 10;
    polled.clear();
    polled_outputs.clear();
    if (input_fd >= 0) polled.push_back({input_fd, POLLOUT, 0});
    if (pidfd >= 0 && !exited) polled.push_back({pidfd, POLLIN, 0});
    size_t first_output = polled.size();
    for (auto& output : outputs) {
      if (output.fd < 0) continue;
      polled.push_back({output.fd, POLLIN, 0});
      polled_outputs.push_back(&output);
    }
    int ready = ::poll(polled.data(), polled.size(), wait_ms);
    if (ready == -1) {
      if (errno == EINTR) continue;
      int err = errno;
      for (auto& output : outputs) {
        if (output.fd >= 0) ::close(output.fd);
      }
      close_input();
      if (pidfd >= 0) ::close(pidfd);
      ::kill(pid, SIGKILL);
      throw SyscallError(env, err, "poll");
    }
    size_t at = 0;
    if (input_fd >= 0) {
      if (polled[at++].revents != 0) {
        ssize_t written = ::write(input_fd, input, input_left);
        if (written > 0) {
          input += written;
          input_left -= static_cast<size_t>(written);
        }
        // EPIPE (the child closed its stdin) ends the input, as it does for a shell.
        if (input_left == 0 || (written == -1 && errno != EAGAIN && errno != EINTR)) close_input();
      }
    }
    if (pidfd >= 0 && !exited && polled[at++].revents != 0) exited = true;
    for (size_t i = first_output; i < polled.size(); i++) {
      if (polled[i].revents == 0) continue;
      Output* output = polled_outputs[i - first_output];
      ssize_t got = ::read(output->fd, chunk, sizeof chunk);
      if (got > 0) {
        keep(output, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        ::close(output->fd);
        output->fd = -1;
      }
    }
    if (overflowed && !stopping && !stop()) break;
  }
  // A stopped child has exited: what its pipes hold now is the end of its output.
  for (auto& output : outputs) {
    int held = 0;
    if (!stopping || output.fd < 0 || ::ioctl(output.fd, FIONREAD, &held) != 0) held = 0;
    while (held > 0) {
      ssize_t got =
          ::read(output.fd, chunk, static_cast<size_t>(held) < sizeof chunk ? held : sizeof chunk);
      if (got <= 0) break;
      keep(&output, static_cast<size_t>(got));
      held -= static_cast<int>(got);
    }
    if (output.fd >= 0) ::close(output.fd);
  }
  close_input();
  if (pidfd >= 0) {
    // A worker terminated while this call blocked runs no more JavaScript, so runSync's wait4
    // never comes: the child goes to the background reaper then.
    if (CanRunJavaScript(env)) {
      ::close(pidfd);
    } else {
      background_reaper::HandOver(pidfd);
    }
  }

  Napi::Object result = Napi::Object::New(env);
  Napi::Array buffers = Napi::Array::New(env, outputs.size());
  for (uint32_t i = 0; i < outputs.size(); i++) {
    buffers.Set(i, outputs[i].bytes.TakeBuffer(env));
  }
  result.Set("outputs", buffers);
  result.Set("timedOut", timed_out);
  result.Set("overflowed", overflowed);
  result.Set("overflowedOutput", first_overflow);
  result.Set("outOfMemory", out_of_memory);
  result.Set("killed", killed);
  result.Set("forced", forced);
  return result;
}

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("fdPipe", Napi::Function::New(env, FdPipe, "fdPipe"));
  exports.Set("fdSocketpair", Napi::Function::New(env, FdSocketpair, "fdSocketpair"));
  exports.Set("fdDup3", Napi::Function::New(env, FdDup3, "fdDup3"));
  exports.Set("fdCloseRange", Napi::Function::New(env, FdCloseRange, "fdCloseRange"));
  exports.Set("fdSetPipeSize", Napi::Function::New(env, FdSetPipeSize, "fdSetPipeSize"));
  exports.Set("fdSetNonblocking", Napi::Function::New(env, FdSetNonblocking, "fdSetNonblocking"));
  exports.Set("collectSync", Napi::Function::New(env, CollectSync, "collectSync"));
}

}  // namespace posix_process::fd_calls
