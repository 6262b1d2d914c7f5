// The calling thread's signal mask: pthread_sigmask(3) and sigpending(2).
#pragma once

#include <napi.h>

namespace posix_process::sigmask {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::sigmask
