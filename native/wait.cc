// Waiting for children.
//
// Synchronous: waitpid(2), wait4(2) and waitid(2) (through the raw syscall, whose fifth argument
// returns the child's rusage), retried on EINTR. Status decoding is done in TypeScript
// (lib/wait-status.ts); native code returns the raw status or the siginfo fields.
//
// Asynchronous: pidfd_open(2) + a libuv poll handle on the event loop + waitid(P_PIDFD) once the
// pidfd is readable. No thread per waiting child and no libuv threadpool work, so thousands of
// waits cost thousands of fds and nothing else. Each wait reaps only the pid it names.
//
// Man pages: wait(2), wait4(2), pidfd_open(2), getrusage(2), uv_poll_t in libuv's docs.
#include "wait.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "background_reaper.h"
#include "testing.h"
#include "util/arguments.h"
#include "util/error.h"
#include "util/fds.h"
#include "util/reserve.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace posix_process::wait {

namespace {

// The wait record: one Float64Array per environment that every wait with a siginfo or rusage
// fills and the facade reads back at once (lib/wait.ts, fromWaitRecord). Setting a dozen
// properties natively for each result cost more than the wait itself; a plain store does not.
enum WaitRecordSlot : int {
  kPid = 0,
  kUid,
  kCode,    // waitid: si_code (CLD_*)
  kStatus,  // waitid: si_status; wait4: the raw wait status
  kUserTime,
  kSystemTime,
  kMaxRss,
  kMinorFaults,
  kMajorFaults,
  kVoluntarySwitches,
  kInvoluntarySwitches,
  kBlockInputs,
  kBlockOutputs,
  kWaitRecordSlots,
};

// Whole microseconds divided once, as Node's process.resourceUsage() / 1e6 gives: tv_sec +
// tv_usec / 1e6 rounds twice and is one ulp off for about 1 value in 6 from 1 s on.
double Seconds(const struct timeval& time) {
  return (static_cast<double>(time.tv_sec) * 1e6 + static_cast<double>(time.tv_usec)) / 1e6;
}

void FillRusage(double* record, const struct rusage& usage) {
  record[kUserTime] = Seconds(usage.ru_utime);
  record[kSystemTime] = Seconds(usage.ru_stime);
  // Linux reports ru_maxrss in kilobytes.
  record[kMaxRss] = static_cast<double>(usage.ru_maxrss) * 1024;
  record[kMinorFaults] = static_cast<double>(usage.ru_minflt);
  record[kMajorFaults] = static_cast<double>(usage.ru_majflt);
  record[kVoluntarySwitches] = static_cast<double>(usage.ru_nvcsw);
  record[kInvoluntarySwitches] = static_cast<double>(usage.ru_nivcsw);
  record[kBlockInputs] = static_cast<double>(usage.ru_inblock);
  record[kBlockOutputs] = static_cast<double>(usage.ru_oublock);
}

void FillSiginfo(double* record, const siginfo_t& info, const struct rusage& usage) {
  record[kPid] = info.si_pid;
  record[kUid] = static_cast<double>(info.si_uid);
  record[kCode] = info.si_code;
  record[kStatus] = info.si_status;
  FillRusage(record, usage);
}

// waitid with the kernel's fifth argument (rusage), which glibc's wrapper does not expose.
int WaitIdWithRusage(idtype_t idtype, id_t id, siginfo_t* info, int options, struct rusage* usage) {
  return static_cast<int>(syscall(SYS_waitid, idtype, id, info, options, usage));
}

// WaitIdWithRusage retried on EINTR. The kernel leaves si_pid as it was when WNOHANG finds
// nothing, so siginfo is zeroed first: si_pid 0 then means "nothing ready".
int WaitIdRetrying(idtype_t idtype, id_t id, int options, siginfo_t* info, struct rusage* usage) {
  int result;
  do {
    std::memset(info, 0, sizeof *info);
    std::memset(usage, 0, sizeof *usage);
    result = WaitIdWithRusage(idtype, id, info, options, usage);
  } while (result == -1 && errno == EINTR);
  return result;
}

struct PidfdWaiter;

// Per-environment registry of the waits in progress, so that they can be cancelled by id and
// closed when the environment is torn down.
struct WaitState {
  uv_loop_t* loop = nullptr;
  uint64_t next_id = 1;  // below 2**53: the facade holds ids as numbers
  std::unordered_map<uint64_t, PidfdWaiter*> waiters;
  // The epoll set of the waited-for pidfds (event data: the wait's id), watched by epoll_poll.
  int epoll_fd = -1;
  uv_poll_t epoll_poll;
  bool shares_parent_set = false;  // a fork child that could not get a set of its own
  int fork_spare = -1;             // the fork child's set, made before the fork (MakeForkSpares)
  size_t referenced = 0;  // waiters that keep the loop alive; epoll_poll is ref'ed while > 0
  // Waits whose pidfd was readable with no exit to reap (see OnWaitSetReadable), checked again
  // by this timer (never ref'ed: epoll_poll keeps the loop alive for them), backing off.
  uv_timer_t recheck_timer;
  std::vector<uint64_t> rechecking;  // wait ids
  uint64_t recheck_delay_ms = 0;
  int open_handles = 2;  // epoll_poll and recheck_timer, until their close callbacks
  // One async context for every wait's callback: napi_async_init per wait cost more than the
  // wait itself, and promise continuations keep their own context (AsyncLocalStorage) anyway.
  std::unique_ptr<Napi::AsyncContext> async_context;
  napi_async_cleanup_hook_handle cleanup_handle = nullptr;  // set while tearing down
  // The wait record of the synchronous waits (see WaitRecordSlot).
  Napi::Reference<Napi::Float64Array> record_array;
  // The record handed to the callbacks of asynchronous waits, one after another (see
  // FinishWaiter). Not the synchronous waits' record: async_hooks callbacks run JavaScript, which
  // may wait synchronously, between the fill and the callback.
  Napi::Reference<Napi::Float64Array> async_record_array;
};

// The wait record's memory, looked up at each use: a caller could have detached its buffer.
double* SharedRecord(Napi::Env env, WaitState* state) {
  Napi::Float64Array record = state->record_array.Value();
  if (record.ElementLength() < kWaitRecordSlots) {
    throw Napi::Error::New(env, "waitRecord's buffer was detached");
  }
  return record.Data();
}

// getrusage(who): this process's (or its children's, or this thread's) usage, written to the
// wait record's rusage slots like a wait4's (lib/resources.ts reads it back with the same code).
Napi::Value GetRusage(const Napi::CallbackInfo& info) {
  auto* state = static_cast<WaitState*>(info.Data());
  int who = Int32Argument(info, 0, "who");
  double* record = SharedRecord(info.Env(), state);
  struct rusage usage;
  if (::getrusage(who, &usage) == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "getrusage");
  }
  FillRusage(record, usage);
  return info.Env().Undefined();
}

// waitpid(pid, options) and wait4(pid, options) -> the pid, or null (WNOHANG and nothing
// ready). The raw status goes to the wait record, and for wait4 the rusage too: waitpid(2) is
// wait4(2) without the rusage.
Napi::Value WaitForPid(const Napi::CallbackInfo& info, bool with_rusage) {
  auto* state = static_cast<WaitState*>(info.Data());
  double* record = SharedRecord(info.Env(), state);  // before the wait: a reaped child is not lost
  pid_t pid = Int32Argument(info, 0, "pid");
  int options = Int32Argument(info, 1, "options");
  int status = 0;
  struct rusage usage;
  std::memset(&usage, 0, sizeof usage);
  pid_t result;
  do {
    result = ::wait4(pid, &status, options, with_rusage ? &usage : nullptr);
  } while (result == -1 && errno == EINTR);
  if (result == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, with_rusage ? "wait4" : "waitpid");
  }
  if (result == 0) return info.Env().Null();
  record[kPid] = result;
  record[kStatus] = status;
  if (with_rusage) FillRusage(record, usage);
  return Napi::Number::New(info.Env(), result);
}

Napi::Value WaitPid(const Napi::CallbackInfo& info) {
  return WaitForPid(info, false);
}
Napi::Value Wait4(const Napi::CallbackInfo& info) {
  return WaitForPid(info, true);
}

// waitid(idtype, id, options) -> the pid, with the siginfo and rusage in the wait record, or
// null (WNOHANG and nothing ready).
Napi::Value WaitId(const Napi::CallbackInfo& info) {
  auto* state = static_cast<WaitState*>(info.Data());
  int idtype = Int32Argument(info, 0, "idtype");
  // id_t is unsigned; the facade passes non-negative values only.
  int64_t id = info[1].As<Napi::Number>().Int64Value();
  int options = Int32Argument(info, 2, "options");
  if (id < 0 || id > UINT32_MAX) throw Napi::RangeError::New(info.Env(), "id out of range");
  double* record = SharedRecord(info.Env(), state);  // before the wait: a reaped child is not lost
  siginfo_t siginfo;
  struct rusage usage;
  int result = WaitIdRetrying(static_cast<idtype_t>(idtype), static_cast<id_t>(id), options,
                              &siginfo, &usage);
  if (result == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "waitid");
  }
  if (siginfo.si_pid == 0) return info.Env().Null();
  FillSiginfo(record, siginfo, usage);
  return Napi::Number::New(info.Env(), siginfo.si_pid);
}

// ---- Asynchronous waits on pidfds ----
//
// Every pidfd waited for goes into one epoll set per environment, and libuv watches only that
// set (one uv_poll_t): adding a wait is one epoll_ctl and finishing it one close, where a
// uv_poll_t per pidfd cost five system calls and a closing handle per child. EPOLLONESHOT: an
// entry left behind (a pidfd the caller dup'ed and closed) fires once, never in a loop.
//
// fork(2) shares an epoll set between parent and child: a child using the parent's would take
// and remove the parent's registrations. The child gets a new, empty set on the same fd number
// (which libuv's uv_loop_fork watches again; fork.cc makes it before forking, MakeForkSpares, so
// that the child needs no free fd), and lib/fork.ts calls waitAfterFork, which ends the
// inherited waits at once with ECHILD: their processes are the parent's children.
struct PidfdWaiter {
  uint64_t id;
  pid_t pid;
  int pidfd;
  Napi::FunctionReference callback;
  bool referenced = true;  // counted in WaitState::referenced (child.unref() clears it)
};

std::mutex live_states_mutex;
std::vector<WaitState*> live_states;  // guarded by live_states_mutex

void RememberWaitState(WaitState* state) {
  std::lock_guard<std::mutex> lock(live_states_mutex);
  live_states.push_back(state);
}

void ForgetWaitState(WaitState* state) {
  std::lock_guard<std::mutex> lock(live_states_mutex);
  live_states.erase(std::find(live_states.begin(), live_states.end(), state));
}

// See HandOverPidfd: numbers of open pidfds, so that one process-wide set serves every
// environment.
std::mutex handed_over_mutex;
std::unordered_set<int> handed_over;  // guarded by handed_over_mutex

void BeforeFork() {
  live_states_mutex.lock();
  handed_over_mutex.lock();
}
void AfterForkInParent() {
  handed_over_mutex.unlock();
  live_states_mutex.unlock();
}
// System calls only: this also runs in children that go on to exec (another addon's fork).
void AfterForkInChild() {
  for (WaitState* state : live_states) {
    if (FreshEpollSetInForkChild(state->epoll_fd, &state->fork_spare) != 0) {
      state->shares_parent_set = true;  // never touched again in this process
    }
  }
  handed_over_mutex.unlock();
  live_states_mutex.unlock();
}

// Closes the pidfd and frees the waiter; the callback is not called. EPOLL_CTL_DEL first: if the
// caller dup'ed the pidfd, closing ours alone would leave it registered.
void DropWaiter(WaitState* state, PidfdWaiter* waiter) {
  state->waiters.erase(waiter->id);
  if (waiter->pidfd != -1) {
    if (!state->shares_parent_set)
      epoll_ctl(state->epoll_fd, EPOLL_CTL_DEL, waiter->pidfd, nullptr);
    ::close(waiter->pidfd);
  }
  if (waiter->referenced && --state->referenced == 0) {
    uv_unref(reinterpret_cast<uv_handle_t*>(&state->epoll_poll));
  }
  delete waiter;
}

// Calls the JavaScript callback as callback(error, record), the record laid out as the wait
// record and reused by the next call (the callback reads it at once), in the waits' async
// context, so that promise continuations run right after it.
void FinishWaiter(WaitState* state, PidfdWaiter* waiter, int err, const siginfo_t* siginfo,
                  const struct rusage* usage) {
  Napi::Env env = waiter->callback.Env();
  Napi::FunctionReference callback = std::move(waiter->callback);
  DropWaiter(state, waiter);
  Napi::HandleScope scope(env);
  // A worker that an earlier callback of this batch made exit (process.exit() in a promise job)
  // can run no JavaScript: node-addon-api would abort the process making an Error there.
  if (!CanRunJavaScript(env)) return;
  try {
    napi_value error;
    napi_value record;
    if (err != 0) {
      error = SyscallError(env, err, "waitid").Value();
      record = env.Undefined();
    } else {
      error = env.Null();
      // The callback reads the record before it returns, and nothing between the fill and the
      // callback can finish another asynchronous wait: one record serves them all, which spares
      // a typed array per wait. A new one only if a direct caller of the binding detached it.
      Napi::Float64Array async_record = state->async_record_array.Value();
      if (async_record.ElementLength() < kWaitRecordSlots) {
        async_record = Napi::Float64Array::New(env, kWaitRecordSlots);
      }
      FillSiginfo(async_record.Data(), *siginfo, *usage);
      record = async_record;
    }
    testing::ThrowIfWaitCallbackFailureInjected();
    napi_value argv[] = {error, record};
    MakeCallbackReporting(env, *state->async_context, callback.Value(), 2, argv);
  } catch (...) {
    // The facade's callback only settles a promise; anything thrown here (or a bad_alloc) must
    // surface as an uncaught exception, not be swallowed nor unwind into libuv.
    ReportCurrentException(env);
  }
}

// Reaps the waiter's child if it has exited and finishes the wait (also with waitid's error,
// ECHILD: someone else reaped the child first, e.g. a waitpid(-1) elsewhere). Returns false when
// there is nothing to reap yet: the wait is still pending.
bool ReapIfExited(WaitState* state, PidfdWaiter* waiter) {
  siginfo_t siginfo;
  struct rusage usage;
  if (WaitIdRetrying(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(waiter->pidfd),
                     WEXITED | WNOHANG, &siginfo, &usage) == -1) {
    FinishWaiter(state, waiter, errno, nullptr, nullptr);
  } else if (siginfo.si_pid != 0) {
    FinishWaiter(state, waiter, 0, &siginfo, &usage);
  } else {
    testing::CountWaitRecheck();
    return false;
  }
  return true;
}

// The recheck timer's delays: 1 ms, doubled at each round up to 100 ms, while a wait is left.
constexpr uint64_t kFirstRecheckMs = 1;
constexpr uint64_t kLastRecheckMs = 100;

void OnRecheckDue(uv_timer_t* timer) {
  auto* state = static_cast<WaitState*>(timer->data);
  // Compacted in place (no allocation in a libuv callback); nothing else changes the list
  // meanwhile: only this and OnWaitSetReadable, another libuv callback, add to it.
  std::vector<uint64_t>& ids = state->rechecking;
  size_t kept = 0;
  for (size_t i = 0; i < ids.size(); i++) {
    // A callback of this round may have started or cancelled waits: one gone is skipped.
    auto found = state->waiters.find(ids[i]);
    if (found != state->waiters.end() && !ReapIfExited(state, found->second)) ids[kept++] = ids[i];
  }
  ids.resize(kept);
  if (state->rechecking.empty() || uv_is_active(reinterpret_cast<uv_handle_t*>(timer))) return;
  state->recheck_delay_ms = std::min(state->recheck_delay_ms * 2, kLastRecheckMs);
  uv_timer_start(timer, OnRecheckDue, state->recheck_delay_ms, 0);
}

// The epoll set is readable: reap every child whose pidfd is. A callback may start or cancel
// waits; an event whose wait is gone is skipped.
//
// A pidfd is readable once its process is a zombie, which its parent can reap, except a zombie
// held by a tracer that is not the parent (wait(2): only the tracer sees it, until it lets go),
// or one its tracer is reaping at that moment. Such a wait is checked again by a timer, not
// watched again: the pidfd stays readable, so an EPOLL_CTL_MOD would report it again at once,
// in a loop that took a core for as long as the tracer held the zombie.
void OnWaitSetReadable(uv_poll_t* handle, int status, int events) {
  auto* state = static_cast<WaitState*>(handle->data);
  epoll_event ready[64];
  int count;
  do {
    count = epoll_wait(state->epoll_fd, ready, 64, 0);
  } while (count == -1 && errno == EINTR);
  for (int i = 0; i < count; i++) {
    auto found = state->waiters.find(ready[i].data.u64);
    if (found == state->waiters.end() || ReapIfExited(state, found->second)) continue;
    state->rechecking.push_back(ready[i].data.u64);
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&state->recheck_timer))) {
      state->recheck_delay_ms = kFirstRecheckMs;
      uv_timer_start(&state->recheck_timer, OnRecheckDue, kFirstRecheckMs, 0);
    }
  }
}

// The pidfd of a wait that cannot start: closed. A child the library spawned (`adopted`) is
// SIGKILLed and reaped first: nobody else would wait for it, and it would run on. Blocking, but
// only for the end of a killed process.
void GiveUpPidfd(int pidfd, bool adopted) noexcept {
  if (adopted && syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) == 0) {
    siginfo_t siginfo;
    struct rusage usage;
    WaitIdRetrying(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), WEXITED, &siginfo,
                   &usage);
  }
  ::close(pidfd);
}

// A wait whose epoll_ctl failed with `err`: gives up its pidfd and throws.
[[noreturn]] void FailToStart(Napi::Env env, int pidfd, bool adopted, int err) {
  GiveUpPidfd(pidfd, adopted);
  throw SyscallError(env, err, "epoll_ctl");
}

// Starts watching `pidfd` (which the waiter now owns and closes) and returns the wait's id.
// `adopted`: the pidfd of a child the library spawned (pidfdWaitAdopt), see GiveUpPidfd.
uint64_t StartWaiter(Napi::Env env, WaitState* state, pid_t pid, int pidfd, Napi::Function callback,
                     bool adopted) {
  // Not a pidfd: the caller's fd is the set itself, and stays open.
  if (pidfd == state->epoll_fd) throw SyscallError(env, EBADF, "epoll_ctl");
  if (state->shares_parent_set) FailToStart(env, pidfd, adopted, EMFILE);
  // Everything that can throw comes before the pidfd joins the set, and gives the pidfd up.
  std::unique_ptr<PidfdWaiter> waiter;
  decltype(state->waiters)::iterator registered;
  try {
    testing::ThrowIfWaitRegistrationFailureInjected();
    waiter = std::make_unique<PidfdWaiter>();
    waiter->id = state->next_id++;
    waiter->pid = pid;
    waiter->pidfd = pidfd;
    waiter->callback = Napi::Persistent(callback);
    if (!state->async_context) {
      state->async_context = std::make_unique<Napi::AsyncContext>(env, "posix-process:waitAsync");
    }
    // The wait's place in the registry, and room for it in the recheck list (every live wait can
    // be there once, beside ids of waits gone since): neither grows in a libuv callback.
    ReserveRoom(state->rechecking, state->rechecking.size() + state->waiters.size() + 1);
    registered = state->waiters.emplace(waiter->id, waiter.get()).first;
  } catch (...) {
    GiveUpPidfd(pidfd, adopted);
    throw;
  }
  epoll_event event = {};
  event.events = EPOLLIN | EPOLLONESHOT;
  event.data.u64 = waiter->id;
  int err = testing::TakeInjectedEpollCtlError();
  if (err == 0 && epoll_ctl(state->epoll_fd, EPOLL_CTL_ADD, pidfd, &event) != 0) err = errno;
  if (err != 0) {
    state->waiters.erase(registered);
    FailToStart(env, pidfd, adopted, err);
  }
  // A pending wait keeps the event loop alive, like a running child_process child.
  if (state->referenced++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(&state->epoll_poll));
  return waiter.release()->id;
}

// pidfdWaitStart(pid, callback) -> id. Throws ESRCH (no such process) or ECHILD (not our child)
// synchronously; otherwise calls callback(error, record) once the child has exited and been
// reaped, with its siginfo and rusage in the record (laid out as the wait record).
Napi::Value PidfdWaitStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* state = static_cast<WaitState*>(info.Data());
  pid_t pid = Int32Argument(info, 0, "pid");
  if (pid <= 0) throw Napi::RangeError::New(env, "pid must be positive");
  if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "callback must be a function");

  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd == -1) {
    int err = errno;
    throw SyscallError(env, err, "pidfd_open");
  }
  // pidfd_open works on any process; only a child of ours can be waited for. Check now, without
  // reaping, so that the caller gets ECHILD at once instead of a wait that can never end.
  siginfo_t probe;
  std::memset(&probe, 0, sizeof probe);
  if (WaitIdWithRusage(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &probe,
                       WEXITED | WNOHANG | WNOWAIT, nullptr) == -1 &&
      errno != EINTR) {
    int err = errno;
    ::close(pidfd);
    throw SyscallError(env, err, "waitid");
  }
  return Napi::Number::New(
      env, StartWaiter(env, state, pid, pidfd, info[1].As<Napi::Function>(), false));
}

// pidfdWaitAdopt(pidfd, pid, callback) -> id: like pidfdWaitStart for a child whose pidfd the
// caller already has (from clone(CLONE_PIDFD)). The wait takes the fd over and closes it once
// the child has been reaped or the wait is cancelled.
Napi::Value PidfdWaitAdopt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* state = static_cast<WaitState*>(info.Data());
  int pidfd = Int32Argument(info, 0, "pidfd");
  pid_t pid = Int32Argument(info, 1, "pid");
  if (pidfd < 0 || pid <= 0) throw Napi::RangeError::New(env, "pidfd and pid must be positive");
  if (!info[2].IsFunction()) throw Napi::TypeError::New(env, "callback must be a function");
  {
    // Ours from here on, even if the wait cannot start (StartWaiter closes it then).
    std::lock_guard<std::mutex> lock(handed_over_mutex);
    handed_over.erase(pidfd);
  }
  return Napi::Number::New(env,
                           StartWaiter(env, state, pid, pidfd, info[2].As<Napi::Function>(), true));
}

// pidfdOpen(pid) -> a pidfd with O_CLOEXEC (pidfd_open sets it always).
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  pid_t pid = Int32Argument(info, 0, "pid");
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "pidfd_open");
  }
  return Napi::Number::New(info.Env(), pidfd);
}

// waitAfterFork() -> the callbacks of the waits this process inherited from its parent, now
// ended (pidfds closed, nothing left in the set): lib/fork.ts calls them with ECHILD.
Napi::Value WaitAfterFork(const Napi::CallbackInfo& info) {
  auto* state = static_cast<WaitState*>(info.Data());
  // Without a set of its own (AfterForkInChild), the poll handle would watch the parent's set
  // (uv_loop_fork registers it again) and take the parent's events: its waits would never end.
  if (state->shares_parent_set) uv_poll_stop(&state->epoll_poll);
  Napi::Array callbacks = Napi::Array::New(info.Env());
  while (!state->waiters.empty()) {
    PidfdWaiter* waiter = state->waiters.begin()->second;
    callbacks.Set(callbacks.Length(), waiter->callback.Value());
    // In the child's new, empty set its EPOLL_CTL_DEL finds nothing; the parent's set
    // (shares_parent_set) it leaves alone.
    DropWaiter(state, waiter);
  }
  return callbacks;
}

// pidfdWaitRef(id, ref): whether this wait keeps the event loop alive (child.ref/unref); the
// loop's one poll handle stays ref'ed while any wait does.
Napi::Value PidfdWaitRef(const Napi::CallbackInfo& info) {
  auto* state = static_cast<WaitState*>(info.Data());
  auto id = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  bool ref = info[1].ToBoolean();
  auto found = state->waiters.find(id);
  if (found == state->waiters.end() || found->second->referenced == ref)
    return info.Env().Undefined();
  found->second->referenced = ref;
  auto* handle = reinterpret_cast<uv_handle_t*>(&state->epoll_poll);
  if (ref && state->referenced++ == 0) uv_ref(handle);
  if (!ref && --state->referenced == 0) uv_unref(handle);
  return info.Env().Undefined();
}

// pidfdWaitCancel(id) -> true if the wait was still in progress (its callback will not run).
Napi::Value PidfdWaitCancel(const Napi::CallbackInfo& info) {
  auto* state = static_cast<WaitState*>(info.Data());
  auto id = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  auto found = state->waiters.find(id);
  if (found == state->waiters.end()) return Napi::Boolean::New(info.Env(), false);
  DropWaiter(state, found->second);
  return Napi::Boolean::New(info.Env(), true);
}

// Environment teardown (an async cleanup hook): stop every wait and free the state once libuv
// has closed the poll handle. Node waits for the hook to be removed before it unloads the addon
// of a worker, so the close callback never runs in unmapped code.
void CleanupWaitState(napi_async_cleanup_hook_handle handle, void* data) {
  auto* state = static_cast<WaitState*>(data);
  state->cleanup_handle = handle;
  // A worker's children outlive it: the background reaper takes the pidfds of those still
  // waited for, or each would be a zombie for the life of the process once it exits. The main
  // thread's end is the process's.
  bool worker = state->loop != uv_default_loop();
  while (!state->waiters.empty()) {
    PidfdWaiter* waiter = state->waiters.begin()->second;
    // Release the references while the environment still exists.
    waiter->callback.Reset();
    if (worker && !state->shares_parent_set) {
      epoll_ctl(state->epoll_fd, EPOLL_CTL_DEL, waiter->pidfd, nullptr);
      if (background_reaper::Adopt(waiter->pidfd)) waiter->pidfd = -1;
    }
    DropWaiter(state, waiter);
  }
  state->async_context.reset();
  state->record_array.Reset();
  state->async_record_array.Reset();
  ForgetWaitState(state);
  // The state goes with the last of its two handles.
  uv_close_cb closed = [](uv_handle_t* handle) {
    auto* stopped = static_cast<WaitState*>(handle->data);
    if (--stopped->open_handles > 0) return;
    ::close(stopped->epoll_fd);
    napi_remove_async_cleanup_hook(stopped->cleanup_handle);
    delete stopped;
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&state->recheck_timer), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&state->epoll_poll), closed);
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("WNOHANG", WNOHANG);
  constants.Set("WUNTRACED", WUNTRACED);
  constants.Set("WCONTINUED", WCONTINUED);
  constants.Set("WEXITED", WEXITED);
  constants.Set("WSTOPPED", WSTOPPED);
  constants.Set("WNOWAIT", WNOWAIT);
  constants.Set("P_ALL", static_cast<int>(P_ALL));
  constants.Set("P_PID", static_cast<int>(P_PID));
  constants.Set("P_PGID", static_cast<int>(P_PGID));
  constants.Set("P_PIDFD", P_PIDFD);
  constants.Set("CLD_EXITED", static_cast<int>(CLD_EXITED));
  constants.Set("CLD_KILLED", static_cast<int>(CLD_KILLED));
  constants.Set("CLD_DUMPED", static_cast<int>(CLD_DUMPED));
  constants.Set("CLD_TRAPPED", static_cast<int>(CLD_TRAPPED));
  constants.Set("CLD_STOPPED", static_cast<int>(CLD_STOPPED));
  constants.Set("CLD_CONTINUED", static_cast<int>(CLD_CONTINUED));
  return constants;
}

}  // namespace

int MakeForkSpares() {
  std::lock_guard<std::mutex> lock(live_states_mutex);
  return MakeEpollSpares(live_states, &WaitState::fork_spare);
}

void DropForkSpares() {
  std::lock_guard<std::mutex> lock(live_states_mutex);
  DropEpollSpares(live_states, &WaitState::fork_spare);
}

void HandOverPidfd(int pidfd) {
  std::lock_guard<std::mutex> lock(handed_over_mutex);
  handed_over.insert(pidfd);
}

void CloseUnclaimedPidfds(const std::vector<int>& pidfds) {
  for (int pidfd : pidfds) {
    bool unclaimed;
    {
      std::lock_guard<std::mutex> lock(handed_over_mutex);
      unclaimed = handed_over.erase(pidfd) != 0;
    }
    // Nobody will wait for that child (its worker ended during the hand-over): the background
    // reaper does, or it would be a zombie for the life of the process. Adopted without
    // handed_over_mutex: Adopt takes the reaper's mutex, which fork's prepare handlers take first.
    if (unclaimed && !background_reaper::Adopt(pidfd)) ::close(pidfd);
  }
}

void Initialize(Napi::Env env, Napi::Object exports) {
  auto* state = new WaitState();
  if (napi_get_uv_event_loop(env, &state->loop) != napi_ok) {
    delete state;
    throw Napi::Error::New(env, "napi_get_uv_event_loop failed");
  }
  state->epoll_fd = AboveStdio(epoll_create1(EPOLL_CLOEXEC));
  if (state->epoll_fd == -1) {
    int err = errno;
    delete state;
    throw SyscallError(env, err, "epoll_create1");
  }
  // Fails with ENOSPC once the user's epoll watches (fs.epoll.max_user_watches) are all in use.
  int result = uv_poll_init(state->loop, &state->epoll_poll, state->epoll_fd);
  if (result != 0) {
    ::close(state->epoll_fd);
    delete state;
    throw SyscallError(env, -result, "uv_poll_init");  // libuv's errors are -errno
  }
  state->epoll_poll.data = state;
  uv_poll_start(&state->epoll_poll, UV_READABLE, OnWaitSetReadable);
  uv_unref(reinterpret_cast<uv_handle_t*>(&state->epoll_poll));
  uv_timer_init(state->loop, &state->recheck_timer);  // cannot fail
  state->recheck_timer.data = state;
  uv_unref(reinterpret_cast<uv_handle_t*>(&state->recheck_timer));
  static std::once_flag fork_handlers;
  std::call_once(fork_handlers,
                 [] { pthread_atfork(BeforeFork, AfterForkInParent, AfterForkInChild); });
  RememberWaitState(state);
  // Before anything that can throw (a worker terminated while it loads the addon): the hook
  // closes the two handles, which left open would abort the process when the loop closes.
  napi_add_async_cleanup_hook(env, CleanupWaitState, state, nullptr);

  Napi::Float64Array record = Napi::Float64Array::New(env, kWaitRecordSlots);
  state->record_array = Napi::Persistent(record);
  state->async_record_array = Napi::Persistent(Napi::Float64Array::New(env, kWaitRecordSlots));

  exports.Set("waitRecord", record);
  exports.Set("waitpid", Napi::Function::New(env, WaitPid, "waitpid", state));
  exports.Set("wait4", Napi::Function::New(env, Wait4, "wait4", state));
  exports.Set("waitid", Napi::Function::New(env, WaitId, "waitid", state));
  exports.Set("getrusage", Napi::Function::New(env, GetRusage, "getrusage", state));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("pidfdWaitStart", Napi::Function::New(env, PidfdWaitStart, "pidfdWaitStart", state));
  exports.Set("pidfdWaitAdopt", Napi::Function::New(env, PidfdWaitAdopt, "pidfdWaitAdopt", state));
  exports.Set("waitAfterFork", Napi::Function::New(env, WaitAfterFork, "waitAfterFork", state));
  exports.Set("pidfdWaitCancel",
              Napi::Function::New(env, PidfdWaitCancel, "pidfdWaitCancel", state));
  exports.Set("pidfdWaitRef", Napi::Function::New(env, PidfdWaitRef, "pidfdWaitRef", state));
  exports.Set("waitConstants", Constants(env));
}

}  // namespace posix_process::wait
