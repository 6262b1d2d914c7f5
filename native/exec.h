// Replacing the current process with another program: execve(2), execvp(3).
#pragma once

#include <napi.h>

namespace posix_process::exec {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::exec
