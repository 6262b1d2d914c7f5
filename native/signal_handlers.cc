// Signal handlers delivered to JavaScript, with the sender's siginfo.
//
// Design (the same shape as libuv's src/unix/signal.c):
// - One SA_SIGINFO handler for the whole process. It saves errno, copies the interesting siginfo
//   fields into a fixed-size record and write(2)s it to the self-pipe of every environment (main
//   thread, workers) that watches that signal; it allocates nothing, takes no lock and calls no
//   N-API. Records are smaller than PIPE_BUF, so each write is atomic.
// - Each environment reads its pipe from a uv_poll_t on its own loop and hands the records to a
//   JavaScript dispatcher in one call, so handlers run on the event loop like any other callback.
// - Coexistence with Node: libuv installs its own handler when Node's first process.on('SIGINT')
//   listener is added (replacing ours) and sets SIG_DFL when the last one goes (replacing ours
//   again). "Reconcile" re-reads the disposition and, when it is not ours, remembers it as the one
//   to chain to and installs ours again. It runs synchronously after Node's listeners change (the
//   facade hooks process 'newListener'/'removeListener') and before every loop iteration from a
//   uv_prepare_t, for other libuv users such as child_process's SIGCHLD watcher.
// - Requested dispositions (ignore / default) are re-applied the same way when no JavaScript
//   handler wants the signal.
//
// Man pages: sigaction(2), signal(7), pipe(7), killpg(3), sigqueue(3).
#include "signal_handlers.h"

#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "testing.h"
#include "util/arguments.h"
#include "util/error.h"
#include "util/fds.h"

namespace posix_process::signal_handlers {

namespace {

// What the signal handler writes for each signal: int32 fields, read as an Int32Array in JS.
struct Record {
  int32_t signo;
  int32_t code;
  int32_t pid;
  int32_t uid;
  int32_t value;
  int32_t status;
};
constexpr int kRecordFields = sizeof(Record) / sizeof(int32_t);
static_assert(sizeof(Record) <= PIPE_BUF, "a record must be written atomically");

// One slot per environment that watches signals. The signal handler only reads the atomics.
struct Slot {
  std::atomic<int> write_fd{-1};
  std::atomic<uint64_t> mask{0};     // bit signo-1: this environment wants signo
  std::atomic<uint32_t> dropped{0};  // records lost because the pipe was full
  std::atomic<int> busy{0};          // handlers running on this slot right now
};
constexpr int kMaxEnvironments = 64;
Slot g_slots[kMaxEnvironments];

// The disposition we chain to, per signal, as the handler sees it.
std::atomic<uintptr_t> g_chain_handler[NSIG];
std::atomic<bool> g_chain_siginfo[NSIG];

// What the rest of the process wants when no JavaScript handler does; guarded by g_mutex.
enum Base { kUnmanaged = 0, kIgnore = 1, kDefault = 2 };
std::mutex g_mutex;
struct sigaction g_chain_action[NSIG];  // the full disposition we replaced, to restore it
bool g_chain_saved[NSIG];
Base g_base[NSIG];

uint64_t Bit(int signo) {
  return uint64_t{1} << (signo - 1);
}

void Handler(int signo, siginfo_t* info, void* context) {
  int saved_errno = errno;
  Record record{signo,
                info->si_code,
                info->si_pid,
                static_cast<int32_t>(info->si_uid),
                info->si_value.sival_int,
                info->si_status};
  for (Slot& slot : g_slots) {
    if ((slot.mask.load(std::memory_order_acquire) & Bit(signo)) == 0) continue;
    // busy before write_fd, both sequentially consistent: the environment cleanup clears write_fd
    // and then waits for busy to drop to 0, so it never closes an fd we are about to write to.
    slot.busy.fetch_add(1);
    int fd = slot.write_fd.load();
    if (fd >= 0) {
      ssize_t written;
      do {
        written = write(fd, &record, sizeof record);
      } while (written == -1 && errno == EINTR);
      if (written != static_cast<ssize_t>(sizeof record)) slot.dropped.fetch_add(1);
    }
    slot.busy.fetch_sub(1);
  }
  // Chain to the listening handler we replaced (libuv's), if any.
  uintptr_t chained = g_chain_handler[signo].load(std::memory_order_acquire);
  if (chained != 0) {
    if (g_chain_siginfo[signo].load(std::memory_order_acquire)) {
      reinterpret_cast<void (*)(int, siginfo_t*, void*)>(chained)(signo, info, context);
    } else {
      reinterpret_cast<void (*)(int)>(chained)(signo);
    }
  }
  errno = saved_errno;
}

bool IsOurs(const struct sigaction& action) {
  return (action.sa_flags & SA_SIGINFO) != 0 && action.sa_sigaction == Handler;
}

// A handler that stands for someone listening (libuv's, for Node's process.on listeners and
// child_process's SIGCHLD watcher), as opposed to SIG_DFL, SIG_IGN, or a one-shot SA_RESETHAND
// handler. Node installs such a one-shot handler for SIGINT and SIGTERM at start-up (SignalExit:
// reset the terminal, then die of the signal): it is the default action with a clean-up, so it
// is neither chained to (that would end the process) nor kept in place of an ignore/default.
bool IsListening(const struct sigaction& action) {
  if (action.sa_flags & SA_RESETHAND) return false;
  if (action.sa_flags & SA_SIGINFO) return action.sa_sigaction != nullptr;
  return action.sa_handler != SIG_DFL && action.sa_handler != SIG_IGN;
}

bool Wanted(int signo) {
  for (Slot& slot : g_slots) {
    if (slot.mask.load(std::memory_order_acquire) & Bit(signo)) return true;
  }
  return false;
}

void SetSimple(int signo, void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  sigaction(signo, &action, nullptr);
}

// Brings the kernel's disposition of `signo` in line with what JavaScript asked for. Called with
// g_mutex held. Returns 0 or an errno from sigaction.
int ReconcileLocked(int signo) {
  struct sigaction current {};
  if (sigaction(signo, nullptr, &current) == -1) return errno;
  if (Wanted(signo)) {
    if (IsOurs(current)) return 0;
    // Someone else (libuv, usually) set this disposition since we last looked: it is what the
    // rest of the process wants, so chain to it.
    g_chain_action[signo] = current;
    g_chain_saved[signo] = true;
    uintptr_t chained = 0;
    if (IsListening(current)) {
      chained = (current.sa_flags & SA_SIGINFO) ? reinterpret_cast<uintptr_t>(current.sa_sigaction)
                                                : reinterpret_cast<uintptr_t>(current.sa_handler);
    }
    g_chain_siginfo[signo].store((current.sa_flags & SA_SIGINFO) != 0, std::memory_order_release);
    g_chain_handler[signo].store(chained, std::memory_order_release);
    struct sigaction ours {};
    ours.sa_sigaction = Handler;
    ours.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    // Block every signal while ours runs, as libuv does for its own handler: the handler we chain
    // to (libuv's) takes a lock, and a second signal interrupting it would deadlock on it.
    sigfillset(&ours.sa_mask);
    if (sigaction(signo, &ours, nullptr) == -1) return errno;
    return 0;
  }
  Base base = g_base[signo];
  if (IsOurs(current)) {
    // The last JavaScript handler is gone: give the signal back.
    if (g_chain_saved[signo] && IsListening(g_chain_action[signo])) {
      sigaction(signo, &g_chain_action[signo], nullptr);
    } else if (base == kIgnore) {
      SetSimple(signo, SIG_IGN);
    } else if (base == kDefault) {
      SetSimple(signo, SIG_DFL);
    } else if (g_chain_saved[signo]) {
      sigaction(signo, &g_chain_action[signo], nullptr);
    } else {
      SetSimple(signo, SIG_DFL);
    }
    g_chain_handler[signo].store(0, std::memory_order_release);
    g_chain_saved[signo] = false;
    return 0;
  }
  // Not ours, so there is nothing to chain from any more.
  g_chain_handler[signo].store(0, std::memory_order_release);
  g_chain_saved[signo] = false;
  // A foreign handler (a Node listener) wins while it is there; otherwise apply the
  // requested disposition, which libuv may have reset to SIG_DFL.
  if (base == kUnmanaged || IsListening(current)) return 0;
  void (*wanted)(int) = base == kIgnore ? SIG_IGN : SIG_DFL;
  if (current.sa_handler != wanted) SetSimple(signo, wanted);
  return 0;
}

bool Managed(int signo) {
  return g_base[signo] != kUnmanaged || Wanted(signo);
}

void ReconcileAllLocked() {
  for (int signo = 1; signo < NSIG; signo++) {
    if (Managed(signo) || g_chain_saved[signo]) ReconcileLocked(signo);
  }
}

// Per-environment state: the pipe, its poll handle, the prepare handle and the JS dispatcher.
struct EnvSignals {
  napi_env env = nullptr;
  int slot = -1;
  int read_fd = -1;
  uv_poll_t* poll = nullptr;
  uv_prepare_t* prepare = nullptr;
  Napi::FunctionReference dispatcher;
  napi_async_cleanup_hook_handle cleanup_handle = nullptr;
  int open_handles = 0;
};

// The environment's state, or null before its first watch. Only touched on the env's thread.
EnvSignals* FindEnvSignals(napi_env env);
std::vector<EnvSignals*> g_envs;  // guarded by g_mutex

EnvSignals* FindEnvSignals(napi_env env) {
  std::lock_guard<std::mutex> lock(g_mutex);
  for (EnvSignals* state : g_envs) {
    if (state->env == env) return state;
  }
  return nullptr;
}

void Drain(EnvSignals* state) {
  std::vector<int32_t> fields;
  Record records[256];
  uint32_t unstored = 0;  // records read that memory could not hold: delivered as dropped ones
  for (;;) {
    ssize_t n = read(state->read_fd, records, sizeof records);
    if (n == -1 && errno == EINTR) continue;
    if (n <= 0) break;
    size_t count = static_cast<size_t>(n) / sizeof(Record);
    const int32_t* begin = reinterpret_cast<const int32_t*>(records);
    try {  // a libuv callback: a bad_alloc must not unwind into libuv (std::terminate)
      fields.insert(fields.end(), begin, begin + count * kRecordFields);
    } catch (const std::bad_alloc&) {
      unstored += static_cast<uint32_t>(count);
    }
  }
  uint32_t dropped = g_slots[state->slot].dropped.exchange(0) + unstored;
  if ((fields.empty() && dropped == 0) || state->dispatcher.IsEmpty()) return;
  // Raw N-API with every status checked, no C++ exceptions: this runs in a libuv callback, and
  // while a worker is being terminated every call into JavaScript fails; then the records are
  // simply not delivered.
  napi_env env = state->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  size_t bytes = fields.size() * sizeof(int32_t);
  void* data = nullptr;
  napi_value buffer, array, dropped_value, dispatcher = nullptr, global, resource_name, result;
  napi_async_context context;
  if (napi_create_arraybuffer(env, bytes, &data, &buffer) == napi_ok &&
      napi_create_typedarray(env, napi_int32_array, fields.size(), buffer, 0, &array) == napi_ok &&
      napi_create_uint32(env, dropped, &dropped_value) == napi_ok &&
      napi_get_reference_value(env, static_cast<napi_ref>(state->dispatcher), &dispatcher) ==
          napi_ok &&
      dispatcher != nullptr && napi_get_global(env, &global) == napi_ok &&
      napi_create_string_utf8(env, "posix-process:signal", NAPI_AUTO_LENGTH, &resource_name) ==
          napi_ok &&
      napi_async_init(env, nullptr, resource_name, &context) == napi_ok) {
    if (bytes > 0) std::copy(fields.begin(), fields.end(), static_cast<int32_t*>(data));
    napi_value argv[2] = {array, dropped_value};
    // napi_make_callback, so that process.nextTick and promise jobs queued by handlers run after.
    if (napi_make_callback(env, context, global, dispatcher, 2, argv, &result) ==
        napi_pending_exception) {
      // A handler's exception (rethrown from process.nextTick by the dispatcher): report it as
      // uncaught, like an exception in any other event-loop callback.
      napi_value exception;
      napi_valuetype type = napi_undefined;
      if (napi_get_and_clear_last_exception(env, &exception) == napi_ok &&
          napi_typeof(env, exception, &type) == napi_ok && type != napi_undefined) {
        napi_fatal_exception(env, exception);
      }
    }
    napi_async_destroy(env, context);
  }
  napi_close_handle_scope(env, scope);
}

// fork(2) (the library's fork(), or any other): g_mutex is held across it, so that the child
// never inherits it locked by a thread it does not have; the child then gives each environment a
// self-pipe of its own at the same fd numbers (the poll handle watches the number, and
// uv_loop_fork re-adds it), so that the parent's signals are not read by the child and the
// child's are not written to the parent.
void BeforeFork() {
  g_mutex.lock();
}
void AfterForkInParent() {
  g_mutex.unlock();
}
// System calls only: this also runs in children that go on to exec (another addon's fork).
void AfterForkInChild() {
  for (EnvSignals* state : g_envs) {
    Slot& slot = g_slots[state->slot];
    int write_fd = slot.write_fd.load();
    if (write_fd < 0) continue;
    int fds[2];
    if (!testing::TakeInjectedSignalForkPipeFailure() && pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
      fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
      dup3(fds[0], state->read_fd, O_CLOEXEC);
      dup3(fds[1], write_fd, O_CLOEXEC);
      close(fds[0]);
      close(fds[1]);
    } else {
      // No fd to spare (EMFILE): stop sharing all the same. The child writes no records (its
      // handlers get nothing), and its read end becomes a write end, which is never readable.
      slot.write_fd.store(-1);
      dup3(write_fd, state->read_fd, O_CLOEXEC);
    }
    slot.dropped.store(0);
  }
  g_mutex.unlock();
}

void OnReadable(uv_poll_t* handle, int status, int events) {
  Drain(static_cast<EnvSignals*>(handle->data));
}

void OnPrepare(uv_prepare_t* handle) {
  std::lock_guard<std::mutex> lock(g_mutex);
  ReconcileAllLocked();
}

void OnHandleClosed(uv_handle_t* handle) {
  EnvSignals* state = static_cast<EnvSignals*>(handle->data);
  if (handle->type == UV_POLL) {
    delete reinterpret_cast<uv_poll_t*>(handle);
  } else {
    delete reinterpret_cast<uv_prepare_t*>(handle);
  }
  if (--state->open_handles > 0) return;
  close(state->read_fd);
  napi_remove_async_cleanup_hook(state->cleanup_handle);
  delete state;
}

// Environment teardown: stop receiving, give dispositions back, close the handles, free the rest.
void OnEnvCleanup(napi_async_cleanup_hook_handle handle, void* data) {
  EnvSignals* state = static_cast<EnvSignals*>(data);
  Slot& slot = g_slots[state->slot];
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    slot.mask.store(0, std::memory_order_release);
    int write_fd = slot.write_fd.exchange(-1);
    // A handler on another thread may still be writing to this slot's fd: wait for it.
    while (slot.busy.load() != 0) {
    }
    close(write_fd);
    for (size_t i = 0; i < g_envs.size(); i++) {
      if (g_envs[i] == state) g_envs.erase(g_envs.begin() + i);
    }
    ReconcileAllLocked();
  }
  state->dispatcher.Reset();
  state->open_handles = 2;
  uv_close(reinterpret_cast<uv_handle_t*>(state->poll), OnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(state->prepare), OnHandleClosed);
}

// Creates the environment's pipe and handles on first use.
EnvSignals* EnsureEnvSignals(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvSignals* existing = FindEnvSignals(env);
  if (existing != nullptr) return existing;

  int fds[2];
  if (PipeAboveStdio(fds, O_CLOEXEC | O_NONBLOCK) == -1) {
    int err = errno;
    throw SyscallError(env, err, "pipe2");
  }
  // A burst of signals while JavaScript is busy must fit: 1 MiB holds 43690 records. The default
  // limit (/proc/sys/fs/pipe-max-size) allows it; a smaller pipe only makes drops likelier.
  fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);

  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    close(fds[0]);
    close(fds[1]);
    throw Napi::Error::New(env, "napi_get_uv_event_loop failed");
  }

  auto* state = new EnvSignals();
  state->env = env;
  state->read_fd = fds[0];
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    for (int i = 0; i < kMaxEnvironments; i++) {
      if (g_slots[i].write_fd.load() == -1 && g_slots[i].busy.load() == 0) {
        state->slot = i;
        g_slots[i].mask.store(0);
        g_slots[i].dropped.store(0);
        g_slots[i].write_fd.store(fds[1], std::memory_order_release);
        break;
      }
    }
    if (state->slot != -1) g_envs.push_back(state);
  }
  if (state->slot == -1) {
    close(fds[0]);
    close(fds[1]);
    delete state;
    Napi::Error error = Napi::Error::New(
        env, "At most " + std::to_string(kMaxEnvironments) +
                 " environments (the main thread and workers) may watch signals at once");
    error.Set("code", Napi::String::New(env, "ERR_SIGNAL_ENVIRONMENTS"));
    throw error;
  }

  state->poll = new uv_poll_t();
  int poll_error = -testing::TakeInjectedSignalPollInitError();
  if (poll_error == 0) poll_error = uv_poll_init(loop, state->poll, state->read_fd);
  if (poll_error != 0) {
    // ENOSPC once the user's epoll watches (fs.epoll.max_user_watches) are all in use: the handle
    // was not made, so it is neither started nor closed; the slot is given back.
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      Slot& slot = g_slots[state->slot];
      slot.write_fd.store(-1);
      while (slot.busy.load() != 0) {
      }
      g_envs.erase(std::find(g_envs.begin(), g_envs.end(), state));
    }
    close(fds[0]);
    close(fds[1]);
    delete state->poll;
    delete state;
    throw SyscallError(env, -poll_error, "uv_poll_init");  // libuv's errors are -errno
  }
  state->poll->data = state;
  uv_poll_start(state->poll, UV_READABLE, OnReadable);
  // Like Node's own signal watchers, watching a signal does not keep the process alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(state->poll));

  state->prepare = new uv_prepare_t();
  uv_prepare_init(loop, state->prepare);
  state->prepare->data = state;
  uv_prepare_start(state->prepare, OnPrepare);
  uv_unref(reinterpret_cast<uv_handle_t*>(state->prepare));

  napi_add_async_cleanup_hook(env, OnEnvCleanup, state, &state->cleanup_handle);
  static std::once_flag fork_handlers;
  std::call_once(fork_handlers,
                 [] { pthread_atfork(BeforeFork, AfterForkInParent, AfterForkInChild); });
  return state;
}

int SignalArgument(const Napi::CallbackInfo& info, size_t index) {
  int signo = Int32Argument(info, index, "signal");
  if (signo < 1 || signo >= NSIG) throw Napi::RangeError::New(info.Env(), "signal out of range");
  return signo;
}

// signalWatch(signo, dispatcher): this environment wants signo delivered to dispatcher.
Napi::Value SignalWatch(const Napi::CallbackInfo& info) {
  int signo = SignalArgument(info, 0);
  if (!info[1].IsFunction())
    throw Napi::TypeError::New(info.Env(), "dispatcher must be a function");
  EnvSignals* state = EnsureEnvSignals(info);
  if (state->dispatcher.IsEmpty())
    state->dispatcher = Napi::Persistent(info[1].As<Napi::Function>());
  std::lock_guard<std::mutex> lock(g_mutex);
  Slot& slot = g_slots[state->slot];
  uint64_t previous = slot.mask.fetch_or(Bit(signo), std::memory_order_acq_rel);
  int err = ReconcileLocked(signo);
  if (err != 0) {
    slot.mask.store(previous, std::memory_order_release);
    throw SyscallError(info.Env(), err, "sigaction");
  }
  return info.Env().Undefined();
}

// signalUnwatch(signo): this environment no longer wants signo.
Napi::Value SignalUnwatch(const Napi::CallbackInfo& info) {
  int signo = SignalArgument(info, 0);
  EnvSignals* state = FindEnvSignals(info.Env());
  if (state == nullptr) return info.Env().Undefined();
  std::lock_guard<std::mutex> lock(g_mutex);
  g_slots[state->slot].mask.fetch_and(~Bit(signo), std::memory_order_acq_rel);
  int err = ReconcileLocked(signo);
  if (err != 0) throw SyscallError(info.Env(), err, "sigaction");
  return info.Env().Undefined();
}

// signalSetBase(signo, base): 0 unmanaged, 1 ignore, 2 default, applied when no handler wants it.
Napi::Value SignalSetBase(const Napi::CallbackInfo& info) {
  int signo = SignalArgument(info, 0);
  int base = Int32Argument(info, 1, "base");
  if (base < kUnmanaged || base > kDefault) throw Napi::RangeError::New(info.Env(), "bad base");
  // The prepare handle that re-applies it after libuv resets it lives in the environment state.
  EnsureEnvSignals(info);
  std::lock_guard<std::mutex> lock(g_mutex);
  g_base[signo] = static_cast<Base>(base);
  int err = ReconcileLocked(signo);
  if (err != 0) throw SyscallError(info.Env(), err, "sigaction");
  return info.Env().Undefined();
}

// signalReconcile(): Node's listeners changed; bring every managed signal back in line now.
Napi::Value SignalReconcile(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(g_mutex);
  ReconcileAllLocked();
  return info.Env().Undefined();
}

Napi::Value KillPg(const Napi::CallbackInfo& info) {
  pid_t pgrp = Int32Argument(info, 0, "pgrp");
  int signo = Int32Argument(info, 1, "signal");
  if (::killpg(pgrp, signo) == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "killpg");
  }
  return info.Env().Undefined();
}

Napi::Value SigQueue(const Napi::CallbackInfo& info) {
  pid_t pid = Int32Argument(info, 0, "pid");
  int signo = Int32Argument(info, 1, "signal");
  union sigval value;
  value.sival_ptr = nullptr;  // clear all of it: the receiver may read sival_ptr
  value.sival_int = Int32Argument(info, 2, "value");
  if (::sigqueue(pid, signo, value) == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "sigqueue");
  }
  return info.Env().Undefined();
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("signalWatch", Napi::Function::New(env, SignalWatch, "signalWatch"));
  exports.Set("signalUnwatch", Napi::Function::New(env, SignalUnwatch, "signalUnwatch"));
  exports.Set("signalSetBase", Napi::Function::New(env, SignalSetBase, "signalSetBase"));
  exports.Set("signalReconcile", Napi::Function::New(env, SignalReconcile, "signalReconcile"));
  exports.Set("killpg", Napi::Function::New(env, KillPg, "killpg"));
  exports.Set("sigqueue", Napi::Function::New(env, SigQueue, "sigqueue"));
}

}  // namespace posix_process::signal_handlers
