// The signal mask of the calling thread and the signals pending for it, as 64-bit sets split in
// two 32-bit halves (bit signo - 1), the form the spawn request uses too. Which signals may be
// named, and what a mask of one thread means in Node's process, is the facade's business
// (lib/sigmask.ts, docs/terminals.md).
//
// Man pages: sigprocmask(2), pthread_sigmask(3), sigpending(2), tgkill(2).
#include "sigmask.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include "util/arguments.h"
#include "util/error.h"

namespace posix_process::sigmask {

namespace {

constexpr int kMaxSignal = 64;

sigset_t SetFromHalves(uint32_t low, uint32_t high) {
  sigset_t set;
  sigemptyset(&set);
  uint64_t bits = (static_cast<uint64_t>(high) << 32) | low;
  for (int signo = 1; signo <= kMaxSignal; signo++) {
    if ((bits >> (signo - 1) & 1) != 0) sigaddset(&set, signo);
  }
  return set;
}

Napi::Value Halves(Napi::Env env, const sigset_t& set) {
  uint64_t bits = 0;
  for (int signo = 1; signo <= kMaxSignal; signo++) {
    if (sigismember(&set, signo) == 1) bits |= uint64_t{1} << (signo - 1);
  }
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Number::New(env, static_cast<uint32_t>(bits)));
  result.Set(1u, Napi::Number::New(env, static_cast<uint32_t>(bits >> 32)));
  return result;
}

// sigprocmask(how, low, high) -> the previous mask's [low, high]; how: 0 block, 1 unblock,
// 2 setmask.
Napi::Value SigProcMask(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int how_index = Int32Argument(info, 0, "how");
  static constexpr int kHows[] = {SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK};
  if (how_index < 0 || how_index > 2) throw Napi::RangeError::New(env, "how: 0, 1 or 2");
  sigset_t set = SetFromHalves(static_cast<uint32_t>(Int32Argument(info, 1, "low")),
                               static_cast<uint32_t>(Int32Argument(info, 2, "high")));
  sigset_t previous;
  int err = ::pthread_sigmask(kHows[how_index], &set, &previous);
  if (err != 0) throw SyscallError(env, err, "sigprocmask");
  return Halves(env, previous);
}

Napi::Value SigPending(const Napi::CallbackInfo& info) {
  sigset_t set;
  if (::sigpending(&set) != 0) {
    int err = errno;
    throw SyscallError(info.Env(), err, "sigpending");
  }
  return Halves(info.Env(), set);
}

// For tests: a signal for this very thread (tgkill), which stays pending while it is blocked
// here; kill(2) would let another thread of the process take it.
Napi::Value RaiseInThreadForTest(const Napi::CallbackInfo& info) {
  int signo = Int32Argument(info, 0, "signo");
  if (::syscall(SYS_tgkill, ::getpid(), ::gettid(), signo) != 0) {
    int err = errno;
    throw SyscallError(info.Env(), err, "tgkill");
  }
  return info.Env().Undefined();
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("sigprocmask", Napi::Function::New(env, SigProcMask, "sigprocmask"));
  exports.Set("sigpending", Napi::Function::New(env, SigPending, "sigpending"));
  exports.Set("raiseInThreadForTest",
              Napi::Function::New(env, RaiseInThreadForTest, "raiseInThreadForTest"));
}

}  // namespace posix_process::sigmask
