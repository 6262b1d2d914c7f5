// Pseudo-terminals: posix_openpt(3), grantpt(3), unlockpt(3), ptsname(3), the window size
// (TIOCGWINSZ, TIOCSWINSZ), isatty(3) and ttyname(3).
#pragma once

#include <napi.h>

namespace posix_process::pty {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::pty
