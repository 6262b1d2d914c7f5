// The cgroup watchdog of a thread (lib/spawn/contain.ts), started natively with its pipe and its
// reaping in one call, and the reaping of adopted orphans nobody waits for.
#pragma once

#include <napi.h>

namespace posix_process::watchdog {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::watchdog
