#include "addon_state.h"

#include <sys/stat.h>
#include <unistd.h>

namespace posix_process {

namespace {

// The environment's teardown: closes the fds still held (see HoldFd). Registered first, so run
// last: after the hooks of the streams, collectors and spawns that may own some of them.
void CloseHeldFds(void* data) {
  auto* state = static_cast<AddonState*>(data);
  for (const auto& [fd, identity] : state->held_fds) {
    struct stat now;
    if (::fstat(fd, &now) == 0 && now.st_dev == identity.first && now.st_ino == identity.second) {
      ::close(fd);
    }
  }
  state->held_fds.clear();
}

}  // namespace

AddonState& GetAddonState(Napi::Env env) {
  return *env.GetInstanceData<AddonState>();
}

// node-addon-api deletes the instance data when the environment is torn down, after the cleanup
// hooks (the napi_env's own hook was registered before ours, so it runs after).
void InitAddonState(Napi::Env env) {
  auto* state = new AddonState();
  env.SetInstanceData<AddonState>(state);
  napi_add_env_cleanup_hook(env, CloseHeldFds, state);
}

void HoldFd(Napi::Env env, int fd) {
  struct stat identity;
  if (::fstat(fd, &identity) != 0) return;
  GetAddonState(env).held_fds[fd] = {identity.st_dev, identity.st_ino};
}

void ReleaseFd(Napi::Env env, int fd) {
  GetAddonState(env).held_fds.erase(fd);
}

}  // namespace posix_process
