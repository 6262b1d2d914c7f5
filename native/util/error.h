// Errors for failed system calls, shaped like Node's own errno errors.
//
// Native code never builds error messages of its own: it hands the errno, the syscall name and the
// path to the JavaScript SyscallError class (lib/errors.ts), which derives `code` from libuv's
// error names and the message from strerror(3).
#pragma once

#include <napi.h>

namespace posix_process {

// A SyscallError for `err` (a positive errno value, copied right after the failing call).
// `path` names the file involved, if any. Throw it with `throw`.
Napi::Error SyscallError(Napi::Env env, int err, const char* syscall, const char* path = nullptr);

// Registers `setSyscallErrorConstructor(ctor)` and `strerror(errno)` on `exports`.
void InitErrors(Napi::Env env, Napi::Object exports);

}  // namespace posix_process
