// Signal handlers whose events reach JavaScript on the event loop, dispositions that survive
// Node's own listeners, killpg(3) and sigqueue(3).
#pragma once

#include <napi.h>

namespace posix_process::signal_handlers {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::signal_handlers
