// The child side of the safe spawn: everything that runs between clone and exec.
//
// A ChildPlan is plain data built in full by the parent before the clone (strings, arrays, fd
// tables). The child only reads it and makes system calls: it allocates nothing, takes no lock,
// touches no N-API or V8 state and throws no C++ exception, because it shares the parent's memory
// (CLONE_VM) while the thread that cloned it goes on (spawn_clone.cc), which is why it never
// touches errno.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

namespace posix_process::spawn {

// The child's steps, in the order they run (the tables in spawn_child.cc), each with the name of
// the system call that errors carry as `syscall`/`step` (exported as spawnStepNames). Why this
// order:
// - prctl(PR_SET_PDEATHSIG, SIGKILL) first: a child that shares the parent's memory must die
//   with it from its first instruction (re-armed after the credentials, which clear it), and
//   exits if the parent was gone before the arming (getppid, or the cloning thread's pidfd in a
//   new pid namespace);
// - signal dispositions next, before anything that can block, so no handler of Node's runs here;
// - setsid or setpgid before the daemon's clone, which must happen in the new session;
// - the new group into the terminal's foreground right after it is made, as Go does, while the
//   parent's terminal fd is still open (SIGTTOU is blocked: the child starts with a full mask);
// - setgroups, setgid, setuid in that order: after setuid the others are no longer allowed;
// - limits, niceness and umask after them: a raised hard limit or a negative nice then needs
//   the privileges of the new user;
// - chdir before the fds, so that a relative { path } is relative to the new cwd;
// - the fds: sources moved above the targets, then each target placed, the rest closed;
// - the controlling terminal once the fds are in place (TIOCNOTTY, or TIOCSCTTY on the child's
//   fd N in the session made at setsid), as Go does, so that N is the child's own numbering;
// - the program's own parent-death signal right before exec (none, or the user's), with the
//   getppid re-check; the signal mask last, so nothing blocked earlier is lost; then exec.
// The sandbox's steps (spawn_sandbox.cc, docs/sandbox.md), in Go's forkAndExecInChild1 order:
// - userns_sync right after the signals: a child in a new user namespace has no uid or gid there
//   until the thread that cloned it has written its maps (uid_map, gid_map: steps of that
//   thread, named here for its errors), and every later step needs them;
// - mount, sethostname, loopback, chroot after the daemon's clone (the daemon's namespaces) and
//   before the credentials, which may give up the capabilities they need;
// - prctl(PR_SET_KEEPCAPS) before the credentials, so that ambient capabilities survive setuid;
// - capset after them (bounding set, then the sets, then the ambient raise), once the uid is final;
// - prctl(PR_SET_NO_NEW_PRIVS) after the fds, last of what may need privileges.
#define POSIX_PROCESS_CHILD_STEPS(X)     \
  X(kNone, "clone") /* not started */    \
  X(kPdeathsig, "prctl")                 \
  X(kSignals, "sigaction")               \
  X(kUsernsSync, "userns_sync")          \
  X(kUidMap, "uid_map") /* the parent */ \
  X(kGidMap, "gid_map") /* the parent */ \
  X(kSetsid, "setsid")                   \
  X(kSetpgid, "setpgid")                 \
  X(kForeground, "tcsetpgrp")            \
  X(kDaemonFork, "clone")                \
  X(kMount, "mount")                     \
  X(kHostname, "sethostname")            \
  X(kLoopback, "loopback")               \
  X(kChroot, "chroot")                   \
  X(kKeepCaps, "prctl")                  \
  X(kSetgroups, "setgroups")             \
  X(kSetgid, "setgid")                   \
  X(kSetuid, "setuid")                   \
  X(kCapset, "capset")                   \
  X(kRlimit, "setrlimit")                \
  X(kNice, "setpriority")                \
  X(kUmask, "umask")                     \
  X(kChdir, "chdir")                     \
  X(kDup, "dup2")                        \
  X(kOpen, "open")                       \
  X(kCloseRange, "close_range")          \
  X(kNoctty, "ioctl")                    \
  X(kSetctty, "ioctl")                   \
  X(kNoNewPrivs, "prctl")                \
  X(kSigmask, "sigprocmask")             \
  X(kExec, "execve")

#define POSIX_PROCESS_STEP_ENTRY(step, name) step,
enum class ChildStep : int { POSIX_PROCESS_CHILD_STEPS(POSIX_PROCESS_STEP_ENTRY) kCount };
#undef POSIX_PROCESS_STEP_ENTRY

// The system call each step stands for, indexed by step.
#define POSIX_PROCESS_STEP_NAME(step, name) name,
inline constexpr const char* kChildStepNames[] = {
    POSIX_PROCESS_CHILD_STEPS(POSIX_PROCESS_STEP_NAME)};
#undef POSIX_PROCESS_STEP_NAME

// One fd the child should have: `target` gets either a dup of the parent's `source`, or (source
// -1) the file at `path` opened with `flags` and `mode`. An `optional` source that is not open
// in the parent (an inherited std fd the parent has closed; kSourceNotOpen when the parent knew
// it) leaves the target closed.
constexpr int kSourceNotOpen = -2;
struct FdPlan {
  int target;
  int source;
  const char* path;
  int flags;
  int mode;
  bool optional;
};

struct RlimitPlan {
  int resource;
  uint64_t soft;
  uint64_t hard;
};

struct ChildPlan {
  // exec: candidates tried in order (PATH search is resolved into this list by the parent).
  const char* const* candidates;
  size_t candidate_count;
  char* const* argv;
  char* const* envp;

  const char* cwd;  // nullptr: stay in the parent's working directory

  FdPlan* fds;  // sorted by nothing in particular; targets are distinct
  size_t fd_count;
  int max_target;  // every fd above it is closed before exec

  bool setsid;
  pid_t pgid;  // -1: leave; 0: new group led by the child; > 0: join that group

  bool set_groups;
  const gid_t* groups;
  size_t group_count;
  int64_t gid;  // -1: leave
  int64_t uid;  // -1: leave

  const RlimitPlan* rlimits;
  size_t rlimit_count;

  bool set_nice;
  int nice;
  int umask;  // -1: leave

  int pdeathsig;  // 0: none
  pid_t parent_pid;
  // In a new pid namespace (parent_pid 0): a pidfd of the thread that clones the child, open in
  // the parent across the clone (spawn_clone.cc); -1 otherwise.
  int parent_pidfd;

  // daemon(): the child only leads a new session (setsid is forced), clones the daemon on this
  // second stack and exits once the daemon has exec'd or failed; the daemon runs the rest of the
  // plan. The stack is the parent's, distinct from the child's own (both share memory).
  bool daemonize;
  char* daemon_stack_top;
  // The daemon's pid (also when it failed), written by the kernel as the child clones it.
  volatile pid_t daemon_pid;

  // sandbox (spawn_sandbox.cc): the namespaces the child is cloned into (CLONE_NEW* flags) and
  // the cgroup v2 directory it starts in (an fd in this process, -1: this process's;
  // CLONE_INTO_CGROUP), either of which makes the clone a clone3 (spawn_clone.cc). In a new user
  // namespace the thread that cloned writes `uid_map` and `gid_map` (their text, or nullptr:
  // none), writing "deny" to setgroups first if `deny_setgroups`, and then opens `userns_gate`
  // (a futex), which the child waits for if `wait_for_maps`. Then, in the child: `hostname`,
  // the root `chroot`, the bounding, permitted, effective and inheritable sets cut to
  // `capabilities` (if `set_capabilities`; bit n: capability n), `ambient_capabilities` raised,
  // and `no_new_privileges`.
  uint64_t namespace_flags;
  int cgroup_fd;
  const char* uid_map;
  const char* gid_map;
  bool deny_setgroups;
  bool wait_for_maps;
  volatile uint32_t userns_gate;  // 0 until the maps are written
  const char* hostname;
  size_t hostname_length;
  const char* chroot;
  bool set_capabilities;
  uint64_t capabilities;
  uint64_t ambient_capabilities;
  bool no_new_privileges;

  uint64_t sigmask;           // bit (signo - 1): blocked in the program
  uint64_t reset_to_default;  // bit (signo - 1): disposition reset to SIG_DFL even if ignored

  // Terminals (pty): the child's fd to make its controlling terminal (TIOCSCTTY) or -1; the
  // parent's terminal fd whose foreground group the child's group becomes (TIOCSPGRP) or -1;
  // whether to leave the controlling terminal (TIOCNOTTY on fd 0).
  int setctty;
  int foreground;
  bool noctty;

  // The exec notice: the write end of a close-on-exec pipe, which the child keeps open until
  // exec, so the parent sees end-of-file once the child has exec'd or exited. -1 under
  // CLONE_VFORK (spawn_clone.cc's fallback), where clone returning says as much.
  int exec_notice_fd;

  // Filled in by the child: the step it is in (written before each step), and when a step
  // fails, the error; read by the parent at the exec notice's end-of-file. A child that ends
  // with no error and a step before kExec died before its exec.
  volatile int error;
  volatile int step;
  volatile int step_index;  // which fd or rlimit, for kOpen / kDup / kRlimit
};

// Records the failed step with `error` (the errno value, positive or as RawSyscall returned it)
// and exits 127; and records the step about to be taken (spawn_child.cc, shared with
// spawn_sandbox.cc).
[[noreturn]] void Fail(ChildPlan* plan, ChildStep step, long error, int index = 0);
void Enter(ChildPlan* plan, ChildStep step, size_t index = 0);

// The entry point given to clone(2). Returns only by exec (never) or exit_group: 127 when a step
// failed, 0 for the intermediate child of a daemon.
int RunChild(void* plan);

}  // namespace posix_process::spawn
