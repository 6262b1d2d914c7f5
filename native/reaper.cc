// Support for lib/reaper.ts: the pids that child_process (libuv) is waiting for.
//
// libuv reaps only its own children, each by pid, when SIGCHLD arrives; if anyone else reaps one
// first, its 'exit' event never fires. A reaper that adopts orphans must therefore skip them. The
// loop knows them: every child_process child is a UV_PROCESS handle whose `pid` field is set, so
// walking the environment's loop (uv_walk) lists them exactly.
//
// Man pages: wait(2); libuv docs: uv_walk, uv_process_t.
#include "reaper.h"

#include <node_api.h>
#include <uv.h>

#include <new>
#include <vector>

namespace posix_process::reaper {

namespace {

struct ProcessPids {
  std::vector<int> pids;
  bool out_of_memory = false;
};

// A uv_walk callback: a bad_alloc is noted and thrown after the walk, not through libuv's frames.
void CollectProcess(uv_handle_t* handle, void* arg) {
  if (handle->type != UV_PROCESS || uv_is_closing(handle)) return;
  auto* found = static_cast<ProcessPids*>(arg);
  try {
    found->pids.push_back(reinterpret_cast<uv_process_t*>(handle)->pid);
  } catch (const std::bad_alloc&) {
    found->out_of_memory = true;
  }
}

Napi::Value LibuvChildPids(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    throw Napi::Error::New(env, "napi_get_uv_event_loop failed");
  }
  ProcessPids found;
  uv_walk(loop, CollectProcess, &found);
  if (found.out_of_memory) throw std::bad_alloc();
  const std::vector<int>& pids = found.pids;
  Napi::Array result = Napi::Array::New(env, pids.size());
  for (size_t i = 0; i < pids.size(); i++) result.Set(i, Napi::Number::New(env, pids[i]));
  return result;
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("libuvChildPids", Napi::Function::New(env, LibuvChildPids, "libuvChildPids"));
}

}  // namespace posix_process::reaper
