// The cgroup watchdog (lib/spawn/contain.ts) and the reaping of children nobody else waits for.
//
// startCgroupWatchdog(dir, script) makes a thread's cgroup and starts the /bin/sh that kills it
// once this environment is gone: the shell's stdin is the read end of a pipe whose write end the
// environment holds (HoldFd: closed by its teardown, or by the kernel when the process dies), so
// end-of-file means "gone". The shell outlives the event loop that started it (that is its job),
// so it is handed to the background reaper at once, through a pidfd opened while it is certainly
// this process's unreaped child: no recycled pid is ever waited for. All of it is one native call,
// so a worker terminated meanwhile (termination stops JavaScript, not a call under way) leaves
// neither a cgroup nobody removes nor a watchdog nobody reaps.
//
// reapInBackground(pid) hands over such a pidfd at once: for the orphans a subreaper adopted that
// no tree reaped, once it stops being a subreaper.
//
// Man pages: posix_spawn(3), pipe2(2), pidfd_open(2), waitid(2), mkdir(2).
#include "watchdog.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "background_reaper.h"
#include "util/addon_state.h"
#include "util/arguments.h"
#include "util/error.h"
#include "util/strings.h"

extern char** environ;

namespace posix_process::watchdog {

namespace {

// A pidfd of the child whose pid is argument 0 (an unreaped child of this process).
long ChildPidfdArgument(const Napi::CallbackInfo& info) {
  int pid = Int32Argument(info, 0, "pid");
  if (pid <= 0) throw Napi::RangeError::New(info.Env(), "The \"pid\" argument must be positive");
  long pidfd = ::syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0);
  if (pidfd < 0) {
    int err = errno;
    throw SyscallError(info.Env(), err, "pidfd_open");
  }
  return pidfd;
}

// reapInBackground(pid): pid must be an unreaped child of this process that nobody waits for (an
// orphan the subreaper flag brought): reaped now if it has exited, else by the background reaper
// once it does.
Napi::Value ReapInBackground(const Napi::CallbackInfo& info) {
  background_reaper::HandOver(static_cast<int>(ChildPidfdArgument(info)));
  return info.Env().Undefined();
}

// posix_spawn of `/bin/sh -c script posix-process-watchdog dir` with stdin `stdin_fd`, stdout and
// stderr on /dev/null, no other fd, every signal unblocked and at its default but glibc's two
// internal ones (Node ignores SIGPIPE), in a session of its own (a terminal's signals are not for
// it). Returns an errno.
int SpawnShell(int stdin_fd, const std::string& script, const std::string& dir, pid_t* pid) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  int err = posix_spawn_file_actions_init(&actions);
  if (err != 0) return err;
  err = posix_spawnattr_init(&attributes);
  if (err != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return err;
  }
  sigset_t every, none;
  sigfillset(&every);
  sigemptyset(&none);
  if (err == 0) err = posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
  if (err == 0) err = posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  if (err == 0) err = posix_spawn_file_actions_adddup2(&actions, 1, 2);
  if (err == 0) err = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  if (err == 0) err = posix_spawnattr_setsigdefault(&attributes, &every);
  if (err == 0) err = posix_spawnattr_setsigmask(&attributes, &none);
  if (err == 0) {
    err = posix_spawnattr_setflags(
        &attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  }
  if (err == 0) {
    const char* argv[] = {"/bin/sh",   "-c",   script.c_str(), "posix-process-watchdog",
                          dir.c_str(), nullptr};
    err = ::posix_spawn(pid, "/bin/sh", &actions, &attributes, const_cast<char* const*>(argv),
                        environ);
  }
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  return err;
}

// startCgroupWatchdog(dir, script): makes `dir` if it is missing, starts its watchdog and returns
// the watchdog's pid. On failure nothing is left: the pipe closed, a directory made here removed,
// a watchdog started here killed and reaped.
Napi::Value StartCgroupWatchdog(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir = BytesArgument(info[0], "dir");
  std::string script = BytesArgument(info[1], "script");
  const char* step = nullptr;
  if (int err = background_reaper::Start(&step)) throw SyscallError(env, err, step);
  bool made = ::mkdir(dir.c_str(), 0755) == 0;
  if (!made && errno != EEXIST) {
    int err = errno;
    throw SyscallError(env, err, "mkdir", dir.c_str());
  }
  auto fail = [&](int err, const char* syscall) {
    if (made) ::rmdir(dir.c_str());
    return SyscallError(env, err, syscall);
  };
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw fail(errno, "pipe2");
  pid_t pid = 0;
  int err = SpawnShell(pipe_fds[0], script, dir, &pid);
  if (err != 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    throw fail(err, "posix_spawn");
  }
  long pidfd = ::syscall(SYS_pidfd_open, pid, 0);
  err = errno;
  ::close(pipe_fds[0]);
  if (pidfd < 0 || !background_reaper::Adopt(static_cast<int>(pidfd))) {
    // EMFILE, ENOMEM: a watchdog that nothing could reap is not left running.
    if (pidfd >= 0) {
      err = ENOMEM;
      ::close(static_cast<int>(pidfd));
    }
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    ::close(pipe_fds[1]);
    throw fail(err, pidfd < 0 ? "pidfd_open" : "epoll_ctl");
  }
  try {
    HoldFd(env, pipe_fds[1]);
  } catch (...) {
    ::close(pipe_fds[1]);  // the watchdog sees end-of-file, removes the (empty) cgroup and ends
    throw;
  }
  return Napi::Number::New(env, pid);
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("startCgroupWatchdog", Napi::Function::New(env, StartCgroupWatchdog));
  exports.Set("reapInBackground", Napi::Function::New(env, ReapInBackground));
}

}  // namespace posix_process::watchdog
