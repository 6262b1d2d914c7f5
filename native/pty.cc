// Pseudo-terminals for the caller: a master/slave pair (what openpty(3) does, from its parts, so
// that both ends are close-on-exec from the start), the window size, isatty and ttyname.
//
// The pair is made as node-pty's src/unix/pty.cc makes it (posix_openpt, grantpt, unlockpt,
// ptsname, open), without its thread per child: the spawn side is the safe spawn's setctty step
// (spawn_child.cc), and the master is read from the event loop (lib/pty.ts).
//
// Man pages: posix_openpt(3), grantpt(3), unlockpt(3), ptsname(3), pty(7), ioctl_tty(2)
// (TIOCGWINSZ, TIOCSWINSZ), isatty(3), ttyname(3).
#include "pty.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "testing.h"
#include "util/addon_state.h"
#include "util/arguments.h"
#include "util/error.h"

namespace posix_process::pty {

namespace {

// The size as the facade passes it: 0 for both leaves the kernel's default (0 x 0).
winsize SizeArguments(const Napi::CallbackInfo& info, size_t first) {
  winsize size = {};
  int32_t cols = Int32Argument(info, first, "cols");
  int32_t rows = Int32Argument(info, first + 1, "rows");
  if (cols < 0 || cols > 65535 || rows < 0 || rows > 65535) {
    throw Napi::RangeError::New(info.Env(), "cols and rows must be from 0 to 65535");
  }
  size.ws_col = static_cast<unsigned short>(cols);
  size.ws_row = static_cast<unsigned short>(rows);
  return size;
}

void CloseQuietly(int fd) {
  if (fd >= 0) ::close(fd);
}

// openPty(cols, rows, hold) -> [master, slave, path]. Both ends close-on-exec and O_NOCTTY: opening
// the slave must not make it the caller's controlling terminal (a session leader without one
// would otherwise acquire it). With `hold` (spawn's own pty), both are held for the library until
// closeFd or the master's stream takes them: a worker terminated while the spawn is under way
// would otherwise leak them (util/addon_state.h).
Napi::Value OpenPty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  winsize size = SizeArguments(info, 0);
  bool hold = info.Length() > 2 && info[2].ToBoolean().Value();
  int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) {
    int err = errno;
    throw SyscallError(env, err, "posix_openpt");
  }
  char path[PATH_MAX];
  const char* failed = nullptr;
  if (::grantpt(master) != 0) {
    failed = "grantpt";
  } else if (::unlockpt(master) != 0) {
    failed = "unlockpt";
  } else if (::ptsname_r(master, path, sizeof path) != 0) {
    failed = "ptsname";
  }
  if (failed != nullptr) {
    int err = errno;
    CloseQuietly(master);
    throw SyscallError(env, err, failed);
  }
  int slave = ::open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) {
    int err = errno;
    CloseQuietly(master);
    throw SyscallError(env, err, "open", path);
  }
  if ((size.ws_col != 0 || size.ws_row != 0) && ::ioctl(master, TIOCSWINSZ, &size) != 0) {
    int err = errno;
    CloseQuietly(slave);
    CloseQuietly(master);
    throw SyscallError(env, err, "ioctl");
  }
  try {
    testing::ThrowIfFdResultFailureInjected(env);
    Napi::Array result = Napi::Array::New(env, 3);
    result.Set(0u, Napi::Number::New(env, master));
    result.Set(1u, Napi::Number::New(env, slave));
    result.Set(2u, Napi::String::New(env, path));
    if (hold) {
      HoldFd(env, master);
      HoldFd(env, slave);
    }
    return result;
  } catch (...) {  // a worker being terminated: the caller would never see the two fds
    if (hold) {
      ReleaseFd(env, master);
      ReleaseFd(env, slave);
    }
    CloseQuietly(slave);
    CloseQuietly(master);
    throw;
  }
}

// setWindowSize(fd, cols, rows): the kernel sends SIGWINCH to the terminal's foreground group
// when the size changes.
Napi::Value SetWindowSize(const Napi::CallbackInfo& info) {
  int fd = Int32Argument(info, 0, "fd");
  winsize size = SizeArguments(info, 1);
  if (::ioctl(fd, TIOCSWINSZ, &size) != 0) {
    int err = errno;
    throw SyscallError(info.Env(), err, "ioctl");
  }
  return info.Env().Undefined();
}

// getWindowSize(fd) -> [cols, rows].
Napi::Value GetWindowSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Argument(info, 0, "fd");
  winsize size = {};
  if (::ioctl(fd, TIOCGWINSZ, &size) != 0) {
    int err = errno;
    throw SyscallError(env, err, "ioctl");
  }
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Number::New(env, size.ws_col));
  result.Set(1u, Napi::Number::New(env, size.ws_row));
  return result;
}

// isatty(fd): false for a closed fd (EBADF) as for any other file; nothing is thrown.
Napi::Value IsATty(const Napi::CallbackInfo& info) {
  int fd = Int32Argument(info, 0, "fd");
  return Napi::Boolean::New(info.Env(), ::isatty(fd) == 1);
}

Napi::Value TtyName(const Napi::CallbackInfo& info) {
  int fd = Int32Argument(info, 0, "fd");
  char path[PATH_MAX];
  int err = ::ttyname_r(fd, path, sizeof path);
  if (err != 0) throw SyscallError(info.Env(), err, "ttyname");
  return Napi::String::New(info.Env(), path);
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("openPty", Napi::Function::New(env, OpenPty, "openPty"));
  exports.Set("setWindowSize", Napi::Function::New(env, SetWindowSize, "setWindowSize"));
  exports.Set("getWindowSize", Napi::Function::New(env, GetWindowSize, "getWindowSize"));
  exports.Set("isatty", Napi::Function::New(env, IsATty, "isatty"));
  exports.Set("ttyname", Napi::Function::New(env, TtyName, "ttyname"));
}

}  // namespace posix_process::pty
