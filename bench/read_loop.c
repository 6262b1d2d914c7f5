// The C readers of bench/output.mjs's "read 1 GiB": each posix_spawns `head -c <bytes>
// /dev/zero` with its stdout on a pipe, reads that pipe to end-of-file and checks the count.
//   read_loop block <bytes>  blocking read(2) of up to 128 KiB, bytes counted and dropped: what
//                            `cat` does without its write to /dev/null.
//   read_loop epoll <bytes>  what an event-loop reader must do: a non-blocking pipe, epoll_wait,
//                            one read per readiness event into a 1 MiB scratch buffer, then the
//                            bytes copied into a chunk of their own (malloc), as a stream hands
//                            them on. This is the floor for ours and child_process.
// The time is measured by the caller, around the whole process (spawn, reads, waitpid).
#define _GNU_SOURCE  // pipe2
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

static size_t ReadBlocking(int fd) {
  static char buffer[128 * 1024];
  size_t total = 0;
  ssize_t got;
  while ((got = read(fd, buffer, sizeof buffer)) > 0) total += (size_t)got;
  return total;
}

static size_t ReadFromEventLoop(int fd) {
  static char scratch[1024 * 1024];
  int poller = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event wanted = {.events = EPOLLIN, .data.fd = fd};
  if (poller < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) != 0 ||
      epoll_ctl(poller, EPOLL_CTL_ADD, fd, &wanted) != 0) {
    exit(1);
  }
  size_t total = 0;
  for (;;) {
    struct epoll_event ready;
    if (epoll_wait(poller, &ready, 1, -1) < 0) continue;
    ssize_t got = read(fd, scratch, sizeof scratch);
    if (got == 0) break;
    if (got < 0) continue;  // EAGAIN or EINTR: wait again
    char* chunk = malloc((size_t)got);
    if (chunk == NULL) exit(1);
    memcpy(chunk, scratch, (size_t)got);
    total += (size_t)got;
    free(chunk);
  }
  close(poller);
  return total;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  int event_loop = strcmp(argv[1], "epoll") == 0;
  char* child_argv[] = {"head", "-c", argv[2], "/dev/zero", NULL};
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return 1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  pid_t pid;
  if (posix_spawnp(&pid, "head", &actions, NULL, child_argv, environ) != 0) return 1;
  close(fds[1]);
  size_t total = event_loop ? ReadFromEventLoop(fds[0]) : ReadBlocking(fds[0]);
  int status;
  if (waitpid(pid, &status, 0) != pid || status != 0) return 1;
  return total == strtoull(argv[2], NULL, 10) ? 0 : 1;
}
