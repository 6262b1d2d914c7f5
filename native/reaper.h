// What a reaper must not reap: the pids of libuv's process handles (child_process children).
#pragma once

#include <napi.h>

namespace posix_process::reaper {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::reaper
