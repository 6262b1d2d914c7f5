// The raw posix_spawn(3) and posix_spawnp(3) bindings, with every file action and attribute
// glibc 2.36 offers.
#pragma once

#include <napi.h>

namespace posix_process::posix_spawn {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::posix_spawn
