// The safe spawn: a clone(CLONE_VM | CLONE_PIDFD) child that runs the prepared ChildPlan
// (spawn_child.cc) and execs. CLONE_VM: no page table is copied, so the cost does not grow with
// the heap. Two ways to start it, the same child either way:
//
// - The direct clone, from the JS thread, when no other spawn is under way (one after another,
//   the common case): clone *without* CLONE_VFORK, so the JS thread goes back to its event loop
//   at once, and learns of the exec from a close-on-exec pipe that reaches end-of-file when the
//   child has exec'd (or exited after a failed step), watched from the loop. A thread hand-over
//   costs two wake-ups of another thread per spawn, which on a virtual machine with idle CPUs
//   halted cost more than the clone itself (README, "Performance"). The child shares the JS
//   thread's thread-local storage while that thread runs on, so it leaves errno alone
//   (util/raw_syscall.h); where that cannot be done (kHaveRawSyscall), every spawn takes the
//   thread.
// - The spawning thread, for the rest: a spawn asked for while another is under way (a burst, so
//   that the JS thread is not slowed by each new child taking its CPU), and daemon(). It clones
//   with CLONE_VFORK, suspended until the child has exec'd, then hands the result back through
//   a uv_async_t. The JS thread never blocks on a spawn (exec of a big program on a slow file
//   system takes a while), and the libuv threadpool, shared with fs and dns, is never tied up.
//
// Both threads that clone block every signal first, so no handler of Node's can run in a child
// that shares its memory before the child has reset the dispositions. PR_SET_PDEATHSIG fires
// when the *thread* that created the child exits: both live as long as the Node environment, so
// pdeathsig means "when this Node process (or worker) goes away".
//
// daemon() (lib/daemon.ts) goes through the same path: its plan has `daemonize` set, and the child
// clones the daemon after setsid (spawn_child.cc, Daemonize).
//
// Requests are built completely on the JS thread (every string, array and fd table) before
// either clone. Results of both ways reach the facade through one dispatcher (OnJobsDone).
//
// Man pages: clone(2), pidfd_open(2), pidfd_send_signal(2), vfork(2), pipe(7), epoll(7).
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
#include <string>
#include <thread>
#include <vector>

#include "spawn_child.h"
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
// Three stacks in one mapping, from the bottom: the daemon's, which runs while the child of
// daemon() is suspended in clone (both share this memory); the spawning thread's child's; and
// the direct clone's child's. Each is used by one child at a time.
constexpr size_t kStackMapSize = 3 * kChildStackSize;

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
  int pidfd = -1;
  int clone_error = 0;
  int exec_notice = -1;       // a direct clone's: the read end of its exec notice pipe
  uint64_t notice_token = 0;  // and the epoll event data that stands for it

  // The spawning thread's clone in progress, for a teardown that must kill a child stuck before
  // its exec (StopSpawner): the pidfd as the kernel writes it during clone (CLONE_PIDFD), and
  // whether the thread is inside clone. `killed`: a teardown killed the child; reap it.
  int clone_pidfd = -1;
  std::atomic<bool> in_clone{false};
  std::atomic<bool> killed{false};

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
  bool thread_running = false;            // guarded by mutex
  std::condition_variable thread_exited;  // notified when it turns false
  bool turn_over = true;                  // guarded by mutex: see SpawnStart
  std::deque<SpawnJob*> pending;          // guarded by mutex
  std::vector<SpawnJob*> done;            // guarded by mutex
  bool stopping = false;                  // guarded by mutex
  size_t in_flight = 0;                   // JS thread only: keeps the loop alive while > 0

  // One JS function receives every finished spawn, in batches: one call per wake-up instead of
  // one per child keeps the event loop's share of a burst of spawns small.
  Napi::FunctionReference dispatcher;
  // Where OnJobsDone writes the results for the dispatcher, reused by every call: a new typed
  // array per call cost a backing store allocation and more work for the garbage collector.
  Napi::Reference<Napi::Float64Array> results_array;
  std::unique_ptr<Napi::AsyncContext> async_context;
  napi_async_cleanup_hook_handle cleanup_handle = nullptr;  // set while tearing down

  uv_async_t async;
  std::thread thread;
  SpawnJob* running = nullptr;  // guarded by mutex: the job the thread is on, if any
  void* stack = nullptr;

  // The direct clone in progress, if any (changed under mutex, for the fork handlers), and the
  // epoll set holding its exec notice, watched by notice_poll.
  SpawnJob* direct = nullptr;
  uint64_t notice_tokens = 0;  // JS thread only: the last token handed out
  int notice_epoll = -1;
  uv_poll_t notice_poll;
  // No direct clones: a fork child that could not get a set of its own, or a set the loop could
  // not watch. Every spawn then takes the spawning thread.
  bool direct_disabled = false;

  // JS thread only: this process's environment as the last spawn without `env` copied it, for
  // the next ones while environ holds the same strings (BuildJob).
  std::shared_ptr<CStringArray> environ_copy;
};

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

// The request's numbers, packed by the facade (lib/spawn.ts, queueSpawn) into one Float64Array:
// these slots, then kFdSlots numbers for each fd. -1 leaves a setting as it is.
enum LayoutSlot : int {
  kCandidateCount = 0,  // how many of the strings are which (see TakeStrings)
  kArgvCount,
  kEnvCount,  // -1: the child gets this process's environment
  kHasCwd,
  kFdCount,
  kSetsid,  // 1: setsid
  kPgid,    // -1, or 0 (new group) or the group to join
  kGid,
  kUid,
  kNice,  // NaN: leave
  kUmask,
  kPdeathsig,  // 0: none
  kDaemonize,  // 1: daemon()
  // Signal sets, in two 32-bit halves: bit (signo - 1) stands for signo.
  kSigmaskLow,
  kSigmaskHigh,
  kResetLow,  // reset to SIG_DFL
  kResetHigh,
  kLayoutSlots,
};

// One fd of the child: the target, the parent's source fd or -1 for a path (the next of the
// request's path strings), whether a missing source is fine, and the open flags and mode for a
// path.
enum FdSlot : int { kTarget = 0, kSource, kOptional, kFlags, kMode, kFdSlots };

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

// Reaps a child that failed a step (it is exiting: exit_group follows the error) or the
// intermediate child of daemon(), and closes its pidfd. ECHILD only if the user reaped it with
// waitpid(-1) first: gone either way.
void ReapChild(Spawner* spawner, SpawnJob* job) {
  int status;
  while (::waitpid(job->pid, &status, 0) == -1 && errno == EINTR) {
  }
  int pidfd;
  {
    std::lock_guard<std::mutex> lock(spawner->mutex);  // see RunJob
    pidfd = job->pidfd;
    job->pidfd = -1;
  }
  ::close(pidfd);
}

// On the spawning thread: clone, wait for exec (CLONE_VFORK), and reap the child at once if a
// step failed, so that a failed spawn leaves no zombie. For daemon() the child is only the
// intermediate process: it has exited by the time clone returns (the daemon has exec'd or
// failed), it is always reaped here, and the result is the daemon's pid. Its pidfd, held until
// then, tells a reaper in this process (startReaper) to leave it to us.
void RunJob(Spawner* spawner, SpawnJob* job) {
  char* stack_top = static_cast<char*>(spawner->stack) + 2 * kChildStackSize;
  job->plan.daemon_stack_top = static_cast<char*>(spawner->stack) + kChildStackSize;
  job->in_clone = true;
  pid_t pid = ::clone(RunChild, stack_top, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD,
                      &job->plan, &job->clone_pidfd);
  job->in_clone = false;
  int pidfd = job->clone_pidfd;
  if (pid == -1) {
    job->clone_error = errno;
    return;
  }
  {
    // Under the mutex: a fork(2) right now must see the pidfd, to close its copy in the child.
    std::lock_guard<std::mutex> lock(spawner->mutex);
    job->pid = pid;
    job->pidfd = AboveStdioOrKeep(pidfd);  // it took the lowest free fd: maybe a closed std fd
  }
  if (job->plan.error != 0 || job->plan.daemonize) {
    ReapChild(spawner, job);
    if (job->plan.daemonize) job->pid = job->plan.daemon_pid;
  }
}

void SpawnerThread(Spawner* spawner) {
  for (;;) {
    SpawnJob* job;
    {
      std::unique_lock<std::mutex> lock(spawner->mutex);
      spawner->wake.wait(lock, [&] { return spawner->stopping || !spawner->pending.empty(); });
      spawner->wake.wait_for(lock, kTurnGrace,
                             [&] { return spawner->stopping || spawner->turn_over; });
      if (spawner->stopping) {
        spawner->thread_running = false;
        spawner->thread_exited.notify_all();
        return;
      }
      job = spawner->pending.front();
      spawner->pending.pop_front();
      spawner->running = job;
    }
    RunJob(spawner, job);
    {
      std::lock_guard<std::mutex> lock(spawner->mutex);
      spawner->running = nullptr;
      spawner->done.push_back(job);
    }
    uv_async_send(&spawner->async);
  }
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

// The spawning thread, started with every signal blocked (it inherits its creator's mask).
void StartSpawnerThread(Spawner* spawner) {
  AllSignalsBlocked blocked;
  spawner->thread_running = true;  // before the thread exists: no lock needed yet
  try {
    spawner->thread = std::thread(SpawnerThread, spawner);
  } catch (...) {
    spawner->thread_running = false;  // no thread: nothing for a teardown to wait for
    throw;
  }
}

// ---- The direct clone ----

// On the JS thread, once the direct child has exec'd or failed (its exec notice reached
// end-of-file): reaps it if it failed, and moves the job to the finished ones.
void FinishDirect(Spawner* spawner) {
  SpawnJob* job = spawner->direct;
  int notice;
  {
    // Under the mutex, as in ReapChild: a fork(2) from another thread must not find the number
    // of an fd already closed here (its child would close whatever took the number since).
    std::lock_guard<std::mutex> lock(spawner->mutex);
    notice = job->exec_notice;
    job->exec_notice = -1;
  }
  ::close(notice);  // which also takes it out of the epoll set
  if (job->plan.error != 0 || job->killed) ReapChild(spawner, job);
  std::lock_guard<std::mutex> lock(spawner->mutex);
  spawner->direct = nullptr;
  spawner->done.push_back(job);
}

// At teardown: waits, blocking the calling thread, up to `timeout_ms` (-1: no limit) for the
// direct child's exec notice; true once it has come. The child is running its setup and exec,
// normally short work.
bool WaitForExecNotice(SpawnJob* job, int timeout_ms) {
  pollfd notice = {job->exec_notice, POLLIN, 0};
  int ready;
  do {
    ready = ::poll(&notice, 1, timeout_ms);
  } while (ready == -1 && errno == EINTR);
  return ready != 0;
}

// At teardown, for a child that has not exec'd: kills it, and marks the job to be reaped. Its
// spawn can never be delivered, and a child sharing this memory must not outlive the plan and
// stack it runs on (the kill ends it; the caller then waits for that).
void KillBeforeExec(SpawnJob* job, int pidfd) {
  job->killed = true;
  syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
}

// On the JS thread, with spawner->mutex held (a fork(2) from another thread then sees either no
// direct clone or one whose fds are recorded, which AfterForkInChild closes: a copy of the
// notice pipe's write end kept by a fork child would hold end-of-file back for ever). Clones the
// child without CLONE_VFORK and returns at once; OnExecNotice finishes the job. A failed clone
// goes to the finished jobs, delivered from the loop like any other. Returns false, with nothing
// done, when the notice cannot be watched (no pipe, or no epoll watch left): the caller then
// hands the job to the spawning thread, so that this thread never waits for an exec.
bool StartDirect(Spawner* spawner, SpawnJob* job) {
  int notice[2];
  if (PipeAboveStdio(notice, O_CLOEXEC) != 0) return false;
  epoll_event event = {};
  event.events = EPOLLIN | EPOLLONESHOT;  // end-of-file reads as EPOLLIN | EPOLLHUP
  // A token of this spawn's own, not the fd number: a stale entry for an earlier notice whose
  // number was reused (a copy of it kept alive elsewhere) must not end this one.
  event.data.u64 = ++spawner->notice_tokens;
  if (epoll_ctl(spawner->notice_epoll, EPOLL_CTL_ADD, notice[0], &event) != 0) {
    ::close(notice[0]);
    ::close(notice[1]);
    return false;
  }
  job->plan.exec_notice_fd = notice[1];
  char* stack_top = static_cast<char*>(spawner->stack) + kStackMapSize;
  int pidfd = -1;
  pid_t pid;
  int clone_errno;
  {
    AllSignalsBlocked blocked;
    pid = ::clone(RunChild, stack_top, CLONE_VM | CLONE_PIDFD | SIGCHLD, &job->plan, &pidfd);
    clone_errno = errno;
  }
  ::close(notice[1]);  // the child's copy is now the only one
  if (pid == -1) {
    ::close(notice[0]);  // which also takes it out of the epoll set
    job->clone_error = clone_errno;
    spawner->done.push_back(job);
    uv_async_send(&spawner->async);
    return true;
  }
  job->pid = pid;
  job->pidfd = AboveStdioOrKeep(pidfd);  // it took the lowest free fd: maybe a closed std fd
  job->exec_notice = notice[0];
  job->notice_token = event.data.u64;
  spawner->direct = job;
  return true;
}

// The direct child's exec notice reached end-of-file: deliver its result.
void OnExecNotice(uv_poll_t* handle, int status, int events) {
  auto* spawner = static_cast<Spawner*>(handle->data);
  epoll_event ready;
  int count;
  do {
    count = epoll_wait(spawner->notice_epoll, &ready, 1, 0);
  } while (count == -1 && errno == EINTR);
  if (count != 1 || spawner->direct == nullptr) return;
  if (ready.data.u64 != spawner->direct->notice_token) return;
  FinishDirect(spawner);
  OnJobsDone(&spawner->async);
}

// fork(2) copies every Spawner but none of their threads. In the child (lib/fork.ts), the spawns
// that were queued, under way or not yet delivered at the fork fail with ECHILD (they are the
// parent's), and spawnAfterFork starts a new thread and returns those failures. The atfork
// handlers hold each Spawner's mutex across the fork, so that no job is half moved when the
// child copies the queues.
std::mutex spawners_mutex;
std::vector<Spawner*> spawners;  // guarded by spawners_mutex

void BeforeFork() {
  spawners_mutex.lock();
  for (Spawner* spawner : spawners) spawner->mutex.lock();
}

void AfterForkInParent() {
  for (Spawner* spawner : spawners) spawner->mutex.unlock();
  spawners_mutex.unlock();
}

void AfterForkInChild() {
  for (Spawner* spawner : spawners) {
    // The thread, and any wait on the condition variable it was in, are the parent's: new ones,
    // built over the old without destroying them (a handle to a thread this process does not
    // have must be neither joined nor detached, and the old condition variable counts a waiter
    // that will never wake). The mutex was locked by this thread in BeforeFork: a fresh one too.
    new (&spawner->thread) std::thread();
    new (&spawner->wake) std::condition_variable();
    new (&spawner->thread_exited) std::condition_variable();
    new (&spawner->mutex) std::mutex();
    spawner->thread_running = false;
    spawner->turn_over = true;
    if (spawner->running != nullptr) {
      // Inside its clone, the job's pidfd is only in clone_pidfd yet: this process's copy.
      SpawnJob* job = spawner->running;
      if (job->pidfd < 0 && job->in_clone && job->clone_pidfd >= 0) ::close(job->clone_pidfd);
      spawner->done.push_back(job);
    }
    spawner->running = nullptr;
    if (spawner->direct != nullptr) {
      ::close(spawner->direct->exec_notice);  // the parent's child: its exec is told there
      spawner->direct->exec_notice = -1;
      spawner->done.push_back(spawner->direct);
      spawner->direct = nullptr;
    }
    if (FreshEpollSetInForkChild(spawner->notice_epoll) != 0) {
      spawner->direct_disabled = true;  // no direct clones in this process
    }
    spawner->done.insert(spawner->done.end(), spawner->pending.begin(), spawner->pending.end());
    spawner->pending.clear();
    for (SpawnJob* job : spawner->done) {
      if (job->pidfd >= 0) ::close(job->pidfd);  // the copy of the parent's pidfd
      job->pidfd = -1;
      job->clone_error = ECHILD;
    }
  }
  spawners_mutex.unlock();
}

const char* StepName(int step) {
  switch (static_cast<ChildStep>(step)) {
    case ChildStep::kSignals:
      return "sigaction";
    case ChildStep::kSetsid:
      return "setsid";
    case ChildStep::kDaemonFork:
      return "clone";
    case ChildStep::kSetpgid:
      return "setpgid";
    case ChildStep::kSetgroups:
      return "setgroups";
    case ChildStep::kSetgid:
      return "setgid";
    case ChildStep::kSetuid:
      return "setuid";
    case ChildStep::kRlimit:
      return "setrlimit";
    case ChildStep::kNice:
      return "setpriority";
    case ChildStep::kUmask:
      return "umask";
    case ChildStep::kPdeathsig:
      return "prctl";
    case ChildStep::kChdir:
      return "chdir";
    case ChildStep::kOpen:
      return "open";
    case ChildStep::kDup:
      return "dup2";
    case ChildStep::kCloseRange:
      return "close_range";
    case ChildStep::kSigmask:
      return "sigprocmask";
    case ChildStep::kExec:
      return "execve";
    case ChildStep::kNone:
      break;
  }
  return "clone";
}

// The fields of one finished spawn in the array handed to the dispatcher.
enum ResultSlot : int { kId = 0, kPid, kPidfd, kErrno, kStep, kStepIndex, kResultSlots };

// Capacity of the reused results array, in results: a bigger batch gets an array of its own.
constexpr size_t kSharedResults = 64;

// On the JS thread: takes the finished jobs and writes them to a Float64Array of kResultSlots
// numbers each: id, pid, pidfd (-1 for a daemon: not our child), then errno, step (a ChildStep,
// named by spawnStepNames) and stepIndex, with errno 0 when the child exec'd. Plain numbers,
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
    result[kErrno] = job.clone_error != 0 ? job.clone_error : job.plan.error;
    result[kStep] = job.clone_error != 0 ? 0 : job.plan.step;
    result[kStepIndex] = job.clone_error != 0 ? 0 : job.plan.step_index;
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

// spawnAfterFork() -> results: in the child of lib/fork.ts, after uv_loop_fork. Starts a new
// spawning thread and returns the parent's spawns, failed with ECHILD, in the dispatcher's
// format: synchronously, because an async send the parent made just before the fork may have
// left the handle looking busy in the child, which would never be woken by another.
Napi::Value SpawnAfterFork(const Napi::CallbackInfo& info) {
  auto* spawner = static_cast<Spawner*>(info.Data());
  // Without a set of its own (AfterForkInChild), the poll handle would watch the parent's set
  // (uv_loop_fork registers it again) and take the parent's exec notices.
  if (spawner->direct_disabled) uv_poll_stop(&spawner->notice_poll);
  if (!spawner->thread.joinable()) StartSpawnerThread(spawner);
  Napi::Float64Array results;
  TakeResults(info.Env(), spawner, false, &results);
  return results;
}

// The syscall that each ChildStep stands for, indexed by step.
Napi::Array StepNames(Napi::Env env) {
  Napi::Array names = Napi::Array::New(env);
  for (int step = 0; step <= static_cast<int>(ChildStep::kExec); step++) {
    names.Set(static_cast<uint32_t>(step), StepName(step));
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
  {
    std::lock_guard<std::mutex> lock(spawner->mutex);
    bool thread_idle = spawner->pending.empty() && spawner->running == nullptr;
    bool direct = kHaveRawSyscall && !job->plan.daemonize && thread_idle &&
                  spawner->direct == nullptr && !spawner->direct_disabled;
    if (direct && StartDirect(spawner, job.get())) {
      job.release();
    } else {
      // A thread with work queued will find this job without a wake-up.
      needs_wake = spawner->pending.empty();
      if (needs_wake) spawner->turn_over = false;
      spawner->pending.push_back(job.release());
    }
  }
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

// Environment teardown (an async cleanup hook): stop the thread, drop what is queued, and free
// the Spawner once libuv has closed its async handle. Node waits for the hook to be removed
// before it unloads the addon of a worker, so the close callback never runs in unmapped code.
void StopSpawner(napi_async_cleanup_hook_handle handle, void* data) {
  auto* spawner = static_cast<Spawner*>(data);
  spawner->cleanup_handle = handle;
  {
    // The thread finishes the job it is on. A child blocked before its exec (opening a FIFO for
    // its stdin, say) would hold it, and this teardown, for ever: after the grace period it is
    // killed, and the thread's clone returns. A child that exec'd just then, before the thread
    // saw its clone return, is killed too: its spawn could not be delivered any more anyway.
    std::unique_lock<std::mutex> lock(spawner->mutex);
    spawner->stopping = true;
    spawner->wake.notify_one();
    while (!spawner->thread_exited.wait_for(lock, kTeardownGrace,
                                            [&] { return !spawner->thread_running; })) {
      SpawnJob* job = spawner->running;
      if (job == nullptr || !job->in_clone) continue;
      if (!job->plan.daemonize) {
        int pidfd = __atomic_load_n(&job->clone_pidfd, __ATOMIC_ACQUIRE);
        if (pidfd >= 0) KillBeforeExec(job, pidfd);
        continue;
      }
      // daemon(): the one stuck is the daemon, which the child waits for. Its pid (written by the
      // kernel at its clone) cannot be reused while the child lives: the child reaps it only
      // after its own clone returns. Killing it ends the child's wait, and the child exits.
      pid_t daemon = __atomic_load_n(&job->plan.daemon_pid, __ATOMIC_ACQUIRE);
      int child = __atomic_load_n(&job->clone_pidfd, __ATOMIC_ACQUIRE);
      pollfd child_exited = {child, POLLIN, 0};
      if (daemon <= 0 || child < 0 || ::poll(&child_exited, 1, 0) != 0) continue;
      int daemon_pidfd = static_cast<int>(syscall(SYS_pidfd_open, daemon, 0));
      if (daemon_pidfd >= 0) {
        KillBeforeExec(job, daemon_pidfd);
        ::close(daemon_pidfd);
      }
    }
  }
  if (spawner->thread.joinable()) spawner->thread.join();
  // A direct child still reads its plan and runs on the stack freed below: wait for its exec,
  // or after the grace period kill it and wait for its end.
  if (spawner->direct != nullptr) {
    SpawnJob* job = spawner->direct;
    if (!WaitForExecNotice(job, static_cast<int>(kTeardownGrace.count()))) {
      KillBeforeExec(job, job->pidfd);
      WaitForExecNotice(job, -1);  // end-of-file at its exit
    }
    FinishDirect(spawner);
  }
  {
    std::lock_guard<std::mutex> lock(spawners_mutex);
    spawners.erase(std::find(spawners.begin(), spawners.end(), spawner));
  }
  for (SpawnJob* job : spawner->pending) delete job;
  for (SpawnJob* job : spawner->done) {
    if (job->killed && job->pidfd >= 0) ReapChild(spawner, job);  // closes the pidfd
    if (job->pidfd >= 0) ::close(job->pidfd);
    delete job;
  }
  munmap(spawner->stack, kStackMapSize);
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
  spawner->stack = mmap(nullptr, kStackMapSize, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (spawner->stack == MAP_FAILED) {
    int err = errno;
    delete spawner;
    throw SyscallError(env, err, "mmap");
  }
  spawner->notice_epoll = AboveStdio(epoll_create1(EPOLL_CLOEXEC));
  if (spawner->notice_epoll == -1) {
    int err = errno;
    munmap(spawner->stack, kStackMapSize);
    delete spawner;
    throw SyscallError(env, err, "epoll_create1");
  }
  int result = uv_poll_init(loop, &spawner->notice_poll, spawner->notice_epoll);
  if (result != 0) {
    ::close(spawner->notice_epoll);
    munmap(spawner->stack, kStackMapSize);
    delete spawner;
    throw Napi::Error::New(env, std::string("uv_poll_init: ") + uv_strerror(result));
  }
  spawner->notice_poll.data = spawner;
  result = uv_async_init(loop, &spawner->async, OnJobsDone);
  if (result != 0) {
    // The poll handle exists: the Spawner goes once libuv has closed it.
    munmap(spawner->stack, kStackMapSize);
    uv_close(reinterpret_cast<uv_handle_t*>(&spawner->notice_poll), [](uv_handle_t* closed) {
      auto* failed = static_cast<Spawner*>(closed->data);
      ::close(failed->notice_epoll);
      delete failed;
    });
    throw Napi::Error::New(env, std::string("uv_async_init: ") + uv_strerror(result));
  }
  spawner->async.data = spawner;
  uv_unref(reinterpret_cast<uv_handle_t*>(&spawner->async));
  // Unreferenced for good: a direct clone in progress counts in in_flight, which refs `async`.
  if (uv_poll_start(&spawner->notice_poll, UV_READABLE, OnExecNotice) != 0) {
    spawner->direct_disabled = true;
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(&spawner->notice_poll));

  StartSpawnerThread(spawner);
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
  exports.Set("spawnSetDispatcher",
              Napi::Function::New(env, SpawnSetDispatcher, "spawnSetDispatcher", spawner));
  exports.Set("spawnAfterFork",
              Napi::Function::New(env, SpawnAfterFork, "spawnAfterFork", spawner));
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignal, "pidfdSendSignal"));
  exports.Set("spawnOptionConstants", Constants(env));
  exports.Set("spawnStepNames", StepNames(env));
}

}  // namespace posix_process::spawn
