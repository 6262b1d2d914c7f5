// The C baseline of bench/throughput.mjs: `total` posix_spawns of /bin/true with `in_flight` of
// them running at once (spawn `in_flight`, then for each child reaped by waitpid(-1), spawn the
// next). Prints the spawns per second, this process's CPU time (user + system, all threads) per
// spawn and its children's, in microseconds. Built and run by bench/throughput.mjs.
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char** environ;

static int spawn_one(void) {
  char* child_argv[] = {"true", NULL};
  pid_t pid;
  return posix_spawn(&pid, "/bin/true", NULL, NULL, child_argv, environ);
}

static double cpu_us(const struct rusage* usage) {
  return (usage->ru_utime.tv_sec + usage->ru_stime.tv_sec) * 1e6 + usage->ru_utime.tv_usec +
         usage->ru_stime.tv_usec;
}

int main(int argc, char** argv) {
  int total = argc > 1 ? atoi(argv[1]) : 2000;
  int in_flight = argc > 2 ? atoi(argv[2]) : 1;
  struct timespec start, end;
  struct rusage before, after, children_before, children_after;
  getrusage(RUSAGE_SELF, &before);
  getrusage(RUSAGE_CHILDREN, &children_before);
  clock_gettime(CLOCK_MONOTONIC, &start);
  int started = 0;
  int running = 0;
  for (; started < total && running < in_flight; started++, running++) {
    if (spawn_one() != 0) return 1;
  }
  while (running > 0) {
    int status;
    if (waitpid(-1, &status, 0) < 0) return 1;
    running--;
    if (started < total) {
      if (spawn_one() != 0) return 1;
      started++;
      running++;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  getrusage(RUSAGE_SELF, &after);
  getrusage(RUSAGE_CHILDREN, &children_after);
  double cpu = cpu_us(&after) - cpu_us(&before);
  double children = cpu_us(&children_after) - cpu_us(&children_before);
  double seconds = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
  printf("%.1f %.2f %.2f\n", total / seconds, cpu / total, children / total);
  return 0;
}
