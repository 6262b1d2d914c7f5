// Per-environment state of the addon: one instance per Node environment (main thread or worker),
// stored with napi_set_instance_data so that nothing is global and everything is freed when the
// environment is torn down.
#pragma once

#include <napi.h>

namespace posix_process {

struct AddonState {
  // The JavaScript SyscallError class (lib/errors.ts), registered once at load time so that native
  // code throws the same class the TypeScript facade documents.
  Napi::FunctionReference syscall_error_constructor;
};

// The state of the environment `env`; created by InitAddonState at module load.
AddonState& GetAddonState(Napi::Env env);
void InitAddonState(Napi::Env env);

}  // namespace posix_process
