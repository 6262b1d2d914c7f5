// What happens to orphans and to a process whose parent dies: prctl(2) PR_SET_CHILD_SUBREAPER,
// PR_GET_CHILD_SUBREAPER, PR_SET_PDEATHSIG, PR_GET_PDEATHSIG.
#pragma once

#include <napi.h>

namespace posix_process::orphans {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::orphans
