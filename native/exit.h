// Ending the whole process at once: exit_group(2).
#pragma once

#include <napi.h>

namespace posix_process::exit_group {

void Initialize(Napi::Env env, Napi::Object exports);

// Ends every thread of the process with `status` (already masked to 8 bits). Never returns. Used by
// exit() and by the fork child, which must never run Node's teardown (see fork.cc).
[[noreturn]] void ExitGroup(int status);

}  // namespace posix_process::exit_group
