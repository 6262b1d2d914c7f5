// fork(2) of the running Node process, with JavaScript going on in the child.
//
// Man pages: fork(2), madvise(2) (MADV_DONTFORK, MADV_DOFORK), proc(5) (/proc/PID/smaps VmFlags
// "dc", /proc/PID/task/TID/stat), poll(2). libuv: uv_loop_fork.
//
// A plain fork() of Node gives a child that crashes or hangs (see DESIGN-NOTES.md):
// - V8 maps its heap with MADV_DONTFORK, so the child would have no JS heap. Every mapping marked
//   "dc" in /proc/self/smaps gets MADV_DOFORK right before fork(), in this same native call (no
//   JavaScript runs in between, so V8 allocates nothing new), and MADV_DONTFORK again in the
//   parent afterwards.
// - Parent and child would share libuv's epoll instance, async eventfd and signal pipe: the child
//   calls uv_loop_fork() on Node's loop before it returns to JavaScript. libuv's own
//   pthread_atfork handlers reset its threadpool and signal lock (we call glibc's fork(), so they
//   run).
// - Only the calling thread exists in the child, but the memory of the others is copied, with the
//   locks and condition variables they were in. The facade (lib/fork.ts) refuses to fork unless
//   Node runs with --single-threaded (V8 runs its work on the calling thread) and
//   --v8-pool-size=1: the few jobs V8 still posts to Node's platform worker queue then signal a
//   condition variable with a single (absent) waiter, which never blocks in glibc (with several,
//   pthread_cond_signal can wait forever for waiters that are not in the child). docs/design.md,
//   "fork() and V8's platform threads", has the reasoning with the Node and V8 sources.
// - Before forking, the call lets that platform worker go back to sleep if it is awake (it may be
//   holding the task queue's mutex), and refuses to fork if the heap cannot be prepared, or if the
//   epoll sets the child needs cannot be made (ForkSpares).
// - stdout/stderr pipes and sockets are non-blocking in Node, and libuv may keep part of a write
//   queued; their open file description is shared with the parent, so the child cannot make them
//   blocking. The child writes them through WriteAllBlocking instead (lib/fork.ts), so that its
//   output has left the process when it ends through exit_group.
#include "fork.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "exit.h"
#include "spawn.h"
#include "util/arguments.h"
#include "util/error.h"
#include "wait.h"

namespace posix_process::fork {

namespace {

struct Mapping {
  uintptr_t start;
  size_t length;
};

// Whether a smaps "VmFlags:" line contains the flag "dc" (VM_DONTCOPY, set by MADV_DONTFORK).
bool HasDontCopyFlag(const char* line) {
  for (const char* flag = line + 8; *flag != '\0'; flag++) {
    if (flag[0] == 'd' && flag[1] == 'c' && (flag[-1] == ' ' || flag[-1] == ':') &&
        (flag[2] == ' ' || flag[2] == '\n' || flag[2] == '\0')) {
      return true;
    }
  }
  return false;
}

// The mappings whose VmFlags contain "dc". Throws SyscallError if /proc/self/smaps cannot be
// opened or read (EMFILE when the fd table is full): forking without them would give a child with
// no V8 heap, which dies of SIGSEGV at its first step.
std::vector<Mapping> DontForkMappings(Napi::Env env) {
  static const char kPath[] = "/proc/self/smaps";
  std::vector<Mapping> mappings;
  FILE* smaps = fopen(kPath, "re");
  if (smaps == nullptr) {
    int err = errno;
    throw SyscallError(env, err, "open", kPath);
  }
  char line[1024];
  uintptr_t start = 0;
  uintptr_t end = 0;
  bool at_line_start = true;
  errno = 0;
  while (fgets(line, sizeof line, smaps) != nullptr) {
    // The rest of a line longer than the buffer (a long path) is no header nor field.
    bool starts_line = at_line_start;
    at_line_start = strchr(line, '\n') != nullptr;
    if (!starts_line) continue;
    // Mapping headers start with the address range in lower-case hex ("7f12a000-7f12b000 rw-p
    // ..."); the field lines start with an upper-case name ("Size:", "VmFlags:").
    char first = line[0];
    if ((first >= '0' && first <= '9') || (first >= 'a' && first <= 'f')) {
      unsigned long long s = 0;
      unsigned long long e = 0;
      if (sscanf(line, "%llx-%llx", &s, &e) == 2) {
        start = s;
        end = e;
      }
      continue;
    }
    if (strncmp(line, "VmFlags:", 8) == 0 && HasDontCopyFlag(line)) {
      mappings.push_back({start, end - start});
    }
  }
  int read_err = ferror(smaps) ? (errno != 0 ? errno : EIO) : 0;
  fclose(smaps);
  if (read_err != 0) throw SyscallError(env, read_err, "read", kPath);
  return mappings;
}

// Whether another thread of this process is on a CPU or waiting for one, or in an uninterruptible
// sleep (state R or D in /proc/self/task/TID/stat): such a thread may hold a lock right now. False
// if the task list cannot be read.
bool AnotherThreadIsBusy() {
  DIR* tasks = opendir("/proc/self/task");
  if (tasks == nullptr) return false;
  long self = syscall(SYS_gettid);
  bool busy = false;
  while (dirent* entry = readdir(tasks)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    if (strtol(entry->d_name, nullptr, 10) == self) continue;
    char path[sizeof "/proc/self/task//stat" + sizeof entry->d_name];
    snprintf(path, sizeof path, "/proc/self/task/%s/stat", entry->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) continue;
    char stat[512];
    ssize_t length = read(fd, stat, sizeof stat - 1);
    close(fd);
    if (length <= 0) continue;
    stat[length] = '\0';
    // "TID (comm) S ...": the state follows the last ')' (comm may contain one).
    const char* paren = strrchr(stat, ')');
    if (paren != nullptr && paren[1] == ' ' && (paren[2] == 'R' || paren[2] == 'D')) {
      busy = true;
      break;
    }
  }
  closedir(tasks);
  return busy;
}

// Gives Node's V8 platform worker (and every other thread) up to about 50 ms to finish what it is
// doing and go back to sleep, so that the fork does not copy a platform lock it holds (it wakes
// for a task V8 posted during a GC, and holds the task queue's mutex while it takes the task).
// Under --single-threaded nothing else posts to it while this thread is in fork(); a thread that
// stays busy longer (a libuv pool thread hashing, say) holds none of the locks the child needs.
void WaitForOtherThreadsToSleep() {
  for (int attempt = 0; attempt < 50 && AnotherThreadIsBusy(); attempt++) {
    struct timespec one_ms = {0, 1000 * 1000};
    nanosleep(&one_ms, nullptr);
  }
}

// Marks the mappings MADV_DOFORK so that the child gets them. If one cannot be marked, the ones
// already marked are put back and its errno is returned (0 when all are): the child would lack
// part of its heap.
int MarkEach(const std::vector<Mapping>& mappings) {
  for (size_t i = 0; i < mappings.size(); i++) {
    void* address = reinterpret_cast<void*>(mappings[i].start);
    if (madvise(address, mappings[i].length, MADV_DOFORK) == 0) continue;
    int err = errno;
    for (size_t j = 0; j < i; j++) {
      madvise(reinterpret_cast<void*>(mappings[j].start), mappings[j].length, MADV_DONTFORK);
    }
    return err;
  }
  return 0;
}

// Marks `mappings` MADV_DOFORK. ENOMEM means one went away between the read of smaps and its
// madvise (another thread's V8 heap shrinking: a worker's): they are read again, and marked.
void MarkForFork(Napi::Env env, std::vector<Mapping>& mappings) {
  for (int attempt = 1;; attempt++) {
    int err = MarkEach(mappings);
    if (err == 0) return;
    if (err != ENOMEM || attempt == 10) throw SyscallError(env, err, "madvise");
    mappings = DontForkMappings(env);
  }
}

// Puts MADV_DONTFORK back in the parent, as V8 had it.
void UnmarkForFork(const std::vector<Mapping>& mappings) {
  for (const Mapping& mapping : mappings) {
    madvise(reinterpret_cast<void*>(mapping.start), mapping.length, MADV_DONTFORK);
  }
}

// writeAllBlocking(fd, buffer): writes all of `buffer`, waiting with poll(2) while a
// non-blocking fd is full. The fork child writes its stdout/stderr through this (lib/fork.ts), so
// that what it wrote has left the process when it ends through exit_group. The fd's O_NONBLOCK is
// left alone: its open file description is shared with the parent.
Napi::Value WriteAllBlocking(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Argument(info, 0, "fd");
  if (!info[1].IsBuffer()) throw Napi::TypeError::New(env, "writeAllBlocking expects a Buffer");
  Napi::Buffer<char> buffer = info[1].As<Napi::Buffer<char>>();
  const char* data = buffer.Data();
  size_t left = buffer.Length();
  while (left > 0) {
    ssize_t written = write(fd, data, left);
    if (written >= 0) {
      data += written;
      left -= static_cast<size_t>(written);
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err != EAGAIN) throw SyscallError(env, err, "write");
    struct pollfd writable = {fd, POLLOUT, 0};
    if (poll(&writable, 1, -1) == -1 && errno != EINTR) {
      int poll_err = errno;
      throw SyscallError(env, poll_err, "poll");
    }
  }
  return env.Undefined();
}

// Ending a fork child when its event loop runs out of work. Node, when uv_run returns, calls
// NodePlatform::DrainTasks, which waits for tasks posted to its worker threads; those threads do
// not exist in the child (V8 compile tasks, for instance, never finish), so the child would hang
// there, before 'beforeExit'. Instead the child keeps one referenced uv_prepare_t of its own: when
// it is the only thing left alive (exactly what uv_loop_alive would check), the child does what
// Node would have done: emit 'beforeExit' and, if that scheduled nothing, 'exit' (whose listener
// installed by lib/fork.ts ends the child through exit_group).
struct EmptyLoopWatcher {
  uv_prepare_t handle;
  napi_env env;
  Napi::FunctionReference callback;  // callback('beforeExit') / callback('exit')
  std::unique_ptr<Napi::AsyncContext> context;
};

bool OnlyWatcherAlive(uv_loop_t* loop) {
  return loop->active_handles == 1 && loop->active_reqs.count == 0 &&
         loop->closing_handles == nullptr;
}

// Calls the JavaScript callback with `phase`; a throw goes to Node's uncaught-exception handling,
// as an exception in a 'beforeExit' listener would.
void CallPhase(EmptyLoopWatcher* watcher, const char* phase) {
  Napi::Env env(watcher->env);
  Napi::HandleScope scope(env);
  try {
    watcher->callback.MakeCallback(env.Global(), {Napi::String::New(env, phase)},
                                   *watcher->context);
  } catch (...) {
    ReportCurrentException(watcher->env);
  }
}

void OnPrepare(uv_prepare_t* handle) {
  auto* watcher = static_cast<EmptyLoopWatcher*>(handle->data);
  if (!OnlyWatcherAlive(handle->loop)) return;
  CallPhase(watcher, "beforeExit");
  if (!OnlyWatcherAlive(handle->loop)) return;
  CallPhase(watcher, "exit");
}

// The watcher of this process, if it is a fork child. A child of a fork child inherits it (memory
// and loop are copies), and must not add a second one: OnlyWatcherAlive counts exactly one.
EmptyLoopWatcher* current_watcher = nullptr;

// In the child. The watcher is never freed: the child ends through exit_group, never through
// Node's teardown.
void WatchForEmptyLoop(Napi::Env env, uv_loop_t* loop, Napi::Function callback) {
  if (current_watcher != nullptr) return;
  auto* watcher = new EmptyLoopWatcher();
  current_watcher = watcher;
  watcher->env = env;
  watcher->callback = Napi::Persistent(callback);
  watcher->context = std::make_unique<Napi::AsyncContext>(env, "posix-process:fork-child-exit");
  uv_prepare_init(loop, &watcher->handle);
  watcher->handle.data = watcher;
  uv_prepare_start(&watcher->handle, OnPrepare);
}

// The new epoll sets that the child's atfork handlers put in place of the ones it shares with the
// parent (the waits', wait.cc; the exec notices', spawn_teardown.cc), made here, before the fork:
// the child then needs no free fd for them, which another thread may have taken by the time it
// runs. A child without them could not wait for its children (or, worse, would take the parent's
// events), so fork() fails instead, with EMFILE and syscall 'epoll_create1', creating no child.
// Those the child did not take are closed when this goes out of scope in the parent.
class ForkSpares {
 public:
  explicit ForkSpares(Napi::Env env) {
    int err = wait::MakeForkSpares();
    if (err == 0) {
      err = spawn::MakeForkSpares();
      if (err != 0) wait::DropForkSpares();
    }
    if (err != 0) throw SyscallError(env, err, "epoll_create1");
  }
  ~ForkSpares() {
    wait::DropForkSpares();
    spawn::DropForkSpares();
  }
  ForkSpares(const ForkSpares&) = delete;
  ForkSpares& operator=(const ForkSpares&) = delete;
};

// fork(onLoopEmpty): the child's pid in the parent, 0 in the child.
Napi::Value Fork(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "fork expects a callback");
  Napi::Function on_loop_empty = info[0].As<Napi::Function>();
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    throw Napi::Error::New(env, "fork: Node's event loop is not available");
  }

  WaitForOtherThreadsToSleep();
  std::vector<Mapping> mappings = DontForkMappings(env);
  ForkSpares spares(env);
  MarkForFork(env, mappings);

  pid_t pid = ::fork();
  int err = errno;

  if (pid == 0) {
    int loop_err = uv_loop_fork(loop);
    if (loop_err != 0) {
      // Without its own loop the child would steal the parent's events: end it now, with the
      // status of a failed exec-like start (sysexits EX_OSERR).
      static const char message[] = "posix-process: uv_loop_fork failed in the fork child\n";
      ssize_t ignored = write(2, message, sizeof message - 1);
      (void)ignored;
      exit_group::ExitGroup(71);
    }
    WatchForEmptyLoop(env, loop, on_loop_empty);
    return Napi::Number::New(env, 0);
  }

  UnmarkForFork(mappings);
  if (pid == -1) throw SyscallError(env, err, "fork");
  return Napi::Number::New(env, pid);
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("fork", Napi::Function::New(env, Fork, "fork"));
  exports.Set("writeAllBlocking", Napi::Function::New(env, WriteAllBlocking, "writeAllBlocking"));
}

}  // namespace posix_process::fork
