// Replacing the running Node process with another program (same pid).
//
// Man pages: execve(2), execvp(3), signal(7) ("Signal mask and pending signals", "execve(2)"),
// fcntl(2), termios(3).
//
// Node leaves the process in a state that a new program must not inherit (see DESIGN-NOTES.md):
// fds 0..2 are close-on-exec (uv_disable_stdio_inheritance), pipes on them may be O_NONBLOCK (an
// open file description shared with the new program: `cat` would fail with EAGAIN), SIGPIPE and
// SIGXFSZ are ignored (ignored dispositions survive exec), and the terminal may be in raw mode.
// So before exec we clear FD_CLOEXEC and O_NONBLOCK on 0..2, reset the terminal
// (uv_tty_reset_mode), reset every ignored or caught signal 1..64 to its default and empty the
// signal mask. If every exec attempt fails, all of it is put back exactly as it was and the
// process carries on.
//
// argv, envp and every candidate path are built completely before anything changes, so that bad
// arguments throw with the process untouched.
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "util/error.h"
#include "util/exec_search.h"
#include "util/kernel_sigaction.h"
#include "util/strings.h"

namespace posix_process::exec {

namespace {

constexpr int kStdioCount = 3;

// What PrepareForExec changes, as it was before, to put back if exec fails.
struct SavedProcessState {
  struct Stdio {
    bool open = false;
    int fd_flags = 0;      // F_GETFD: FD_CLOEXEC
    int status_flags = 0;  // F_GETFL: O_NONBLOCK (shared with every process using the pipe)
    bool is_tty = false;
    struct termios tty {};
  } stdio[kStdioCount];
  bool action_saved[kMaxSignal + 1] = {};
  KernelSigaction actions[kMaxSignal + 1] = {};
  sigset_t mask{};
};

bool IsCatchable(int signo) {
  return signo != SIGKILL && signo != SIGSTOP;
}

bool IsGlibcInternal(int signo) {
  return signo == 32 || signo == 33;
}

// Ignored dispositions survive exec: every ignored signal gets SIG_DFL (Node ignores SIGPIPE and
// SIGXFSZ; a user may ignore a real-time one). Caught ones too, so no handler of ours runs while
// the process is half-prepared; but glibc's own handlers of 32 and 33 stay (another thread may
// need them until exec, which resets caught signals anyway).
void ResetSignalDispositions(SavedProcessState& saved) {
  for (int signo = 1; signo <= kMaxSignal; signo++) {
    if (!IsCatchable(signo)) continue;
    KernelSigaction& current = saved.actions[signo];
    if (syscall(SYS_rt_sigaction, signo, nullptr, &current, sizeof(uint64_t)) != 0) continue;
    if (current.handler == SIG_DFL) continue;
    if (current.handler != SIG_IGN && IsGlibcInternal(signo)) continue;
    KernelSigaction default_action = {};
    default_action.handler = SIG_DFL;
    saved.action_saved[signo] =
        syscall(SYS_rt_sigaction, signo, &default_action, nullptr, sizeof(uint64_t)) == 0;
  }
}

void PrepareForExec(SavedProcessState& saved) {
  // Block everything while dispositions change, so that no handler of ours runs half-way; signals
  // that arrive now stay pending and reach the new program (or us again, if exec fails).
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved.mask);

  for (int fd = 0; fd < kStdioCount; fd++) {
    SavedProcessState::Stdio& stdio = saved.stdio[fd];
    stdio.fd_flags = fcntl(fd, F_GETFD);
    if (stdio.fd_flags == -1) continue;  // not open: nothing to pass on
    stdio.open = true;
    stdio.status_flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFD, stdio.fd_flags & ~FD_CLOEXEC);
    if (stdio.status_flags != -1 && (stdio.status_flags & O_NONBLOCK) != 0) {
      fcntl(fd, F_SETFL, stdio.status_flags & ~O_NONBLOCK);
    }
    stdio.is_tty = isatty(fd) == 1 && tcgetattr(fd, &stdio.tty) == 0;
  }
  // Undo process.stdin.setRawMode() and the like: libuv restores the mode it saved first.
  // SIGTTOU is blocked, so this works from a background process group too.
  uv_tty_reset_mode();

  ResetSignalDispositions(saved);

  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, nullptr);
}

void RestoreAfterFailedExec(const SavedProcessState& saved) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, nullptr);

  bool sigchld_was_caught = false;
  for (int signo = 1; signo <= kMaxSignal; signo++) {
    if (!saved.action_saved[signo]) continue;
    syscall(SYS_rt_sigaction, signo, &saved.actions[signo], nullptr, sizeof(uint64_t));
    if (signo == SIGCHLD) sigchld_was_caught = saved.actions[signo].handler != SIG_IGN;
  }

  for (int fd = 0; fd < kStdioCount; fd++) {
    const SavedProcessState::Stdio& stdio = saved.stdio[fd];
    if (!stdio.open) continue;
    if (stdio.is_tty) {
      // Put the terminal back only if the reset changed it (a tcsetattr with the same values
      // would still flush nothing, but there is no reason to touch it).
      struct termios now {};
      if (tcgetattr(fd, &now) == 0 && memcmp(&now, &stdio.tty, sizeof now) != 0) {
        tcsetattr(fd, TCSANOW, &stdio.tty);
      }
    }
    fcntl(fd, F_SETFD, stdio.fd_flags);
    if (stdio.status_flags != -1) fcntl(fd, F_SETFL, stdio.status_flags);
  }

  pthread_sigmask(SIG_SETMASK, &saved.mask, nullptr);
  // A SIGCHLD that arrived while its disposition was SIG_DFL was discarded; libuv reaps its
  // children only when SIGCHLD arrives, so send one: a spurious SIGCHLD is harmless to it.
  if (sigchld_was_caught) kill(getpid(), SIGCHLD);
}

// The environment to pass: the given KEY=VALUE list, or (for null) the process's own, which
// includes every change made through process.env, as Node writes those with setenv.
std::unique_ptr<CStringArray> EnvironmentArgument(Napi::Value value) {
  if (value.IsUndefined() || value.IsNull()) return nullptr;
  auto environment = std::make_unique<CStringArray>();
  environment->Assign(value, "env");
  return environment;
}

// execve(path, argv, env): replaces the process or throws SyscallError (syscall 'execve').
Napi::Value Execve(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = BytesArgument(info[0], "path");
  CStringArray argv;
  argv.Assign(info[1], "argv");
  if (argv.size() == 0) throw Napi::TypeError::New(env, "argv must not be empty");
  std::unique_ptr<CStringArray> environment = EnvironmentArgument(info[2]);
  char* const* argv_data = argv.data();
  char* const* envp_data = environment ? environment->data() : environ;

  SavedProcessState saved;
  PrepareForExec(saved);
  ::execve(path.c_str(), argv_data, envp_data);
  int err = errno;
  RestoreAfterFailedExec(saved);
  throw SyscallError(env, err, "execve", path.c_str());
}

// execvp(candidates, argv, env): the facade has resolved the PATH search into the list of paths
// to try (lib/env.ts execCandidates); ExecCandidates applies glibc's rules to them.
Napi::Value Execvp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CStringArray candidates;
  candidates.Assign(info[0], "file");
  CStringArray argv;
  argv.Assign(info[1], "argv");
  if (argv.size() == 0) throw Napi::TypeError::New(env, "argv must not be empty");
  std::unique_ptr<CStringArray> environment = EnvironmentArgument(info[2]);
  std::string file = BytesArgument(info[3], "file");  // as given, for the error
  char* const* envp_data = environment ? environment->data() : environ;

  SavedProcessState saved;
  PrepareForExec(saved);
  int err = ExecCandidates(candidates.data(), candidates.size(), argv.data(), envp_data);
  RestoreAfterFailedExec(saved);
  throw SyscallError(env, err, "execvp", file.c_str());
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("execve", Napi::Function::New(env, Execve, "execve"));
  exports.Set("execvp", Napi::Function::New(env, Execvp, "execvp"));
}

}  // namespace posix_process::exec
