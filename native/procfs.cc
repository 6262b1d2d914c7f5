// The two numbers that /proc/<pid>/stat is expressed in and that JavaScript cannot ask for: clock
// ticks per second (CPU times and start time are in ticks, see proc(5)) and the page size (rss is
// in pages). The parsing itself is TypeScript (lib/procfs.ts).
//
// Man pages: proc(5), sysconf(3).
#include "procfs.h"

#include <unistd.h>

namespace posix_process::procfs {

namespace {

Napi::Value ProcfsUnits(const Napi::CallbackInfo& info) {
  Napi::Object units = Napi::Object::New(info.Env());
  units.Set("clockTicksPerSecond", Napi::Number::New(info.Env(), ::sysconf(_SC_CLK_TCK)));
  units.Set("pageSize", Napi::Number::New(info.Env(), ::sysconf(_SC_PAGESIZE)));
  return units;
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("procfsUnits", Napi::Function::New(env, ProcfsUnits, "procfsUnits"));
}

}  // namespace posix_process::procfs
