// The subreaper trees of an environment, killed natively when it ends with them alive.
#pragma once

#include <napi.h>

namespace posix_process::subreaper_trees {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::subreaper_trees
