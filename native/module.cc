// posix-process: the native entry point. It only registers each syscall family; the families live
// in their own files (process.cc, ...), shared helpers in util/.
#include <napi.h>

#include "collect.h"
#include "exec.h"
#include "exit.h"
#include "fd_calls.h"
#include "fork.h"
#include "orphans.h"
#include "posix_spawn.h"
#include "process.h"
#include "procfs.h"
#include "pty.h"
#include "pty_stream.h"
#include "reaper.h"
#include "resources.h"
#include "session.h"
#include "sigmask.h"
#include "signal_handlers.h"
#include "spawn.h"
#include "subreaper_holds.h"
#include "subreaper_trees.h"
#include "termios.h"
#include "testing.h"
#include "util/addon_state.h"
#include "util/error.h"
#include "wait.h"
#include "watchdog.h"

#ifndef POSIX_PROCESS_BUILD_SYSTEM
#define POSIX_PROCESS_BUILD_SYSTEM "unknown"
#endif

namespace posix_process {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitAddonState(env);
  InitErrors(env, exports);
  process::Initialize(env, exports);
  wait::Initialize(env, exports);
  posix_spawn::Initialize(env, exports);
  spawn::Initialize(env, exports);
  testing::Initialize(env, exports);
  procfs::Initialize(env, exports);
  session::Initialize(env, exports);
  orphans::Initialize(env, exports);
  subreaper_holds::Initialize(env, exports);
  subreaper_trees::Initialize(env, exports);
  signal_handlers::Initialize(env, exports);
  reaper::Initialize(env, exports);
  exit_group::Initialize(env, exports);
  exec::Initialize(env, exports);
  fork::Initialize(env, exports);
  resources::Initialize(env, exports);
  fd_calls::Initialize(env, exports);
  collect::Initialize(env, exports);
  pty::Initialize(env, exports);
  pty_stream::Initialize(env, exports);
  termios::Initialize(env, exports);
  sigmask::Initialize(env, exports);
  watchdog::Initialize(env, exports);
  // Which of the three builds produced this binary; CI checks that each build is really tested.
  exports.Set("buildSystem", Napi::String::New(env, POSIX_PROCESS_BUILD_SYSTEM));
  return exports;
}

}  // namespace posix_process

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return posix_process::Init(env, exports);
}

NODE_API_MODULE(posix_process, InitModule)
