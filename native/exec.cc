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
// (uv_tty_reset_mode), reset the dispositions of signals 1..31 and empty the signal mask. If every
// exec attempt fails, all of it is put back exactly as it was and the process carries on.
//
// argv, envp and every candidate path are built completely before anything changes, so that bad
// arguments throw with the process untouched.
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "util/error.h"
#include "util/strings.h"

namespace posix_process::exec {

namespace {

// The classic signals 1..31; 32 and up are real-time signals, 32 and 33 belong to glibc's NPTL.
constexpr int kLastClassicSignal = 31;
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
  bool action_saved[kLastClassicSignal + 1] = {};
  struct sigaction actions[kLastClassicSignal + 1] = {};
  sigset_t mask{};
};

bool IsCatchable(int signo) {
  return signo != SIGKILL && signo != SIGSTOP;
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

  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  for (int signo = 1; signo <= kLastClassicSignal; signo++) {
    if (!IsCatchable(signo)) continue;
    saved.action_saved[signo] = sigaction(signo, &default_action, &saved.actions[signo]) == 0;
  }

  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, nullptr);
}

void RestoreAfterFailedExec(const SavedProcessState& saved) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, nullptr);

  bool sigchld_was_caught = false;
  for (int signo = 1; signo <= kLastClassicSignal; signo++) {
    if (!saved.action_saved[signo]) continue;
    sigaction(signo, &saved.actions[signo], nullptr);
    if (signo == SIGCHLD) {
      const struct sigaction& action = saved.actions[signo];
      sigchld_was_caught = (action.sa_flags & SA_SIGINFO) != 0 ||
                           (action.sa_handler != SIG_DFL && action.sa_handler != SIG_IGN);
    }
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

// The PATH to search: the one given (the facade takes it from the env argument), else this
// process's own, else what glibc's execvp uses when PATH is unset, confstr(_CS_PATH).
std::string SearchPath(Napi::Value given) {
  if (!given.IsUndefined() && !given.IsNull()) return BytesArgument(given, "PATH");
  const char* path = getenv("PATH");
  return path != nullptr ? path : "/bin:/usr/bin";
}

// The paths execvp tries in order: `file` itself if it contains a slash, else each PATH entry
// joined with it (an empty entry is the current directory, as in glibc).
std::vector<std::string> SearchCandidates(const std::string& file, const std::string& path) {
  if (file.find('/') != std::string::npos) return {file};
  std::vector<std::string> candidates;
  size_t start = 0;
  for (;;) {
    size_t end = path.find(':', start);
    std::string directory = path.substr(start, end == std::string::npos ? end : end - start);
    candidates.push_back(directory.empty() ? file : directory + "/" + file);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return candidates;
}

// execvp(file, argv, env, searchPath): the PATH search of glibc's execvpe, with the same rules for
// errors: EACCES on a candidate is remembered and the search goes on (EACCES is reported if nothing
// runs); ENOENT, ENOTDIR, ESTALE, ENODEV and ETIMEDOUT go on to the next candidate; any other
// error (ENOEXEC, E2BIG, ...) stops the search and is reported. Unlike glibc there is no fallback
// that runs a file without a #! line through /bin/sh: that is ENOEXEC.
Napi::Value Execvp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string file = BytesArgument(info[0], "file");
  CStringArray argv;
  argv.Assign(info[1], "argv");
  if (argv.size() == 0) throw Napi::TypeError::New(env, "argv must not be empty");
  std::unique_ptr<CStringArray> environment = EnvironmentArgument(info[2]);
  if (file.empty()) throw SyscallError(env, ENOENT, "execvp", file.c_str());
  std::vector<std::string> candidates = SearchCandidates(file, SearchPath(info[3]));
  char* const* argv_data = argv.data();
  char* const* envp_data = environment ? environment->data() : environ;

  SavedProcessState saved;
  PrepareForExec(saved);
  int err = ENOENT;
  bool got_eacces = false;
  bool exhausted = true;
  for (const std::string& candidate : candidates) {
    ::execve(candidate.c_str(), argv_data, envp_data);
    err = errno;
    if (err == EACCES) {
      got_eacces = true;
    } else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV &&
               err != ETIMEDOUT) {
      exhausted = false;
      break;
    }
  }
  if (exhausted && got_eacces) err = EACCES;
  RestoreAfterFailedExec(saved);
  throw SyscallError(env, err, "execvp", file.c_str());
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("execve", Napi::Function::New(env, Execve, "execve"));
  exports.Set("execvp", Napi::Function::New(env, Execvp, "execvp"));
}

}  // namespace posix_process::exec
