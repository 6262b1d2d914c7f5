// Resources and scheduling of any process: prlimit(2), getrusage(2), getpriority(2),
// setpriority(2), sched_getaffinity(2), sched_setaffinity(2), sched_getscheduler(2),
// sched_setscheduler(2).
#pragma once

#include <napi.h>

namespace posix_process::resources {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::resources
