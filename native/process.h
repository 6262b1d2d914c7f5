// Process identity and signalling: getpid(2), getppid(2), kill(2).
#pragma once

#include <napi.h>

namespace posix_process::process {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::process
