// run()'s collection of a child's outputs on the event loop (uv_poll_t), without net.Socket.
#pragma once

#include <napi.h>

namespace posix_process::collect {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::collect
