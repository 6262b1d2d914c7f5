// A pseudo-terminal master read and written from the event loop (uv_poll_t), to EIO.
#pragma once

#include <napi.h>

namespace posix_process::pty_stream {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::pty_stream
