// Support for the test suite, exported as `binding.testing` and not part of the public API.
//
// - openInheritable: Node opens every fd with O_CLOEXEC, so a test cannot otherwise create the
//   "stray inheritable fd" that a careless native module or a shared library might leave behind,
//   and that a spawned child must not see.
// - watchErrno: errno cannot be seen from JavaScript, and a direct spawn's child shares the JS
//   thread's (spawn_clone.cc); a test watches it while such a child runs.
#include "testing.h"

#include <errno.h>
#include <fcntl.h>
#include <time.h>

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

// watchErrno(milliseconds) -> errno: sets this thread's errno to 0 and spins, making no system
// call (clock_gettime is the vDSO's), until the time is up or errno changes; returns errno then.
Napi::Value WatchErrno(const Napi::CallbackInfo& info) {
  double milliseconds = info[0].As<Napi::Number>().DoubleValue();
  timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  errno = 0;
  volatile int* watched = &errno;
  int seen = 0;
  do {
    seen = *watched;
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while (seen == 0 &&
           (now.tv_sec - start.tv_sec) * 1e3 + (now.tv_nsec - start.tv_nsec) / 1e6 < milliseconds);
  return Napi::Number::New(info.Env(), seen);
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  Napi::Object testing = Napi::Object::New(env);
  testing.Set("openInheritable", Napi::Function::New(env, OpenInheritable, "openInheritable"));
  testing.Set("watchErrno", Napi::Function::New(env, WatchErrno, "watchErrno"));
  exports.Set("testing", testing);
}

}  // namespace posix_process::testing
