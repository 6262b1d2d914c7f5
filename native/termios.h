// Terminal attributes: tcgetattr(3), tcsetattr(3), and the flag, control character and speed
// constants of termios.h.
#pragma once

#include <napi.h>

namespace posix_process::termios {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::termios
