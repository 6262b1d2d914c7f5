// Reaping a child that must outlive the event loop that started it: a worker thread's cgroup
// watchdog (lib/spawn/contain.ts) does its work once the worker is gone, and the worker's libuv,
// its only reaper, is gone by then.
//
// reapAfterEnvironment(pid) opens a pidfd on the child at once (while it is certainly this
// process's unreaped child, so that no recycled pid is ever waited for) and registers a cleanup
// hook; when the environment ends, the hook hands the pidfd to the background reaper
// (background_reaper.cc). If the child was reaped before (the worker's libuv saw it exit),
// waitid fails with ECHILD and nothing else is touched.
//
// reapInBackground(pid) hands such a pidfd over at once: for the orphans a subreaper adopted that
// no tree reaped, once it stops being a subreaper.
//
// Man pages: pidfd_open(2), waitid(2).
#include "watchdog.h"

#include <errno.h>
#include <node_api.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "background_reaper.h"
#include "util/arguments.h"
#include "util/error.h"

namespace posix_process::watchdog {

namespace {

// The environment is ending: the child goes to the background reaper, unless it has exited (reaped
// here) or the worker's libuv reaped it before (ECHILD).
void StartReaping(void* arg) {
  background_reaper::HandOver(static_cast<int>(reinterpret_cast<intptr_t>(arg)));
}

// A pidfd of the child whose pid is argument 0 (an unreaped child of this process).
long ChildPidfdArgument(const Napi::CallbackInfo& info) {
  int pid = Int32Argument(info, 0, "pid");
  if (pid <= 0) throw Napi::RangeError::New(info.Env(), "The \"pid\" argument must be positive");
  long pidfd = ::syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0);
  if (pidfd < 0) {
    int err = errno;
    throw SyscallError(info.Env(), err, "pidfd_open");
  }
  return pidfd;
}

// reapAfterEnvironment(pid): pid must be an unreaped child of this process.
Napi::Value ReapAfterEnvironment(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  long pidfd = ChildPidfdArgument(info);
  void* arg = reinterpret_cast<void*>(static_cast<intptr_t>(pidfd));
  napi_status status = napi_add_env_cleanup_hook(env, StartReaping, arg);
  if (status != napi_ok) {
    ::close(static_cast<int>(pidfd));
    throw Napi::Error::New(env, "napi_add_env_cleanup_hook failed");
  }
  return env.Undefined();
}

// reapInBackground(pid): pid must be an unreaped child of this process that nobody waits for (an
// orphan the subreaper flag brought): reaped now if it has exited, else by the background reaper
// once it does.
Napi::Value ReapInBackground(const Napi::CallbackInfo& info) {
  StartReaping(reinterpret_cast<void*>(static_cast<intptr_t>(ChildPidfdArgument(info))));
  return info.Env().Undefined();
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("reapAfterEnvironment", Napi::Function::New(env, ReapAfterEnvironment));
  exports.Set("reapInBackground", Napi::Function::New(env, ReapInBackground));
}

}  // namespace posix_process::watchdog
