// A process-wide thread that reaps children nobody else will wait for: those of a worker thread
// whose environment has ended (its waits are gone with it) and a worker's cgroup watchdog.
#pragma once

namespace posix_process::background_reaper {

// Takes `pidfd`, a pidfd of an unreaped child of this process, and reaps that child once it has
// exited, then closes the pidfd. Returns false, leaving `pidfd` to the caller, when the thread
// cannot be had (no memory, RLIMIT_NPROC, the addon cannot be pinned).
bool Adopt(int pidfd);

}  // namespace posix_process::background_reaper
