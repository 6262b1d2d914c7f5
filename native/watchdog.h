// The reaping of a worker thread's cgroup watchdog (lib/spawn/contain.ts) after the worker is
// gone: pidfd_open(2), waitid(2) P_PIDFD, on a detached thread started by the environment's
// cleanup hook.
#pragma once

#include <napi.h>

namespace posix_process::watchdog {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::watchdog
