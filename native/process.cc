// Process identity and signalling.
//
// Man pages: getpid(2), getppid(2), kill(2), signal(7).
#include "process.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "util/arguments.h"
#include "util/error.h"

namespace posix_process::process {

namespace {

Napi::Value GetPid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ::getpid());
}

Napi::Value GetPPid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ::getppid());
}

// kill(pid, signo): signo 0 probes for existence and permission without sending anything.
Napi::Value Kill(const Napi::CallbackInfo& info) {
  pid_t pid = Int32Argument(info, 0, "pid");
  int signo = Int32Argument(info, 1, "signal");
  if (signo < 0 || signo >= NSIG) {
    throw Napi::RangeError::New(info.Env(), "signal number out of range");
  }
  if (::kill(pid, signo) == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "kill");
  }
  return info.Env().Undefined();
}

// The range of real-time signals as glibc sees it (glibc reserves the first two for NPTL, so
// SIGRTMIN is a function, not a constant), for parsing names like 'SIGRTMIN+3'.
Napi::Value RealtimeSignalRange(const Napi::CallbackInfo& info) {
  Napi::Object range = Napi::Object::New(info.Env());
  range.Set("min", SIGRTMIN);
  range.Set("max", SIGRTMAX);
  return range;
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("getpid", Napi::Function::New(env, GetPid, "getpid"));
  exports.Set("getppid", Napi::Function::New(env, GetPPid, "getppid"));
  exports.Set("kill", Napi::Function::New(env, Kill, "kill"));
  exports.Set("realtimeSignalRange", Napi::Function::New(env, RealtimeSignalRange));
}

}  // namespace posix_process::process
