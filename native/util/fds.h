// File descriptors the addon makes for itself.
#pragma once

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <vector>

namespace posix_process {

// Moves a new fd to 3 or above (close-on-exec), closing the original: with the parent's fds 0..2
// closed, the kernel hands out those numbers first, and an internal fd sitting on 0, 1 or 2
// would be taken for stdio, both by this process and by a child that inherits "stdin". Returns
// -1 with errno set if it cannot.
int AboveStdio(int fd);

// AboveStdio for an fd that must not be lost (a pidfd): where it cannot be moved, it stays.
int AboveStdioOrKeep(int fd);

// pipe2(2) with both ends moved above stdio. On failure returns -1 with errno set and leaves no
// fd open.
int PipeAboveStdio(int fds[2], int flags);

// In a fork(2) child: puts a new, empty epoll set on `epoll_fd`, which the child shares with its
// parent until then (registrations made or consumed by one would be the other's too). The same
// number, so that a uv_poll_t watching it, re-registered by uv_loop_fork, watches the new set.
// The set is `*spare` when it is an fd (made before the fork, so that the child needs no free fd:
// it is moved, and *spare becomes -1), else a new one. System calls only. Returns -1 with errno
// set if it cannot.
int FreshEpollSetInForkChild(int epoll_fd, int* spare);

// Closes the spares of `owners`: after fork(2), in the parent, those the child did not take.
template <typename Owner>
void DropEpollSpares(const std::vector<Owner*>& owners, int Owner::*spare) {
  for (Owner* owner : owners) {
    if (owner->*spare >= 0) ::close(owner->*spare);
    owner->*spare = -1;
  }
}

// Before fork(2): gives each of `owners` that has none a spare epoll set in its `spare` member,
// for FreshEpollSetInForkChild. Returns 0, or the errno of the epoll_create1 that failed (every
// spare is closed then). The caller holds the lock that guards `owners`.
template <typename Owner>
int MakeEpollSpares(const std::vector<Owner*>& owners, int Owner::*spare) {
  for (Owner* owner : owners) {
    if (owner->*spare >= 0) continue;
    owner->*spare = ::epoll_create1(EPOLL_CLOEXEC);
    if (owner->*spare == -1) {
      int err = errno;
      DropEpollSpares(owners, spare);
      return err;
    }
  }
  return 0;
}

}  // namespace posix_process
