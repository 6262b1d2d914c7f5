// The child side of the safe spawn. Async-signal-safe only: raw system calls (never glibc's
// set*id or setgroups wrappers, which signal every thread of the parent process; see Go's
// syscall/exec_linux.go forkAndExecInChild1) and reads of the prepared ChildPlan.
//
// errno: the child shares the thread-local storage of the thread that cloned it (CLONE_VM
// without CLONE_SETTLS). No clone waits for the child's exec (spawn.cc), so that thread runs on,
// and every system call here goes through RawSyscall (util/raw_syscall.h), which returns -errno
// and never writes the parent thread's errno; the daemon's clone is RawClone, for the same reason.
// Nor may any call made here go through a lazily bound PLT entry (the dynamic linker's resolver
// would run on that thread's state): the addon is built with hidden symbols and
// linked with -z now (binding.gyp, CMakeLists.txt; test/build.test.ts).
//
// The step under way is recorded in the plan before each step (Enter): a child that dies before
// its exec tells the parent where it was.
//
// Man pages: clone(2), execve(2), setsid(2), wait4(2), setpgid(2), setgroups(2), setresuid(2),
// prlimit(2), setpriority(2), umask(2), prctl(2) PR_SET_PDEATHSIG, close_range(2),
// rt_sigaction(2), rt_sigprocmask(2), ioctl_tty(2) (TIOCSPGRP, TIOCNOTTY, TIOCSCTTY).
#include "spawn_child.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "spawn_sandbox.h"
#include "util/exec_search.h"
#include "util/kernel_sigaction.h"
#include "util/raw_syscall.h"

namespace posix_process::spawn {

namespace {

// An optional source that turned out not to be open in the parent.
constexpr int kNotOpen = kSourceNotOpen;

}  // namespace

// Records the failed step with `error` (the errno value, positive or as RawSyscall returned it)
// and exits.
POSIX_PROCESS_CHILD_SIDE [[noreturn]] void Fail(ChildPlan* plan, ChildStep step, long error,
                                                int index) {
  plan->error = static_cast<int>(error < 0 ? -error : error);
  plan->step = static_cast<int>(step);
  plan->step_index = index;
  RawSyscall(SYS_exit_group, 127);
  __builtin_unreachable();
}

// Records the step the child is about to take (and which fd or limit), so that a parent that
// sees it die before its exec (killed, by a timeout, an abort or anyone) can say where it was.
POSIX_PROCESS_CHILD_SIDE void Enter(ChildPlan* plan, ChildStep step, size_t index) {
  plan->step_index = static_cast<int>(index);
  plan->step = static_cast<int>(step);
}

namespace {

// Whether the parent is gone. In a new pid namespace getppid() is 0 whatever becomes of the
// parent, so there the child polls the cloning thread's pidfd instead, readable once that thread
// has exited (PIDFD_THREAD; before Linux 6.9 the process's, once all of it has exited): the
// thread whose exit fires the parent-death signal, so a check after the arming leaves no window.
POSIX_PROCESS_CHILD_SIDE bool ParentGone(ChildPlan* plan) {
  if (plan->parent_pidfd < 0) return RawSyscall(SYS_getppid) != plan->parent_pid;
  struct pollfd cloner = {plan->parent_pidfd, POLLIN, 0};
  struct timespec now = {0, 0};
  return RawSyscall(SYS_ppoll, &cloner, 1, &now, nullptr, 0) > 0;
}

// Until its exec the child must die with the thread that cloned it: it shares that process's
// memory (CLONE_VM), and blocked in a step (opening a FIFO) it would keep it alive for ever.
// Armed first, and again after credential changes, which clear it; if the parent is already
// gone, the signal came too early to be armed: exit.
POSIX_PROCESS_CHILD_SIDE void DieWithParent(ChildPlan* plan) {
  RawSyscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (ParentGone(plan)) RawSyscall(SYS_exit_group, 127);
}

// Right before exec: the program gets the user's parent-death signal, or none. If the parent
// died before this point the signal was never armed: deliver it now, as Go does.
POSIX_PROCESS_CHILD_SIDE void SetProgramDeathSignal(ChildPlan* plan) {
  long result = RawSyscall(SYS_prctl, PR_SET_PDEATHSIG, plan->pdeathsig, 0, 0, 0);
  if (result < 0) Fail(plan, ChildStep::kPdeathsig, result);
  if (plan->pdeathsig != 0 && RawSyscall(SYS_getppid) != plan->parent_pid) {
    RawSyscall(SYS_kill, RawSyscall(SYS_getpid), plan->pdeathsig);
  }
}

// Resets every caught signal, and every ignored one the plan asks for, to SIG_DFL. Handlers of
// the parent would run Node's code in the child, and ignored signals survive exec.
POSIX_PROCESS_CHILD_SIDE void ResetSignals(ChildPlan* plan) {
  for (int signo = 1; signo <= kMaxSignal; signo++) {
    if (signo == SIGKILL || signo == SIGSTOP) continue;
    KernelSigaction current;
    if (RawSyscall(SYS_rt_sigaction, signo, nullptr, &current, sizeof(uint64_t)) != 0) continue;
    bool ignored = current.handler == SIG_IGN;
    bool caught = current.handler != SIG_IGN && current.handler != SIG_DFL;
    bool reset_ignored = ignored && (plan->reset_to_default >> (signo - 1) & 1);
    if (!caught && !reset_ignored) continue;
    KernelSigaction action = {};
    action.handler = SIG_DFL;
    long result = RawSyscall(SYS_rt_sigaction, signo, &action, nullptr, sizeof(uint64_t));
    if (result != 0) Fail(plan, ChildStep::kSignals, result, signo);
  }
}

// Closes fds first..last (close_range(2), or one by one on kernels before 5.9).
POSIX_PROCESS_CHILD_SIDE void CloseRange(ChildPlan* plan, unsigned first, unsigned last) {
  if (first > last) return;
  long result = RawSyscall(SYS_close_range, first, last, 0);
  if (result == -ENOSYS) {
    for (unsigned fd = first; fd <= last && fd < 65536; fd++) RawSyscall(SYS_close, fd);
  } else if (result != 0) {
    Fail(plan, ChildStep::kCloseRange, result);
  }
}

// Clears O_NONBLOCK on a std fd shared with the parent, as libuv does in its child: Node sets it
// on a pipe it uses for its own stdout, and a program that writes to a non-blocking stdout fails
// with EAGAIN once the pipe is full. The flag belongs to the open file description, so the
// parent's copy becomes blocking too. A failure leaves the fd as it was.
POSIX_PROCESS_CHILD_SIDE void ClearNonBlocking(int fd) {
  long flags = RawSyscall(SYS_fcntl, fd, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK) != 0) {
    RawSyscall(SYS_fcntl, fd, F_SETFL, flags & ~static_cast<long>(O_NONBLOCK));
  }
}

// Opens the file of plan->fds[i] and puts it on its target. The open takes the lowest free
// number, which is the target itself when the parent has that fd closed (dup3 onto itself is
// EINVAL): then only close-on-exec is cleared. Elsewhere the opened copy is closed at once, so
// that it cannot stay on a target left closed (an inherited fd the parent does not have).
POSIX_PROCESS_CHILD_SIDE void PlaceOpenedFile(ChildPlan* plan, size_t i) {
  const FdPlan& fd = plan->fds[i];
  long opened = RawSyscall(SYS_openat, AT_FDCWD, fd.path, fd.flags | O_CLOEXEC, fd.mode);
  if (opened < 0) Fail(plan, ChildStep::kOpen, opened, static_cast<int>(i));
  long result = opened == fd.target ? RawSyscall(SYS_fcntl, opened, F_SETFD, 0)
                                    : RawSyscall(SYS_dup3, opened, fd.target, 0);
  if (result < 0) Fail(plan, ChildStep::kDup, result, static_cast<int>(i));
  if (opened != fd.target) RawSyscall(SYS_close, opened);
}

// Closes every fd above the highest target but the plan's sources and `notice`: a child blocked
// in a later step (opening a FIFO, on a hung mount) must not hold other spawns' pipes open, which
// would keep their readers from end-of-file. Nothing at or below the highest target is closed
// yet: a file opened for a target must not land on a number still to be arranged.
POSIX_PROCESS_CHILD_SIDE void CloseUnneeded(ChildPlan* plan, int notice) {
  unsigned next = static_cast<unsigned>(plan->max_target) + 1;
  for (;;) {
    long keep = -1;  // the lowest fd to keep from `next` on (no lambda: it would be instrumented)
    for (size_t i = 0; i <= plan->fd_count; i++) {
      int fd = i < plan->fd_count ? plan->fds[i].source : notice;
      if (fd >= 0 && static_cast<unsigned>(fd) >= next && (keep < 0 || fd < keep)) keep = fd;
    }
    if (keep < 0) {
      CloseRange(plan, next, ~0U);
      return;
    }
    CloseRange(plan, next, static_cast<unsigned>(keep) - 1);
    next = static_cast<unsigned>(keep) + 1;
  }
}

// Moves every source fd out of the way of the targets, then puts each in place. A source may sit
// on a target number (e.g. the parent's fd 1 going to the child's fd 2 while fd 2 goes to 1).
POSIX_PROCESS_CHILD_SIDE void ArrangeFds(ChildPlan* plan) {
  // The direct clone's exec notice (close-on-exec: it closes when exec succeeds) stays open until
  // then: moved off the targets (after the sources, so that a request fails the same way on both
  // paths), and spared by the closing below. As a source it is refused, as is the cloning
  // thread's pidfd: neither was open when the caller asked for the spawn.
  int notice = plan->exec_notice_fd;
  Enter(plan, ChildStep::kDup);
  // The plan of the highest target: F_DUPFD above it fails with EINVAL when that target is at or
  // above RLIMIT_NOFILE, which is that target's failure (dup2 onto it: EBADF), not the moved fd's.
  size_t highest = 0;
  for (size_t i = 0; i < plan->fd_count; i++) {
    if (plan->fds[i].target == plan->max_target) highest = i;
  }
  for (size_t i = 0; i < plan->fd_count; i++) {
    FdPlan& fd = plan->fds[i];
    if (fd.source < 0) continue;
    if (fd.source == plan->exec_notice_fd || fd.source == plan->parent_pidfd) {
      Fail(plan, ChildStep::kDup, EBADF, static_cast<int>(i));
    }
    long moved = RawSyscall(SYS_fcntl, fd.source, F_DUPFD_CLOEXEC, plan->max_target + 1);
    if (moved == -EBADF && fd.optional) {
      fd.source = kNotOpen;
      continue;
    }
    if (moved == -EINVAL) Fail(plan, ChildStep::kDup, EBADF, static_cast<int>(highest));
    if (moved < 0) Fail(plan, ChildStep::kDup, moved, static_cast<int>(i));
    fd.source = static_cast<int>(moved);
  }
  if (notice >= 0 && notice <= plan->max_target) {
    long moved = RawSyscall(SYS_fcntl, notice, F_DUPFD_CLOEXEC, plan->max_target + 1);
    if (moved == -EINVAL) Fail(plan, ChildStep::kDup, EBADF, static_cast<int>(highest));
    if (moved < 0) Fail(plan, ChildStep::kCloseRange, moved);
    notice = static_cast<int>(moved);  // the original is closed or replaced below
  }
  CloseUnneeded(plan, notice);
  for (size_t i = 0; i < plan->fd_count; i++) {
    FdPlan& fd = plan->fds[i];
    if (fd.source == kNotOpen) continue;
    if (fd.source >= 0) {
      // dup3 without O_CLOEXEC: the target survives exec.
      long result = RawSyscall(SYS_dup3, fd.source, fd.target, 0);
      if (result < 0) Fail(plan, ChildStep::kDup, result, static_cast<int>(i));
      if (fd.target <= 2) ClearNonBlocking(fd.target);
    } else {
      Enter(plan, ChildStep::kOpen, i);
      PlaceOpenedFile(plan, i);
    }
  }
  Enter(plan, ChildStep::kCloseRange);
  // Below the highest target, every fd that is not a target goes (a parent's fd 5 that is not
  // close-on-exec must not reach a child that asked only for fds 0..2 and 7).
  for (int candidate = 0; candidate <= plan->max_target; candidate++) {
    bool is_target = false;
    for (size_t i = 0; i < plan->fd_count && !is_target; i++) {
      is_target = plan->fds[i].target == candidate;
    }
    if (!is_target) RawSyscall(SYS_close, candidate);
  }
  // Everything above the highest target goes: the moved copies, the parent's fds that were not
  // close-on-exec, and fds opened by other threads at the same moment.
  auto first = static_cast<unsigned>(plan->max_target + 1);
  if (notice < 0) {
    CloseRange(plan, first, ~0U);
  } else {
    CloseRange(plan, first, static_cast<unsigned>(notice) - 1);
    CloseRange(plan, static_cast<unsigned>(notice) + 1, ~0U);
  }
}

POSIX_PROCESS_CHILD_SIDE void Exec(ChildPlan* plan) {
  int error = ExecCandidates(plan->candidates, plan->candidate_count, plan->argv, plan->envp);
  Fail(plan, ChildStep::kExec, error);
}

// Credentials: supplementary groups, then the gid, then the uid (after which the others would
// no longer be allowed). A uid or gid change without groups drops them all, as child_process and
// Go do, or a root parent's groups would outlive the drop; EPERM there means this process may not
// change its groups (no CAP_SETGID), so they are its own to keep, as libuv lets it. They clear
// the parent-death signal: it is armed again.
POSIX_PROCESS_CHILD_SIDE void SetCredentials(ChildPlan* plan) {
  long result;
  if (plan->set_groups &&
      (result = RawSyscall(SYS_setgroups, plan->group_count, plan->groups)) < 0) {
    Fail(plan, ChildStep::kSetgroups, result);
  }
  if (!plan->set_groups && (plan->gid >= 0 || plan->uid >= 0) &&
      (result = RawSyscall(SYS_setgroups, 0, nullptr)) < 0 && result != -EPERM) {
    Fail(plan, ChildStep::kSetgroups, result);
  }
  if (plan->gid >= 0 && (result = RawSyscall(SYS_setresgid, plan->gid, plan->gid, plan->gid)) < 0) {
    Fail(plan, ChildStep::kSetgid, result);
  }
  if (plan->uid >= 0 && (result = RawSyscall(SYS_setresuid, plan->uid, plan->uid, plan->uid)) < 0) {
    Fail(plan, ChildStep::kSetuid, result);
  }
  if (plan->set_groups || plan->gid >= 0 || plan->uid >= 0) DieWithParent(plan);
}

// Resource limits, niceness and umask.
POSIX_PROCESS_CHILD_SIDE void SetLimits(ChildPlan* plan) {
  long result;
  for (size_t i = 0; i < plan->rlimit_count; i++) {
    struct rlimit64 limit = {plan->rlimits[i].soft, plan->rlimits[i].hard};
    result = RawSyscall(SYS_prlimit64, 0, plan->rlimits[i].resource, &limit, nullptr);
    if (result < 0) Fail(plan, ChildStep::kRlimit, result, static_cast<int>(i));
  }
  if (plan->set_nice && (result = RawSyscall(SYS_setpriority, PRIO_PROCESS, 0, plan->nice)) < 0) {
    Fail(plan, ChildStep::kNice, result);
  }
  if (plan->umask >= 0) RawSyscall(SYS_umask, plan->umask);
}

POSIX_PROCESS_CHILD_SIDE void ChangeDirectory(ChildPlan* plan) {
  long result;
  if (plan->cwd != nullptr && (result = RawSyscall(SYS_chdir, plan->cwd)) < 0) {
    Fail(plan, ChildStep::kChdir, result);
  }
}

// The mask the program starts with (empty unless asked for).
POSIX_PROCESS_CHILD_SIDE void SetSignalMask(ChildPlan* plan) {
  uint64_t mask = plan->sigmask;
  long result = RawSyscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, nullptr, sizeof mask);
  if (result < 0) Fail(plan, ChildStep::kSigmask, result);
}

// A new session (setsid), or a process group to join or lead (setpgid).
POSIX_PROCESS_CHILD_SIDE void StartSession(ChildPlan* plan) {
  long result;
  if (plan->setsid || plan->daemonize) {
    if ((result = RawSyscall(SYS_setsid)) < 0) Fail(plan, ChildStep::kSetsid, result);
  } else if (plan->pgid >= 0) {
    Enter(plan, ChildStep::kSetpgid);
    if ((result = RawSyscall(SYS_setpgid, 0, plan->pgid)) < 0) {
      Fail(plan, ChildStep::kSetpgid, result);
    }
  }
}

// foreground: the child's new group (or the one it joined) becomes the foreground group of the
// parent's terminal fd, before exec, so the program never runs in the background for a moment
// (what a shell's child does, and Go's Foreground). SIGTTOU, which tcsetpgrp from a background
// group raises, is blocked: the child runs with a full mask until its exec.
POSIX_PROCESS_CHILD_SIDE void TakeForeground(ChildPlan* plan) {
  if (plan->foreground < 0) return;
  pid_t group = plan->pgid > 0 ? plan->pgid : static_cast<pid_t>(RawSyscall(SYS_getpid));
  long result = RawSyscall(SYS_ioctl, plan->foreground, TIOCSPGRP, &group);
  if (result < 0) Fail(plan, ChildStep::kForeground, result);
}

// noctty: leave the controlling terminal (TIOCNOTTY on fd 0, as Go's Noctty); setctty: the
// child's fd N becomes the controlling terminal of the session it leads (TIOCSCTTY, without
// stealing it from another session: argument 0). The facade asks for setctty only with setsid.
POSIX_PROCESS_CHILD_SIDE void SetControllingTerminal(ChildPlan* plan) {
  long result;
  if (plan->noctty && (result = RawSyscall(SYS_ioctl, 0, TIOCNOTTY, 0)) < 0) {
    Fail(plan, ChildStep::kNoctty, result);
  }
  if (plan->setctty >= 0) {
    Enter(plan, ChildStep::kSetctty);
    if ((result = RawSyscall(SYS_ioctl, plan->setctty, TIOCSCTTY, 0)) < 0) {
      Fail(plan, ChildStep::kSetctty, result);
    }
  }
}

// The child's steps as a table, in the order they run (spawn_child.h says why): each is recorded
// as the step under way (Enter) before it runs, and records finer steps itself where it has them
// (which fd, setgid after setgroups). A step fails through Fail, which exits.
struct Step {
  ChildStep step;
  void (*run)(ChildPlan*);
};

// Up to the session: run by the child itself (RunChild); the intermediate of daemon() then
// clones the daemon, which runs the rest.
constexpr Step kSessionSteps[] = {
    {ChildStep::kPdeathsig, DieWithParent},   {ChildStep::kSignals, ResetSignals},
    {ChildStep::kUsernsSync, AwaitIdMaps},    {ChildStep::kSetsid, StartSession},
    {ChildStep::kForeground, TakeForeground},
};

// After the session: run by the child, or by the daemon (FinishChild).
constexpr Step kProgramSteps[] = {
    {ChildStep::kMount, EnterSandbox},
    {ChildStep::kKeepCaps, KeepCapabilities},
    {ChildStep::kSetgroups, SetCredentials},
    {ChildStep::kCapset, SetCapabilities},
    {ChildStep::kRlimit, SetLimits},
    {ChildStep::kChdir, ChangeDirectory},
    {ChildStep::kDup, ArrangeFds},
    {ChildStep::kNoctty, SetControllingTerminal},
    {ChildStep::kNoNewPrivs, SetNoNewPrivileges},
    {ChildStep::kPdeathsig, SetProgramDeathSignal},
    {ChildStep::kSigmask, SetSignalMask},
    {ChildStep::kExec, Exec},
};

template <size_t N>
POSIX_PROCESS_CHILD_SIDE void RunSteps(ChildPlan* plan, const Step (&steps)[N]) {
  for (const Step& step : steps) {
    Enter(plan, step.step);
    step.run(plan);
  }
}

// Everything after the session: credentials, limits, umask, cwd, fds, mask, exec. Run by the
// child itself, or by the daemon that the child of daemon() clones.
POSIX_PROCESS_CHILD_SIDE int FinishChild(void* argument) {
  auto* plan = static_cast<ChildPlan*>(argument);
  if (plan->daemonize) DieWithParent(plan);  // the daemon, whose parent is the intermediate
  RunSteps(plan, kProgramSteps);
  return 127;  // not reached: Exec execs or fails
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
POSIX_PROCESS_CHILD_SIDE [[noreturn]] void Daemonize(ChildPlan* plan) {
  // The daemon dies with this process until its exec (FinishChild): the parent it checks.
  plan->parent_pid = static_cast<pid_t>(RawSyscall(SYS_getpid));
  // CLONE_PARENT_SETTID: the daemon's pid is in the plan while this process waits for the exec.
  long pid =
      RawClone(CLONE_VM | CLONE_VFORK | CLONE_PARENT_SETTID | SIGCHLD, plan->daemon_stack_top,
               const_cast<pid_t*>(&plan->daemon_pid), FinishChild, plan);
  if (pid < 0) Fail(plan, ChildStep::kDaemonFork, pid);
  plan->daemon_pid = static_cast<pid_t>(pid);
  // A daemon that failed, or died before its exec (killed with this process, see DieWithParent),
  // is reaped here.
  if (plan->error != 0 || plan->step != static_cast<int>(ChildStep::kExec)) {
    int status;
    while (RawSyscall(SYS_wait4, pid, &status, 0, nullptr) == -EINTR) {
    }
  }
  RawSyscall(SYS_exit_group, 0);
  __builtin_unreachable();
}

}  // namespace

POSIX_PROCESS_CHILD_SIDE int RunChild(void* argument) {
  // All signals are blocked: the thread that clones runs with a full mask, and the child
  // inherits it, until the program's own mask is set.
  auto* plan = static_cast<ChildPlan*>(argument);
  RunSteps(plan, kSessionSteps);
  if (plan->daemonize) {
    Enter(plan, ChildStep::kCloseRange);
    CloseUnneeded(plan, plan->exec_notice_fd);  // this process waits as long as the daemon
    Enter(plan, ChildStep::kDaemonFork);
    Daemonize(plan);
  }
  return FinishChild(plan);
}

}  // namespace posix_process::spawn
