// Waiting for children.
//
// Synchronous: waitpid(2), wait4(2) and waitid(2) (through the raw syscall, whose fifth argument
// returns the child's rusage), retried on EINTR. Status decoding is done in TypeScript
// (lib/wait-status.ts); native code returns the raw status or the siginfo fields.
//
// Asynchronous: pidfd_open(2) + a libuv poll handle on the event loop + waitid(P_PIDFD) once the
// pidfd is readable. No thread per waiting child and no libuv threadpool work, so thousands of
// waits cost thousands of fds and nothing else. Each wait reaps only the pid it names.
//
// Man pages: wait(2), wait4(2), pidfd_open(2), getrusage(2), uv_poll_t in libuv's docs.
#include "wait.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cstring>
#include <memory>
#include <unordered_map>

#include "util/arguments.h"
#include "util/error.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace posix_process::wait {

namespace {

Napi::Object RusageObject(Napi::Env env, const struct rusage& usage) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("userTime", usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6);
  object.Set("systemTime", usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6);
  // Linux reports ru_maxrss in kilobytes.
  object.Set("maxRSS", static_cast<double>(usage.ru_maxrss) * 1024);
  object.Set("minorFaults", static_cast<double>(usage.ru_minflt));
  object.Set("majorFaults", static_cast<double>(usage.ru_majflt));
  object.Set("voluntaryContextSwitches", static_cast<double>(usage.ru_nvcsw));
  object.Set("involuntaryContextSwitches", static_cast<double>(usage.ru_nivcsw));
  object.Set("blockInputs", static_cast<double>(usage.ru_inblock));
  object.Set("blockOutputs", static_cast<double>(usage.ru_oublock));
  return object;
}

// waitid with the kernel's fifth argument (rusage), which glibc's wrapper does not expose.
int WaitIdWithRusage(idtype_t idtype, id_t id, siginfo_t* info, int options, struct rusage* usage) {
  return static_cast<int>(syscall(SYS_waitid, idtype, id, info, options, usage));
}

// WaitIdWithRusage retried on EINTR. The kernel leaves si_pid as it was when WNOHANG finds
// nothing, so siginfo is zeroed first: si_pid 0 then means "nothing ready".
int WaitIdRetrying(idtype_t idtype, id_t id, int options, siginfo_t* info, struct rusage* usage) {
  int result;
  do {
    std::memset(info, 0, sizeof *info);
    std::memset(usage, 0, sizeof *usage);
    result = WaitIdWithRusage(idtype, id, info, options, usage);
  } while (result == -1 && errno == EINTR);
  return result;
}

Napi::Object SiginfoObject(Napi::Env env, const siginfo_t& info, const struct rusage& usage) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("pid", info.si_pid);
  object.Set("uid", static_cast<double>(info.si_uid));
  object.Set("code", info.si_code);  // CLD_EXITED, CLD_KILLED, ...
  object.Set("status", info.si_status);
  object.Set("rusage", RusageObject(env, usage));
  return object;
}

// waitpid(pid, options) -> { pid, raw } | null (WNOHANG and nothing ready), and
// wait4(pid, options) -> { pid, raw, rusage } | null: waitpid(2) is wait4(2) without the rusage.
Napi::Value WaitForPid(const Napi::CallbackInfo& info, bool with_rusage) {
  pid_t pid = Int32Argument(info, 0, "pid");
  int options = Int32Argument(info, 1, "options");
  int status = 0;
  struct rusage usage;
  std::memset(&usage, 0, sizeof usage);
  pid_t result;
  do {
    result = ::wait4(pid, &status, options, with_rusage ? &usage : nullptr);
  } while (result == -1 && errno == EINTR);
  if (result == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, with_rusage ? "wait4" : "waitpid");
  }
  if (result == 0) return info.Env().Null();
  Napi::Object object = Napi::Object::New(info.Env());
  object.Set("pid", result);
  object.Set("raw", status);
  if (with_rusage) object.Set("rusage", RusageObject(info.Env(), usage));
  return object;
}

Napi::Value WaitPid(const Napi::CallbackInfo& info) {
  return WaitForPid(info, false);
}
Napi::Value Wait4(const Napi::CallbackInfo& info) {
  return WaitForPid(info, true);
}

// waitid(idtype, id, options) -> { pid, uid, code, status, rusage } | null.
Napi::Value WaitId(const Napi::CallbackInfo& info) {
  int idtype = Int32Argument(info, 0, "idtype");
  // id_t is unsigned; the facade passes non-negative values only.
  int64_t id = info[1].As<Napi::Number>().Int64Value();
  int options = Int32Argument(info, 2, "options");
  if (id < 0 || id > UINT32_MAX) throw Napi::RangeError::New(info.Env(), "id out of range");
  siginfo_t siginfo;
  struct rusage usage;
  int result = WaitIdRetrying(static_cast<idtype_t>(idtype), static_cast<id_t>(id), options,
                              &siginfo, &usage);
  if (result == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "waitid");
  }
  if (siginfo.si_pid == 0) return info.Env().Null();
  return SiginfoObject(info.Env(), siginfo, usage);
}

// ---- Asynchronous waits on pidfds ----

struct PidfdWaiter;

// Per-environment registry of the waits in progress, so that they can be cancelled by id and
// closed when the environment is torn down.
struct WaitState {
  uv_loop_t* loop = nullptr;
  uint32_t next_id = 1;
  std::unordered_map<uint32_t, PidfdWaiter*> waiters;
  // Poll handles not yet closed (active or closing). At environment teardown Node waits for the
  // async cleanup hook until this reaches 0: a close callback that ran after a worker unloaded
  // the addon would jump into unmapped code.
  size_t open_handles = 0;
  // One async context for every wait's callback: napi_async_init per wait cost more than the
  // wait itself, and promise continuations keep their own context (AsyncLocalStorage) anyway.
  std::unique_ptr<Napi::AsyncContext> async_context;
  napi_async_cleanup_hook_handle cleanup_handle = nullptr;  // set while tearing down
};

struct PidfdWaiter {
  uv_poll_t poll;
  WaitState* state;
  uint32_t id;
  pid_t pid;
  int pidfd;
  Napi::FunctionReference callback;
};

void FinishTeardown(WaitState* state) {
  napi_remove_async_cleanup_hook(state->cleanup_handle);
  delete state;
}

void OnWaiterClosed(uv_handle_t* handle) {
  auto* waiter = static_cast<PidfdWaiter*>(handle->data);
  WaitState* state = waiter->state;
  // The fd is closed only once libuv has let go of it.
  ::close(waiter->pidfd);
  delete waiter;
  if (--state->open_handles == 0 && state->cleanup_handle != nullptr) FinishTeardown(state);
}

// Stops watching and schedules the waiter's destruction. The callback is not called.
void CloseWaiter(PidfdWaiter* waiter) {
  waiter->state->waiters.erase(waiter->id);
  uv_poll_stop(&waiter->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&waiter->poll), OnWaiterClosed);
}

// Calls the JavaScript callback as callback(error, result) in the waits' async context, so
// that promise continuations run right after it.
void FinishWaiter(PidfdWaiter* waiter, int err, const siginfo_t* siginfo,
                  const struct rusage* usage) {
  Napi::Env env = waiter->callback.Env();
  Napi::HandleScope scope(env);
  Napi::FunctionReference callback = std::move(waiter->callback);
  WaitState* state = waiter->state;
  CloseWaiter(waiter);
  napi_value args[2];
  if (err != 0) {
    args[0] = SyscallError(env, err, "waitid").Value();
    args[1] = env.Undefined();
  } else {
    args[0] = env.Null();
    args[1] = SiginfoObject(env, *siginfo, *usage);
  }
  try {
    callback.MakeCallback(env.Global(), {args[0], args[1]}, *state->async_context);
  } catch (const Napi::Error& error) {
    // The facade's callback only settles a promise; anything thrown here is a bug in it and
    // must surface as an uncaught exception, not be swallowed.
    napi_fatal_exception(env, error.Value());
  }
}

void OnPidfdReadable(uv_poll_t* handle, int status, int events) {
  auto* waiter = static_cast<PidfdWaiter*>(handle->data);
  if (status < 0) {
    FinishWaiter(waiter, -status, nullptr, nullptr);
    return;
  }
  siginfo_t siginfo;
  struct rusage usage;
  int result = WaitIdRetrying(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(waiter->pidfd),
                              WEXITED | WNOHANG, &siginfo, &usage);
  if (result == -1) {
    // ECHILD: someone else reaped the child first (e.g. a waitpid(-1) elsewhere).
    FinishWaiter(waiter, errno, nullptr, nullptr);
    return;
  }
  if (siginfo.si_pid == 0) return;  // Not exited yet: keep watching.
  FinishWaiter(waiter, 0, &siginfo, &usage);
}

// Starts watching `pidfd` (which the waiter now owns and closes) and returns the wait's id.
uint32_t StartWaiter(Napi::Env env, WaitState* state, pid_t pid, int pidfd,
                     Napi::Function callback) {
  auto* waiter = new PidfdWaiter();
  waiter->state = state;
  waiter->pid = pid;
  waiter->pidfd = pidfd;
  int err = uv_poll_init(state->loop, &waiter->poll, pidfd);
  if (err != 0) {
    ::close(pidfd);
    delete waiter;
    throw SyscallError(env, -err, "uv_poll_init");
  }
  waiter->poll.data = waiter;
  state->open_handles++;
  err = uv_poll_start(&waiter->poll, UV_READABLE, OnPidfdReadable);
  if (err != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&waiter->poll), OnWaiterClosed);
    throw SyscallError(env, -err, "uv_poll_start");
  }
  waiter->id = state->next_id++;
  waiter->callback = Napi::Persistent(callback);
  if (!state->async_context) {
    state->async_context = std::make_unique<Napi::AsyncContext>(env, "posix-process:waitAsync");
  }
  state->waiters[waiter->id] = waiter;
  return waiter->id;
}

// pidfdWaitStart(pid, callback) -> id. Throws ESRCH (no such process) or ECHILD (not our child)
// synchronously; otherwise calls callback(error, siginfo) once the child has exited and been
// reaped.
Napi::Value PidfdWaitStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* state = static_cast<WaitState*>(info.Data());
  pid_t pid = Int32Argument(info, 0, "pid");
  if (pid <= 0) throw Napi::RangeError::New(env, "pid must be positive");
  if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "callback must be a function");

  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd == -1) {
    int err = errno;
    throw SyscallError(env, err, "pidfd_open");
  }
  // pidfd_open works on any process; only a child of ours can be waited for. Check now, without
  // reaping, so that the caller gets ECHILD at once instead of a wait that can never end.
  siginfo_t probe;
  std::memset(&probe, 0, sizeof probe);
  if (WaitIdWithRusage(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &probe,
                       WEXITED | WNOHANG | WNOWAIT, nullptr) == -1 &&
      errno != EINTR) {
    int err = errno;
    ::close(pidfd);
    throw SyscallError(env, err, "waitid");
  }
  return Napi::Number::New(env, StartWaiter(env, state, pid, pidfd, info[1].As<Napi::Function>()));
}

// pidfdWaitAdopt(pidfd, pid, callback) -> id: like pidfdWaitStart for a child whose pidfd the
// caller already has (from clone(CLONE_PIDFD)). The wait takes the fd over and closes it once
// the child has been reaped or the wait is cancelled.
Napi::Value PidfdWaitAdopt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* state = static_cast<WaitState*>(info.Data());
  int pidfd = Int32Argument(info, 0, "pidfd");
  pid_t pid = Int32Argument(info, 1, "pid");
  if (pidfd < 0 || pid <= 0) throw Napi::RangeError::New(env, "pidfd and pid must be positive");
  if (!info[2].IsFunction()) throw Napi::TypeError::New(env, "callback must be a function");
  return Napi::Number::New(env, StartWaiter(env, state, pid, pidfd, info[2].As<Napi::Function>()));
}

// pidfdOpen(pid) -> a pidfd with O_CLOEXEC (pidfd_open sets it always).
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  pid_t pid = Int32Argument(info, 0, "pid");
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "pidfd_open");
  }
  return Napi::Number::New(info.Env(), pidfd);
}

// pidfdWaitCancel(id) -> true if the wait was still in progress (its callback will not run).
Napi::Value PidfdWaitCancel(const Napi::CallbackInfo& info) {
  auto* state = static_cast<WaitState*>(info.Data());
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  auto found = state->waiters.find(id);
  if (found == state->waiters.end()) return Napi::Boolean::New(info.Env(), false);
  CloseWaiter(found->second);
  return Napi::Boolean::New(info.Env(), true);
}

// Environment teardown (an async cleanup hook): stop every wait and free the state once libuv
// has closed the last poll handle.
void CleanupWaitState(napi_async_cleanup_hook_handle handle, void* data) {
  auto* state = static_cast<WaitState*>(data);
  state->cleanup_handle = handle;
  while (!state->waiters.empty()) {
    PidfdWaiter* waiter = state->waiters.begin()->second;
    // Release the references while the environment still exists.
    waiter->callback.Reset();
    CloseWaiter(waiter);
  }
  state->async_context.reset();
  if (state->open_handles == 0) FinishTeardown(state);
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("WNOHANG", WNOHANG);
  constants.Set("WUNTRACED", WUNTRACED);
  constants.Set("WCONTINUED", WCONTINUED);
  constants.Set("WEXITED", WEXITED);
  constants.Set("WSTOPPED", WSTOPPED);
  constants.Set("WNOWAIT", WNOWAIT);
  constants.Set("P_ALL", static_cast<int>(P_ALL));
  constants.Set("P_PID", static_cast<int>(P_PID));
  constants.Set("P_PGID", static_cast<int>(P_PGID));
  constants.Set("P_PIDFD", P_PIDFD);
  constants.Set("CLD_EXITED", static_cast<int>(CLD_EXITED));
  constants.Set("CLD_KILLED", static_cast<int>(CLD_KILLED));
  constants.Set("CLD_DUMPED", static_cast<int>(CLD_DUMPED));
  constants.Set("CLD_TRAPPED", static_cast<int>(CLD_TRAPPED));
  constants.Set("CLD_STOPPED", static_cast<int>(CLD_STOPPED));
  constants.Set("CLD_CONTINUED", static_cast<int>(CLD_CONTINUED));
  return constants;
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  auto* state = new WaitState();
  if (napi_get_uv_event_loop(env, &state->loop) != napi_ok) {
    delete state;
    throw Napi::Error::New(env, "napi_get_uv_event_loop failed");
  }
  napi_add_async_cleanup_hook(env, CleanupWaitState, state, nullptr);

  exports.Set("waitpid", Napi::Function::New(env, WaitPid, "waitpid"));
  exports.Set("wait4", Napi::Function::New(env, Wait4, "wait4"));
  exports.Set("waitid", Napi::Function::New(env, WaitId, "waitid"));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("pidfdWaitStart", Napi::Function::New(env, PidfdWaitStart, "pidfdWaitStart", state));
  exports.Set("pidfdWaitAdopt", Napi::Function::New(env, PidfdWaitAdopt, "pidfdWaitAdopt", state));
  exports.Set("pidfdWaitCancel",
              Napi::Function::New(env, PidfdWaitCancel, "pidfdWaitCancel", state));
  exports.Set("waitConstants", Constants(env));
}

}  // namespace posix_process::wait
