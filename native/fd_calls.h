// fd primitives for the facade (lib/fds.ts) and the synchronous output collector of runSync
// (lib/spawn/run-sync.ts).
#pragma once

#include <napi.h>

namespace posix_process::fd_calls {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::fd_calls
