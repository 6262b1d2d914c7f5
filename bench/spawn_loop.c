// The C baseline of bench/spawn.mjs: posix_spawn + waitpid of /bin/true, one after another.
// Prints the mean microseconds per spawn+wait. Built and run by bench/spawn.mjs.
//   spawn_loop <rounds>          the child inherits stdin, stdout and stderr;
//   spawn_loop <rounds> devnull  the child opens /dev/null on them, as ours does for 'ignore'.
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char** environ;

int main(int argc, char** argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 1000;
  char* child_argv[] = {"true", NULL};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (argc > 2 && strcmp(argv[2], "devnull") == 0) {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  }
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (int i = 0; i < rounds; i++) {
    pid_t pid;
    if (posix_spawn(&pid, "/bin/true", &actions, NULL, child_argv, environ) != 0) return 1;
    int status;
    if (waitpid(pid, &status, 0) != pid) return 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  double us = ((end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec)) / 1e3 / rounds;
  printf("%.1f\n", us);
  return 0;
}
