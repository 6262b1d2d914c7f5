// Room in a vector reserved ahead, for code that must not allocate later (a libuv callback, a
// step after something irreversible).
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace posix_process {

// Makes room for `count` elements in `list`, doubling, so that a burst reallocates a few times
// only.
template <typename T>
void ReserveRoom(std::vector<T>& list, size_t count) {
  if (list.capacity() < count) list.reserve(std::max(count, 2 * list.capacity()));
}

}  // namespace posix_process
