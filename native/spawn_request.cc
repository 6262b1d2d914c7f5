// Request decoding: turns the packed request that the facade passes to spawnStart (one value of
// strings, one Float64Array of numbers laid out by spawn_schema.h, the groups and the limits)
// into a SpawnJob whose ChildPlan the child reads, and exports that schema, the rlimit constants
// and the decoder on its own for the schema test (spawnDecodeForTest).
//
// Requests are built completely on the JS thread (every string, array and fd table) before the
// clone.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "spawn_internal.h"
#include "spawn_sandbox.h"
#include "spawn_schema.h"

namespace posix_process::spawn {

namespace {

// A limit as the facade passes it: a BigInt below 2**64, a safe integer, or Infinity.
uint64_t RlimitValue(Napi::Env env, Napi::Value value) {
  if (value.IsBigInt()) {
    bool lossless;
    uint64_t limit = value.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(env, "spawnStart: bad rlimit");
    return limit;
  }
  double number = value.As<Napi::Number>().DoubleValue();
  if (number == INFINITY) return RLIM64_INFINITY;
  if (!(number >= 0 && number <= 9007199254740991.0 && number == std::floor(number))) {
    throw Napi::RangeError::New(env, "spawnStart: bad rlimit");
  }
  return static_cast<uint64_t>(number);
}

// The request's slots (LayoutSlot, FdSlot) are defined in spawn_schema.h.

// Fills `out` with the request's strings, in order the exec candidates, argv, envp, cwd and the
// fd paths. The facade passes one JavaScript string that holds them all, each followed by a NUL
// (one conversion instead of one per string, which was most of a spawn() call's cost), or, when
// any is a Buffer, an array of strings and Buffers. Either way the count must match the layout's.
void TakeStrings(Napi::Value value, size_t count, CStringArray& out) {
  if (value.IsString()) {
    out.AssignJoined(value.As<Napi::String>(), "spawnStart strings");
  } else if (value.IsArray()) {
    out.Assign(value, "spawnStart strings");
  } else {
    throw Napi::TypeError::New(value.Env(), "spawnStart: strings must be a string or an array");
  }
  if (out.size() != count) {
    throw Napi::TypeError::New(value.Env(), "spawnStart: strings do not match the layout");
  }
}

}  // namespace

// Builds the job from the request the facade validated, passed as
// spawnStart(id, strings, layout, groups, rlimits): the strings in one value and the numbers in
// one typed array, because each value read through N-API costs more than the rest of this
// function. Allocates freely: this runs on the JS thread, long before the child exists.
std::unique_ptr<SpawnJob> BuildJob(const Napi::CallbackInfo& info, Spawner* spawner) {
  Napi::Env env = info.Env();
  // Copied first: reading the strings below can run getters, which could detach or shrink it.
  auto layout_array = info[2].As<Napi::Float64Array>();
  std::vector<double> layout(layout_array.Data(),
                             layout_array.Data() + layout_array.ElementLength());
  for (size_t slot = 0; slot < layout.size(); slot++) {
    double value = layout[slot];
    bool unset_nice = slot == kNice && std::isnan(value);
    if (!unset_nice && !(value >= INT32_MIN && value <= UINT32_MAX && value == std::floor(value))) {
      throw Napi::RangeError::New(env, "spawnStart: bad layout value");
    }
  }
  // Each slot in its own range, so that every conversion below is defined.
  auto in_range = [&](int slot, double min, double max) {
    if (!(layout[slot] >= min && layout[slot] <= max)) {
      throw Napi::RangeError::New(env, "spawnStart: bad layout value");
    }
    return layout[slot];
  };
  auto count_at = [&](int slot) { return static_cast<size_t>(in_range(slot, 0, INT32_MAX)); };
  size_t candidate_count = count_at(kCandidateCount);
  size_t argv_count = count_at(kArgvCount);
  bool inherit_environ = in_range(kEnvCount, -1, INT32_MAX) == -1;
  size_t env_count = inherit_environ ? 0 : count_at(kEnvCount);
  size_t cwd_count = in_range(kHasCwd, 0, 1) != 0 ? 1 : 0;
  size_t fd_count = count_at(kFdCount);
  if (fd_count > (layout.size() - kLayoutSlots) / kFdSlots) {
    throw Napi::RangeError::New(env, "spawnStart: bad fd count");
  }
  size_t sandbox_count = 0;  // the sandbox's strings, after the fd paths
  for (int slot : {kHasUidMap, kHasGidMap, kHasHostname, kHasChroot}) {
    sandbox_count += in_range(slot, 0, 1) != 0 ? 1 : 0;
  }
  size_t path_count = 0;
  for (size_t i = 0; i < fd_count; i++) {
    const double* fd = layout.data() + kLayoutSlots + i * kFdSlots;
    if (fd[kTarget] < 0 || fd[kTarget] > 65535 || fd[kSource] < -1 || fd[kSource] > INT32_MAX ||
        fd[kOptional] < 0 || fd[kOptional] > 1 || fd[kFlags] > INT32_MAX || fd[kMode] < 0 ||
        fd[kMode] > 07777) {
      throw Napi::RangeError::New(env, "spawnStart: bad fd");
    }
    if (fd[kSource] == -1) path_count++;
  }

  auto job = std::make_unique<SpawnJob>();
  TakeStrings(info[1],
              candidate_count + argv_count + env_count + cwd_count + path_count + sandbox_count,
              job->strings);
  char* const* next = job->strings.data();
  job->candidates.assign(next, next + candidate_count);
  next += candidate_count;
  job->argv.assign(next, next + argv_count);
  job->argv.push_back(nullptr);
  next += argv_count;
  ChildPlan& plan = job->plan;
  if (inherit_environ) {
    // The facade leaves env out on the main thread when the caller gave none: Node keeps
    // process.env in the real environment there. It is copied, not read by the child, since the
    // JS thread may change it while a child is starting; the copy is shared while environ holds
    // the same strings, which saves a copy and its allocations for most spawns.
    if (spawner->environ_copy == nullptr || !spawner->environ_copy->MatchesEnviron()) {
      spawner->environ_copy = std::make_shared<CStringArray>();
      spawner->environ_copy->AssignEnviron();
    }
    job->environ_copy = spawner->environ_copy;
    plan.envp = job->environ_copy->data();
  } else {
    job->envp.assign(next, next + env_count);
    job->envp.push_back(nullptr);
    next += env_count;
    plan.envp = job->envp.data();
  }
  plan.candidates = job->candidates.data();
  plan.candidate_count = job->candidates.size();
  plan.argv = job->argv.data();
  if (cwd_count != 0) plan.cwd = *next++;

  plan.max_target = 2;
  job->fds.reserve(fd_count);
  for (size_t i = 0; i < fd_count; i++) {
    const double* fd = layout.data() + kLayoutSlots + i * kFdSlots;
    FdPlan entry = {};
    entry.target = static_cast<int>(fd[kTarget]);
    entry.source = static_cast<int>(fd[kSource]);
    entry.optional = fd[kOptional] != 0;
    // An inherited fd the caller has closed stays closed, even if one of this library's fds (a
    // concurrent clone's pidfd) takes its number before the child is cloned.
    if (entry.optional && entry.source >= 0 && ::fcntl(entry.source, F_GETFD) == -1) {
      entry.source = kSourceNotOpen;
    }
    if (entry.source == -1) {
      entry.path = *next++;
      entry.flags = static_cast<int>(fd[kFlags]);
      entry.mode = static_cast<mode_t>(fd[kMode]);
    }
    if (entry.target > plan.max_target) plan.max_target = entry.target;
    job->fds.push_back(entry);
  }
  plan.fds = job->fds.data();
  plan.fd_count = job->fds.size();

  plan.setsid = in_range(kSetsid, 0, 1) != 0;
  plan.pgid = static_cast<pid_t>(in_range(kPgid, -1, INT32_MAX));
  plan.gid = static_cast<int64_t>(in_range(kGid, -1, UINT32_MAX - 1));  // (gid_t) -1 is "leave"
  plan.uid = static_cast<int64_t>(in_range(kUid, -1, UINT32_MAX - 1));
  plan.set_nice = !std::isnan(layout[kNice]);
  plan.nice = plan.set_nice ? static_cast<int>(in_range(kNice, -20, 19)) : 0;
  plan.umask = static_cast<int>(in_range(kUmask, -1, 0777));
  plan.pdeathsig = static_cast<int>(in_range(kPdeathsig, 0, SIGRTMAX));
  plan.daemonize = in_range(kDaemonize, 0, 1) != 0;
  auto signal_set = [&](int low, int high) {
    return static_cast<uint64_t>(in_range(low, 0, UINT32_MAX)) |
           static_cast<uint64_t>(in_range(high, 0, UINT32_MAX)) << 32;
  };
  plan.sigmask = signal_set(kSigmaskLow, kSigmaskHigh);
  plan.reset_to_default = signal_set(kResetLow, kResetHigh);
  plan.setctty = static_cast<int>(in_range(kSetctty, -1, INT32_MAX));
  plan.foreground = static_cast<int>(in_range(kForeground, -1, INT32_MAX));
  plan.noctty = in_range(kNoctty, 0, 1) != 0;

  if (!info[3].IsUndefined()) {
    auto groups = info[3].As<Napi::Array>();
    for (uint32_t i = 0; i < groups.Length(); i++) {
      job->groups.push_back(groups.Get(i).As<Napi::Number>().Uint32Value());
    }
    plan.set_groups = true;
    plan.groups = job->groups.data();
    plan.group_count = job->groups.size();
  }

  if (!info[4].IsUndefined()) {
    auto rlimits = info[4].As<Napi::Array>();
    for (uint32_t i = 0; i < rlimits.Length(); i++) {
      auto limit = rlimits.Get(i).As<Napi::Object>();
      job->rlimits.push_back({limit.Get("resource").As<Napi::Number>().Int32Value(),
                              RlimitValue(env, limit.Get("soft")),
                              RlimitValue(env, limit.Get("hard"))});
    }
  }
  plan.rlimits = job->rlimits.data();
  plan.rlimit_count = job->rlimits.size();

  plan.namespace_flags = static_cast<uint64_t>(in_range(kNamespaceFlags, 0, UINT32_MAX));
  plan.cgroup_fd = static_cast<int>(in_range(kCgroupFd, -1, INT32_MAX));
  if (layout[kHasUidMap] != 0) plan.uid_map = *next++;
  if (layout[kHasGidMap] != 0) plan.gid_map = *next++;
  if (layout[kHasHostname] != 0) {
    plan.hostname = *next++;
    plan.hostname_length = strlen(plan.hostname);
  }
  if (layout[kHasChroot] != 0) plan.chroot = *next++;
  bool new_user = (plan.namespace_flags & CLONE_NEWUSER) != 0;
  if ((plan.namespace_flags & ~kNamespaceCloneFlags) != 0 ||
      ((plan.uid_map != nullptr || plan.gid_map != nullptr) && !new_user) ||
      (plan.hostname != nullptr && (plan.namespace_flags & CLONE_NEWUTS) == 0) ||
      (plan.daemonize && (plan.namespace_flags & CLONE_NEWPID) != 0)) {
    throw Napi::RangeError::New(env, "spawnStart: bad namespaces");
  }
  plan.wait_for_maps = plan.uid_map != nullptr || plan.gid_map != nullptr;
  plan.deny_setgroups = plan.gid_map != nullptr && !MayMapAnyGid();
  plan.set_capabilities = in_range(kSetCapabilities, 0, 1) != 0;
  plan.capabilities = signal_set(kCapabilitiesLow, kCapabilitiesHigh);
  plan.ambient_capabilities = signal_set(kAmbientLow, kAmbientHigh);
  plan.no_new_privileges = in_range(kNoNewPrivileges, 0, 1) != 0;
  // A child in a new pid namespace sees its parent, outside it, as pid 0 (getppid(2)).
  plan.parent_pid = (plan.namespace_flags & CLONE_NEWPID) != 0 ? 0 : ::getpid();
  plan.parent_pidfd = -1;
  plan.exec_notice_fd = -1;
  if (plan.daemonize) {
    // The daemon's parent is the intermediate child, which exits at once: a parent-death signal
    // would fire immediately, and a process group to join would be in another session.
    plan.pdeathsig = 0;
    plan.pgid = -1;
    plan.setctty = -1;  // the daemon never leads its session: it can have no terminal
    plan.foreground = -1;
    plan.noctty = false;
  }
  return job;
}

// Whether `value` can be a request's layout: a Float64Array with at least the layout slots (the
// facade builds it; the check keeps a direct call of the binding from reading garbage).
bool IsRequestLayout(const Napi::Value& value) {
  return value.IsTypedArray() &&
         value.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array &&
         value.As<Napi::TypedArray>().ElementLength() >= kLayoutSlots;
}

// spawnDecodeForTest(id, strings, layout, groups, rlimits) -> the ChildPlan that spawnStart would
// build from the same arguments, as an object, and spawns nothing: the test of the request schema
// packs requests in the facade and checks that every field arrives where the child reads it.
Napi::Value SpawnDecodeForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* spawner = static_cast<Spawner*>(info.Data());
  if (info.Length() != 5 || !IsRequestLayout(info[2])) {
    throw Napi::TypeError::New(env, "spawnDecodeForTest(id, strings, layout, groups, rlimits)");
  }
  std::unique_ptr<SpawnJob> job = BuildJob(info, spawner);
  const ChildPlan& plan = job->plan;
  auto strings = [&](const char* const* list, size_t count) {
    Napi::Array array = Napi::Array::New(env, count);
    for (size_t i = 0; i < count; i++) array.Set(static_cast<uint32_t>(i), list[i]);
    return array;
  };
  size_t env_count = 0;
  while (plan.envp[env_count] != nullptr) env_count++;
  Napi::Object decoded = Napi::Object::New(env);
  decoded.Set("candidates", strings(plan.candidates, plan.candidate_count));
  decoded.Set("argv", strings(plan.argv, job->argv.size() - 1));
  decoded.Set("envp", job->environ_copy != nullptr ? env.Null() : strings(plan.envp, env_count));
  decoded.Set("cwd", plan.cwd == nullptr ? env.Null() : Napi::String::New(env, plan.cwd));
  Napi::Array fds = Napi::Array::New(env, plan.fd_count);
  for (size_t i = 0; i < plan.fd_count; i++) {
    const FdPlan& fd = plan.fds[i];
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("target", fd.target);
    entry.Set("source", fd.source);
    entry.Set("optional", fd.optional);
    entry.Set("path", fd.path == nullptr ? env.Null() : Napi::String::New(env, fd.path));
    entry.Set("flags", fd.flags);
    entry.Set("mode", fd.mode);
    fds.Set(static_cast<uint32_t>(i), entry);
  }
  decoded.Set("fds", fds);
  decoded.Set("setsid", plan.setsid);
  decoded.Set("pgid", plan.pgid);
  decoded.Set("gid", static_cast<double>(plan.gid));
  decoded.Set("uid", static_cast<double>(plan.uid));
  decoded.Set("nice", plan.set_nice ? Napi::Value(Napi::Number::New(env, plan.nice)) : env.Null());
  decoded.Set("umask", plan.umask);
  decoded.Set("pdeathsig", plan.pdeathsig);
  decoded.Set("daemonize", plan.daemonize);
  decoded.Set("sigmask", Napi::BigInt::New(env, plan.sigmask));
  decoded.Set("resetToDefault", Napi::BigInt::New(env, plan.reset_to_default));
  auto string_or_null = [&](const char* value) {
    return value == nullptr ? env.Null() : Napi::Value(Napi::String::New(env, value));
  };
  decoded.Set("namespaceFlags", static_cast<double>(plan.namespace_flags));
  decoded.Set("cgroupFd", plan.cgroup_fd);
  decoded.Set("uidMap", string_or_null(plan.uid_map));
  decoded.Set("gidMap", string_or_null(plan.gid_map));
  decoded.Set("hostname", string_or_null(plan.hostname));
  decoded.Set("chroot", string_or_null(plan.chroot));
  decoded.Set("capabilities", plan.set_capabilities
                                  ? Napi::Value(Napi::BigInt::New(env, plan.capabilities))
                                  : env.Null());
  decoded.Set("ambientCapabilities", Napi::BigInt::New(env, plan.ambient_capabilities));
  decoded.Set("noNewPrivileges", plan.no_new_privileges);
  decoded.Set("setctty", plan.setctty);
  decoded.Set("foreground", plan.foreground);
  decoded.Set("noctty", plan.noctty);
  Napi::Array groups = Napi::Array::New(env, plan.group_count);
  for (size_t i = 0; i < plan.group_count; i++)
    groups.Set(static_cast<uint32_t>(i), plan.groups[i]);
  decoded.Set("groups", plan.set_groups ? Napi::Value(groups) : env.Null());
  Napi::Array rlimits = Napi::Array::New(env, plan.rlimit_count);
  for (size_t i = 0; i < plan.rlimit_count; i++) {
    Napi::Object limit = Napi::Object::New(env);
    limit.Set("resource", plan.rlimits[i].resource);
    limit.Set("soft", Napi::BigInt::New(env, plan.rlimits[i].soft));
    limit.Set("hard", Napi::BigInt::New(env, plan.rlimits[i].hard));
    rlimits.Set(static_cast<uint32_t>(i), limit);
  }
  decoded.Set("rlimits", rlimits);
  return decoded;
}

// spawnSchema: { layout, fd, result }, each { name: slot, ..., size }, from spawn_schema.h: the
// facade packs requests and reads results by these names, never by a number of its own.
Napi::Object SchemaObject(Napi::Env env) {
  auto table = [&](std::initializer_list<std::pair<const char*, int>> slots, int size) {
    Napi::Object object = Napi::Object::New(env);
    for (const auto& [name, slot] : slots) object.Set(name, slot);
    object.Set("size", size);
    object.Freeze();
    return object;
  };
#define POSIX_PROCESS_SCHEMA_ENTRY(slot, name) {#name, slot},
  Napi::Object schema = Napi::Object::New(env);
  schema.Set("layout",
             table({POSIX_PROCESS_LAYOUT_SLOTS(POSIX_PROCESS_SCHEMA_ENTRY)}, kLayoutSlots));
  schema.Set("fd", table({POSIX_PROCESS_FD_SLOTS(POSIX_PROCESS_SCHEMA_ENTRY)}, kFdSlots));
  schema.Set("result",
             table({POSIX_PROCESS_RESULT_SLOTS(POSIX_PROCESS_SCHEMA_ENTRY)}, kResultSlots));
#undef POSIX_PROCESS_SCHEMA_ENTRY
  schema.Freeze();
  return schema;
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object constants = Napi::Object::New(env);
  const std::pair<const char*, int> resources[] = {
      {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
      {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},       {"locks", RLIMIT_LOCKS},
      {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
      {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},       {"rss", RLIMIT_RSS},
      {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
      {"stack", RLIMIT_STACK},
  };
  Napi::Object rlimits = Napi::Object::New(env);
  for (const auto& [name, value] : resources) rlimits.Set(name, value);
  constants.Set("rlimits", rlimits);
  return constants;
}

}  // namespace posix_process::spawn
