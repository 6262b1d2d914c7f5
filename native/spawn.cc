// The safe spawn: a clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) child that runs the prepared
// ChildPlan (spawn_child.cc) and execs, started from a dedicated spawning thread.
//
// Why a thread of our own:
// - The JS thread never blocks on a spawn (vfork suspends the thread that clones until the child
//   has exec'd, which takes a while for big programs or slow file systems), and the libuv
//   threadpool, shared with fs and dns, is never tied up.
// - PR_SET_PDEATHSIG fires when the *thread* that created the child exits. This thread lives as
//   long as the Node environment, so pdeathsig means "when this Node process goes away".
// - It runs with every signal blocked, so no handler of Node's can run in a child that shares its
//   memory before the child has reset the dispositions.
//
// daemon() (lib/daemon.ts) goes through the same path: its plan has `daemonize` set, and the child
// clones the daemon after setsid (spawn_child.cc, Daemonize).
//
// Requests are built completely on the JS thread (every string, array and fd table), queued, run
// one at a time on the spawning thread, and their results handed back through a uv_async_t.
//
// Man pages: clone(2), pidfd_open(2), pidfd_send_signal(2), vfork(2).
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

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
#include "util/strings.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

namespace posix_process::spawn {

namespace {

constexpr size_t kChildStackSize = 256 * 1024;
// Two stacks in one mapping: the child's on top, and below it the daemon's, which runs while the
// child of daemon() is suspended in clone (both share this memory).
constexpr size_t kStackMapSize = 2 * kChildStackSize;

// One spawn: the plan and everything it points to, then the outcome.
struct SpawnJob {
  std::vector<std::string> candidate_storage;
  std::vector<const char*> candidates;
  CStringArray argv;
  CStringArray envp;
  std::string cwd;
  std::vector<std::string> paths;
  std::vector<FdPlan> fds;
  std::vector<gid_t> groups;
  std::vector<RlimitPlan> rlimits;
  ChildPlan plan = {};

  pid_t pid = -1;
  int pidfd = -1;
  int clone_error = 0;

  double id = 0;  // the facade's handle for this spawn
};

struct Spawner {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<SpawnJob*> pending;  // guarded by mutex
  std::vector<SpawnJob*> done;    // guarded by mutex
  bool stopping = false;          // guarded by mutex
  size_t in_flight = 0;           // JS thread only: keeps the loop alive while > 0

  // One JS function receives every finished spawn, in batches: one call per wake-up instead of
  // one per child keeps the event loop's share of a burst of spawns small.
  Napi::FunctionReference dispatcher;
  std::unique_ptr<Napi::AsyncContext> async_context;
  napi_async_cleanup_hook_handle cleanup_handle = nullptr;  // set while tearing down

  uv_async_t async;
  std::thread thread;
  void* stack = nullptr;
};

// A signal set as a BigInt whose bit (signo - 1) stands for signo (built by the facade).
uint64_t SignalBits(Napi::Value value) {
  bool lossless;
  return value.As<Napi::BigInt>().Uint64Value(&lossless);
}

uint64_t RlimitValue(Napi::Value value) {
  if (value.IsBigInt()) {
    bool lossless;
    return value.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  double number = value.As<Napi::Number>().DoubleValue();
  return number == INFINITY ? RLIM64_INFINITY : static_cast<uint64_t>(number);
}

// Builds the job from the request the facade (lib/spawn.ts) validated. Allocates freely: this
// runs on the JS thread, long before the child exists.
std::unique_ptr<SpawnJob> BuildJob(Napi::Object request) {
  auto job = std::make_unique<SpawnJob>();
  auto candidates = request.Get("candidates").As<Napi::Array>();
  for (uint32_t i = 0; i < candidates.Length(); i++) {
    job->candidate_storage.push_back(BytesArgument(candidates.Get(i), "file"));
  }
  for (std::string& candidate : job->candidate_storage)
    job->candidates.push_back(candidate.c_str());
  job->argv.Assign(request.Get("argv"), "argv");
  if (request.Has("envp")) {
    job->envp.Assign(request.Get("envp"), "env");
  } else {
    // The facade leaves envp out on the main thread when the caller gave no env: Node keeps
    // process.env in the real environment there, and copying environ natively is much cheaper
    // than building it from process.env in JavaScript.
    job->envp.AssignEnviron();
  }

  ChildPlan& plan = job->plan;
  plan.candidates = job->candidates.data();
  plan.candidate_count = job->candidates.size();
  plan.argv = job->argv.data();
  plan.envp = job->envp.data();

  if (request.Has("cwd")) {
    job->cwd = BytesArgument(request.Get("cwd"), "cwd");
    plan.cwd = job->cwd.c_str();
  }

  auto fds = request.Get("fds").As<Napi::Array>();
  job->paths.reserve(fds.Length());  // no reallocation: FdPlan keeps pointers into it
  plan.max_target = 2;
  for (uint32_t i = 0; i < fds.Length(); i++) {
    auto fd = fds.Get(i).As<Napi::Object>();
    FdPlan entry = {};
    entry.target = fd.Get("target").As<Napi::Number>().Int32Value();
    entry.source = -1;
    if (fd.Has("source")) {
      entry.source = fd.Get("source").As<Napi::Number>().Int32Value();
      entry.optional = fd.Get("optional").ToBoolean();
    } else {
      job->paths.push_back(BytesArgument(fd.Get("path"), "path"));
      entry.path = job->paths.back().c_str();
      entry.flags = fd.Get("flags").As<Napi::Number>().Int32Value();
      entry.mode = fd.Get("mode").As<Napi::Number>().Int32Value();
    }
    if (entry.target > plan.max_target) plan.max_target = entry.target;
    job->fds.push_back(entry);
  }
  plan.fds = job->fds.data();
  plan.fd_count = job->fds.size();

  plan.setsid = request.Get("setsid").ToBoolean();
  plan.pgid = request.Has("pgid") ? request.Get("pgid").As<Napi::Number>().Int32Value() : -1;

  if (request.Has("groups")) {
    auto groups = request.Get("groups").As<Napi::Array>();
    for (uint32_t i = 0; i < groups.Length(); i++) {
      job->groups.push_back(groups.Get(i).As<Napi::Number>().Uint32Value());
    }
    plan.set_groups = true;
    plan.groups = job->groups.data();
    plan.group_count = job->groups.size();
  }
  plan.gid = request.Has("gid") ? request.Get("gid").As<Napi::Number>().Int64Value() : -1;
  plan.uid = request.Has("uid") ? request.Get("uid").As<Napi::Number>().Int64Value() : -1;

  auto rlimits = request.Get("rlimits").As<Napi::Array>();
  for (uint32_t i = 0; i < rlimits.Length(); i++) {
    auto limit = rlimits.Get(i).As<Napi::Object>();
    job->rlimits.push_back({limit.Get("resource").As<Napi::Number>().Int32Value(),
                            RlimitValue(limit.Get("soft")), RlimitValue(limit.Get("hard"))});
  }
  plan.rlimits = job->rlimits.data();
  plan.rlimit_count = job->rlimits.size();

  plan.set_nice = request.Has("nice");
  plan.nice = plan.set_nice ? request.Get("nice").As<Napi::Number>().Int32Value() : 0;
  plan.umask = request.Has("umask") ? request.Get("umask").As<Napi::Number>().Int32Value() : -1;
  plan.pdeathsig = request.Get("pdeathsig").As<Napi::Number>().Int32Value();
  plan.parent_pid = ::getpid();
  plan.sigmask = SignalBits(request.Get("sigmask"));
  plan.reset_to_default = SignalBits(request.Get("resetToDefault"));
  plan.daemonize = request.Has("daemonize") && request.Get("daemonize").ToBoolean();
  if (plan.daemonize) {
    // The daemon's parent is the intermediate child, which exits at once: a parent-death signal
    // would fire immediately, and a process group to join would be in another session.
    plan.pdeathsig = 0;
    plan.pgid = -1;
  }
  return job;
}

// On the spawning thread: clone, wait for exec (CLONE_VFORK), and reap the child at once if a
// step failed, so that a failed spawn leaves no zombie. For daemon() the child is only the
// intermediate process: it has exited by the time clone returns (the daemon has exec'd or
// failed), it is always reaped here, and the result is the daemon's pid. Its pidfd, held until
// then, tells a reaper in this process (startReaper) to leave it to us.
void RunJob(Spawner* spawner, SpawnJob* job) {
  char* stack_top = static_cast<char*>(spawner->stack) + kStackMapSize;
  job->plan.daemon_stack_top = static_cast<char*>(spawner->stack) + kChildStackSize;
  int pidfd = -1;
  pid_t pid = ::clone(RunChild, stack_top, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD,
                      &job->plan, &pidfd);
  if (pid == -1) {
    job->clone_error = errno;
    return;
  }
  job->pid = pid;
  job->pidfd = pidfd;
  if (job->plan.error != 0 || job->plan.daemonize) {
    // ECHILD only if the user reaped it with waitpid(-1) first: gone either way.
    int status;
    while (::waitpid(pid, &status, 0) == -1 && errno == EINTR) {
    }
    ::close(pidfd);
    job->pidfd = -1;
    if (job->plan.daemonize) job->pid = job->plan.daemon_pid;
  }
}

void SpawnerThread(Spawner* spawner) {
  for (;;) {
    SpawnJob* job;
    {
      std::unique_lock<std::mutex> lock(spawner->mutex);
      spawner->wake.wait(lock, [&] { return spawner->stopping || !spawner->pending.empty(); });
      if (spawner->stopping) return;
      job = spawner->pending.front();
      spawner->pending.pop_front();
    }
    RunJob(spawner, job);
    {
      std::lock_guard<std::mutex> lock(spawner->mutex);
      spawner->done.push_back(job);
    }
    uv_async_send(&spawner->async);
  }
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

// On the JS thread: hands the finished jobs to the dispatcher as one array of
// { id, pid, pidfd } | { id, errno, step, stepIndex } (pidfd -1 for a daemon: not our child).
void OnJobsDone(uv_async_t* handle) {
  auto* spawner = static_cast<Spawner*>(handle->data);
  std::vector<SpawnJob*> done;
  {
    std::lock_guard<std::mutex> lock(spawner->mutex);
    done.swap(spawner->done);
  }
  if (done.empty()) return;
  Napi::Env env = spawner->dispatcher.Env();
  Napi::HandleScope scope(env);
  Napi::Array results = Napi::Array::New(env, done.size());
  for (size_t i = 0; i < done.size(); i++) {
    std::unique_ptr<SpawnJob> job(done[i]);
    Napi::Object result = Napi::Object::New(env);
    result.Set("id", job->id);
    if (job->clone_error != 0) {
      result.Set("errno", job->clone_error);
      result.Set("step", "clone");
      result.Set("stepIndex", 0);
    } else if (job->plan.error != 0) {
      result.Set("errno", job->plan.error);
      result.Set("step", StepName(job->plan.step));
      result.Set("stepIndex", job->plan.step_index);
    } else {
      result.Set("pid", job->pid);
      result.Set("pidfd", job->pidfd);
    }
    results.Set(static_cast<uint32_t>(i), result);
  }
  spawner->in_flight -= done.size();
  if (spawner->in_flight == 0) uv_unref(reinterpret_cast<uv_handle_t*>(&spawner->async));
  try {
    spawner->dispatcher.MakeCallback(env.Global(), {results}, *spawner->async_context);
  } catch (const Napi::Error& error) {
    napi_fatal_exception(env, error.Value());
  }
}

// spawnSetDispatcher(fn): the function that receives finished spawns (see OnJobsDone).
Napi::Value SpawnSetDispatcher(const Napi::CallbackInfo& info) {
  auto* spawner = static_cast<Spawner*>(info.Data());
  if (!info[0].IsFunction())
    throw Napi::TypeError::New(info.Env(), "dispatcher must be a function");
  spawner->dispatcher = Napi::Persistent(info[0].As<Napi::Function>());
  spawner->async_context = std::make_unique<Napi::AsyncContext>(info.Env(), "posix-process:spawn");
  return info.Env().Undefined();
}

// spawnStart(request, id): queues a spawn; its result reaches the dispatcher with this id.
Napi::Value SpawnStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* spawner = static_cast<Spawner*>(info.Data());
  if (!info[0].IsObject() || !info[1].IsNumber() || spawner->dispatcher.IsEmpty()) {
    throw Napi::TypeError::New(env, "spawnStart(request, id) after spawnSetDispatcher");
  }
  std::unique_ptr<SpawnJob> job = BuildJob(info[0].As<Napi::Object>());
  job->id = info[1].As<Napi::Number>().DoubleValue();
  if (spawner->in_flight++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(&spawner->async));
  bool was_idle;
  {
    std::lock_guard<std::mutex> lock(spawner->mutex);
    was_idle = spawner->pending.empty();
    spawner->pending.push_back(job.release());
  }
  // A thread with work queued will find this job without a wake-up (a futex call saved for
  // every spawn of a burst but the first).
  if (was_idle) spawner->wake.notify_one();
  return env.Undefined();
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

// Moves a new fd to 3 or above, so that it can never be mistaken for stdio in a child of a
// parent whose fds 0..2 are closed.
int AboveStdio(int fd) {
  if (fd > 2) return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int err = errno;
  ::close(fd);
  errno = err;
  return moved;
}

// pipe() -> [readFd, writeFd], both close-on-exec and numbered 3 or above.
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    int err = errno;
    throw SyscallError(info.Env(), err, "pipe2");
  }
  for (int& fd : fds) {
    fd = AboveStdio(fd);
    if (fd < 0) {
      int err = errno;
      for (int other : fds) {
        if (other > 2) ::close(other);
      }
      throw SyscallError(info.Env(), err, "fcntl");
    }
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
    std::lock_guard<std::mutex> lock(spawner->mutex);
    spawner->stopping = true;
  }
  spawner->wake.notify_one();
  if (spawner->thread.joinable()) spawner->thread.join();
  for (SpawnJob* job : spawner->pending) delete job;
  for (SpawnJob* job : spawner->done) {
    if (job->pidfd >= 0) ::close(job->pidfd);
    delete job;
  }
  munmap(spawner->stack, kStackMapSize);
  spawner->dispatcher.Reset();
  spawner->async_context.reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&spawner->async), [](uv_handle_t* closed) {
    auto* stopped = static_cast<Spawner*>(closed->data);
    napi_remove_async_cleanup_hook(stopped->cleanup_handle);
    delete stopped;
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
  uv_async_init(loop, &spawner->async, OnJobsDone);
  spawner->async.data = spawner;
  uv_unref(reinterpret_cast<uv_handle_t*>(&spawner->async));

  // The thread inherits the mask of its creator: block everything around its creation.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  spawner->thread = std::thread(SpawnerThread, spawner);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);

  napi_add_async_cleanup_hook(env, StopSpawner, spawner, nullptr);
  exports.Set("spawnStart", Napi::Function::New(env, SpawnStart, "spawnStart", spawner));
  exports.Set("spawnSetDispatcher",
              Napi::Function::New(env, SpawnSetDispatcher, "spawnSetDispatcher", spawner));
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignal, "pidfdSendSignal"));
  exports.Set("spawnOptionConstants", Constants(env));
}

}  // namespace posix_process::spawn
