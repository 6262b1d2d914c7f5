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
// Requests are built completely on the JS thread (every string, array and fd table) before the
// clone. Results reach the facade through one dispatcher (OnJobsDone).
//
// Man pages: clone(2), pidfd_open(2), pidfd_send_signal(2), vfork(2), pipe(7), epoll(7),
// prctl(2) PR_SET_PDEATHSIG.
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "spawn_child.h"
#include "spawn_schema.h"
#include "util/arguments.h"
#include "util/error.h"
#include "util/fds.h"
#include "util/raw_syscall.h"
#include "util/strings.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

namespace posix_process::spawn {

namespace {

constexpr size_t kChildStackSize = 256 * 1024;
// One stack of the pool: two halves, the child's at the top and, below it, the daemon's, which
// runs while the intermediate child of daemon() is suspended in its clone (both share memory).
constexpr size_t kStackMapSize = 2 * kChildStackSize;
// Stacks kept in the pool when no child runs on them (a burst maps more; those are unmapped).
constexpr size_t kKeptStacks = 32;

// One spawn: the plan and everything it points to, then the outcome.
struct SpawnJob {
  // Every string of the request (see TakeStrings); the pointers below and the plan's cwd and fd
  // paths point into it.
  CStringArray strings;
  std::vector<const char*> candidates;
  std::vector<char*> argv;  // NULL-terminated, as are envp and the environment copy's
  std::vector<char*> envp;  // empty when the child gets this process's environment:
  std::shared_ptr<CStringArray> environ_copy;  // then a copy of it, shared between spawns
  std::vector<FdPlan> fds;
  std::vector<gid_t> groups;
  std::vector<RlimitPlan> rlimits;
  ChildPlan plan = {};

  pid_t pid = -1;
  int pidfd = -1;  // changed under the Spawner's mutex once the job is known (fork handlers)
  int clone_error = 0;
  void* stack = nullptr;      // from the pool, while the child may run on it
  int exec_notice = -1;       // the read end of its exec notice pipe
  uint64_t notice_token = 0;  // and the epoll event data that stands for it
  bool direct = false;        // cloned by the JS thread
  // Guarded by the Spawner's mutex: the notice came while the spawning thread was still in
  // RunJob for this job, which then finishes it.
  bool notice_seen = false;

  // The pidfd as the kernel writes it during clone (CLONE_PIDFD), and whether the spawning
  // thread is inside a clone that waits (CLONE_VFORK, the fallback): a teardown or a cancel
  // kills a child stuck there through it.
  int clone_pidfd = -1;
  std::atomic<bool> in_clone{false};

  // Guarded by the Spawner's mutex. `cancel_requested`: cancelled while being cloned; `killed`:
  // killed before its exec was seen (a cancel or a teardown), to be reaped.
  bool cancel_requested = false;
  bool killed = false;
  // The child did not reach its exec (dropped from the queue, or it died before), and the signal
  // that ended it, if any.
  bool stopped = false;
  int stop_signal = 0;

  double id = 0;  // the facade's handle for this spawn
};

// How long a teardown waits for a child to reach its exec before killing it (StopSpawner).
constexpr std::chrono::milliseconds kTeardownGrace(250);
// How long the spawning thread, woken for new work, leaves the JS thread to end the turn that
// queued it (SpawnStart) before it starts anyway.
constexpr std::chrono::milliseconds kTurnGrace(2);

struct Spawner {
  std::mutex mutex;
  std::condition_variable wake;
  std::condition_variable idle;  // the thread is not cloning (running is null)
  bool thread_started = false;   // JS thread only (and the fork handler)
  pthread_t thread;
  bool thread_exit = false;       // guarded by mutex: the thread returns
  bool turn_over = true;          // guarded by mutex: see SpawnStart
  std::deque<SpawnJob*> pending;  // guarded by mutex
  SpawnJob* running = nullptr;    // guarded by mutex: the job the thread is cloning, if any
  // Guarded by mutex: cloned (or being cloned by the thread), waiting for their exec notice
  // (their children may be before their exec), of which `direct_starting` by the JS thread.
  std::vector<SpawnJob*> starting;
  size_t direct_starting = 0;
  std::vector<SpawnJob*> done;     // guarded by mutex
  std::vector<void*> free_stacks;  // guarded by mutex
  bool stopping = false;           // guarded by mutex
  size_t in_flight = 0;            // JS thread only: keeps the loop alive while > 0

  // One JS function receives every finished spawn, in batches: one call per wake-up instead of
  // one per child keeps the event loop's share of a burst of spawns small.
  Napi::FunctionReference dispatcher;
  // Where OnJobsDone writes the results for the dispatcher, reused by every call: a new typed
  // array per call cost a backing store allocation and more work for the garbage collector.
  Napi::Reference<Napi::Float64Array> results_array;
  std::unique_ptr<Napi::AsyncContext> async_context;
  napi_async_cleanup_hook_handle cleanup_handle = nullptr;  // set while tearing down

  uv_async_t async;

  // The epoll set holding the exec notices, watched by notice_poll.
  std::atomic<uint64_t> notice_tokens{0};  // the last token handed out
  int notice_epoll = -1;
  uv_poll_t notice_poll;
  // No exec notices: a fork child that could not get a set of its own, or a set the loop could
  // not watch. Every spawn then takes the spawning thread, which waits for each exec.
  bool direct_disabled = false;

  // JS thread only: this process's environment as the last spawn without `env` copied it, for
  // the next ones while environ holds the same strings (BuildJob).
  std::shared_ptr<CStringArray> environ_copy;
};

// Held from the creation of an exec notice until its write end is closed in this process, by
// every thread of every environment that clones, and across fork(2): a child cloned meanwhile
// would get a copy of the write end, and a child stuck before its exec would then hold back
// another's end-of-file.
std::mutex clone_mutex;

void OnJobsDone(uv_async_t* handle);

// A limit as the facade passes it: a BigInt below 2**64, a safe integer, or Infinity.
uint64_t RlimitValue(Napi::Env env, Napi::Value value) {
  if (value.IsBigInt()) {
    bool lossless;
    uint64_t limit = value.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(env, "spawnStart: bad rlimit");
    return limit;
  }
  double number = value.As<Napi::Number>().DoubleValue();
  if (number == INFINITY) return RLIM64_INFINITY;
  if (!(number >= 0 && number <= 9007199254740991.0 && number == std::floor(number))) {
    throw Napi::RangeError::New(env, "spawnStart: bad rlimit");
  }
  return static_cast<uint64_t>(number);
}

// The request's slots (LayoutSlot, FdSlot) are defined in spawn_schema.h.

// Fills `out` with the request's strings, in order the exec candidates, argv, envp, cwd and the
// fd paths. The facade passes one JavaScript string that holds them all, each followed by a NUL
// (one conversion instead of one per string, which was most of a spawn() call's cost), or, when
// any is a Buffer, an array of strings and Buffers. Either way the count must match the layout's.
void TakeStrings(Napi::Value value, size_t count, CStringArray& out) {
  if (value.IsString()) {
    out.AssignJoined(value.As<Napi::String>(), "spawnStart strings");
  } else if (value.IsArray()) {
    out.Assign(value, "spawnStart strings");
  } else {
    throw Napi::TypeError::New(value.Env(), "spawnStart: strings must be a string or an array");
  }
  if (out.size() != count) {
    throw Napi::TypeError::New(value.Env(), "spawnStart: strings do not match the layout");
  }
}

// Builds the job from the request the facade validated, passed as
// spawnStart(id, strings, layout, groups, rlimits): the strings in one value and the numbers in
// one typed array, because each value read through N-API costs more than the rest of this
// function. Allocates freely: this runs on the JS thread, long before the child exists.
std::unique_ptr<SpawnJob> BuildJob(const Napi::CallbackInfo& info, Spawner* spawner) {
  Napi::Env env = info.Env();
  // Copied first: reading the strings below can run getters, which could detach or shrink it.
  auto layout_array = info[2].As<Napi::Float64Array>();
  std::vector<double> layout(layout_array.Data(),
                             layout_array.Data() + layout_array.ElementLength());
  for (size_t slot = 0; slot < layout.size(); slot++) {
    double value = layout[slot];
    bool unset_nice = slot == kNice && std::isnan(value);
    if (!unset_nice && !(value >= INT32_MIN && value <= UINT32_MAX && value == std::floor(value))) {
      throw Napi::RangeError::New(env, "spawnStart: bad layout value");
    }
  }
  // Each slot in its own range, so that every conversion below is defined.
  auto in_range = [&](int slot, double min, double max) {
    if (!(layout[slot] >= min && layout[slot] <= max)) {
      throw Napi::RangeError::New(env, "spawnStart: bad layout value");
    }
    return layout[slot];
  };
  auto count_at = [&](int slot) { return static_cast<size_t>(in_range(slot, 0, INT32_MAX)); };
  size_t candidate_count = count_at(kCandidateCount);
  size_t argv_count = count_at(kArgvCount);
  bool inherit_environ = in_range(kEnvCount, -1, INT32_MAX) == -1;
  size_t env_count = inherit_environ ? 0 : count_at(kEnvCount);
  size_t cwd_count = in_range(kHasCwd, 0, 1) != 0 ? 1 : 0;
  size_t fd_count = count_at(kFdCount);
  if (fd_count > (layout.size() - kLayoutSlots) / kFdSlots) {
    throw Napi::RangeError::New(env, "spawnStart: bad fd count");
  }
  size_t path_count = 0;
  for (size_t i = 0; i < fd_count; i++) {
    const double* fd = layout.data() + kLayoutSlots + i * kFdSlots;
    if (fd[kTarget] < 0 || fd[kTarget] > 65535 || fd[kSource] < -1 || fd[kSource] > INT32_MAX ||
        fd[kOptional] < 0 || fd[kOptional] > 1 || fd[kFlags] > INT32_MAX || fd[kMode] < 0 ||
        fd[kMode] > 07777) {
      throw Napi::RangeError::New(env, "spawnStart: bad fd");
    }
    if (fd[kSource] == -1) path_count++;
  }

  auto job = std::make_unique<SpawnJob>();
  TakeStrings(info[1], candidate_count + argv_count + env_count + cwd_count + path_count,
              job->strings);
  char* const* next = job->strings.data();
  job->candidates.assign(next, next + candidate_count);
  next += candidate_count;
  job->argv.assign(next, next + argv_count);
  job->argv.push_back(nullptr);
  next += argv_count;
  ChildPlan& plan = job->plan;
  if (inherit_environ) {
    // The facade leaves env out on the main thread when the caller gave none: Node keeps
    // process.env in the real environment there. It is copied, not read by the child, since the
    // JS thread may change it while a child is starting; the copy is shared while environ holds
    // the same strings, which saves a copy and its allocations for most spawns.
    if (spawner->environ_copy == nullptr || !spawner->environ_copy->MatchesEnviron()) {
      spawner->environ_copy = std::make_shared<CStringArray>();
      spawner->environ_copy->AssignEnviron();
    }
    job->environ_copy = spawner->environ_copy;
    plan.envp = job->environ_copy->data();
  } else {
    job->envp.assign(next, next + env_count);
    job->envp.push_back(nullptr);
    next += env_count;
    plan.envp = job->envp.data();
  }
  plan.candidates = job->candidates.data();
  plan.candidate_count = job->candidates.size();
  plan.argv = job->argv.data();
  if (cwd_count != 0) plan.cwd = *next++;

  plan.max_target = 2;
  job->fds.reserve(fd_count);
  for (size_t i = 0; i < fd_count; i++) {
    const double* fd = layout.data() + kLayoutSlots + i * kFdSlots;
    FdPlan entry = {};
    entry.target = static_cast<int>(fd[kTarget]);
    entry.source = static_cast<int>(fd[kSource]);
    entry.optional = fd[kOptional] != 0;
    // An inherited fd the caller has closed stays closed, even if one of this library's fds (a
    // concurrent clone's pidfd) takes its number before the child is cloned.
    if (entry.optional && entry.source >= 0 && ::fcntl(entry.source, F_GETFD) == -1) {
      entry.source = kSourceNotOpen;
    }
    if (entry.source == -1) {
      entry.path = *next++;
      entry.flags = static_cast<int>(fd[kFlags]);
      entry.mode = static_cast<mode_t>(fd[kMode]);
    }
    if (entry.target > plan.max_target) plan.max_target = entry.target;
    job->fds.push_back(entry);
  }
  plan.fds = job->fds.data();
  plan.fd_count = job->fds.size();

  plan.setsid = in_range(kSetsid, 0, 1) != 0;
  plan.pgid = static_cast<pid_t>(in_range(kPgid, -1, INT32_MAX));
  plan.gid = static_cast<int64_t>(in_range(kGid, -1, UINT32_MAX - 1));  // (gid_t) -1 is "leave"
  plan.uid = static_cast<int64_t>(in_range(kUid, -1, UINT32_MAX - 1));
  plan.set_nice = !std::isnan(layout[kNice]);
  plan.nice = plan.set_nice ? static_cast<int>(in_range(kNice, -20, 19)) : 0;
  plan.umask = static_cast<int>(in_range(kUmask, -1, 0777));
  plan.pdeathsig = static_cast<int>(in_range(kPdeathsig, 0, SIGRTMAX));
  plan.daemonize = in_range(kDaemonize, 0, 1) != 0;
  auto signal_set = [&](int low, int high) {
    return static_cast<uint64_t>(in_range(low, 0, UINT32_MAX)) |
           static_cast<uint64_t>(in_range(high, 0, UINT32_MAX)) << 32;
  };
  plan.sigmask = signal_set(kSigmaskLow, kSigmaskHigh);
  plan.reset_to_default = signal_set(kResetLow, kResetHigh);

  if (!info[3].IsUndefined()) {
    auto groups = info[3].As<Napi::Array>();
    for (uint32_t i = 0; i < groups.Length(); i++) {
      job->groups.push_back(groups.Get(i).As<Napi::Number>().Uint32Value());
    }
    plan.set_groups = true;
    plan.groups = job->groups.data();
    plan.group_count = job->groups.size();
  }

  if (!info[4].IsUndefined()) {
    auto rlimits = info[4].As<Napi::Array>();
    for (uint32_t i = 0; i < rlimits.Length(); i++) {
      auto limit = rlimits.Get(i).As<Napi::Object>();
      job->rlimits.push_back({limit.Get("resource").As<Napi::Number>().Int32Value(),
                              RlimitValue(env, limit.Get("soft")),
                              RlimitValue(env, limit.Get("hard"))});
    }
  }
  plan.rlimits = job->rlimits.data();
  plan.rlimit_count = job->rlimits.size();

  plan.parent_pid = ::getpid();
  plan.exec_notice_fd = -1;
  if (plan.daemonize) {
    // The daemon's parent is the intermediate child, which exits at once: a parent-death signal
    // would fire immediately, and a process group to join would be in another session.
    plan.pdeathsig = 0;
    plan.pgid = -1;
  }
  return job;
}

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

// Clones the job's child on job->stack. Without `wait_for_exec`, with an exec notice, returning
// at once; false, with nothing done, when the notice cannot be made. With `wait_for_exec` (the
// spawning thread's fallback), with CLONE_VFORK and no notice. A failed clone sets clone_error.
bool CloneJob(Spawner* spawner, SpawnJob* job, bool wait_for_exec, bool block_signals) {
  std::unique_lock<std::mutex> clone_lock(clone_mutex, std::defer_lock);
  int notice = -1;
  if (!wait_for_exec) {
    clone_lock.lock();
    notice = OpenExecNotice(spawner, job);
    if (notice < 0) return false;
  }
  job->plan.exec_notice_fd = notice;
  char* stack = static_cast<char*>(job->stack);
  job->plan.daemon_stack_top = stack + kChildStackSize;
  unsigned long flags = CLONE_VM | CLONE_PIDFD | SIGCHLD | (wait_for_exec ? CLONE_VFORK : 0);
  long pid;
  {
    std::optional<AllSignalsBlocked> blocked;
    if (block_signals) blocked.emplace();
    job->in_clone = true;
    pid = RawClone(flags, stack + kStackMapSize, &job->clone_pidfd, RunChild, &job->plan);
    job->in_clone = false;
  }
  if (notice >= 0) ::close(notice);  // the child's copy is now the only one
  if (pid < 0) {
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
  return true;
}

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
  const ChildPlan& plan = job->plan;
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

// How long the spawning thread waits for a child's exec before it clones the next one.
constexpr int kExecPaceMs = 2;

// On the spawning thread, right after a clone: waits up to kExecPaceMs for the child's exec (or
// end). A burst then has about one child before its exec at a time, as with CLONE_VFORK: two
// hundred children sharing this memory at once slowed the JS thread's own memory management
// (the event loop stalled 25 to 55 ms in the 200-children launch, against 2 to 3 ms), while a
// child stuck before its exec delays the next spawn by no more than this. The notice stays open
// meanwhile: the JS thread does not finish the running job (TakeStarting).
void AwaitExecBriefly(SpawnJob* job) {
  pollfd notice = {job->exec_notice, POLLIN, 0};
  ::poll(&notice, 1, kExecPaceMs);  // no EINTR: the spawning thread blocks every signal
}

// On the spawning thread, for a job already among the starting ones (so that its exec notice,
// which may come before the clone returns here, finds it): clones the job's child, which the
// epoll set then watches, or with the fallback waits for its exec and finishes the job itself.
void RunJob(Spawner* spawner, SpawnJob* job, bool notices) {
  bool waited = !(notices && kHaveRawSyscall && CloneJob(spawner, job, false, false));
  if (waited) CloneJob(spawner, job, true, false);
  if (!waited && job->clone_error == 0) AwaitExecBriefly(job);
  bool finished;
  {
    std::lock_guard<std::mutex> lock(spawner->mutex);
    finished = waited || job->clone_error != 0 || job->notice_seen;
    spawner->running = nullptr;
    // Cancelled while being cloned: killed now (if the child has exec'd meanwhile, the spawn
    // still fails, and FinishJob reaps the program before it is delivered).
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

// fork(2) copies every Spawner but none of their threads. In the child (lib/fork.ts), the spawns
// that were queued, under way or not yet delivered at the fork fail with ECHILD (they are the
// parent's), and spawnAfterFork returns those failures; a spawning thread is started again when
// one is needed. The atfork handlers hold each Spawner's mutex and clone_mutex across the fork,
// so that no job is half moved and no exec notice's write end is open when the child copies them.
std::mutex spawners_mutex;
std::vector<Spawner*> spawners;  // guarded by spawners_mutex

void BeforeFork() {
  spawners_mutex.lock();
  for (Spawner* spawner : spawners) spawner->mutex.lock();
  clone_mutex.lock();
}

void AfterForkInParent() {
  clone_mutex.unlock();
  for (Spawner* spawner : spawners) spawner->mutex.unlock();
  spawners_mutex.unlock();
}

// In the fork child: closes this process's copies of a parent's job's fds.
void DropParentJob(Spawner* spawner, SpawnJob* job) {
  if (job->exec_notice >= 0) ::close(job->exec_notice);
  job->exec_notice = -1;
  int pidfd = job->pidfd >= 0 ? job->pidfd : job->clone_pidfd;
  if (pidfd >= 0) ::close(pidfd);
  job->pidfd = -1;
  job->clone_pidfd = -1;
  job->clone_error = ECHILD;
  job->stopped = false;
  ReleaseStack(spawner, job);  // no child runs on this process's copy
}

void AfterForkInChild() {
  new (&clone_mutex) std::mutex();
  for (Spawner* spawner : spawners) {
    // The thread, and any wait on a condition variable it was in, are the parent's: new ones,
    // built over the old without destroying them (the old condition variable counts a waiter
    // that will never wake). The mutex was locked by this thread in BeforeFork: a fresh one too.
    new (&spawner->wake) std::condition_variable();
    new (&spawner->idle) std::condition_variable();
    new (&spawner->mutex) std::mutex();
    spawner->thread_started = false;
    spawner->thread_exit = false;
    spawner->turn_over = true;
    spawner->running = nullptr;  // also among the starting ones
    spawner->done.insert(spawner->done.end(), spawner->starting.begin(), spawner->starting.end());
    spawner->starting.clear();
    spawner->direct_starting = 0;
    if (FreshEpollSetInForkChild(spawner->notice_epoll) != 0) {
      spawner->direct_disabled = true;  // no exec notices in this process
    }
    spawner->done.insert(spawner->done.end(), spawner->pending.begin(), spawner->pending.end());
    spawner->pending.clear();
    for (SpawnJob* job : spawner->done) DropParentJob(spawner, job);
  }
  spawners_mutex.unlock();
}

// The fields of one finished spawn (ResultSlot) are defined in spawn_schema.h.

// Capacity of the reused results array, in results: a bigger batch gets an array of its own.
constexpr size_t kSharedResults = 64;

// On the JS thread: takes the finished jobs and writes them to a Float64Array of kResultSlots
// numbers each: id, pid, pidfd (-1 for a daemon: not our child), then errno, step (a ChildStep,
// named by spawnStepNames), stepIndex and signal. errno is 0 when the child exec'd, and -1 when
// it did not reach its exec, step being where it was: dropped from the queue by a cancel (pid
// -1), or dead before its exec, `signal` the signal that ended it (0 if none). Plain numbers,
// because setting properties on an object per spawn from C++ cost more than the rest of this
// hand-over. The array is the reused one when `reuse` allows and the batch fits (the caller
// passes the count along), else a new one of the exact size. Returns the number of results.
size_t TakeResults(Napi::Env env, Spawner* spawner, bool reuse, Napi::Float64Array* out) {
  // The array first, so that nothing can throw once jobs are taken (a throw then would lose
  // their pidfds and leave their children unreaped). Jobs are only ever added meanwhile.
  size_t count;
  {
    std::lock_guard<std::mutex> lock(spawner->mutex);
    count = spawner->done.size();
  }
  Napi::Float64Array results;
  if (reuse && count <= kSharedResults && !spawner->results_array.IsEmpty()) {
    results = spawner->results_array.Value();
  }
  // The shared array could have been detached by a direct caller of the binding.
  if (results.IsEmpty() || results.ElementLength() < count * kResultSlots) {
    results = Napi::Float64Array::New(env, count * kResultSlots);
  }
  std::vector<std::unique_ptr<SpawnJob>> done;
  done.reserve(count);
  {
    std::lock_guard<std::mutex> lock(spawner->mutex);
    for (size_t i = 0; i < count; i++) done.emplace_back(spawner->done[i]);
    spawner->done.erase(spawner->done.begin(), spawner->done.begin() + count);
  }
  for (size_t i = 0; i < done.size(); i++) {
    const SpawnJob& job = *done[i];
    double* result = results.Data() + i * kResultSlots;
    result[kId] = job.id;
    result[kPid] = job.pid;
    result[kPidfd] = job.pidfd;
    // A failed clone has no step of the child: kNone, which is named "clone".
    if (job.clone_error != 0) {
      result[kErrno] = job.clone_error;
    } else if (job.plan.error != 0) {
      result[kErrno] = job.plan.error;
    } else {
      result[kErrno] = job.stopped ? -1 : 0;
    }
    result[kStep] = job.clone_error != 0 ? 0 : job.plan.step;
    result[kStepIndex] = job.clone_error != 0 ? 0 : job.plan.step_index;
    result[kSignal] = job.stop_signal;
  }
  spawner->in_flight -= done.size();
  if (spawner->in_flight == 0) uv_unref(reinterpret_cast<uv_handle_t*>(&spawner->async));
  *out = results;
  return done.size();
}

// Whether JavaScript can still run in `env`: a property read fails once a worker is terminating
// (N-API checks that first for every call that may run JavaScript).
bool CanRunJavaScript(napi_env env) {
  napi_value global;
  napi_value value;
  return napi_get_global(env, &global) == napi_ok &&
         napi_get_named_property(env, global, "undefined", &value) == napi_ok;
}

void OnJobsDone(uv_async_t* handle) {
  auto* spawner = static_cast<Spawner*>(handle->data);
  Napi::Env env = spawner->dispatcher.Env();
  Napi::HandleScope scope(env);
  // While a worker is being terminated (Environment::CleanupHandles runs this), JavaScript can
  // no longer run: the jobs then stay for StopSpawner, which closes their pidfds. Taken here,
  // they would be freed with their pidfds open once MakeCallback failed.
  if (!CanRunJavaScript(env)) return;
  try {
    Napi::Float64Array results;
    size_t count = TakeResults(env, spawner, true, &results);
    if (count == 0) return;
    spawner->dispatcher.MakeCallback(env.Global(), {results, Napi::Number::New(env, count)},
                                     *spawner->async_context);
  } catch (const Napi::Error& error) {
    // The dispatcher only settles promises: anything it throws is a bug that must surface as an
    // uncaught exception (in a terminating worker, this does nothing).
    napi_fatal_exception(env, error.Value());
  }
}

// spawnAfterFork() -> results: in the child of lib/fork.ts, after uv_loop_fork. Returns the
// parent's spawns, failed with ECHILD, in the dispatcher's format: synchronously, because an
// async send the parent made just before the fork may have left the handle looking busy in the
// child, which would never be woken by another. No thread is started: a spawn that needs one
// starts it, so the child has only its own thread until then.
Napi::Value SpawnAfterFork(const Napi::CallbackInfo& info) {
  auto* spawner = static_cast<Spawner*>(info.Data());
  // Without a set of its own (AfterForkInChild), the poll handle would watch the parent's set
  // (uv_loop_fork registers it again) and take the parent's exec notices.
  if (spawner->direct_disabled) uv_poll_stop(&spawner->notice_poll);
  Napi::Float64Array results;
  TakeResults(info.Env(), spawner, false, &results);
  return results;
}

// The syscall that each ChildStep stands for, indexed by step (spawn_child.h).
Napi::Array StepNames(Napi::Env env) {
  Napi::Array names = Napi::Array::New(env);
  for (int step = 0; step < static_cast<int>(ChildStep::kCount); step++) {
    names.Set(static_cast<uint32_t>(step), kChildStepNames[step]);
  }
  return names;
}

// spawnSetDispatcher(fn): the function that receives finished spawns as fn(results, count) (see
// OnJobsDone and TakeResults). `results` may be reused by the next call: fn reads it at once.
Napi::Value SpawnSetDispatcher(const Napi::CallbackInfo& info) {
  auto* spawner = static_cast<Spawner*>(info.Data());
  if (!info[0].IsFunction())
    throw Napi::TypeError::New(info.Env(), "dispatcher must be a function");
  spawner->dispatcher = Napi::Persistent(info[0].As<Napi::Function>());
  spawner->results_array =
      Napi::Persistent(Napi::Float64Array::New(info.Env(), kSharedResults * kResultSlots));
  spawner->async_context = std::make_unique<Napi::AsyncContext>(info.Env(), "posix-process:spawn");
  return info.Env().Undefined();
}
// spawnStart(id, strings, layout, groups, rlimits; see BuildJob) -> whether spawnWake must be
// called: starts or queues a spawn, whose result reaches the dispatcher with this id.
//
// The spawning thread, woken for a spawn queued while it was idle, first leaves the JS thread
// up to kTurnGrace to end the current turn, which the facade reports by calling spawnWake from
// a microtask. A burst of spawn() calls then runs without the thread and its first children
// taking the CPUs (it halved the spread of the event-loop stall in the 200-children benchmark,
// README "Performance"), and a spawn queued before a long synchronous stretch of JavaScript
// still starts within the grace. The first spawn of a burst is a direct clone, started at once.
// The thread is started the first time a spawn is queued for it; if it cannot be (EAGAIN at
// RLIMIT_NPROC), that spawn fails with the error, step "clone".
Napi::Value SpawnStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* spawner = static_cast<Spawner*>(info.Data());
  // The facade builds these arguments; the checks keep a direct call from reading garbage.
  bool layout_ok = info[2].IsTypedArray() &&
                   info[2].As<Napi::TypedArray>().TypedArrayType() == napi_float64_array &&
                   info[2].As<Napi::TypedArray>().ElementLength() >= kLayoutSlots;
  if (info.Length() != 5 || !info[0].IsNumber() || !layout_ok || spawner->dispatcher.IsEmpty()) {
    throw Napi::TypeError::New(
        env, "spawnStart(id, strings, layout, groups, rlimits) after spawnSetDispatcher");
  }
  std::unique_ptr<SpawnJob> job = BuildJob(info, spawner);
  job->id = info[0].As<Napi::Number>().DoubleValue();
  if (spawner->in_flight++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(&spawner->async));
  bool needs_wake = false;
  std::lock_guard<std::mutex> lock(spawner->mutex);
  bool thread_idle = spawner->pending.empty() && spawner->running == nullptr;
  bool direct = kHaveRawSyscall && !job->plan.daemonize && thread_idle &&
                spawner->direct_starting == 0 && !spawner->direct_disabled;
  if (direct && StartDirect(spawner, job.get())) {
    job.release();
    return Napi::Boolean::New(env, false);
  }
  if (!spawner->thread_started) {
    int error = StartSpawnerThread(spawner);
    if (error != 0) {
      job->clone_error = error;
      spawner->done.push_back(job.release());
      uv_async_send(&spawner->async);
      return Napi::Boolean::New(env, false);
    }
  }
  // A thread with work queued will find this job without a wake-up.
  needs_wake = spawner->pending.empty();
  if (needs_wake) spawner->turn_over = false;
  spawner->pending.push_back(job.release());
  if (needs_wake) spawner->wake.notify_one();
  return Napi::Boolean::New(env, needs_wake);
}

// spawnWake(): the turn that queued spawns for the spawning thread is over; it may start them.
Napi::Value SpawnWake(const Napi::CallbackInfo& info) {
  auto* spawner = static_cast<Spawner*>(info.Data());
  {
    std::lock_guard<std::mutex> lock(spawner->mutex);
    spawner->turn_over = true;
  }
  spawner->wake.notify_one();
  return info.Env().Undefined();
}

// pidfdSendSignal(pidfd, signo): signals exactly the process of the pidfd, never a recycled pid.
Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info) {
  int pidfd = Int32Argument(info, 0, "pidfd");
  int signo = Int32Argument(info, 1, "signal");
  if (syscall(SYS_pidfd_send_signal, pidfd, signo, nullptr, 0) != 0) {
    int err = errno;
    throw SyscallError(info.Env(), err, "pidfd_send_signal");
  }
  return info.Env().Undefined();
}

// pipe() -> [readFd, writeFd], both close-on-exec and numbered 3 or above.
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int fds[2];
  if (PipeAboveStdio(fds, O_CLOEXEC) != 0) {
    int err = errno;
    throw SyscallError(info.Env(), err, "pipe2");
  }
  Napi::Array result = Napi::Array::New(info.Env(), 2);
  result.Set(0u, fds[0]);
  result.Set(1u, fds[1]);
  return result;
}

// closeFd(fd): close(2) for the fds this family made natively (pipe ends). Node's fs.closeSync
// would warn in worker threads about fds it did not open itself.
Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = Int32Argument(info, 0, "fd");
  // No retry on EINTR: on Linux the fd is closed even then.
  if (::close(fd) != 0 && errno != EINTR) {
    int err = errno;
    throw SyscallError(info.Env(), err, "close");
  }
  return info.Env().Undefined();
}

// spawnCancel(id) -> whether the spawn will fail as cancelled: `timeout` or `signal` fired before
// its result. A spawn still queued is dropped; one being cloned or before its exec is killed
// (SIGKILL through its pidfd: every other signal is blocked in the child until its exec) and
// reaped. False once the spawn has finished (its result is on the way): the facade then treats
// it like a child that runs.
Napi::Value SpawnCancel(const Napi::CallbackInfo& info) {
  auto* spawner = static_cast<Spawner*>(info.Data());
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "spawnCancel(id)");
  double id = info[0].As<Napi::Number>().DoubleValue();
  bool cancelled = false;
  bool dropped = false;
  {
    std::lock_guard<std::mutex> lock(spawner->mutex);
    auto& pending = spawner->pending;
    auto is_it = [&](SpawnJob* job) { return job->id == id; };
    auto queued = std::find_if(pending.begin(), pending.end(), is_it);
    auto& starting = spawner->starting;
    auto started = std::find_if(starting.begin(), starting.end(), is_it);
    if (queued != pending.end()) {
      SpawnJob* job = *queued;
      pending.erase(queued);
      job->stopped = true;
      spawner->done.push_back(job);
      cancelled = dropped = true;
    } else if (spawner->running != nullptr && spawner->running->id == id) {
      SpawnJob* job = spawner->running;
      job->cancel_requested = true;  // RunJob kills it once its clone returns
      int pidfd = __atomic_load_n(&job->clone_pidfd, __ATOMIC_ACQUIRE);
      if (job->in_clone && pidfd >= 0) KillBeforeExec(job, pidfd);  // a clone that waits
      cancelled = true;
    } else if (started != starting.end()) {
      KillBeforeExec(*started, (*started)->pidfd);
      cancelled = true;
    }
  }
  if (dropped) uv_async_send(&spawner->async);
  return Napi::Boolean::New(info.Env(), cancelled);
}

// At teardown: waits, blocking the calling thread, up to `timeout_ms` (-1: no limit) for the
// exec notices of the children still starting, and finishes the jobs of those that come. The
// children are running their setup and exec, normally short work.
void WaitForStarting(Spawner* spawner, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    std::vector<pollfd> notices;
    std::vector<uint64_t> tokens;
    {
      std::lock_guard<std::mutex> lock(spawner->mutex);
      for (SpawnJob* job : spawner->starting) {
        notices.push_back({job->exec_notice, POLLIN, 0});
        tokens.push_back(job->notice_token);
      }
    }
    if (notices.empty()) return;
    int wait_ms = -1;
    if (timeout_ms >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return;
      wait_ms = static_cast<int>(left.count());
    }
    int ready = ::poll(notices.data(), notices.size(), wait_ms);
    if (ready == -1 && errno != EINTR) return;
    for (size_t i = 0; i < notices.size(); i++) {
      if (notices[i].revents == 0) continue;
      SpawnJob* job = TakeStarting(spawner, tokens[i]);
      if (job != nullptr) FinishJob(spawner, job);
    }
  }
}

// Environment teardown (an async cleanup hook): stop the thread, drop what is queued, and free
// the Spawner once libuv has closed its async handle. Node waits for the hook to be removed
// before it unloads the addon of a worker, so the close callback never runs in unmapped code.
void StopSpawner(napi_async_cleanup_hook_handle handle, void* data) {
  auto* spawner = static_cast<Spawner*>(data);
  spawner->cleanup_handle = handle;
  {
    // The thread takes no new job and finishes the clone it is in. With the fallback, a clone
    // that waits for a child blocked before its exec (opening a FIFO, say) would hold it, and
    // this teardown, for ever: after the grace period the child is killed.
    std::unique_lock<std::mutex> lock(spawner->mutex);
    spawner->stopping = true;
    spawner->wake.notify_one();
    while (!spawner->idle.wait_for(lock, kTeardownGrace,
                                   [&] { return spawner->running == nullptr; })) {
      SpawnJob* job = spawner->running;
      int pidfd = __atomic_load_n(&job->clone_pidfd, __ATOMIC_ACQUIRE);
      if (job->in_clone && pidfd >= 0) KillBeforeExec(job, pidfd);
    }
  }
  // A child before its exec reads its plan and runs on a stack freed below: wait for its exec,
  // or after the grace period kill it and wait for its end. Killing the intermediate of daemon()
  // ends the daemon too (it dies with its parent until its exec).
  WaitForStarting(spawner, static_cast<int>(kTeardownGrace.count()));
  {
    std::lock_guard<std::mutex> lock(spawner->mutex);
    for (SpawnJob* job : spawner->starting) KillBeforeExec(job, job->pidfd);
  }
  WaitForStarting(spawner, -1);
  if (spawner->thread_started) {
    {
      std::lock_guard<std::mutex> lock(spawner->mutex);
      spawner->thread_exit = true;
    }
    spawner->wake.notify_one();
    pthread_join(spawner->thread, nullptr);
  }
  {
    std::lock_guard<std::mutex> lock(spawners_mutex);
    spawners.erase(std::find(spawners.begin(), spawners.end(), spawner));
  }
  for (SpawnJob* job : spawner->pending) delete job;
  for (SpawnJob* job : spawner->done) {
    if (job->pidfd >= 0) ::close(job->pidfd);  // an exec'd child's: left running
    delete job;
  }
  for (void* stack : spawner->free_stacks) munmap(stack, kStackMapSize);
  spawner->dispatcher.Reset();
  spawner->results_array.Reset();
  spawner->async_context.reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&spawner->notice_poll), [](uv_handle_t* closed) {
    auto* stopping = static_cast<Spawner*>(closed->data);
    ::close(stopping->notice_epoll);
    uv_close(reinterpret_cast<uv_handle_t*>(&stopping->async), [](uv_handle_t* closed_async) {
      auto* stopped = static_cast<Spawner*>(closed_async->data);
      napi_remove_async_cleanup_hook(stopped->cleanup_handle);
      delete stopped;
    });
  });
}

// spawnDecodeForTest(id, strings, layout, groups, rlimits) -> the ChildPlan that spawnStart would
// build from the same arguments, as an object, and spawns nothing: the test of the request schema
// packs requests in the facade and checks that every field arrives where the child reads it.
Napi::Value SpawnDecodeForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* spawner = static_cast<Spawner*>(info.Data());
  bool layout_ok = info[2].IsTypedArray() &&
                   info[2].As<Napi::TypedArray>().TypedArrayType() == napi_float64_array &&
                   info[2].As<Napi::TypedArray>().ElementLength() >= kLayoutSlots;
  if (info.Length() != 5 || !layout_ok) {
    throw Napi::TypeError::New(env, "spawnDecodeForTest(id, strings, layout, groups, rlimits)");
  }
  std::unique_ptr<SpawnJob> job = BuildJob(info, spawner);
  const ChildPlan& plan = job->plan;
  auto strings = [&](const char* const* list, size_t count) {
    Napi::Array array = Napi::Array::New(env, count);
    for (size_t i = 0; i < count; i++) array.Set(static_cast<uint32_t>(i), list[i]);
    return array;
  };
  size_t env_count = 0;
  while (plan.envp[env_count] != nullptr) env_count++;
  Napi::Object decoded = Napi::Object::New(env);
  decoded.Set("candidates", strings(plan.candidates, plan.candidate_count));
  decoded.Set("argv", strings(plan.argv, job->argv.size() - 1));
  decoded.Set("envp", job->environ_copy != nullptr ? env.Null() : strings(plan.envp, env_count));
  decoded.Set("cwd", plan.cwd == nullptr ? env.Null() : Napi::String::New(env, plan.cwd));
  Napi::Array fds = Napi::Array::New(env, plan.fd_count);
  for (size_t i = 0; i < plan.fd_count; i++) {
    const FdPlan& fd = plan.fds[i];
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("target", fd.target);
    entry.Set("source", fd.source);
    entry.Set("optional", fd.optional);
    entry.Set("path", fd.path == nullptr ? env.Null() : Napi::String::New(env, fd.path));
    entry.Set("flags", fd.flags);
    entry.Set("mode", fd.mode);
    fds.Set(static_cast<uint32_t>(i), entry);
  }
  decoded.Set("fds", fds);
  decoded.Set("setsid", plan.setsid);
  decoded.Set("pgid", plan.pgid);
  decoded.Set("gid", static_cast<double>(plan.gid));
  decoded.Set("uid", static_cast<double>(plan.uid));
  decoded.Set("nice", plan.set_nice ? Napi::Value(Napi::Number::New(env, plan.nice)) : env.Null());
  decoded.Set("umask", plan.umask);
  decoded.Set("pdeathsig", plan.pdeathsig);
  decoded.Set("daemonize", plan.daemonize);
  decoded.Set("sigmask", Napi::BigInt::New(env, plan.sigmask));
  decoded.Set("resetToDefault", Napi::BigInt::New(env, plan.reset_to_default));
  Napi::Array groups = Napi::Array::New(env, plan.group_count);
  for (size_t i = 0; i < plan.group_count; i++)
    groups.Set(static_cast<uint32_t>(i), plan.groups[i]);
  decoded.Set("groups", plan.set_groups ? Napi::Value(groups) : env.Null());
  Napi::Array rlimits = Napi::Array::New(env, plan.rlimit_count);
  for (size_t i = 0; i < plan.rlimit_count; i++) {
    Napi::Object limit = Napi::Object::New(env);
    limit.Set("resource", plan.rlimits[i].resource);
    limit.Set("soft", Napi::BigInt::New(env, plan.rlimits[i].soft));
    limit.Set("hard", Napi::BigInt::New(env, plan.rlimits[i].hard));
    rlimits.Set(static_cast<uint32_t>(i), limit);
  }
  decoded.Set("rlimits", rlimits);
  return decoded;
}

// spawnSchema: { layout, fd, result }, each { name: slot, ..., size }, from spawn_schema.h: the
// facade packs requests and reads results by these names, never by a number of its own.
Napi::Object SchemaObject(Napi::Env env) {
  auto table = [&](std::initializer_list<std::pair<const char*, int>> slots, int size) {
    Napi::Object object = Napi::Object::New(env);
    for (const auto& [name, slot] : slots) object.Set(name, slot);
    object.Set("size", size);
    object.Freeze();
    return object;
  };
#define POSIX_PROCESS_SCHEMA_ENTRY(slot, name) {#name, slot},
  Napi::Object schema = Napi::Object::New(env);
  schema.Set("layout",
             table({POSIX_PROCESS_LAYOUT_SLOTS(POSIX_PROCESS_SCHEMA_ENTRY)}, kLayoutSlots));
  schema.Set("fd", table({POSIX_PROCESS_FD_SLOTS(POSIX_PROCESS_SCHEMA_ENTRY)}, kFdSlots));
  schema.Set("result",
             table({POSIX_PROCESS_RESULT_SLOTS(POSIX_PROCESS_SCHEMA_ENTRY)}, kResultSlots));
#undef POSIX_PROCESS_SCHEMA_ENTRY
  schema.Freeze();
  return schema;
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object constants = Napi::Object::New(env);
  const std::pair<const char*, int> resources[] = {
      {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
      {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},       {"locks", RLIMIT_LOCKS},
      {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
      {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},       {"rss", RLIMIT_RSS},
      {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
      {"stack", RLIMIT_STACK},
  };
  Napi::Object rlimits = Napi::Object::New(env);
  for (const auto& [name, value] : resources) rlimits.Set(name, value);
  constants.Set("rlimits", rlimits);
  return constants;
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  auto* spawner = new Spawner();
  uv_loop_t* loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    delete spawner;
    throw Napi::Error::New(env, "napi_get_uv_event_loop failed");
  }
  spawner->notice_epoll = AboveStdio(epoll_create1(EPOLL_CLOEXEC));
  if (spawner->notice_epoll == -1) {
    int err = errno;
    delete spawner;
    throw SyscallError(env, err, "epoll_create1");
  }
  int result = uv_poll_init(loop, &spawner->notice_poll, spawner->notice_epoll);
  if (result != 0) {
    ::close(spawner->notice_epoll);
    delete spawner;
    throw SyscallError(env, -result, "uv_poll_init");  // libuv's errors are -errno
  }
  spawner->notice_poll.data = spawner;
  result = uv_async_init(loop, &spawner->async, OnJobsDone);
  if (result != 0) {
    // The poll handle exists: the Spawner goes once libuv has closed it.
    uv_close(reinterpret_cast<uv_handle_t*>(&spawner->notice_poll), [](uv_handle_t* closed) {
      auto* failed = static_cast<Spawner*>(closed->data);
      ::close(failed->notice_epoll);
      delete failed;
    });
    throw SyscallError(env, -result, "uv_async_init");
  }
  spawner->async.data = spawner;
  uv_unref(reinterpret_cast<uv_handle_t*>(&spawner->async));
  // Unreferenced for good: a child starting counts in in_flight, which refs `async`.
  if (uv_poll_start(&spawner->notice_poll, UV_READABLE, OnExecNotice) != 0) {
    spawner->direct_disabled = true;
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(&spawner->notice_poll));

  // No thread yet: the spawning thread starts when a spawn first needs it (SpawnStart), so that
  // loading never fails for want of one, and a fork child has only its one thread.
  static std::once_flag fork_handlers;
  std::call_once(fork_handlers,
                 [] { pthread_atfork(BeforeFork, AfterForkInParent, AfterForkInChild); });
  {
    std::lock_guard<std::mutex> lock(spawners_mutex);
    spawners.push_back(spawner);
  }

  napi_add_async_cleanup_hook(env, StopSpawner, spawner, nullptr);
  exports.Set("spawnStart", Napi::Function::New(env, SpawnStart, "spawnStart", spawner));
  exports.Set("spawnWake", Napi::Function::New(env, SpawnWake, "spawnWake", spawner));
  exports.Set("spawnCancel", Napi::Function::New(env, SpawnCancel, "spawnCancel", spawner));
  exports.Set("spawnSetDispatcher",
              Napi::Function::New(env, SpawnSetDispatcher, "spawnSetDispatcher", spawner));
  exports.Set("spawnAfterFork",
              Napi::Function::New(env, SpawnAfterFork, "spawnAfterFork", spawner));
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignal, "pidfdSendSignal"));
  exports.Set("spawnOptionConstants", Constants(env));
  exports.Set("spawnStepNames", StepNames(env));
  exports.Set("spawnSchema", SchemaObject(env));
  exports.Set("spawnDecodeForTest",
              Napi::Function::New(env, SpawnDecodeForTest, "spawnDecodeForTest", spawner));
}

}  // namespace posix_process::spawn
