#include "byte_buffer.h"

#include <stdlib.h>
#include <string.h>

#include "../testing.h"

namespace posix_process {

namespace {

constexpr size_t kCopyLimit = 64 * 1024;

}  // namespace

ByteBuffer::~ByteBuffer() {
  free(data_);
}

bool ByteBuffer::Append(const char* bytes, size_t count, size_t limit) {
  size_t want = size_ + count;
  if (capacity_ < want) {
    // Doubling keeps appends linear; sized to the bytes first, a short output costs its size.
    size_t grown = capacity_ * 2;
    if (grown > limit) grown = limit;
    if (grown < want) grown = want;
    auto* data = testing::TakeInjectedOutputAllocFailure()
                     ? nullptr
                     : static_cast<char*>(realloc(data_, grown));
    if (data == nullptr) return false;
    data_ = data;
    capacity_ = grown;
  }
  memcpy(data_ + size_, bytes, count);
  size_ = want;
  return true;
}

Napi::Value ByteBuffer::TakeBuffer(Napi::Env env) {
  if (size_ <= kCopyLimit) return Napi::Buffer<char>::Copy(env, data_, size_);
  char* data = data_;
  size_t size = size_;
  data_ = nullptr;
  size_ = capacity_ = 0;
  return Napi::Buffer<char>::NewOrCopy(env, data, size,
                                       [](Napi::Env /*env*/, char* bytes) { free(bytes); });
}

}  // namespace posix_process
