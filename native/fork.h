// fork(2) with JavaScript going on in the child.
#pragma once

#include <napi.h>

namespace posix_process::fork {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::fork
