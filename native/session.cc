// Sessions, process groups and the foreground process group of a controlling terminal: what a
// shell uses for job control and a daemon to leave its terminal.
//
// Man pages: setsid(2), getsid(2), setpgid(2) (also getpgid, getpgrp), tcsetpgrp(3),
// credentials(7).
#include "session.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "util/arguments.h"
#include "util/error.h"

namespace posix_process::session {

namespace {

Napi::Value SetSid(const Napi::CallbackInfo& info) {
  pid_t sid = ::setsid();
  if (sid == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "setsid");
  }
  return Napi::Number::New(info.Env(), sid);
}

Napi::Value GetSid(const Napi::CallbackInfo& info) {
  pid_t pid = Int32Argument(info, 0, "pid");
  pid_t sid = ::getsid(pid);
  if (sid == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "getsid");
  }
  return Napi::Number::New(info.Env(), sid);
}

Napi::Value SetPgid(const Napi::CallbackInfo& info) {
  pid_t pid = Int32Argument(info, 0, "pid");
  pid_t pgid = Int32Argument(info, 1, "pgid");
  if (::setpgid(pid, pgid) == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "setpgid");
  }
  return info.Env().Undefined();
}

Napi::Value GetPgid(const Napi::CallbackInfo& info) {
  pid_t pid = Int32Argument(info, 0, "pid");
  pid_t pgid = ::getpgid(pid);
  if (pgid == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "getpgid");
  }
  return Napi::Number::New(info.Env(), pgid);
}

Napi::Value GetPgrp(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ::getpgrp());
}

// A process outside the terminal's foreground group that calls tcsetpgrp gets SIGTTOU, which
// stops it, unless SIGTTOU is blocked or ignored (see tty_check_change in the kernel). Shells
// handing the terminal back to themselves rely on that: block SIGTTOU in this thread for the
// call only, so that the rest of the process keeps its disposition.
Napi::Value TcSetPgrp(const Napi::CallbackInfo& info) {
  int fd = Int32Argument(info, 0, "fd");
  pid_t pgid = Int32Argument(info, 1, "pgid");
  sigset_t ttou, previous;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  pthread_sigmask(SIG_BLOCK, &ttou, &previous);
  int result = ::tcsetpgrp(fd, pgid);
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (result == -1) throw SyscallError(info.Env(), err, "tcsetpgrp");
  return info.Env().Undefined();
}

Napi::Value TcGetPgrp(const Napi::CallbackInfo& info) {
  int fd = Int32Argument(info, 0, "fd");
  pid_t pgid = ::tcgetpgrp(fd);
  if (pgid == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "tcgetpgrp");
  }
  return Napi::Number::New(info.Env(), pgid);
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("setsid", Napi::Function::New(env, SetSid, "setsid"));
  exports.Set("getsid", Napi::Function::New(env, GetSid, "getsid"));
  exports.Set("setpgid", Napi::Function::New(env, SetPgid, "setpgid"));
  exports.Set("getpgid", Napi::Function::New(env, GetPgid, "getpgid"));
  exports.Set("getpgrp", Napi::Function::New(env, GetPgrp, "getpgrp"));
  exports.Set("tcsetpgrp", Napi::Function::New(env, TcSetPgrp, "tcsetpgrp"));
  exports.Set("tcgetpgrp", Napi::Function::New(env, TcGetPgrp, "tcgetpgrp"));
}

}  // namespace posix_process::session
