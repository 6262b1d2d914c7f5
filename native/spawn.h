// The safe spawn: fork-then-exec done natively on a dedicated spawning thread.
#pragma once

#include <napi.h>

namespace posix_process::spawn {

void Initialize(Napi::Env env, Napi::Object exports);

// Before fork(2) (fork.cc): makes, for each Spawner, the new epoll set its fork child will use
// (spawn_teardown.cc, AfterForkInChild), so that the child needs no free fd for it. Returns 0, or
// the errno of the epoll_create1 that failed (nothing is left made then). DropForkSpares closes
// those the child did not take (in the parent, after the fork).
int MakeForkSpares();
void DropForkSpares();

}  // namespace posix_process::spawn
