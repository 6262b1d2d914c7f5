// Waiting for children: waitpid(2), wait4(2), waitid(2), and asynchronous waits on pidfds.
#pragma once

#include <napi.h>

#include <vector>

namespace posix_process::wait {

void Initialize(Napi::Env env, Napi::Object exports);

// Before fork(2) (fork.cc): makes, for each environment's set of waits, the new epoll set its
// fork child will use (AfterForkInChild), so that the child needs no free fd for it. Returns 0,
// or the errno of the epoll_create1 that failed (nothing is left made then). DropForkSpares
// closes those the child did not take (in the parent, after the fork).
int MakeForkSpares();
void DropForkSpares();

// The pidfds of spawns delivered to JavaScript (spawn.cc), each owned by the delivery until
// pidfdWaitAdopt takes it over. After the delivery, CloseUnclaimedPidfds closes those of its own
// that no wait took over (JavaScript stopped half-way: a worker exiting), handing them to the
// background reaper.
void HandOverPidfd(int pidfd);
void CloseUnclaimedPidfds(const std::vector<int>& pidfds);

}  // namespace posix_process::wait
