// The state the safe spawn's files share (spawn.cc, spawn_request.cc, spawn_clone.cc,
// spawn_teardown.cc): one spawn (SpawnJob), the per-environment Spawner that holds every job from
// its request to its delivery, the child stacks' sizes, the locks held across fork(2), and the
// functions one of these files calls in another. Internal to the addon: nothing here is exported
// (the build hides every symbol but the module's).
#pragma once

#include <napi.h>
#include <pthread.h>
#include <sys/types.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "spawn_child.h"
#include "util/strings.h"

namespace posix_process::spawn {

constexpr size_t kChildStackSize = 256 * 1024;
// One stack of the pool: two halves, the child's at the top and, below it, the daemon's, which
// runs while the intermediate child of daemon() is suspended in its clone (both share memory).
constexpr size_t kStackMapSize = 2 * kChildStackSize;
// Stacks kept in the pool when no child runs on them (a burst maps more; those are unmapped).
constexpr size_t kKeptStacks = 32;
// How many children cloned by the JS thread may be before their exec at once (SpawnStart).
constexpr size_t kMaxDirectStarting = kKeptStacks;

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
  // Guarded by the Spawner's mutex: the spawning thread has returned from the clone and settled
  // `pidfd` (it may move the fd above stdio), which a cancel may use from then on.
  bool pidfd_settled = false;
  // The child did not reach its exec (dropped from the queue, or it died before), and the signal
  // that ended it, if any.
  bool stopped = false;
  int stop_signal = 0;

  // sandbox: the error and step of a failed write of the child's id maps (WriteIdMaps), and
  // its index: 1 when the open of the /proc file failed, 0 otherwise.
  int map_error = 0;
  int map_step = 0;
  int map_index = 0;

  // Whether its child may change its uid or gid before its exec, in the memory it shares with
  // this process (HoldDumpable): FinishJob lets go once the child has exec'd or ended.
  bool holds_dumpable = false;

  double id = 0;  // the facade's handle for this spawn

  // Under an emulator (spawn_emulated.cc): the copy of the plan the child writes into.
  ChildPlan* emulated_plan = nullptr;
};

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
  int fork_spare_epoll = -1;  // the child's notice_epoll, made before fork() (MakeForkSpares)
  uv_poll_t notice_poll;
  // No exec notices: a fork child that could not get a set of its own, or a set the loop could
  // not watch. Every spawn then takes the spawning thread, which waits for each exec.
  bool direct_disabled = false;

  // JS thread only: this process's environment as the last spawn without `env` copied it, for
  // the next ones while environ holds the same strings (BuildJob).
  std::shared_ptr<CStringArray> environ_copy;
};

// Held around each exec notice's creation and across fork(2) (spawn_clone.cc).
extern std::mutex clone_mutex;
// Every Spawner of this process, for the fork handlers (spawn_teardown.cc).
extern std::mutex spawners_mutex;
extern std::vector<Spawner*> spawners;  // guarded by spawners_mutex

// spawn_request.cc
std::unique_ptr<SpawnJob> BuildJob(const Napi::CallbackInfo& info, Spawner* spawner);
bool IsRequestLayout(const Napi::Value& value);
Napi::Value SpawnDecodeForTest(const Napi::CallbackInfo& info);
Napi::Object SchemaObject(Napi::Env env);
Napi::Object Constants(Napi::Env env);

// spawn_clone.cc
void ReleaseStack(Spawner* spawner, SpawnJob* job);
void KillBeforeExec(SpawnJob* job, int pidfd);
bool ExecNoticeEnded(SpawnJob* job);
void FinishJob(Spawner* spawner, SpawnJob* job);
// The dumpable flag's bookkeeping across fork(2) (HoldDumpable): locked in BeforeFork, unlocked
// in the parent; in the child, whose memory no spawn's child shares, the flag is set back.
void LockDumpability();
void UnlockDumpability();
void ResetDumpabilityInForkChild();

// spawn_emulated.cc: where CLONE_VM cannot be used (qemu-user), a fork-like clone whose plan is
// in shared memory. CloneWithoutSharedMemory returns the pid (job->clone_pidfd set) or -errno.
bool CloneVmUnsupported();
long CloneWithoutSharedMemory(SpawnJob* job, void* stack_top, bool wait_for_exec);
void TakeEmulatedResults(SpawnJob* job);
int StartSpawnerThread(Spawner* spawner);
bool StartDirect(Spawner* spawner, SpawnJob* job);
SpawnJob* TakeStarting(Spawner* spawner, uint64_t token);
void OnExecNotice(uv_poll_t* handle, int status, int events);

// spawn_teardown.cc
void BeforeFork();
void AfterForkInParent();
void AfterForkInChild();
Napi::Value SpawnAfterFork(const Napi::CallbackInfo& info);
void StopSpawner(napi_async_cleanup_hook_handle handle, void* data);

// spawn.cc
size_t TakeResults(Napi::Env env, Spawner* spawner, bool reuse, Napi::Float64Array* out,
                   std::vector<int>* handed = nullptr);
void OnJobsDone(uv_async_t* handle);

}  // namespace posix_process::spawn
