// Support for the test suite, exported as `binding.testing` and not part of the public API.
//
// Node opens every fd with O_CLOEXEC, so a test cannot otherwise create the "stray inheritable
// fd" that a careless native module or a shared library might leave behind, and that a spawned
// child must not see.
#include "testing.h"

#include <errno.h>
#include <fcntl.h>

#include "util/error.h"
#include "util/strings.h"

namespace posix_process::testing {

namespace {

// openInheritable(path) -> fd: open(2) read-only WITHOUT O_CLOEXEC.
Napi::Value OpenInheritable(const Napi::CallbackInfo& info) {
  std::string path = BytesArgument(info[0], "path");
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    int err = errno;
    throw SyscallError(info.Env(), err, "open", path.c_str());
  }
  return Napi::Number::New(info.Env(), fd);
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  Napi::Object testing = Napi::Object::New(env);
  testing.Set("openInheritable", Napi::Function::New(env, OpenInheritable, "openInheritable"));
  exports.Set("testing", testing);
}

}  // namespace posix_process::testing
