// The C baseline of bench/output.mjs: posix_spawn of /bin/echo hi with its stdout on a pipe,
// read to end-of-file, waitpid, one after another. Prints the mean microseconds per run.
#define _GNU_SOURCE  // pipe2
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

int main(int argc, char** argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 1000;
  char* child_argv[] = {"echo", "hi", NULL};
  char buffer[4096];
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (int i = 0; i < rounds; i++) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return 1;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    pid_t pid;
    if (posix_spawn(&pid, "/bin/echo", &actions, NULL, child_argv, environ) != 0) return 1;
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    size_t total = 0;
    ssize_t got;
    while ((got = read(fds[0], buffer, sizeof buffer)) > 0) total += (size_t)got;
    close(fds[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid || total != 3) return 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  double us = ((end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec)) / 1e3 / rounds;
  printf("%.1f\n", us);
  return 0;
}
