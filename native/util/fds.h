// File descriptors the addon makes for itself.
#pragma once

namespace posix_process {

// Moves a new fd to 3 or above (close-on-exec), closing the original: with the parent's fds 0..2
// closed, the kernel hands out those numbers first, and an internal fd sitting on 0, 1 or 2
// would be taken for stdio, both by this process and by a child that inherits "stdin". Returns
// -1 with errno set if it cannot.
int AboveStdio(int fd);

// pipe2(2) with both ends moved above stdio. On failure returns -1 with errno set and leaves no
// fd open.
int PipeAboveStdio(int fds[2], int flags);

}  // namespace posix_process
