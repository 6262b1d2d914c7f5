// Reaping a child that must outlive the event loop that started it: a worker thread's cgroup
// watchdog (lib/spawn/contain.ts) does its work once the worker is gone, and the worker's libuv,
// its only reaper, is gone by then.
//
// reapAfterEnvironment(pid) opens a pidfd on the child at once (while it is certainly this
// process's unreaped child, so that no recycled pid is ever waited for) and registers a cleanup
// hook; when the environment ends, the hook starts a detached thread that blocks in
// waitid(P_PIDFD, WEXITED) and closes the pidfd. If the child was reaped before (the worker's
// libuv saw it exit), waitid fails with ECHILD and nothing else is touched. The thread runs only
// C calls (nothing can throw), with every signal blocked, and the addon is pinned in memory
// (dlopen without dlclose) since Node unloads a worker's addon when the last environment using
// it ends, which would unmap the thread's code under it.
//
// Man pages: pidfd_open(2), waitid(2), pthread_create(3), dlopen(3), dladdr(3).
#include "watchdog.h"

#include <dlfcn.h>
#include <errno.h>
#include <node_api.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/arguments.h"
#include "util/error.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace posix_process::watchdog {

namespace {

void* ReapThread(void* arg) {
  int pidfd = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  siginfo_t info;
  while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED) == -1 &&
         errno == EINTR) {
  }
  ::close(pidfd);
  return nullptr;
}

// Keeps this shared object mapped for the life of the process (the handle is never closed).
bool PinAddon() {
  Dl_info self;
  if (::dladdr(reinterpret_cast<void*>(&ReapThread), &self) == 0 || self.dli_fname == nullptr) {
    return false;
  }
  return ::dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr;
}

// The environment is ending: wait for the child on a thread of its own (the pidfd is its own).
void StartReaping(void* arg) {
  int pidfd = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  siginfo_t info;
  info.si_pid = 0;
  int result;
  do {
    result = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info,
                      WEXITED | WNOHANG);
  } while (result == -1 && errno == EINTR);
  int err = result == -1 ? errno : 0;
  // Exited already (reaped here), reaped by the loop before (ECHILD), or a thread's code could be
  // unmapped under it: no thread.
  if ((result == 0 && info.si_pid != 0) || err != 0 || !PinAddon()) {
    ::close(pidfd);
    return;
  }
  pthread_attr_t attr;
  bool started = false;
  if (::pthread_attr_init(&attr) == 0) {
    ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    ::pthread_attr_setstacksize(&attr, 64 * 1024);
    // The thread inherits its creator's mask: no signal handler of Node's runs on it.
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &previous);
    pthread_t thread;
    started = ::pthread_create(&thread, &attr, ReapThread, arg) == 0;
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    ::pthread_attr_destroy(&attr);
  }
  // No thread to be had (EAGAIN at RLIMIT_NPROC): the child is left a zombie, as before.
  if (!started) ::close(pidfd);
}

// reapAfterEnvironment(pid): pid must be an unreaped child of this process.
Napi::Value ReapAfterEnvironment(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = Int32Argument(info, 0, "pid");
  if (pid <= 0) throw Napi::RangeError::New(env, "The \"pid\" argument must be positive");
  long pidfd = ::syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0);
  if (pidfd < 0) {
    int err = errno;
    throw SyscallError(env, err, "pidfd_open");
  }
  void* arg = reinterpret_cast<void*>(static_cast<intptr_t>(pidfd));
  napi_status status = napi_add_env_cleanup_hook(env, StartReaping, arg);
  if (status != napi_ok) {
    ::close(static_cast<int>(pidfd));
    throw Napi::Error::New(env, "napi_add_env_cleanup_hook failed");
  }
  return env.Undefined();
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("reapAfterEnvironment", Napi::Function::New(env, ReapAfterEnvironment));
}

}  // namespace posix_process::watchdog
