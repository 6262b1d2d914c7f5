#include "fds.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

namespace posix_process {

int AboveStdio(int fd) {
  if (fd < 0 || fd > 2) return fd;  // -1: the caller's error, errno intact
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int err = errno;
  ::close(fd);
  errno = err;
  return moved;
}

int AboveStdioOrKeep(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (moved == -1) return fd;
  ::close(fd);
  return moved;
}

int PipeAboveStdio(int fds[2], int flags) {
  if (::pipe2(fds, flags) != 0) return -1;
  // O_NONBLOCK belongs to the open file, so the moved copies keep it.
  int read_end = AboveStdio(fds[0]);
  int err = errno;
  int write_end = AboveStdio(fds[1]);
  if (write_end == -1) err = errno;
  if (read_end == -1 || write_end == -1) {
    if (read_end != -1) ::close(read_end);
    if (write_end != -1) ::close(write_end);
    errno = err;
    return -1;
  }
  fds[0] = read_end;
  fds[1] = write_end;
  return 0;
}

int FreshEpollSetInForkChild(int epoll_fd, int* spare) {
  int fresh = *spare >= 0 ? *spare : ::epoll_create1(EPOLL_CLOEXEC);  // moved onto the old one
  *spare = -1;
  if (fresh == -1) return -1;
  int result = ::dup3(fresh, epoll_fd, O_CLOEXEC);
  int err = errno;
  ::close(fresh);
  errno = err;
  return result == -1 ? -1 : 0;
}

}  // namespace posix_process
