// The binding's entry points for the safe spawn: spawnStart, spawnWake and spawnCancel, the
// dispatcher that receives finished spawns (spawnSetDispatcher, OnJobsDone, TakeResults), the
// fd helpers the facade needs around a spawn (pipe, closeFd, pidfdSendSignal), and Initialize,
// which makes one Spawner per Node environment. Request decoding is in spawn_request.cc, the
// clones in spawn_clone.cc, teardown and fork handling in spawn_teardown.cc; the shared state
// is in spawn_internal.h.
//
// Results reach the facade through one dispatcher (OnJobsDone).
//
// Man pages: pidfd_send_signal(2), pipe(7), epoll(7).
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

#include "spawn_internal.h"
#include "spawn_schema.h"
#include "util/addon_state.h"
#include "util/arguments.h"
#include "util/error.h"
#include "util/fds.h"
#include "util/raw_syscall.h"
#include "util/reserve.h"
#include "wait.h"

namespace posix_process::spawn {

namespace {

// The fields of one finished spawn (ResultSlot) are defined in spawn_schema.h.

// Capacity of the reused results array, in results: a bigger batch gets an array of its own.
constexpr size_t kSharedResults = 64;

}  // namespace

// On the JS thread: takes the finished jobs and writes them to a Float64Array of kResultSlots
// numbers each: id, pid, pidfd (-1 for a daemon: not our child), then errno, step (a ChildStep,
// named by spawnStepNames), stepIndex and signal. errno is 0 when the child exec'd, and -1 when
// it did not reach its exec, step being where it was: dropped from the queue by a cancel (pid
// -1), or dead before its exec, `signal` the signal that ended it (0 if none). Plain numbers,
// because setting properties on an object per spawn from C++ cost more than the rest of this
// hand-over. The array is the reused one when `reuse` allows and the batch fits (the caller
// passes the count along), else a new one of the exact size. With `handed`, the pidfds of the
// children that exec'd are handed over (wait::HandOverPidfd) and listed there. Returns the number
// of results.
size_t TakeResults(Napi::Env env, Spawner* spawner, bool reuse, Napi::Float64Array* out,
                   std::vector<int>* handed) {
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
    if (handed != nullptr && job.pidfd >= 0) {  // only a child that exec'd still has its pidfd
      wait::HandOverPidfd(job.pidfd);
      handed->push_back(job.pidfd);
    }
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

void OnJobsDone(uv_async_t* handle) {
  auto* spawner = static_cast<Spawner*>(handle->data);
  Napi::Env env = spawner->dispatcher.Env();
  Napi::HandleScope scope(env);
  // While a worker is being terminated (Environment::CleanupHandles runs this), JavaScript can
  // no longer run: the jobs then stay for StopSpawner, which closes their pidfds. Taken here,
  // they would be freed with their pidfds open once MakeCallback failed.
  if (!CanRunJavaScript(env)) return;
  std::vector<int> handed;
  try {
    Napi::Float64Array results;
    size_t count = TakeResults(env, spawner, true, &results, &handed);
    if (count == 0) return;
    // Raw N-API: a worker that an uncaught error in this very callback (an unhandled rejection
    // of the spawn) starts terminating fails it, and an exception left pending (a promise job or
    // a nextTick that threw after the dispatcher) would fail the next wait's callback.
    napi_value argv[] = {results, Napi::Number::New(env, static_cast<double>(count))};
    MakeCallbackReporting(env, *spawner->async_context, spawner->dispatcher.Value(), 2, argv);
  } catch (...) {
    // The dispatcher only settles promises: anything it throws is a bug that must surface as an
    // uncaught exception (in a terminating worker, this does nothing); so must a bad_alloc.
    ReportCurrentException(env);
  }
  // Every handle is made during the call: a pidfd none took over (the worker exiting half-way
  // through, a spawn without a handle) would stay open for good.
  wait::CloseUnclaimedPidfds(handed);
}

namespace {

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
//
// `firstOfTurn` (optional): no other spawn was asked for in this turn of JavaScript. Such a spawn
// is cloned directly even while the thread has work or other direct children are before their
// exec (up to kMaxDirectStarting): spawns kept in flight one per finished child (a pool of
// workers) then never pay the thread's cross-CPU hand-overs, about 60 µs of CPU a spawn
// (docs/performance.md), while a burst, many spawns in one turn, still goes to the thread after
// its first.
Napi::Value SpawnStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* spawner = static_cast<Spawner*>(info.Data());
  // The facade builds these arguments; the checks keep a direct call from reading garbage.
  if ((info.Length() != 5 && info.Length() != 6) || !info[0].IsNumber() ||
      !IsRequestLayout(info[2]) || spawner->dispatcher.IsEmpty()) {
    throw Napi::TypeError::New(
        env,
        "spawnStart(id, strings, layout, groups, rlimits, firstOfTurn) after spawnSetDispatcher");
  }
  bool first_of_turn = info.Length() == 6 && info[5].IsBoolean() && info[5].As<Napi::Boolean>();
  std::unique_ptr<SpawnJob> job = BuildJob(info, spawner);
  job->id = info[0].As<Napi::Number>().DoubleValue();
  bool needs_wake = false;
  std::lock_guard<std::mutex> lock(spawner->mutex);
  // Room for this job in the lists it will enter, made (or thrown, std::bad_alloc) before anything
  // starts: a push_back that threw after the clone, whose child shares the plan, or on the
  // spawning thread could not be undone.
  ReserveRoom(spawner->starting, spawner->in_flight + 1);
  ReserveRoom(spawner->done, spawner->in_flight + 1);
  if (spawner->in_flight++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(&spawner->async));
  bool thread_idle = spawner->pending.empty() && spawner->running == nullptr;
  bool alone = thread_idle && spawner->direct_starting == 0;
  bool beside = first_of_turn && spawner->direct_starting < kMaxDirectStarting;
  bool direct =
      kHaveRawSyscall && !job->plan.daemonize && (alone || beside) && !spawner->direct_disabled;
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
  try {
    spawner->pending.push_back(job.get());
  } catch (...) {
    if (--spawner->in_flight == 0) uv_unref(reinterpret_cast<uv_handle_t*>(&spawner->async));
    throw;  // std::bad_alloc: the job, still owned here, is deleted
  }
  job.release();
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
  HoldFd(info.Env(), fds[0]);  // until closeFd or an owner takes it (util/addon_state.h)
  HoldFd(info.Env(), fds[1]);
  Napi::Array result = Napi::Array::New(info.Env(), 2);
  result.Set(0u, fds[0]);
  result.Set(1u, fds[1]);
  return result;
}

// closeFd(fd): close(2) for the fds this family made natively (pipe ends). Node's fs.closeSync
// would warn in worker threads about fds it did not open itself.
Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = Int32Argument(info, 0, "fd");
  ReleaseFd(info.Env(), fd);
  // No retry on EINTR: on Linux the fd is closed even then.
  if (::close(fd) != 0 && errno != EINTR) {
    int err = errno;
    throw SyscallError(info.Env(), err, "close");
  }
  return info.Env().Undefined();
}

// fdHandOver(fd): a pipe end or socket of the library's that an owner now closes (net.Socket):
// no longer closed at the environment's teardown (util/addon_state.h).
Napi::Value FdHandOver(const Napi::CallbackInfo& info) {
  ReleaseFd(info.Env(), Int32Argument(info, 0, "fd"));
  return info.Env().Undefined();
}

// spawnCancel(id) -> whether the spawn will fail as cancelled: `timeout` or `signal` fired before
// its result. A spawn still queued is dropped; one being cloned or before its exec is killed
// (SIGKILL through its pidfd: every other signal is blocked in the child until its exec) and
// reaped. False once the spawn has finished, or its child has exec'd (its result is on the way,
// unread): the facade then treats it like a child that runs, and stops it (its tree included).
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
      int pidfd = __atomic_load_n(&job->clone_pidfd, __ATOMIC_ACQUIRE);
      if (job->in_clone && pidfd >= 0) {
        KillBeforeExec(job, pidfd);  // a clone that waits
      } else if (job->pidfd_settled) {
        if (ExecNoticeEnded(job)) return Napi::Boolean::New(info.Env(), false);
        KillBeforeExec(job, job->pidfd);  // waiting for its exec (RunJob)
      }
      job->cancel_requested = true;  // else RunJob kills it once its clone returns
      cancelled = true;
    } else if (started != starting.end()) {
      if (ExecNoticeEnded(*started)) return Napi::Boolean::New(info.Env(), false);
      KillBeforeExec(*started, (*started)->pidfd);
      cancelled = true;
    }
  }
  if (dropped) uv_async_send(&spawner->async);
  return Napi::Boolean::New(info.Env(), cancelled);
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  auto* spawner = new Spawner();
  spawner->free_stacks.reserve(kKeptStacks);  // ReleaseStack then never allocates
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
  exports.Set("fdHandOver", Napi::Function::New(env, FdHandOver, "fdHandOver"));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignal, "pidfdSendSignal"));
  exports.Set("spawnOptionConstants", Constants(env));
  exports.Set("spawnStepNames", StepNames(env));
  exports.Set("spawnSchema", SchemaObject(env));
  exports.Set("spawnDecodeForTest",
              Napi::Function::New(env, SpawnDecodeForTest, "spawnDecodeForTest", spawner));
}

}  // namespace posix_process::spawn
