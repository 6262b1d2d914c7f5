// See read_slab.h. A slab is malloc'd memory owned by an external ArrayBuffer, freed by V8 once
// neither the slab's reference nor any chunk holds it: an unzeroed allocation from the heap that
// glibc reuses warm, where a zero-filled V8 ArrayBuffer would cost a memset per slab.
#include "read_slab.h"

#include <errno.h>
#include <unistd.h>

#include <cstdlib>

namespace posix_process::read_slab {

namespace {

constexpr size_t kSlabSize = 256 * 1024;
// The room a read is given: a default pipe's capacity (pipe(7)), so a slab with less left is
// replaced; a bigger pipe is read in several turns of the poll.
constexpr size_t kReadRoom = 64 * 1024;

struct Slab {
  napi_env env = nullptr;
  napi_ref buffer = nullptr;  // the current slab's ArrayBuffer, until the next one
  char* data = nullptr;
  size_t used = 0;
};

// One per thread: a thread runs at most one Node environment, and its streams read in turn.
thread_local Slab slab;

void FreeSlab(napi_env /*env*/, void* data, void* /*hint*/) {
  std::free(data);
}

// The environment's teardown: its reference is released while the environment still exists.
void ForgetSlab(void* /*arg*/) {
  if (slab.buffer != nullptr) napi_delete_reference(slab.env, slab.buffer);
  slab = Slab{};
}

bool NewSlab(napi_env env) {
  if (slab.env != nullptr && slab.env != env) return false;  // not this thread's environment
  char* data = static_cast<char*>(std::malloc(kSlabSize));
  if (data == nullptr) return false;
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, data, kSlabSize, FreeSlab, nullptr, &buffer) !=
      napi_ok) {
    std::free(data);
    return false;
  }
  napi_ref ref;
  if (napi_create_reference(env, buffer, 1, &ref) != napi_ok) return false;  // V8 frees data
  if (slab.buffer != nullptr) {
    napi_delete_reference(env, slab.buffer);
  } else if (napi_add_env_cleanup_hook(env, ForgetSlab, nullptr) != napi_ok) {
    napi_delete_reference(env, ref);
    return false;
  }
  slab = Slab{env, ref, data, 0};
  return true;
}

}  // namespace

ssize_t Read(napi_env env, int fd, napi_value* view) {
  if ((slab.buffer == nullptr || kSlabSize - slab.used < kReadRoom) && !NewSlab(env)) {
    return -ENOMEM;
  }
  ssize_t got;
  do {
    got = ::read(fd, slab.data + slab.used, kReadRoom);
  } while (got < 0 && errno == EINTR);
  if (got <= 0) return got < 0 ? -errno : 0;
  napi_value buffer;
  if (napi_get_reference_value(env, slab.buffer, &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_uint8_array, static_cast<size_t>(got), buffer, slab.used,
                             view) != napi_ok) {
    return -EIO;  // read but not deliverable: only while the environment is going away
  }
  slab.used += static_cast<size_t>(got);
  return got;
}

}  // namespace posix_process::read_slab
