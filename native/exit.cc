// Ending the whole process at once, like _exit(2) in C.
//
// Man pages: exit_group(2), _exit(2). The raw system call is used, not glibc's _exit(): nothing of
// glibc or Node runs (no atexit handlers, no 'exit' event, no V8 teardown), every thread ends and
// the kernel reports `status & 0xff` to the parent.
#include "exit.h"

#include <sys/syscall.h>
#include <unistd.h>

#include "util/arguments.h"

namespace posix_process::exit_group {

void ExitGroup(int status) {
  for (;;) ::syscall(SYS_exit_group, status & 0xff);
}

namespace {

// exit(status): the facade has checked that status is an integer and masked it to 8 bits.
Napi::Value Exit(const Napi::CallbackInfo& info) {
  int status = Int32Argument(info, 0, "status");
  if (status < 0 || status > 255) {
    throw Napi::RangeError::New(info.Env(), "exit status must be in 0..255");
  }
  ExitGroup(status);
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("exit", Napi::Function::New(env, Exit, "exit"));
}

}  // namespace posix_process::exit_group
