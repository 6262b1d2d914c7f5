#include "addon_state.h"

namespace posix_process {

AddonState& GetAddonState(Napi::Env env) {
  return *env.GetInstanceData<AddonState>();
}

// node-addon-api deletes the instance data when the environment is torn down.
void InitAddonState(Napi::Env env) {
  env.SetInstanceData<AddonState>(new AddonState());
}

}  // namespace posix_process
