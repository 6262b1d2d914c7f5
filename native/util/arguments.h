// Argument checks for native entry points.
//
// The TypeScript facade validates every argument and throws TypeError/RangeError with Node's
// error codes before native code runs. Native code re-checks only what it relies on, so that a
// direct call into the binding cannot make it read garbage.
#pragma once

#include <napi.h>

#include <cstdint>

namespace posix_process {

// The argument at `index` as an int32; throws TypeError if it is not an integer in range.
int32_t Int32Argument(const Napi::CallbackInfo& info, size_t index, const char* name);

}  // namespace posix_process
