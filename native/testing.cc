// Support for the test suite, exported as `binding.testing` and not part of the public API.
//
// - openInheritable: Node opens every fd with O_CLOEXEC, so a test cannot otherwise create the
//   "stray inheritable fd" that a careless native module or a shared library might leave behind,
//   and that a spawned child must not see.
// - watchErrno: errno cannot be seen from JavaScript, and a direct spawn's child shares the JS
//   thread's (spawn_clone.cc); a test watches it while such a child runs.
// - failNextEpollCtl: an epoll_ctl that fails when a wait starts (ENOSPC from the global
//   max_user_watches, ENOMEM) cannot be caused without harming the rest of the machine; the next
//   wait's is made to fail with the errno chosen, without being called.
// - failNextCollectStart: the same for the uv_poll_init of run()'s output collector (collect.cc).
// - failNextOutputAlloc: the next growth of an output's buffer in run() or runSync() fails.
// - failNextSignalPollInit: the same for the poll handle of the signal self-pipe.
// - failNextSignalForkPipe: a fork child that has no fd for a signal self-pipe of its own.
// - failNextFdResult: the array that hands new fds to JavaScript (pipe, socketpair, openpty)
//   cannot be made, as when a worker is being terminated; the fds must be closed, not leaked.
// - throwStdException: a std::exception out of a binding, which must reach JavaScript as an Error.
// - failNextWaitRegistration: a wait whose registration throws (std::bad_alloc) before its pidfd
//   joins the epoll set; the pidfd must be closed, and a spawned child killed and reaped.
// - throwInNextWaitCallback: a C++ exception in a libuv callback (a std::bad_alloc, or one of no
//   std::exception type), which must reach JavaScript as an uncaught Error, not std::terminate.
// - waitRechecks: how often an asynchronous wait found its pidfd readable but no exit to reap
//   (a zombie a tracer holds), which only a count shows: the wait must not spin meanwhile.
// - exhaustFdsAtNextFork: another thread may take the last free fds between the checks fork()
//   makes and the fork itself; this fills the table at that moment (in a pthread_atfork prepare
//   handler registered after the library's, so it runs before them, and empties it again in the
//   parent, and in the child after the library's child handlers).
#include "testing.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <new>
#include <string>

#include "util/error.h"
#include "util/strings.h"

namespace posix_process::testing {

namespace {

// openInheritable(path) -> fd: open(2) read-only WITHOUT O_CLOEXEC.
Napi::Value OpenInheritable(const Napi::CallbackInfo& info) {
  std::string path = BytesArgument(info[0], "path");
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    int err = errno;
    throw SyscallError(info.Env(), err, "open", path.c_str());
  }
  return Napi::Number::New(info.Env(), fd);
}

// watchErrno(milliseconds) -> errno: sets this thread's errno to 0 and spins, making no system
// call (clock_gettime is the vDSO's), until the time is up or errno changes; returns errno then.
Napi::Value WatchErrno(const Napi::CallbackInfo& info) {
  double milliseconds = info[0].As<Napi::Number>().DoubleValue();
  timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  errno = 0;
  volatile int* watched = &errno;
  int seen = 0;
  do {
    seen = *watched;
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while (seen == 0 &&
           (now.tv_sec - start.tv_sec) * 1e3 + (now.tv_nsec - start.tv_nsec) / 1e6 < milliseconds);
  return Napi::Number::New(info.Env(), seen);
}

std::atomic<int> injected_epoll_ctl_error{0};

// failNextEpollCtl(errno): the next asynchronous wait's epoll_ctl fails with `errno`.
Napi::Value FailNextEpollCtl(const Napi::CallbackInfo& info) {
  injected_epoll_ctl_error = info[0].As<Napi::Number>().Int32Value();
  return info.Env().Undefined();
}

std::atomic<int> injected_collect_start_error{0};

// failNextCollectStart(errno): the next collector's uv_poll_init fails with `errno`.
Napi::Value FailNextCollectStart(const Napi::CallbackInfo& info) {
  injected_collect_start_error = info[0].As<Napi::Number>().Int32Value();
  return info.Env().Undefined();
}

std::atomic<bool> injected_output_alloc_failure{false};

// failNextOutputAlloc(): the next growth of a collected output's buffer (run's or runSync's) fails
// as if memory had run out.
Napi::Value FailNextOutputAlloc(const Napi::CallbackInfo& info) {
  injected_output_alloc_failure = true;
  return info.Env().Undefined();
}

std::atomic<int> injected_signal_poll_init_error{0};

// failNextSignalPollInit(errno): the uv_poll_init of the next signal self-pipe fails with `errno`.
Napi::Value FailNextSignalPollInit(const Napi::CallbackInfo& info) {
  injected_signal_poll_init_error = info[0].As<Napi::Number>().Int32Value();
  return info.Env().Undefined();
}

std::atomic<bool> injected_signal_fork_pipe_failure{false};

// failNextSignalForkPipe(): in the next fork child, the signal self-pipe that replaces the
// parent's cannot be made (pipe2 EMFILE).
Napi::Value FailNextSignalForkPipe(const Napi::CallbackInfo& info) {
  injected_signal_fork_pipe_failure = true;
  return info.Env().Undefined();
}

std::atomic<bool> injected_fd_result_failure{false};

// failNextFdResult(): the next array of new fds for JavaScript fails as in a terminating worker.
Napi::Value FailNextFdResult(const Napi::CallbackInfo& info) {
  injected_fd_result_failure = true;
  return info.Env().Undefined();
}

// throwStdException(): throws what no binding means to throw, to show the build turns it into a
// JavaScript Error (NODE_ADDON_API_CPP_EXCEPTIONS_ALL) instead of std::terminate.
Napi::Value ThrowStdException(const Napi::CallbackInfo& /*info*/) {
  throw std::bad_alloc();
}

// What throwInNextWaitCallback asked the next asynchronous wait's callback to throw: 0 nothing,
// 1 a std::bad_alloc, 2 an exception of no std::exception type.
std::atomic<int> injected_wait_callback_throw{0};

std::atomic<bool> injected_wait_registration_failure{false};

// failNextWaitRegistration(): the next wait's registration throws std::bad_alloc.
Napi::Value FailNextWaitRegistration(const Napi::CallbackInfo& info) {
  injected_wait_registration_failure = true;
  return info.Env().Undefined();
}

// throwInNextWaitCallback(kind): 'bad_alloc' or 'other'.
Napi::Value ThrowInNextWaitCallback(const Napi::CallbackInfo& info) {
  std::string kind =
      info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (kind != "bad_alloc" && kind != "other") {
    throw Napi::TypeError::New(info.Env(), "kind must be 'bad_alloc' or 'other'");
  }
  injected_wait_callback_throw = kind == "bad_alloc" ? 1 : 2;
  return info.Env().Undefined();
}

std::atomic<uint64_t> wait_rechecks{0};

// waitRechecks() -> the count of CountWaitRecheck calls so far in this process.
Napi::Value WaitRechecks(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(wait_rechecks.load()));
}

// The fds exhaustFdsAtNextFork holds across one fork; written by the forking thread only.
constexpr int kMaxHeld = 4096;
int held_fds[kMaxHeld];
int held_count = 0;
bool exhaust_armed = false;

void FillFdTable() {
  if (!exhaust_armed) return;
  exhaust_armed = false;
  while (held_count < kMaxHeld) {
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd == -1) break;
    held_fds[held_count++] = fd;
  }
}

void EmptyFdTable() {
  while (held_count > 0) ::close(held_fds[--held_count]);
}

// exhaustFdsAtNextFork(): see the top of the file.
Napi::Value ExhaustFdsAtNextFork(const Napi::CallbackInfo& info) {
  static std::once_flag registered;
  std::call_once(registered, [] { pthread_atfork(FillFdTable, EmptyFdTable, EmptyFdTable); });
  exhaust_armed = true;
  return info.Env().Undefined();
}

}  // namespace

int TakeInjectedEpollCtlError() {
  return injected_epoll_ctl_error.exchange(0);
}

int TakeInjectedCollectStartError() {
  return injected_collect_start_error.exchange(0);
}

bool TakeInjectedOutputAllocFailure() {
  return injected_output_alloc_failure.exchange(false);
}

void CountWaitRecheck() {
  wait_rechecks.fetch_add(1);
}

int TakeInjectedSignalPollInitError() {
  return injected_signal_poll_init_error.exchange(0);
}

bool TakeInjectedSignalForkPipeFailure() {
  return injected_signal_fork_pipe_failure.exchange(false);
}

void ThrowIfFdResultFailureInjected(Napi::Env env) {
  if (injected_fd_result_failure.exchange(false)) {
    throw Napi::Error::New(env, "failNextFdResult: the result could not be made");
  }
}

void ThrowIfWaitRegistrationFailureInjected() {
  if (injected_wait_registration_failure.exchange(false)) throw std::bad_alloc();
}

void ThrowIfWaitCallbackFailureInjected() {
  int kind = injected_wait_callback_throw.exchange(0);
  if (kind == 1) throw std::bad_alloc();
  if (kind == 2) throw 42;  // what no library would throw: it has no what()
}

void Initialize(Napi::Env env, Napi::Object exports) {
  Napi::Object testing = Napi::Object::New(env);
  testing.Set("openInheritable", Napi::Function::New(env, OpenInheritable, "openInheritable"));
  testing.Set("watchErrno", Napi::Function::New(env, WatchErrno, "watchErrno"));
  testing.Set("failNextEpollCtl", Napi::Function::New(env, FailNextEpollCtl, "failNextEpollCtl"));
  testing.Set("failNextCollectStart",
              Napi::Function::New(env, FailNextCollectStart, "failNextCollectStart"));
  testing.Set("failNextOutputAlloc",
              Napi::Function::New(env, FailNextOutputAlloc, "failNextOutputAlloc"));
  testing.Set("failNextSignalPollInit",
              Napi::Function::New(env, FailNextSignalPollInit, "failNextSignalPollInit"));
  testing.Set("failNextSignalForkPipe",
              Napi::Function::New(env, FailNextSignalForkPipe, "failNextSignalForkPipe"));
  testing.Set("failNextFdResult", Napi::Function::New(env, FailNextFdResult, "failNextFdResult"));
  testing.Set("throwStdException",
              Napi::Function::New(env, ThrowStdException, "throwStdException"));
  testing.Set("failNextWaitRegistration",
              Napi::Function::New(env, FailNextWaitRegistration, "failNextWaitRegistration"));
  testing.Set("throwInNextWaitCallback",
              Napi::Function::New(env, ThrowInNextWaitCallback, "throwInNextWaitCallback"));
  testing.Set("waitRechecks", Napi::Function::New(env, WaitRechecks, "waitRechecks"));
  testing.Set("exhaustFdsAtNextFork",
              Napi::Function::New(env, ExhaustFdsAtNextFork, "exhaustFdsAtNextFork"));
  exports.Set("testing", testing);
}

}  // namespace posix_process::testing
