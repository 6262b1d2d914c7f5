// The safe spawn: fork-then-exec done natively on a dedicated spawning thread.
#pragma once

#include <napi.h>

namespace posix_process::spawn {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::spawn
