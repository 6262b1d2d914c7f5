// Per-environment state of the addon: one instance per Node environment (main thread or worker),
// stored with napi_set_instance_data so that nothing is global and everything is freed when the
// environment is torn down.
#pragma once

#include <napi.h>
#include <sys/types.h>

#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

namespace posix_process {

// A worker's live subreaper tree (native/subreaper_trees.cc): its leader's pid and start time
// (ticks since boot), and the members its walks found (pid to start time).
struct SubreaperTreeRecord {
  pid_t leader;
  unsigned long long start;
  std::map<pid_t, unsigned long long> members;
};

struct AddonState {
  // The JavaScript SyscallError class (lib/errors.ts), registered once at load time so that native
  // code throws the same class the TypeScript facade documents.
  Napi::FunctionReference syscall_error_constructor;
  // See HoldFd: each fd with the identity (st_dev, st_ino) of the file it was made for.
  std::unordered_map<int, std::pair<dev_t, ino_t>> held_fds;
  // This environment's subreaper trees alive (native/subreaper_holds.cc), released at its end.
  int subreaper_holds = 0;
  int subreaper_generation = 0;  // that of subreaper_holds: holds taken before a fork() are void
  bool subreaper_hook_added = false;
  // A worker's subreaper trees alive, killed at its end (native/subreaper_trees.cc).
  std::vector<SubreaperTreeRecord> subreaper_trees;
  bool subreaper_trees_hook_added = false;
};

// The state of the environment `env`; created by InitAddonState at module load.
AddonState& GetAddonState(Napi::Env env);
void InitAddonState(Napi::Env env);

// Fds the library makes for its own JavaScript (pipe ends, socket pairs), held as plain numbers
// until JavaScript closes them (closeFd) or hands them to an owner (a native stream, run's
// collector, net.Socket): ReleaseFd then. A worker terminated in between would leak them for the
// life of the process, so the environment's teardown closes those still held, each only if it
// is still the same open file (a number closed behind the library's back and reused elsewhere in
// the process is left alone). On the environment's JS thread only.
void HoldFd(Napi::Env env, int fd);
void ReleaseFd(Napi::Env env, int fd);

}  // namespace posix_process
