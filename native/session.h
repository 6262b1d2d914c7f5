// Sessions, process groups and the foreground group of a terminal: setsid(2), getsid(2),
// setpgid(2), getpgid(2), getpgrp(2), tcsetpgrp(3), tcgetpgrp(3).
#pragma once

#include <napi.h>

namespace posix_process::session {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::session
