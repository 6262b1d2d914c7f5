// Teardown and fork(2): stopping a Spawner when its Node environment goes away (StopSpawner,
// which waits for or kills the children still before their exec), and the atfork handlers that
// keep every Spawner consistent across a fork, with spawnAfterFork handing the parent's spawns
// back to a fork child as failures.
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <new>
#include <vector>

#include "background_reaper.h"
#include "spawn_internal.h"
#include "util/fds.h"

namespace posix_process::spawn {

namespace {

// How long a teardown waits for a child to reach its exec before killing it (StopSpawner).
constexpr std::chrono::milliseconds kTeardownGrace(250);

}  // namespace

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
  LockDumpability();
}

void AfterForkInParent() {
  UnlockDumpability();
  clone_mutex.unlock();
  for (Spawner* spawner : spawners) spawner->mutex.unlock();
  spawners_mutex.unlock();
}

namespace {

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
  job->holds_dumpable = false;  // counted no more (ResetDumpabilityInForkChild)
  ReleaseStack(spawner, job);   // no child runs on this process's copy
}

}  // namespace

int MakeForkSpares() {
  std::lock_guard<std::mutex> lock(spawners_mutex);
  return MakeEpollSpares(spawners, &Spawner::fork_spare_epoll);
}

void DropForkSpares() {
  std::lock_guard<std::mutex> lock(spawners_mutex);
  DropEpollSpares(spawners, &Spawner::fork_spare_epoll);
}

void AfterForkInChild() {
  new (&clone_mutex) std::mutex();
  ResetDumpabilityInForkChild();
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
    if (FreshEpollSetInForkChild(spawner->notice_epoll, &spawner->fork_spare_epoll) != 0) {
      spawner->direct_disabled = true;  // no exec notices in this process
    }
    spawner->done.insert(spawner->done.end(), spawner->pending.begin(), spawner->pending.end());
    spawner->pending.clear();
    for (SpawnJob* job : spawner->done) DropParentJob(spawner, job);
  }
  spawners_mutex.unlock();
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

namespace {

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

}  // namespace

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
  // Children whose results were not handed over: left running, and a worker's are reaped by the
  // background reaper once they exit (the main thread's end is the process's).
  bool worker = spawner->async.loop != uv_default_loop();
  for (SpawnJob* job : spawner->done) {
    if (job->pidfd >= 0 && !(worker && background_reaper::Adopt(job->pidfd))) ::close(job->pidfd);
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

}  // namespace posix_process::spawn
