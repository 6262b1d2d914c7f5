#include "error.h"

#include <string.h>
#include <uv.h>

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
    // While the addon loads (lib/errors.ts cannot have registered the class yet), or if the
    // binding is used without it: an Error shaped like the class's (name, code, errno, syscall,
    // path and message).
    char name[64];
    uv_err_name_r(-err, name, sizeof name);  // libuv's name, as lib/errors.ts gives
    std::string code = strncmp(name, "Unknown", 7) != 0 ? name : "E" + std::to_string(err);
    std::string message = std::string(syscall) + " " + code + ": " + StrError(err);
    if (path != nullptr) message += std::string(" '") + path + "'";
    Napi::Error error = Napi::Error::New(env, message);
    error.Set("name", Napi::String::New(env, "SyscallError"));
    error.Set("code", Napi::String::New(env, code));
    error.Set("errno", Napi::Number::New(env, -err));
    error.Set("syscall", Napi::String::New(env, syscall));
    if (path != nullptr) error.Set("path", Napi::String::New(env, path));
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

bool CanRunJavaScript(napi_env env) {
  napi_value global;
  napi_value value;
  return napi_get_global(env, &global) == napi_ok &&
         napi_get_named_property(env, global, "undefined", &value) == napi_ok;
}

void MakeCallbackReporting(napi_env env, napi_async_context context, napi_value fn, size_t argc,
                           const napi_value* argv) {
  napi_value global;
  napi_value ignored;
  napi_status status = napi_get_global(env, &global);
  if (status == napi_ok)
    status = napi_make_callback(env, context, global, fn, argc, argv, &ignored);
  // Left pending, it would fail every later N-API call of this environment.
  napi_value exception;
  napi_valuetype type = napi_undefined;
  if (status != napi_ok && napi_get_and_clear_last_exception(env, &exception) == napi_ok &&
      napi_typeof(env, exception, &type) == napi_ok && type != napi_undefined) {
    napi_fatal_exception(env, exception);
  }
}

namespace {

void ReportMessage(napi_env env, const char* text) noexcept {
  napi_value message;
  napi_value error;
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message) == napi_ok &&
      napi_create_error(env, nullptr, message, &error) == napi_ok) {
    napi_fatal_exception(env, error);
  }
}

}  // namespace

void ReportCurrentException(napi_env env) noexcept {
  try {
    throw;
  } catch (const Napi::Error& error) {
    try {
      napi_fatal_exception(env, error.Value());  // Value() unwraps a thrown primitive
    } catch (...) {
      ReportMessage(env, error.what());  // Value() throws when its reference cannot be read
    }
  } catch (const std::exception& exception) {
    ReportMessage(env, exception.what());
  } catch (...) {
    ReportMessage(env, "posix-process: a native exception of unknown type");
  }
}

}  // namespace posix_process
