// The library's holds on the child subreaper flag (contain: 'subreaper', lib/spawn/contain.ts).
//
// The flag belongs to the process, but every thread (the main one, each worker) has its own
// module state: counted per thread, one thread's last tree dropped the flag while another's trees
// lived (their orphans then escaped to init), and a worker ended with trees alive left the process
// a subreaper for good (later orphans stayed zombies). So the count is here, for the process: the
// flag is set by the first hold (if it is not set), and dropped when the last hold is released,
// unless the program asked for it (setChildSubreaper(true)). A worker's holds are released by its
// environment's cleanup hook. The children the process had when the library set the flag are
// kept here too: at the drop, the caller reaps the others the flag brought, and leaves these to
// their owners, whichever thread set it.
//
// A fork() child starts with none of this (the kernel does not pass the flag on): an atfork
// handler resets the count and starts a new generation, and a hold taken before the fork (a tree
// the child's copy of the JavaScript still has) is released into nothing.
//
// Man pages: prctl(2) (PR_SET_CHILD_SUBREAPER).
#include "subreaper_holds.h"

#include <errno.h>
#include <pthread.h>
#include <sys/prctl.h>

#include <algorithm>
#include <vector>

#include "util/addon_state.h"
#include "util/error.h"

namespace posix_process::subreaper_holds {

namespace {

pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
// Live subreaper trees of every environment, with `mutex` held.
int holds = 0;
// Whether the flag is the library's to drop once `holds` is 0 (false: the program's, or unset).
bool library_drops = false;
// Counts the fork() children this process descends from: a hold is released only in the
// generation that took it.
int generation = 0;
bool atfork_registered = false;
// pid, start time, ... of this process's children when the library set the flag. Never destroyed:
// a worker's cleanup hook may run while the process runs its static destructors.
std::vector<double>& children_before = *new std::vector<double>;

class Lock {
 public:
  Lock() { ::pthread_mutex_lock(&mutex); }
  ~Lock() { ::pthread_mutex_unlock(&mutex); }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
};

void LockForFork() {
  ::pthread_mutex_lock(&mutex);
}
void UnlockAfterFork() {
  ::pthread_mutex_unlock(&mutex);
}
void ResetInForkChild() {
  holds = 0;
  library_drops = false;
  generation++;
  children_before.clear();
  ::pthread_mutex_unlock(&mutex);
}

bool FlagSet() {
  int on = 0;
  return ::prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0) == 0 && on != 0;
}

// With `mutex` held: the flag dropped if the library holds it and nothing else does.
bool DropIfLast() {
  if (holds > 0 || !library_drops) return false;
  ::prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
  library_drops = false;
  return true;
}

// With `mutex` held: the environment's holds, forgotten if they were taken before a fork().
int& EnvironmentHolds(AddonState& state) {
  if (state.subreaper_generation != generation) {
    state.subreaper_generation = generation;
    state.subreaper_holds = 0;
  }
  return state.subreaper_holds;
}

// The environment is ending with trees alive: its holds go, and the flag with them if they were
// the last. Their orphans already adopted stay this process's children (docs/containment.md).
void ReleaseEnvironmentHolds(void* data) {
  Lock lock;
  int& mine = EnvironmentHolds(*static_cast<AddonState*>(data));
  holds -= std::min(holds, mine);
  mine = 0;
  if (DropIfLast()) children_before.clear();
}

std::vector<double> Snapshot(const Napi::Value& value) {
  std::vector<double> pairs;
  Napi::Array array = value.As<Napi::Array>();
  pairs.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) {
    pairs.push_back(array.Get(i).ToNumber().DoubleValue());
  }
  return pairs;
}

Napi::Value PairsValue(Napi::Env env, const std::vector<double>& pairs) {
  Napi::Array array = Napi::Array::New(env, pairs.size());
  for (size_t i = 0; i < pairs.size(); i++) array.Set(static_cast<uint32_t>(i), pairs[i]);
  return array;
}

// What runs before any lock is taken: the cleanup hook of this environment and the atfork
// handlers, registered once.
void Prepare(Napi::Env env, AddonState& state) {
  if (!state.subreaper_hook_added) {
    if (napi_add_env_cleanup_hook(env, ReleaseEnvironmentHolds, &state) != napi_ok) {
      throw Napi::Error::New(env, "napi_add_env_cleanup_hook failed");
    }
    state.subreaper_hook_added = true;
  }
  int err = 0;
  {
    Lock lock;
    if (!atfork_registered) {
      err = ::pthread_atfork(LockForFork, UnlockAfterFork, ResetInForkChild);
      atfork_registered = err == 0;
    }
  }
  if (err != 0) throw SyscallError(env, err, "pthread_atfork");
}

// subreaperHold(childrenBefore: number[] | null): one more tree; returns the hold, to be given
// back to subreaperRelease. Sets the flag if it is not set, which needs `childrenBefore` (this
// process's children, pid and start time in turn): -1, holding nothing, when it was null then.
Napi::Value Hold(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool given = info[0].IsArray();
  std::vector<double> before = given ? Snapshot(info[0]) : std::vector<double>();
  AddonState& state = GetAddonState(env);
  Prepare(env, state);
  int err = 0;
  int taken = -1;
  {
    Lock lock;
    if (!FlagSet()) {
      if (!given) return Napi::Number::New(env, -1);
      if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == -1) err = errno;
      if (err == 0) {
        library_drops = true;
        children_before.swap(before);
      }
    }
    if (err == 0) {
      holds++;
      EnvironmentHolds(state)++;
      taken = generation;
    }
  }
  if (err != 0) throw SyscallError(env, err, "prctl");
  return Napi::Number::New(env, taken);
}

// subreaperRelease(hold): one tree fewer. Returns the children the process had when the library
// set the flag if this dropped it (the caller reaps the orphans it brought), else null.
Napi::Value Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int taken = info[0].ToNumber().Int32Value();
  AddonState& state = GetAddonState(env);
  std::vector<double> before;
  {
    Lock lock;
    int& mine = EnvironmentHolds(state);
    if (taken != generation || mine == 0) return env.Null();
    mine--;
    holds--;
    if (!DropIfLast()) return env.Null();
    before.swap(children_before);
  }
  return PairsValue(env, before);
}

// subreaperForProgram(on, childrenNow): the program's setChildSubreaper. true: the flag is set
// and stays after the last tree. false: dropped now if no tree holds it, else by the last tree's
// end, which then reaps what was adopted from now on; that needs `childrenNow` (the program's own
// children): false, changing nothing, when it was null then.
Napi::Value ForProgram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool on = info[0].ToBoolean().Value();
  bool given = info[1].IsArray();
  std::vector<double> now = given ? Snapshot(info[1]) : std::vector<double>();
  Prepare(env, GetAddonState(env));
  int err = 0;
  {
    Lock lock;
    if (on || holds == 0) {
      if (::prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0) == -1) {
        err = errno;
      } else {
        library_drops = false;
        children_before.clear();
      }
    } else if (!library_drops) {
      if (!given) return Napi::Boolean::New(env, false);
      library_drops = true;
      children_before.swap(now);
    }
  }
  if (err != 0) throw SyscallError(env, err, "prctl");
  return Napi::Boolean::New(env, true);
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("subreaperHold", Napi::Function::New(env, Hold, "subreaperHold"));
  exports.Set("subreaperRelease", Napi::Function::New(env, Release, "subreaperRelease"));
  exports.Set("subreaperForProgram", Napi::Function::New(env, ForProgram, "subreaperForProgram"));
}

}  // namespace posix_process::subreaper_holds
