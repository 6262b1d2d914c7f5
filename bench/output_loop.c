// The C baseline of bench/output.mjs: posix_spawn of /bin/echo hi with its stdout on a pipe,
// read to end-of-file, waitpid, one after another. Prints the mean microseconds per run.
//   output_loop <rounds>       stdout on a pipe, stdin and stderr inherited (the loop);
//   output_loop <rounds> like  as run() does: stdin /dev/null, stdout and stderr on two pipes,
//                              both read (poll) to end-of-file.
#define _GNU_SOURCE  // pipe2
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static char* child_argv[] = {"echo", "hi", NULL};
static char buffer[4096];

// The loop: one pipe, read until end-of-file. Returns the bytes read, or -1.
static long plain_run(pid_t* pid) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  if (posix_spawn(pid, "/bin/echo", &actions, NULL, child_argv, environ) != 0) return -1;
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  long total = 0;
  ssize_t got;
  while ((got = read(fds[0], buffer, sizeof buffer)) > 0) total += got;
  close(fds[0]);
  return total;
}

// What run() does for the child: /dev/null on stdin, two pipes, both read until end-of-file.
static long like_run(pid_t* pid) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  if (posix_spawn(pid, "/bin/echo", &actions, NULL, child_argv, environ) != 0) return -1;
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  close(err[1]);
  struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  long total = 0;
  for (int open = 2; open > 0;) {
    if (poll(fds, 2, -1) < 0) return -1;
    for (int i = 0; i < 2; i++) {
      if (fds[i].revents == 0) continue;
      ssize_t got = read(fds[i].fd, buffer, sizeof buffer);
      if (got > 0) {
        total += got;
        continue;
      }
      close(fds[i].fd);
      fds[i].fd = -1;
      open--;
    }
  }
  return total;
}

int main(int argc, char** argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 1000;
  long (*one_run)(pid_t*) = argc > 2 && strcmp(argv[2], "like") == 0 ? like_run : plain_run;
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (int i = 0; i < rounds; i++) {
    pid_t pid;
    long total = one_run(&pid);
    int status;
    if (waitpid(pid, &status, 0) != pid || total != 3) return 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  double us = ((end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec)) / 1e3 / rounds;
  printf("%.1f\n", us);
  return 0;
}
