// Errors for failed system calls, shaped like Node's own errno errors.
//
// Native code never builds error messages of its own: it hands the errno, the syscall name and the
// path to the JavaScript SyscallError class (lib/errors.ts), which derives `code` from libuv's
// error names and the message from strerror(3).
#pragma once

#include <napi.h>

#include <exception>

namespace posix_process {

// A SyscallError for `err` (a positive errno value, copied right after the failing call).
// `path` names the file involved, if any. Throw it with `throw`.
Napi::Error SyscallError(Napi::Env env, int err, const char* syscall, const char* path = nullptr);

// Registers `setSyscallErrorConstructor(ctor)` and `strerror(errno)` on `exports`.
void InitErrors(Napi::Env env, Napi::Object exports);

// Whether JavaScript can still run in `env`: a property read fails once a worker is terminating
// (N-API checks that first for every call that may run JavaScript).
bool CanRunJavaScript(napi_env env);

// Calls `fn` (napi_make_callback) and reports an exception it leaves pending as uncaught, with raw
// N-API calls only: node-addon-api would abort the process making an Error in a worker that the
// call (a process.exit() in a promise job) started terminating, where this reports nothing.
void MakeCallbackReporting(napi_env env, napi_async_context context, napi_value fn, size_t argc,
                           const napi_value* argv);

// Reports the C++ exception being handled (call it only inside a catch clause) as an uncaught
// JavaScript exception: a Napi::Error as itself, a std::exception (std::bad_alloc, say) as an
// Error with its what(), anything else as an Error saying so. For libuv callbacks, where an
// exception unwinding into libuv would end in std::terminate; raw N-API calls that cannot throw,
// and nothing reported if even the Error cannot be made (a terminating worker).
void ReportCurrentException(napi_env env) noexcept;

}  // namespace posix_process
