// Resources and scheduling of the calling process or any pid. The facade (lib/resources.ts)
// validates every argument and maps names to the constants exported here.
//
// Man pages: prlimit(2), getrlimit(2), getrusage(2), getpriority(2), sched_getaffinity(2),
// CPU_SET(3), sched_getscheduler(2), sched_getparam(2), sched(7).
#include "resources.h"

#include <errno.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "util/arguments.h"
#include "util/error.h"

namespace posix_process::resources {

namespace {

// A limit from the facade: a BigInt below 2**64 (RLIM64_INFINITY is 2**64-1).
uint64_t LimitArgument(const Napi::CallbackInfo& info, size_t index) {
  bool lossless = false;
  uint64_t value = 0;
  if (info[index].IsBigInt()) value = info[index].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless)
    throw Napi::TypeError::New(info.Env(), "prlimit: a limit must be a BigInt below 2**64");
  return value;
}

// prlimit(pid, resource[, soft, hard]) -> [soft, hard] as BigInts: the limits before the call.
Napi::Value Prlimit(const Napi::CallbackInfo& info) {
  pid_t pid = Int32Argument(info, 0, "pid");
  int resource = Int32Argument(info, 1, "resource");
  bool set = info.Length() > 2;
  struct rlimit64 limit = {};
  if (set) limit = {LimitArgument(info, 2), LimitArgument(info, 3)};
  struct rlimit64 old = {};
  // The raw call: glibc's prlimit wrapper takes __rlimit_resource, and this is the same syscall.
  if (::syscall(SYS_prlimit64, pid, resource, set ? &limit : nullptr, &old) == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "prlimit");
  }
  Napi::Array result = Napi::Array::New(info.Env(), 2);
  result.Set(0u, Napi::BigInt::New(info.Env(), static_cast<uint64_t>(old.rlim_cur)));
  result.Set(1u, Napi::BigInt::New(info.Env(), static_cast<uint64_t>(old.rlim_max)));
  return result;
}

// getpriority(which, who) -> the nice value. The raw syscall returns 20 - nice (1..40), so -1 is
// always an error, unlike glibc's wrapper whose -1 is also a valid nice value.
Napi::Value GetPriority(const Napi::CallbackInfo& info) {
  int which = Int32Argument(info, 0, "which");
  int who = Int32Argument(info, 1, "who");
  long result = ::syscall(SYS_getpriority, which, static_cast<id_t>(who));
  if (result == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "getpriority");
  }
  return Napi::Number::New(info.Env(), 20 - static_cast<double>(result));
}

Napi::Value SetPriority(const Napi::CallbackInfo& info) {
  int which = Int32Argument(info, 0, "which");
  int who = Int32Argument(info, 1, "who");
  int nice = Int32Argument(info, 2, "nice");
  if (::setpriority(static_cast<__priority_which_t>(which), static_cast<id_t>(who), nice) == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "setpriority");
  }
  return info.Env().Undefined();
}

// sched_getaffinity(pid) -> the CPU numbers in its mask, ascending. The set grows until it holds
// the kernel's mask (EINVAL means too small, on machines with more CPUs than CPU_SETSIZE).
Napi::Value SchedGetAffinity(const Napi::CallbackInfo& info) {
  pid_t pid = Int32Argument(info, 0, "pid");
  for (size_t cpus = CPU_SETSIZE;; cpus *= 2) {
    size_t size = CPU_ALLOC_SIZE(cpus);
    std::vector<unsigned char> storage(size);
    auto* set = reinterpret_cast<cpu_set_t*>(storage.data());
    if (::sched_getaffinity(pid, size, set) == -1) {
      int err = errno;
      if (err == EINVAL && cpus < (1u << 20)) continue;
      throw SyscallError(info.Env(), err, "sched_getaffinity");
    }
    Napi::Array result = Napi::Array::New(info.Env());
    uint32_t count = 0;
    for (size_t cpu = 0; cpu < cpus; cpu++) {
      if (CPU_ISSET_S(cpu, size, set)) result.Set(count++, static_cast<double>(cpu));
    }
    return result;
  }
}

// sched_setaffinity(pid, cpus): cpus an array of CPU numbers, each below 2**16 (checked here too).
Napi::Value SchedSetAffinity(const Napi::CallbackInfo& info) {
  pid_t pid = Int32Argument(info, 0, "pid");
  if (!info[1].IsArray())
    throw Napi::TypeError::New(info.Env(), "schedSetAffinity: cpus must be an array");
  Napi::Array cpus = info[1].As<Napi::Array>();
  uint32_t highest = 0;
  std::vector<uint32_t> numbers(cpus.Length());
  for (uint32_t i = 0; i < cpus.Length(); i++) {
    Napi::Value value = cpus.Get(i);
    double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : -1;
    if (!(number >= 0 && number < 65536 && number == static_cast<uint32_t>(number))) {
      throw Napi::RangeError::New(info.Env(), "schedSetAffinity: a CPU number out of range");
    }
    numbers[i] = static_cast<uint32_t>(number);
    if (numbers[i] > highest) highest = numbers[i];
  }
  size_t size = CPU_ALLOC_SIZE(highest + 1);
  std::vector<unsigned char> storage(size);
  auto* set = reinterpret_cast<cpu_set_t*>(storage.data());
  CPU_ZERO_S(size, set);
  for (uint32_t cpu : numbers) CPU_SET_S(cpu, size, set);
  if (::sched_setaffinity(pid, size, set) == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "sched_setaffinity");
  }
  return info.Env().Undefined();
}

// sched_getscheduler(pid) + sched_getparam(pid) -> { policy, priority, resetOnFork }.
Napi::Value SchedGetScheduler(const Napi::CallbackInfo& info) {
  pid_t pid = Int32Argument(info, 0, "pid");
  int policy = ::sched_getscheduler(pid);
  if (policy == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "sched_getscheduler");
  }
  struct sched_param param = {};
  if (::sched_getparam(pid, &param) == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "sched_getparam");
  }
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("policy", policy & ~SCHED_RESET_ON_FORK);
  result.Set("priority", param.sched_priority);
  result.Set("resetOnFork", (policy & SCHED_RESET_ON_FORK) != 0);
  return result;
}

// sched_setscheduler(pid, policy, priority, resetOnFork).
Napi::Value SchedSetScheduler(const Napi::CallbackInfo& info) {
  pid_t pid = Int32Argument(info, 0, "pid");
  int policy = Int32Argument(info, 1, "policy");
  struct sched_param param = {};
  param.sched_priority = Int32Argument(info, 2, "priority");
  if (info[3].ToBoolean().Value()) policy |= SCHED_RESET_ON_FORK;
  if (::sched_setscheduler(pid, policy, &param) == -1) {
    int err = errno;
    throw SyscallError(info.Env(), err, "sched_setscheduler");
  }
  return info.Env().Undefined();
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object constants = Napi::Object::New(env);
  const std::pair<const char*, int> entries[] = {
      {"PRIO_PROCESS", PRIO_PROCESS},
      {"PRIO_PGRP", PRIO_PGRP},
      {"PRIO_USER", PRIO_USER},
      {"RUSAGE_SELF", RUSAGE_SELF},
      {"RUSAGE_CHILDREN", RUSAGE_CHILDREN},
      {"RUSAGE_THREAD", RUSAGE_THREAD},
      {"SCHED_OTHER", SCHED_OTHER},
      {"SCHED_FIFO", SCHED_FIFO},
      {"SCHED_RR", SCHED_RR},
      {"SCHED_BATCH", SCHED_BATCH},
      {"SCHED_IDLE", SCHED_IDLE},
      {"SCHED_DEADLINE", 6},  // these two are not in every glibc's sched.h
      {"SCHED_EXT", 7},
  };
  for (const auto& [name, value] : entries) constants.Set(name, value);
  constants.Freeze();
  return constants;
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("prlimit", Napi::Function::New(env, Prlimit, "prlimit"));
  exports.Set("getpriority", Napi::Function::New(env, GetPriority, "getpriority"));
  exports.Set("setpriority", Napi::Function::New(env, SetPriority, "setpriority"));
  exports.Set("schedGetAffinity", Napi::Function::New(env, SchedGetAffinity, "schedGetAffinity"));
  exports.Set("schedSetAffinity", Napi::Function::New(env, SchedSetAffinity, "schedSetAffinity"));
  exports.Set("schedGetScheduler",
              Napi::Function::New(env, SchedGetScheduler, "schedGetScheduler"));
  exports.Set("schedSetScheduler",
              Napi::Function::New(env, SchedSetScheduler, "schedSetScheduler"));
  exports.Set("resourceConstants", Constants(env));
}

}  // namespace posix_process::resources
