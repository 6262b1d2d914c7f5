// The child side of the safe spawn. Async-signal-safe only: raw system calls through syscall(2)
// (never glibc's set*id or setgroups wrappers, which signal every thread of the parent process;
// see Go's syscall/exec_linux.go forkAndExecInChild1) and reads of the prepared ChildPlan.
//
// errno: the child shares the spawning thread's thread-local storage (CLONE_VM without
// CLONE_SETTLS). That thread is suspended until exec (CLONE_VFORK) and does nothing but spawn,
// so the errno that syscall(2) sets here belongs to no one else.
//
// glibc's clone(3) wrapper (used for the daemon's clone) is a few instructions around the system
// call: it neither allocates nor locks, and since glibc 2.25 keeps no pid cache to update.
//
// Man pages: clone(2), execve(2), setsid(2), wait4(2), setpgid(2), setgroups(2), setresuid(2),
// prlimit(2), setpriority(2), umask(2), prctl(2) PR_SET_PDEATHSIG, close_range(2),
// rt_sigaction(2), rt_sigprocmask(2).
#include "spawn_child.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/exec_search.h"

namespace posix_process::spawn {

namespace {

// The kernel's struct sigaction for rt_sigaction (glibc's has a different layout and refuses
// signals 32 and 33, which a new program must not inherit as ignored either).
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)(void);
  uint64_t mask;
};

constexpr int kMaxSignal = 64;
// An optional source that turned out not to be open in the parent.
constexpr int kNotOpen = -2;

[[noreturn]] void Fail(ChildPlan* plan, ChildStep step, int index = 0) {
  plan->error = errno;
  plan->step = static_cast<int>(step);
  plan->step_index = index;
  syscall(SYS_exit_group, 127);
  __builtin_unreachable();
}

// Resets every caught signal, and every ignored one the plan asks for, to SIG_DFL. Handlers of
// the parent would run Node's code in the child, and ignored signals survive exec.
void ResetSignals(ChildPlan* plan) {
  for (int signo = 1; signo <= kMaxSignal; signo++) {
    if (signo == SIGKILL || signo == SIGSTOP) continue;
    KernelSigaction current;
    if (syscall(SYS_rt_sigaction, signo, nullptr, &current, sizeof(uint64_t)) != 0) continue;
    bool ignored = current.handler == SIG_IGN;
    bool caught = current.handler != SIG_IGN && current.handler != SIG_DFL;
    bool reset_ignored = ignored && (plan->reset_to_default >> (signo - 1) & 1);
    if (!caught && !reset_ignored) continue;
    KernelSigaction action = {};
    action.handler = SIG_DFL;
    if (syscall(SYS_rt_sigaction, signo, &action, nullptr, sizeof(uint64_t)) != 0) {
      Fail(plan, ChildStep::kSignals, signo);
    }
  }
}

// Moves every source fd out of the way of the targets, then puts each in place. A source may sit
// on a target number (e.g. the parent's fd 1 going to the child's fd 2 while fd 2 goes to 1).
void ArrangeFds(ChildPlan* plan) {
  for (size_t i = 0; i < plan->fd_count; i++) {
    FdPlan& fd = plan->fds[i];
    if (fd.source < 0) continue;
    long moved = syscall(SYS_fcntl, fd.source, F_DUPFD_CLOEXEC, plan->max_target + 1);
    if (moved < 0 && errno == EBADF && fd.optional) {
      fd.source = kNotOpen;
      continue;
    }
    if (moved < 0) Fail(plan, ChildStep::kDup, static_cast<int>(i));
    fd.source = static_cast<int>(moved);
  }
  for (size_t i = 0; i < plan->fd_count; i++) {
    FdPlan& fd = plan->fds[i];
    if (fd.source == kNotOpen) continue;
    int source = fd.source;
    if (source < 0) {
      source =
          static_cast<int>(syscall(SYS_openat, AT_FDCWD, fd.path, fd.flags | O_CLOEXEC, fd.mode));
      if (source < 0) Fail(plan, ChildStep::kOpen, static_cast<int>(i));
    }
    // dup3 without O_CLOEXEC: the target survives exec.
    if (syscall(SYS_dup3, source, fd.target, 0) < 0)
      Fail(plan, ChildStep::kDup, static_cast<int>(i));
  }
  // Below the highest target, every fd that is not a target goes (a parent's fd 5 that is not
  // close-on-exec must not reach a child that asked only for fds 0..2 and 7).
  for (int candidate = 0; candidate <= plan->max_target; candidate++) {
    bool is_target = false;
    for (size_t i = 0; i < plan->fd_count && !is_target; i++) {
      is_target = plan->fds[i].target == candidate;
    }
    if (!is_target) syscall(SYS_close, candidate);
  }
  // Everything above the highest target goes: the moved copies, the parent's fds that were not
  // close-on-exec, and fds opened by other threads at the same moment.
  if (syscall(SYS_close_range, plan->max_target + 1, ~0U, 0) != 0) {
    if (errno != ENOSYS) Fail(plan, ChildStep::kCloseRange);
    for (int fd = plan->max_target + 1; fd < 65536; fd++) syscall(SYS_close, fd);
  }
}

void Exec(ChildPlan* plan) {
  errno = ExecCandidates(plan->candidates, plan->candidate_count, plan->argv, plan->envp);
  Fail(plan, ChildStep::kExec);
}

// Everything after the session: credentials, limits, umask, cwd, fds, mask, exec. Run by the
// child itself, or by the daemon that the child of daemon() clones.
int FinishChild(void* argument) {
  auto* plan = static_cast<ChildPlan*>(argument);

  // Credentials: supplementary groups, then the gid, then the uid (after which the others would
  // no longer be allowed).
  if (plan->set_groups && syscall(SYS_setgroups, plan->group_count, plan->groups) < 0) {
    Fail(plan, ChildStep::kSetgroups);
  }
  if (plan->gid >= 0 && syscall(SYS_setresgid, plan->gid, plan->gid, plan->gid) < 0) {
    Fail(plan, ChildStep::kSetgid);
  }
  if (plan->uid >= 0 && syscall(SYS_setresuid, plan->uid, plan->uid, plan->uid) < 0) {
    Fail(plan, ChildStep::kSetuid);
  }

  for (size_t i = 0; i < plan->rlimit_count; i++) {
    struct rlimit64 limit = {plan->rlimits[i].soft, plan->rlimits[i].hard};
    if (syscall(SYS_prlimit64, 0, plan->rlimits[i].resource, &limit, nullptr) < 0) {
      Fail(plan, ChildStep::kRlimit, static_cast<int>(i));
    }
  }
  if (plan->set_nice && syscall(SYS_setpriority, PRIO_PROCESS, 0, plan->nice) < 0) {
    Fail(plan, ChildStep::kNice);
  }
  if (plan->umask >= 0) syscall(SYS_umask, plan->umask);

  // After the credential changes, which clear it. It fires when the spawning *thread* exits;
  // that thread lives as long as the addon. If the parent died before this point the signal was
  // never armed: deliver it now, as Go does.
  if (plan->pdeathsig != 0) {
    if (syscall(SYS_prctl, PR_SET_PDEATHSIG, plan->pdeathsig, 0, 0, 0) < 0) {
      Fail(plan, ChildStep::kPdeathsig);
    }
    if (syscall(SYS_getppid) != plan->parent_pid) {
      syscall(SYS_kill, syscall(SYS_getpid), plan->pdeathsig);
    }
  }

  if (plan->cwd != nullptr && syscall(SYS_chdir, plan->cwd) < 0) Fail(plan, ChildStep::kChdir);

  ArrangeFds(plan);

  // Last: the mask the program starts with (empty unless asked for).
  uint64_t mask = plan->sigmask;
  if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, nullptr, sizeof mask) < 0) {
    Fail(plan, ChildStep::kSigmask);
  }
  Exec(plan);
  return 127;
}

// The intermediate process of daemon(), the session leader. The daemon it clones is in the new
// session but does not lead it, so it can never acquire a controlling terminal (open(2) of a tty
// without O_NOCTTY gives one only to a session leader); once this process exits, the daemon is
// an orphan, adopted by init or the nearest subreaper.
//
// CLONE_VFORK suspends this process until the daemon has exec'd or failed, so the plan holds the
// outcome when clone returns. SIGCHLD as the exit signal: the adopter is told when the daemon
// ends, like for any child. A daemon that failed is reaped here, so that no zombie of it reaches
// the adopter (which may be this very Node process, if it is a subreaper).
[[noreturn]] void Daemonize(ChildPlan* plan) {
  int pid = ::clone(FinishChild, plan->daemon_stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, plan);
  if (pid < 0) Fail(plan, ChildStep::kDaemonFork);
  plan->daemon_pid = pid;
  if (plan->error != 0) {
    int status;
    while (syscall(SYS_wait4, pid, &status, 0, nullptr) < 0 && errno == EINTR) {
    }
  }
  syscall(SYS_exit_group, 0);
  __builtin_unreachable();
}

}  // namespace

int RunChild(void* argument) {
  auto* plan = static_cast<ChildPlan*>(argument);

  // All signals are blocked: the spawning thread runs with a full mask, and the child inherits it.
  ResetSignals(plan);

  if (plan->setsid || plan->daemonize) {
    if (syscall(SYS_setsid) < 0) Fail(plan, ChildStep::kSetsid);
  } else if (plan->pgid >= 0) {
    if (syscall(SYS_setpgid, 0, plan->pgid) < 0) Fail(plan, ChildStep::kSetpgid);
  }
  if (plan->daemonize) Daemonize(plan);
  return FinishChild(plan);
}

}  // namespace posix_process::spawn
