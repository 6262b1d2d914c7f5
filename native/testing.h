// Support for the test suite: operations Node cannot do and the tests need, kept out of the API.
#pragma once

#include <napi.h>

namespace posix_process::testing {

void Initialize(Napi::Env env, Napi::Object exports);

}  // namespace posix_process::testing
