// A growable run of bytes for a child's collected output (run()'s collector and runSync).
#pragma once

#include <napi.h>
#include <stddef.h>
#include <stdint.h>

namespace posix_process {

// Bytes in malloc'd memory, grown geometrically: a failed allocation is a `false` the caller
// handles, where std::string would throw std::bad_alloc through N-API and abort the process.
class ByteBuffer {
 public:
  ByteBuffer() = default;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  ~ByteBuffer();

  size_t size() const { return size_; }
  // Free room after the bytes, for a read straight into the buffer (then Commit).
  size_t room() const { return capacity_ - size_; }
  char* end() { return data_ + size_; }
  // Counts `count` bytes written at end() (at most room()).
  void Commit(size_t count) { size_ += count; }
  // Keeps the first `count` bytes (at most size()).
  void Truncate(size_t count) { size_ = count; }

  // Appends `count` bytes; the buffer grows no larger than `limit`, unless the bytes need more.
  // False if memory ran out (the bytes held are kept).
  bool Append(const char* bytes, size_t count, size_t limit = SIZE_MAX);

  // The bytes as a Buffer: copied when at most 64 KiB (cheaper than a finalizer), else handed
  // over and freed by the Buffer (copied where external buffers are not allowed). Empties this.
  Napi::Value TakeBuffer(Napi::Env env);

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace posix_process
