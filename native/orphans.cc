// Orphans and parent death, through prctl(2):
// - a child subreaper adopts the orphaned descendants that would otherwise be reparented to init
//   (PR_SET_CHILD_SUBREAPER), so that a supervisor can see and reap them;
// - the parent-death signal is sent to this process when its parent THREAD exits
//   (PR_SET_PDEATHSIG); it is cleared by fork in the child and by credential changes.
//
// Man pages: prctl(2) (PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG), wait(2).
#include "orphans.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>

#include "util/arguments.h"
#include "util/error.h"

namespace posix_process::orphans {

namespace {

Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info) {
  if (!info[0].IsBoolean()) {
    throw Napi::TypeError::New(info.Env(), "The \"on\" argument must be a boolean");
  }
  unsigned long on = info[0].As<Napi::Boolean>().Value() ? 1 : 0;
  if (::prctl(PR_SET_CHILD_SUBREAPER, on, 0, 0, 0) == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "prctl");
  }
  return info.Env().Undefined();
}

Napi::Value IsChildSubreaper(const Napi::CallbackInfo& info) {
  int on = 0;
  if (::prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0) == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "prctl");
  }
  return Napi::Boolean::New(info.Env(), on != 0);
}

// signo 0 clears the parent-death signal.
Napi::Value SetParentDeathSignal(const Napi::CallbackInfo& info) {
  int signo = Int32Argument(info, 0, "signal");
  if (signo < 0 || signo >= NSIG) {
    throw Napi::RangeError::New(info.Env(), "signal number out of range");
  }
  if (::prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(signo), 0, 0, 0) == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "prctl");
  }
  return info.Env().Undefined();
}

Napi::Value GetParentDeathSignal(const Napi::CallbackInfo& info) {
  int signo = 0;
  if (::prctl(PR_GET_PDEATHSIG, &signo, 0, 0, 0) == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "prctl");
  }
  return Napi::Number::New(info.Env(), signo);
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("setChildSubreaper",
              Napi::Function::New(env, SetChildSubreaper, "setChildSubreaper"));
  exports.Set("isChildSubreaper", Napi::Function::New(env, IsChildSubreaper, "isChildSubreaper"));
  exports.Set("setParentDeathSignal",
              Napi::Function::New(env, SetParentDeathSignal, "setParentDeathSignal"));
  exports.Set("getParentDeathSignal",
              Napi::Function::New(env, GetParentDeathSignal, "getParentDeathSignal"));
}

}  // namespace posix_process::orphans
