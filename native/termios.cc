// Terminal attributes for the caller: tcgetattr and tcsetattr, passed to the facade as one array
// of numbers (lib/termios.ts names them), and the constants of termios.h the facade needs to
// name the bits, the control characters and the speeds.
//
// Man pages: termios(3), tcgetattr(3), tcsetattr(3), cfsetispeed(3).
#include "termios.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include "util/arguments.h"
#include "util/error.h"

namespace posix_process::termios {

namespace {

// The array's layout: the four flag words, the two speeds (B* constants), then NCCS control
// characters.
enum : uint32_t { kIflag, kOflag, kCflag, kLflag, kIspeed, kOspeed, kCc };

Napi::Value TcGetAttr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Argument(info, 0, "fd");
  struct termios attrs = {};
  if (::tcgetattr(fd, &attrs) != 0) {
    int err = errno;
    throw SyscallError(env, err, "tcgetattr");
  }
  Napi::Array result = Napi::Array::New(env, kCc + NCCS);
  result.Set(kIflag, Napi::Number::New(env, attrs.c_iflag));
  result.Set(kOflag, Napi::Number::New(env, attrs.c_oflag));
  result.Set(kCflag, Napi::Number::New(env, attrs.c_cflag));
  result.Set(kLflag, Napi::Number::New(env, attrs.c_lflag));
  result.Set(kIspeed, Napi::Number::New(env, ::cfgetispeed(&attrs)));
  result.Set(kOspeed, Napi::Number::New(env, ::cfgetospeed(&attrs)));
  for (uint32_t i = 0; i < NCCS; i++) {
    result.Set(kCc + i, Napi::Number::New(env, attrs.c_cc[i]));
  }
  return result;
}

uint32_t Word(const Napi::Env& env, const Napi::Array& values, uint32_t index) {
  Napi::Value value = values.Get(index);
  if (!value.IsNumber()) throw Napi::TypeError::New(env, "termios values must be numbers");
  return value.As<Napi::Number>().Uint32Value();
}

// tcsetattr(fd, when, values): starts from the terminal's current attributes (the line
// discipline and anything the facade does not name are kept). SIGTTOU is blocked in this thread
// for the call, as for tcsetpgrp (session.cc): a process outside the foreground group would
// otherwise be stopped by it.
Napi::Value TcSetAttr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Argument(info, 0, "fd");
  int when = Int32Argument(info, 1, "when");
  if (info.Length() < 3 || !info[2].IsArray()) throw Napi::TypeError::New(env, "values: array");
  auto values = info[2].As<Napi::Array>();
  if (values.Length() != kCc + NCCS) throw Napi::RangeError::New(env, "values: wrong length");
  struct termios attrs = {};
  if (::tcgetattr(fd, &attrs) != 0) {
    int err = errno;
    throw SyscallError(env, err, "tcsetattr");  // its first step, as lib/termios.ts names it
  }
  attrs.c_iflag = Word(env, values, kIflag);
  attrs.c_oflag = Word(env, values, kOflag);
  attrs.c_cflag = Word(env, values, kCflag);
  attrs.c_lflag = Word(env, values, kLflag);
  if (::cfsetispeed(&attrs, Word(env, values, kIspeed)) != 0 ||
      ::cfsetospeed(&attrs, Word(env, values, kOspeed)) != 0) {
    int err = errno;
    throw SyscallError(env, err, "cfsetspeed");
  }
  for (uint32_t i = 0; i < NCCS; i++) {
    attrs.c_cc[i] = static_cast<cc_t>(Word(env, values, kCc + i));
  }
  sigset_t ttou, previous;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  pthread_sigmask(SIG_BLOCK, &ttou, &previous);
  int result = ::tcsetattr(fd, when, &attrs);
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (result != 0) throw SyscallError(env, err, "tcsetattr");
  return env.Undefined();
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object constants = Napi::Object::New(env);
  struct Named {
    const char* name;
    unsigned value;
  };
#define POSIX_PROCESS_NAMED(name) \
  {                               \
#name, name                   \
  }
  static constexpr Named kFlags[] = {
      // c_iflag
      POSIX_PROCESS_NAMED(IGNBRK), POSIX_PROCESS_NAMED(BRKINT), POSIX_PROCESS_NAMED(IGNPAR),
      POSIX_PROCESS_NAMED(PARMRK), POSIX_PROCESS_NAMED(INPCK), POSIX_PROCESS_NAMED(ISTRIP),
      POSIX_PROCESS_NAMED(INLCR), POSIX_PROCESS_NAMED(IGNCR), POSIX_PROCESS_NAMED(ICRNL),
      POSIX_PROCESS_NAMED(IXON), POSIX_PROCESS_NAMED(IXANY), POSIX_PROCESS_NAMED(IXOFF),
      POSIX_PROCESS_NAMED(IMAXBEL), POSIX_PROCESS_NAMED(IUTF8),
      // c_oflag
      POSIX_PROCESS_NAMED(OPOST), POSIX_PROCESS_NAMED(ONLCR), POSIX_PROCESS_NAMED(OCRNL),
      // c_cflag
      POSIX_PROCESS_NAMED(CSIZE), POSIX_PROCESS_NAMED(CS8), POSIX_PROCESS_NAMED(CSTOPB),
      POSIX_PROCESS_NAMED(CREAD), POSIX_PROCESS_NAMED(PARENB), POSIX_PROCESS_NAMED(HUPCL),
      POSIX_PROCESS_NAMED(CLOCAL),
      // c_lflag
      POSIX_PROCESS_NAMED(ISIG), POSIX_PROCESS_NAMED(ICANON), POSIX_PROCESS_NAMED(ECHO),
      POSIX_PROCESS_NAMED(ECHOE), POSIX_PROCESS_NAMED(ECHOK), POSIX_PROCESS_NAMED(ECHONL),
      POSIX_PROCESS_NAMED(ECHOCTL), POSIX_PROCESS_NAMED(ECHOKE), POSIX_PROCESS_NAMED(NOFLSH),
      POSIX_PROCESS_NAMED(TOSTOP), POSIX_PROCESS_NAMED(IEXTEN)};
  static constexpr Named kControlCharacters[] = {
      POSIX_PROCESS_NAMED(VINTR),    POSIX_PROCESS_NAMED(VQUIT),   POSIX_PROCESS_NAMED(VERASE),
      POSIX_PROCESS_NAMED(VKILL),    POSIX_PROCESS_NAMED(VEOF),    POSIX_PROCESS_NAMED(VTIME),
      POSIX_PROCESS_NAMED(VMIN),     POSIX_PROCESS_NAMED(VSTART),  POSIX_PROCESS_NAMED(VSTOP),
      POSIX_PROCESS_NAMED(VSUSP),    POSIX_PROCESS_NAMED(VEOL),    POSIX_PROCESS_NAMED(VREPRINT),
      POSIX_PROCESS_NAMED(VDISCARD), POSIX_PROCESS_NAMED(VWERASE), POSIX_PROCESS_NAMED(VLNEXT),
      POSIX_PROCESS_NAMED(VEOL2)};
#undef POSIX_PROCESS_NAMED
  Napi::Object flags = Napi::Object::New(env);
  for (const Named& flag : kFlags) flags.Set(flag.name, Napi::Number::New(env, flag.value));
  constants.Set("flags", flags);
  Napi::Object cc = Napi::Object::New(env);
  for (const Named& c : kControlCharacters) cc.Set(c.name, Napi::Number::New(env, c.value));
  constants.Set("cc", cc);
  Napi::Object when = Napi::Object::New(env);
  when.Set("now", Napi::Number::New(env, TCSANOW));
  when.Set("drain", Napi::Number::New(env, TCSADRAIN));
  when.Set("flush", Napi::Number::New(env, TCSAFLUSH));
  constants.Set("when", when);
  // Speeds: [B constant, baud] pairs: every speed of Linux's CBAUD, up to the 4 Mbaud of USB
  // serial adapters, so that what tcgetattr reads is a baud rate tcsetattr takes back.
#define POSIX_PROCESS_SPEED(baud) \
  { B##baud, baud }
  static constexpr speed_t kSpeeds[][2] = {
      POSIX_PROCESS_SPEED(0),       POSIX_PROCESS_SPEED(50),      POSIX_PROCESS_SPEED(75),
      POSIX_PROCESS_SPEED(110),     POSIX_PROCESS_SPEED(134),     POSIX_PROCESS_SPEED(150),
      POSIX_PROCESS_SPEED(200),     POSIX_PROCESS_SPEED(300),     POSIX_PROCESS_SPEED(600),
      POSIX_PROCESS_SPEED(1200),    POSIX_PROCESS_SPEED(1800),    POSIX_PROCESS_SPEED(2400),
      POSIX_PROCESS_SPEED(4800),    POSIX_PROCESS_SPEED(9600),    POSIX_PROCESS_SPEED(19200),
      POSIX_PROCESS_SPEED(38400),   POSIX_PROCESS_SPEED(57600),   POSIX_PROCESS_SPEED(115200),
      POSIX_PROCESS_SPEED(230400),  POSIX_PROCESS_SPEED(460800),  POSIX_PROCESS_SPEED(500000),
      POSIX_PROCESS_SPEED(576000),  POSIX_PROCESS_SPEED(921600),  POSIX_PROCESS_SPEED(1000000),
      POSIX_PROCESS_SPEED(1152000), POSIX_PROCESS_SPEED(1500000), POSIX_PROCESS_SPEED(2000000),
#ifdef B4000000  // not on SPARC
      POSIX_PROCESS_SPEED(2500000), POSIX_PROCESS_SPEED(3000000), POSIX_PROCESS_SPEED(3500000),
      POSIX_PROCESS_SPEED(4000000),
#endif
  };
#undef POSIX_PROCESS_SPEED
  Napi::Array speeds = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& pair : kSpeeds) {
    speeds.Set(i++, Napi::Number::New(env, pair[0]));
    speeds.Set(i++, Napi::Number::New(env, pair[1]));
  }
  constants.Set("speeds", speeds);
  constants.Set("nccs", Napi::Number::New(env, NCCS));
  return constants;
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("tcgetattr", Napi::Function::New(env, TcGetAttr, "tcgetattr"));
  exports.Set("tcsetattr", Napi::Function::New(env, TcSetAttr, "tcsetattr"));
  exports.Set("termiosConstants", Constants(env));
}

}  // namespace posix_process::termios
