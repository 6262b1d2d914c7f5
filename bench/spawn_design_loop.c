// The safe spawn's design replayed in C, step by step, to tell its own cost from Node's
// (docs/performance.md, "2026-12-01: the safe spawn's design replayed in C"). Run by bench/spawn-design.mjs.
//   spawn_design_loop <variant> <rounds>   prints: µs per spawn + wait, parent CPU µs per spawn
// variants:
//   posix_spawn   glibc posix_spawn + waitpid, the child opens /dev/null on fds 0-2 (bench's C loop)
//   vfork         clone(CLONE_VM | CLONE_VFORK) on a reused stack, the same child, waitpid
//   clone         clone(CLONE_VM | CLONE_PIDFD) without CLONE_VFORK: the parent goes on, waitpid
//   pidfd         clone, then the exit waited for through the pidfd in an epoll set, waitid(P_PIDFD)
//   notice        pidfd, plus a close-on-exec pipe per child in a second epoll set: the parent
//                 waits for its end-of-file (the exec) before it waits for the exit (ours, in C)
//   child         notice, with the child doing what ours does before its exec: PR_SET_PDEATHSIG,
//                 the 64 signal dispositions read, close_range, /dev/null on fds 0-2, the mask
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;
static char* child_argv[] = {"/bin/true", NULL};

struct plan {
  int full_child;
  int notice;
};

static void devnull_on(int fd, int flags) {
  int opened = open("/dev/null", flags | O_CLOEXEC);
  dup3(opened, fd, 0);
  close(opened);
}

static int child_main(void* data) {
  struct plan* plan = data;
  if (plan->full_child) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct sigaction current;
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (int signo = 1; signo < 65; signo++) {
      if (signo == 32 || signo == 33) continue;
      if (syscall(SYS_rt_sigaction, signo, NULL, &current, 8) == 0 && current.sa_handler != SIG_DFL &&
          current.sa_handler != SIG_IGN)
        syscall(SYS_rt_sigaction, signo, &dfl, NULL, 8);
    }
    if (plan->notice > 3) syscall(SYS_close_range, 3, plan->notice - 1, 0);
    syscall(SYS_close_range, plan->notice + 1, ~0U, 0);
  }
  devnull_on(0, O_RDONLY);
  devnull_on(1, O_WRONLY);
  devnull_on(2, O_WRONLY);
  if (plan->full_child) {
    prctl(PR_SET_PDEATHSIG, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
  }
  execve("/bin/true", child_argv, environ);
  _exit(127);
}

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void await_readable(int epoll_fd, int fd) {
  struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
  while (epoll_wait(epoll_fd, &event, 1, -1) != 1) {
  }
  epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const char* variant = argv[1];
  int rounds = atoi(argv[2]);
  int vfork = !strcmp(variant, "vfork"), by_pidfd = 0, notice = 0, full_child = 0;
  if (!strcmp(variant, "pidfd")) by_pidfd = 1;
  if (!strcmp(variant, "notice")) by_pidfd = notice = 1;
  if (!strcmp(variant, "child")) by_pidfd = notice = full_child = 1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  size_t stack_size = 256 * 1024;
  char* stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  int wait_set = epoll_create1(EPOLL_CLOEXEC), notice_set = epoll_create1(EPOLL_CLOEXEC);
  struct rusage before, after;
  getrusage(RUSAGE_SELF, &before);
  double start = now_us();
  for (int i = 0; i < rounds; i++) {
    int status;
    if (!strcmp(variant, "posix_spawn")) {
      pid_t pid;
      if (posix_spawn(&pid, "/bin/true", &actions, NULL, child_argv, environ) != 0) return 1;
      waitpid(pid, &status, 0);
      continue;
    }
    int pipe_ends[2] = {-1, -1};
    if (notice) pipe2(pipe_ends, O_CLOEXEC);
    struct plan plan = {full_child, pipe_ends[1]};
    int pidfd = -1;
    sigset_t all, previous;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &previous);
    pid_t pid = clone(child_main, stack + stack_size, CLONE_VM | SIGCHLD | (vfork ? CLONE_VFORK : CLONE_PIDFD),
                      &plan, &pidfd);
    sigprocmask(SIG_SETMASK, &previous, NULL);
    if (pid < 0) return 1;
    if (notice) {
      close(pipe_ends[1]);
      await_readable(notice_set, pipe_ends[0]);
      close(pipe_ends[0]);
    }
    if (by_pidfd) {
      await_readable(wait_set, pidfd);
      siginfo_t info;
      syscall(SYS_waitid, 3 /* P_PIDFD */, pidfd, &info, WEXITED, NULL);
    } else {
      waitpid(pid, &status, 0);
    }
    if (pidfd >= 0) close(pidfd);
  }
  double elapsed = now_us() - start;
  getrusage(RUSAGE_SELF, &after);
  double cpu = (after.ru_utime.tv_sec - before.ru_utime.tv_sec) * 1e6 + (after.ru_utime.tv_usec - before.ru_utime.tv_usec) +
               (after.ru_stime.tv_sec - before.ru_stime.tv_sec) * 1e6 + (after.ru_stime.tv_usec - before.ru_stime.tv_usec);
  printf("%.1f %.1f\n", elapsed / rounds, cpu / rounds);
  return 0;
}
