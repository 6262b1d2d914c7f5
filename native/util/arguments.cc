#include "arguments.h"

#include <cmath>
#include <limits>
#include <string>

namespace posix_process {

int32_t Int32Argument(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value value = info[index];
  if (value.IsNumber()) {
    double number = value.As<Napi::Number>().DoubleValue();
    if (std::trunc(number) == number && number >= std::numeric_limits<int32_t>::min() &&
        number <= std::numeric_limits<int32_t>::max()) {
      return static_cast<int32_t>(number);
    }
  }
  throw Napi::TypeError::New(info.Env(),
                             std::string("The \"") + name + "\" argument must be a 32-bit integer");
}

}  // namespace posix_process
