// Reads of a pipe into slabs of memory shared by the thread's pipe streams, each chunk a view of
// its slab: no allocation and no copy per read, as Node's own Buffer pool (docs/output.md).
#pragma once

#include <node_api.h>
#include <sys/types.h>

namespace posix_process::read_slab {

// One read(2) of `fd` (non-blocking) into this thread's slab, at most the pipe's default capacity.
// Returns the bytes read with *view a Uint8Array of them, 0 at end-of-file, -errno if the read
// failed, -ENOMEM if no slab could be had (nothing was read: the caller reads another way), or
// -EIO if the view could not be made (the environment is going away). Call it in a handle scope.
ssize_t Read(napi_env env, int fd, napi_value* view);

}  // namespace posix_process::read_slab
