// The two ways of cloning a child, and what follows until its exec: the pool of child stacks,
// the exec notices and their epoll set, the direct clone on the JS thread (StartDirect), the
// spawning thread (StartSpawnerThread, SpawnerThread, RunJob), and finishing a job once its
// notice comes (OnExecNotice, FinishJob, ReapChild) or killing a child before its exec
// (KillBeforeExec).
//
// The safe spawn: a clone(CLONE_VM | CLONE_PIDFD) child that runs the prepared ChildPlan
// (spawn_child.cc) and execs. CLONE_VM: no page table is copied, so the cost does not grow with
// the heap.
//
// No clone ever waits for an exec. Every child is cloned without CLONE_VFORK, on a stack of its
// own (from a small pool, so that spawns one after another reuse one), with a close-on-exec pipe
// of its own, the exec notice, that reaches end-of-file when the child has exec'd or exited. The
// read ends are in one epoll set, watched from the event loop (uv_poll_t), each under a token of
// its job; the JS thread then reaps a child that failed or died before its exec and delivers the
// result. So any number of children can be before their exec at once, and one blocked there
// (opening a FIFO nobody writes, a hung network mount) delays no other spawn. The child records
// the step it is in (spawn_child.cc), so that one that dies before its exec is reported with it.
//
// Two threads clone, the same child either way:
// - The JS thread itself (the direct clone), when no other spawn is under way (one after
//   another, the common case): a thread hand-over costs two wake-ups of another thread per
//   spawn, which on a virtual machine with idle CPUs halted cost more than the clone itself
//   (README, "Performance").
// - The spawning thread, started the first time it is needed, for the rest: spawns asked for
//   while another is under way (a burst, so that the JS thread is not slowed by each new child
//   taking its CPU), and daemon(). It only clones and hands the child over to the epoll set.
// The children share the cloning thread's thread-local storage while it runs on, so they leave
// errno alone (util/raw_syscall.h). Where that cannot be done (kHaveRawSyscall), or when the
// notice cannot be watched, the spawning thread clones with CLONE_VFORK instead and waits.
//
// Both threads block every signal around a clone, so no handler of Node's can run in a child
// that shares its memory before the child has reset the dispositions. Until its exec the child
// dies with the thread that cloned it (PR_SET_PDEATHSIG(SIGKILL), spawn_child.cc); both live as
// long as the Node environment, so the user's pdeathsig means "when this Node process (or
// worker) goes away".
//
// daemon() (lib/daemon.ts) goes through the spawning thread: its plan has `daemonize` set, and
// the child (the intermediate) clones the daemon after setsid with CLONE_VFORK on the second half
// of its stack (spawn_child.cc, Daemonize), then exits; the notice's end-of-file, once both have
// let go of it, is the end of the job.
//
// Man pages: clone(2), pidfd_open(2), vfork(2), pipe(7), epoll(7), prctl(2) PR_SET_PDEATHSIG.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <mutex>
#include <new>
#include <optional>

#include "spawn_internal.h"
#include "spawn_sandbox.h"
#include "util/fds.h"
#include "util/raw_syscall.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

namespace posix_process::spawn {

namespace {

// How long the spawning thread, woken for new work, leaves the JS thread to end the turn that
// queued it (SpawnStart) before it starts anyway.
constexpr std::chrono::milliseconds kTurnGrace(2);

// PIDFD_THREAD of <linux/pidfd.h> (Linux 6.9).
constexpr unsigned kPidfdThread = O_EXCL;

// Dumpability (prctl(2) PR_SET_DUMPABLE) belongs to the memory, which a CLONE_VM child shares
// with this process until its exec: a child whose setresuid or setresgid changes its ids makes
// the kernel reset it to fs.suid_dumpable (0 by default) for this whole process. That reset keeps
// a user of the child's new ids from ptracing the child, and through it this process, before its
// exec; so it stands while any such child is before its exec. Once none is, this process gets
// back the dumpability it had when the first of them was cloned, unless its own ids changed
// meanwhile (the reset is then its own). Left as the kernel set it, the process stayed
// non-dumpable for good: no core dump, its /proc files root's, and for a caller that is not root
// no later user namespace (the child's uid_map, then root's, could not be opened: EACCES).
// Process-wide: the spawns of every environment share the memory.
struct Dumpability {
  std::mutex mutex;
  int holders = 0;  // jobs whose child may change its ids, not yet exec'd or ended
  int saved = -1;   // PR_GET_DUMPABLE when the first of them was cloned
  long ids[8] = {};
};
Dumpability dumpability;

// This process's real, effective and saved uid and gid, fsuid and fsgid.
void ReadIds(long (&ids)[8]) {
  uid_t uids[3];
  gid_t gids[3];
  getresuid(&uids[0], &uids[1], &uids[2]);
  getresgid(&gids[0], &gids[1], &gids[2]);
  for (int i = 0; i < 3; i++) {
    ids[i] = uids[i];
    ids[3 + i] = gids[i];
  }
  ids[6] = syscall(SYS_setfsuid, -1);  // an invalid id changes nothing and returns the current
  ids[7] = syscall(SYS_setfsgid, -1);
}

// Before the clone of a child that is given a uid or gid.
void HoldDumpable(SpawnJob* job) {
  if (job->plan.uid < 0 && job->plan.gid < 0) return;
  std::lock_guard<std::mutex> lock(dumpability.mutex);
  if (dumpability.holders++ == 0) {
    dumpability.saved = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    ReadIds(dumpability.ids);
  }
  job->holds_dumpable = true;
}

// With dumpability.mutex held, once no child given ids runs in this memory.
void RestoreDumpable() {
  // 0 and 1 are the values prctl sets (2, root-only dumps, only the kernel does).
  int saved = dumpability.saved;
  if ((saved != 0 && saved != 1) || prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == saved) return;
  long ids[8];
  ReadIds(ids);
  if (!std::equal(std::begin(ids), std::end(ids), std::begin(dumpability.ids))) return;
  prctl(PR_SET_DUMPABLE, saved, 0, 0, 0);
}

// Once the job's child has exec'd or ended (or was never cloned): the last one restores.
void ReleaseDumpable(SpawnJob* job) {
  if (!job->holds_dumpable) return;
  job->holds_dumpable = false;
  std::lock_guard<std::mutex> lock(dumpability.mutex);
  if (--dumpability.holders == 0) RestoreDumpable();
}

}  // namespace

void LockDumpability() {
  dumpability.mutex.lock();
}

void UnlockDumpability() {
  dumpability.mutex.unlock();
}

void ResetDumpabilityInForkChild() {
  new (&dumpability.mutex) std::mutex();  // locked by this thread in BeforeFork
  if (dumpability.holders == 0) return;
  dumpability.holders = 0;  // the jobs are the parent's (DropParentJob)
  RestoreDumpable();
}

// Held from the creation of an exec notice until its write end is closed in this process, by
// every thread of every environment that clones, and across fork(2): a child cloned meanwhile
// would get a copy of the write end, and a child stuck before its exec would then hold back
// another's end-of-file.
std::mutex clone_mutex;

namespace {

// Reaps a child that failed a step or died before its exec (it is exiting: its exec notice has
// reached end-of-file), or the intermediate child of daemon(), and closes its pidfd. Returns its
// wait status; 0 on ECHILD, only if the user reaped it with waitpid(-1) first: gone either way.
int ReapChild(Spawner* spawner, SpawnJob* job) {
  int status = 0;
  while (::waitpid(job->pid, &status, 0) == -1) {
    if (errno != EINTR) {
      status = 0;
      break;
    }
  }
  int pidfd;
  {
    // Under the mutex: a fork(2) right now must not find the number of an fd closed here.
    std::lock_guard<std::mutex> lock(spawner->mutex);
    pidfd = job->pidfd;
    job->pidfd = -1;
    job->clone_pidfd = -1;
  }
  ::close(pidfd);
  return status;
}

// A stack from the pool, or a new one (nullptr with errno set if it cannot be mapped). With
// spawner->mutex held.
void* TakeStack(Spawner* spawner) {
  if (!spawner->free_stacks.empty()) {
    void* stack = spawner->free_stacks.back();
    spawner->free_stacks.pop_back();
    return stack;
  }
  void* stack = mmap(nullptr, kStackMapSize, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  return stack == MAP_FAILED ? nullptr : stack;
}

}  // namespace

// Gives the job's stack back to the pool, once no child runs on it. With spawner->mutex held.
void ReleaseStack(Spawner* spawner, SpawnJob* job) {
  if (job->stack == nullptr) return;
  if (spawner->free_stacks.size() < kKeptStacks) {
    spawner->free_stacks.push_back(job->stack);
  } else {
    munmap(job->stack, kStackMapSize);
  }
  job->stack = nullptr;
}

// Kills a child not seen to exec (a cancel, a teardown), and marks the job to be reaped. A child
// sharing this memory must not outlive the plan and stack it runs on, and an aborted spawn must
// not run its program. With spawner->mutex held.
void KillBeforeExec(SpawnJob* job, int pidfd) {
  job->killed = true;
  syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
}

namespace {

// Whether the job's exec notice is readable (its end-of-file) within timeout_ms.
bool PollExecNotice(SpawnJob* job, int timeout_ms) {
  pollfd notice = {job->exec_notice, POLLIN, 0};
  return ::poll(&notice, 1, timeout_ms) == 1;
}

}  // namespace

// Whether the job's exec notice has reached end-of-file: its child has exec'd (or failed a step,
// or died), perhaps long before the JS thread reads the notice. A cancel then lets the result
// through, so that the program that ran is stopped as a running child is (its whole tree when
// contained), instead of only its leader being killed.
bool ExecNoticeEnded(SpawnJob* job) {
  return job->exec_notice >= 0 && PollExecNotice(job, 0);
}

namespace {

// Makes the job's exec notice: a close-on-exec pipe whose read end goes into the epoll set under
// the job's token (not the fd number: a stale entry for an earlier notice whose number was
// reused, its description kept alive by a child's copy, must not end this one). Returns the
// write end, or -1 with nothing left open.
int OpenExecNotice(Spawner* spawner, SpawnJob* job) {
  int notice[2];
  if (PipeAboveStdio(notice, O_CLOEXEC) != 0) return -1;
  epoll_event event = {};
  event.events = EPOLLIN | EPOLLONESHOT;  // end-of-file reads as EPOLLIN | EPOLLHUP
  event.data.u64 = job->notice_token;
  if (epoll_ctl(spawner->notice_epoll, EPOLL_CTL_ADD, notice[0], &event) != 0) {
    ::close(notice[0]);
    ::close(notice[1]);
    return -1;
  }
  job->exec_notice = notice[0];
  return notice[1];
}

// A pidfd of the calling thread (PIDFD_THREAD), or where the kernel refuses that flag (before
// Linux 6.9) of this process, above stdio; -1 with errno set if it cannot be had.
int OpenClonerPidfd() {
  long fd = syscall(SYS_pidfd_open, syscall(SYS_gettid), kPidfdThread);
  if (fd < 0 && errno == EINVAL) fd = syscall(SYS_pidfd_open, getpid(), 0);
  return fd < 0 ? -1 : AboveStdio(static_cast<int>(fd));
}

// Blocks every signal of the calling thread while in scope: around a clone (a child that shares
// this memory must not run a handler of Node's before it has reset the dispositions), and around
// the creation of the spawning thread, which inherits the mask.
class AllSignalsBlocked {
 public:
  AllSignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous_);
  }
  ~AllSignalsBlocked() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  AllSignalsBlocked(const AllSignalsBlocked&) = delete;
  AllSignalsBlocked& operator=(const AllSignalsBlocked&) = delete;

 private:
  sigset_t previous_;
};

// Clones the job's child (RunChild on its plan) with `flags`, on a stack whose top is
// stack + kStackMapSize. A plain spawn takes clone(2); one with namespaces or a cgroup takes
// clone3(2), whose exit signal is an argument and which alone passes CLONE_INTO_CGROUP and
// CLONE_NEWTIME: where it is missing (before Linux 5.3, or refused by a seccomp filter, as
// container runtimes do so that glibc falls back), the other namespaces still go through clone.
long CloneChild(SpawnJob* job, unsigned long flags, char* stack) {
  const ChildPlan& plan = job->plan;
  uint64_t extra = plan.namespace_flags | (plan.cgroup_fd >= 0 ? kCloneIntoCgroup : 0);
  if (extra != 0) {
    CloneArgs args = {};
    args.flags = (flags & ~static_cast<unsigned long>(CSIGNAL)) | extra;
    args.pidfd = reinterpret_cast<uintptr_t>(&job->clone_pidfd);
    args.exit_signal = flags & CSIGNAL;
    args.stack = reinterpret_cast<uintptr_t>(stack);
    args.stack_size = kStackMapSize;
    args.cgroup = plan.cgroup_fd >= 0 ? static_cast<uint64_t>(plan.cgroup_fd) : 0;
    long pid = RawClone3(&args, RunChild, &job->plan);
    if (pid != -ENOSYS || (extra & (kCloneIntoCgroup | CLONE_NEWTIME)) != 0) return pid;
    flags |= extra;
  }
  return RawClone(flags, stack + kStackMapSize, &job->clone_pidfd, RunChild, &job->plan);
}

// Clones the job's child on job->stack. Without `wait_for_exec`, with an exec notice, returning
// at once; false, with nothing done, when the notice cannot be made. With `wait_for_exec` (the
// spawning thread's fallback), with CLONE_VFORK and no notice. A failed clone sets clone_error.
bool CloneJob(Spawner* spawner, SpawnJob* job, bool wait_for_exec, bool block_signals) {
  // A child waiting for its id maps would hold CLONE_VFORK's wait for ever (Go too forks
  // without it then).
  if (wait_for_exec && job->plan.wait_for_maps) {
    job->clone_error = ENOTSUP;
    return true;
  }
  std::unique_lock<std::mutex> clone_lock(clone_mutex, std::defer_lock);
  if (!wait_for_exec) clone_lock.lock();
  int cloner = -1;
  if ((job->plan.namespace_flags & CLONE_NEWPID) != 0 && (cloner = OpenClonerPidfd()) < 0) {
    job->clone_error = errno;
    return true;
  }
  job->plan.parent_pidfd = cloner;
  int notice = -1;
  if (!wait_for_exec) {
    notice = OpenExecNotice(spawner, job);
    if (notice < 0) {
      if (cloner >= 0) ::close(cloner);
      return false;
    }
  }
  job->plan.exec_notice_fd = notice;
  HoldDumpable(job);
  char* stack = static_cast<char*>(job->stack);
  job->plan.daemon_stack_top = stack + kChildStackSize;
  unsigned long flags = CLONE_VM | CLONE_PIDFD | SIGCHLD | (wait_for_exec ? CLONE_VFORK : 0);
  long pid;
  {
    std::optional<AllSignalsBlocked> blocked;
    if (block_signals) blocked.emplace();
    job->in_clone = true;
    if (CloneVmUnsupported()) {
      // Namespaces, a cgroup and id maps need the shared-memory clone (clone3): refused here.
      bool needs_clone3 = job->plan.namespace_flags != 0 || job->plan.cgroup_fd >= 0;
      pid = needs_clone3 ? -ENOTSUP
                         : CloneWithoutSharedMemory(job, stack + kStackMapSize, wait_for_exec);
    } else {
      pid = CloneChild(job, flags, stack);
    }
    job->in_clone = false;
  }
  if (notice >= 0) ::close(notice);  // the child's copy is now the only one
  if (cloner >= 0) ::close(cloner);
  if (pid < 0) {
    ReleaseDumpable(job);
    if (job->exec_notice >= 0) ::close(job->exec_notice);  // which also leaves the epoll set
    job->exec_notice = -1;
    job->clone_error = static_cast<int>(-pid);
    return true;
  }
  // The pidfd took the lowest free number: maybe a std fd this process has closed, which a later
  // 'inherit' spawn would pass on. A fork(2) meanwhile sees it in clone_pidfd or pidfd, the same
  // fd (DropParentJob).
  job->clone_pidfd = AboveStdioOrKeep(job->clone_pidfd);
  job->pid = static_cast<pid_t>(pid);
  job->pidfd = job->clone_pidfd;
  if (job->plan.wait_for_maps) WriteIdMaps(job);
  return true;
}

}  // namespace

// Once the child has exec'd or ended (its exec notice reached end-of-file, or a waiting clone
// returned): reaps it if it failed a step, died before its exec or was killed (a cancelled spawn
// never runs its program), or if it was the intermediate of daemon(); gives its stack back and
// moves the job to the finished ones. The caller delivers them.
void FinishJob(Spawner* spawner, SpawnJob* job) {
  int notice;
  {
    // Under the mutex, as in ReapChild.
    std::lock_guard<std::mutex> lock(spawner->mutex);
    notice = job->exec_notice;
    job->exec_notice = -1;
  }
  if (notice >= 0) ::close(notice);  // which also takes it out of the epoll set
  ReleaseDumpable(job);              // its child no longer runs in this memory
  TakeEmulatedResults(job);
  ChildPlan& plan = job->plan;
  if (job->map_error != 0) {  // the child, killed at its gate, is gone: its plan is ours
    plan.error = job->map_error;
    plan.step = job->map_step;
    plan.step_index = job->map_index;
  }
  bool failed = job->clone_error == 0 && plan.error != 0;
  bool reached_exec = plan.step == static_cast<int>(ChildStep::kExec);
  if (job->clone_error == 0) job->stopped = !failed && (!reached_exec || job->killed);
  if (job->pid > 0 && (failed || job->stopped || plan.daemonize)) {
    int status = ReapChild(spawner, job);
    if (job->stopped && WIFSIGNALED(status)) job->stop_signal = WTERMSIG(status);
  }
  if (plan.daemonize && !failed && !job->stopped && job->clone_error == 0) {
    job->pid = plan.daemon_pid;
  }
  std::lock_guard<std::mutex> lock(spawner->mutex);
  ReleaseStack(spawner, job);
  spawner->done.push_back(job);
}

namespace {

// How long the spawning thread waits for a child's exec before it clones the next one.
constexpr int kExecPaceMs = 2;

// On the spawning thread, right after a clone: waits up to kExecPaceMs for the child's exec (or
// end). A burst then has about one child before its exec at a time, as with CLONE_VFORK: two
// hundred children sharing this memory at once slowed the JS thread's own memory management
// (the event loop stalled 25 to 55 ms in the 200-children launch, against 2 to 3 ms), while a
// child stuck before its exec delays the next spawn by no more than this. The notice stays open
// meanwhile: the JS thread does not finish the running job (TakeStarting).
void AwaitExecBriefly(SpawnJob* job) {
  PollExecNotice(job, kExecPaceMs);  // no EINTR: the spawning thread blocks every signal
}

// Right after the spawning thread's clone: the pidfd is the job's to use from now on, and a job
// cancelled during the clone is killed before its exec. Returns whether it was.
bool SettleClone(Spawner* spawner, SpawnJob* job) {
  std::lock_guard<std::mutex> lock(spawner->mutex);
  job->pidfd_settled = true;
  if (job->cancel_requested) KillBeforeExec(job, job->pidfd);
  return job->cancel_requested;
}

// On the spawning thread, for a job already among the starting ones (so that its exec notice,
// which may come before the clone returns here, finds it): clones the job's child, which the
// epoll set then watches, or with the fallback waits for its exec and finishes the job itself.
void RunJob(Spawner* spawner, SpawnJob* job, bool notices) {
  bool waited = !(notices && kHaveRawSyscall && CloneJob(spawner, job, false, false));
  if (waited) CloneJob(spawner, job, true, false);
  if (!waited && job->clone_error == 0 && !SettleClone(spawner, job)) AwaitExecBriefly(job);
  bool finished;
  {
    std::lock_guard<std::mutex> lock(spawner->mutex);
    finished = waited || job->clone_error != 0 || job->notice_seen;
    spawner->running = nullptr;
    // Cancelled while being cloned or waiting for its exec: killed now (if the child has exec'd
    // meanwhile, the spawn still fails, and FinishJob reaps the program before it is delivered).
    if (job->cancel_requested && job->pidfd >= 0) KillBeforeExec(job, job->pidfd);
    if (finished) {
      auto& starting = spawner->starting;
      starting.erase(std::find(starting.begin(), starting.end(), job));
    }
    spawner->idle.notify_all();
  }
  if (finished) {
    FinishJob(spawner, job);
    uv_async_send(&spawner->async);
  }
}

void* SpawnerThread(void* data) {
  auto* spawner = static_cast<Spawner*>(data);
  for (;;) {
    SpawnJob* job;
    bool notices;
    {
      std::unique_lock<std::mutex> lock(spawner->mutex);
      auto has_work = [&] { return !spawner->stopping && !spawner->pending.empty(); };
      spawner->wake.wait(lock, [&] { return spawner->thread_exit || has_work(); });
      spawner->wake.wait_for(lock, kTurnGrace,
                             [&] { return spawner->thread_exit || spawner->turn_over; });
      if (spawner->thread_exit) return nullptr;
      if (!has_work()) continue;
      job = spawner->pending.front();
      spawner->pending.pop_front();
      job->stack = TakeStack(spawner);
      if (job->stack == nullptr) {
        job->clone_error = errno;
        spawner->done.push_back(job);
        uv_async_send(&spawner->async);
        continue;
      }
      spawner->running = job;
      job->notice_token = ++spawner->notice_tokens;
      spawner->starting.push_back(job);
      notices = !spawner->direct_disabled;
    }
    RunJob(spawner, job, notices);
  }
}

}  // namespace

// Starts the spawning thread, with every signal blocked (it inherits its creator's mask).
// Returns 0 or the error number of pthread_create (EAGAIN at RLIMIT_NPROC).
int StartSpawnerThread(Spawner* spawner) {
  AllSignalsBlocked blocked;
  int result = pthread_create(&spawner->thread, nullptr, SpawnerThread, spawner);
  if (result == 0) spawner->thread_started = true;
  return result;
}

// On the JS thread, with spawner->mutex held (a fork(2) from another thread then sees the job
// either not started or with its fds recorded, which AfterForkInChild closes). Clones the child
// and returns at once; OnExecNotice finishes the job. A failed clone goes to the finished jobs,
// delivered from the loop like any other. Returns false, with nothing done, when no stack or
// notice can be had: the caller then hands the job to the spawning thread.
bool StartDirect(Spawner* spawner, SpawnJob* job) {
  job->stack = TakeStack(spawner);
  if (job->stack == nullptr) return false;
  job->notice_token = ++spawner->notice_tokens;
  if (!CloneJob(spawner, job, false, true)) {
    ReleaseStack(spawner, job);
    return false;
  }
  if (job->clone_error != 0) {
    ReleaseStack(spawner, job);
    spawner->done.push_back(job);
    uv_async_send(&spawner->async);
    return true;
  }
  job->direct = true;
  spawner->direct_starting++;
  spawner->starting.push_back(job);
  return true;
}

// The job whose exec notice has `token`, taken out of the starting ones; null if none (an event
// of a notice already closed), or if the spawning thread has not yet returned from its clone
// (RunJob then finishes it).
SpawnJob* TakeStarting(Spawner* spawner, uint64_t token) {
  std::lock_guard<std::mutex> lock(spawner->mutex);
  auto& starting = spawner->starting;
  auto found = std::find_if(starting.begin(), starting.end(),
                            [&](SpawnJob* job) { return job->notice_token == token; });
  if (found == starting.end()) return nullptr;
  SpawnJob* job = *found;
  if (job == spawner->running) {
    job->notice_seen = true;
    return nullptr;
  }
  starting.erase(found);
  if (job->direct) spawner->direct_starting--;
  return job;
}

// Exec notices reached end-of-file: deliver their results.
void OnExecNotice(uv_poll_t* handle, int status, int events) {
  auto* spawner = static_cast<Spawner*>(handle->data);
  epoll_event ready[16];
  int count;
  do {
    count = epoll_wait(spawner->notice_epoll, ready, 16, 0);
  } while (count == -1 && errno == EINTR);
  bool finished = false;
  for (int i = 0; i < count; i++) {
    SpawnJob* job = TakeStarting(spawner, ready[i].data.u64);
    if (job == nullptr) continue;
    FinishJob(spawner, job);
    finished = true;
  }
  if (finished) OnJobsDone(&spawner->async);
}

}  // namespace posix_process::spawn
