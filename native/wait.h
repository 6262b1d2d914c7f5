// Waiting for children: waitpid(2), wait4(2), waitid(2), and asynchronous waits on pidfds.
#pragma once

#include <napi.h>

namespace posix_process::wait {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::wait
