// The process-wide count of the library's holds on the child subreaper flag, for every thread.
#pragma once

#include <napi.h>

namespace posix_process::subreaper_holds {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::subreaper_holds
