#include "error.h"

#include <string.h>

#include <string>

#include "addon_state.h"

namespace posix_process {

namespace {

std::string StrError(int err) {
  char buffer[256];
  // GNU strerror_r: returns a pointer that may or may not point into `buffer`.
  return std::string(strerror_r(err, buffer, sizeof buffer));
}

Napi::Value SetSyscallErrorConstructor(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) {
    throw Napi::TypeError::New(info.Env(), "setSyscallErrorConstructor expects a class");
  }
  GetAddonState(info.Env()).syscall_error_constructor =
      Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value StrErrorBinding(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), "strerror expects an errno number");
  }
  return Napi::String::New(info.Env(), StrError(info[0].As<Napi::Number>().Int32Value()));
}

}  // namespace

Napi::Error SyscallError(Napi::Env env, int err, const char* syscall, const char* path) {
  Napi::FunctionReference& constructor = GetAddonState(env).syscall_error_constructor;
  if (constructor.IsEmpty()) {
    // Only reachable if the binding is used without lib/errors.ts having been loaded.
    Napi::Error error = Napi::Error::New(
        env, std::string(syscall) + " errno " + std::to_string(err) + ": " + StrError(err));
    error.Set("errno", Napi::Number::New(env, -err));
    error.Set("syscall", Napi::String::New(env, syscall));
    return error;
  }
  Napi::Value path_value =
      path == nullptr ? env.Undefined() : static_cast<Napi::Value>(Napi::String::New(env, path));
  Napi::Object error =
      constructor.New({Napi::String::New(env, syscall), Napi::Number::New(env, err), path_value});
  return Napi::Error(env, error);
}

void InitErrors(Napi::Env env, Napi::Object exports) {
  exports.Set("setSyscallErrorConstructor", Napi::Function::New(env, SetSyscallErrorConstructor));
  exports.Set("strerror", Napi::Function::New(env, StrErrorBinding));
}

}  // namespace posix_process
