// The constants needed to read /proc/<pid>/stat: sysconf(3) _SC_CLK_TCK and _SC_PAGESIZE.
#pragma once

#include <napi.h>

namespace posix_process::procfs {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::procfs
