// A process-wide thread that reaps children nobody else will wait for: those of a worker thread
// whose environment has ended (its waits are gone with it) and a worker's cgroup watchdog.
#pragma once

namespace posix_process::background_reaper {

// Starts the thread if it does not run yet: 0, or the errno of the step that failed (its call
// named in `*step`), so that a caller can fail cleanly before it makes a child to hand over.
int Start(const char** step);

// Takes `pidfd`, a pidfd of an unreaped child of this process, and reaps that child once it has
// exited, then closes the pidfd. Returns false, leaving `pidfd` to the caller, when the thread
// cannot be had (no memory, RLIMIT_NPROC, the addon cannot be pinned).
bool Adopt(int pidfd);

// waitid(P_PIDFD, WEXITED | WNOHANG) on `pidfd`, retried on EINTR: false while the child has not
// exited (or cannot be reaped yet: a zombie a tracer holds), true once it is reaped here or
// cannot be (ECHILD: reaped by someone else; any other error).
bool ReapIfExited(int pidfd);

// Takes `pidfd` for good: the child is reaped now if it has exited, else adopted; with no thread
// to be had (EAGAIN at RLIMIT_NPROC) the pidfd is closed and the child is left a zombie.
void HandOver(int pidfd);

}  // namespace posix_process::background_reaper
