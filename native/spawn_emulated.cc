// The safe spawn under an emulator that cannot share memory with a child: qemu-user (running the
// linux-arm64 build on an x86-64 host, say) refuses clone(2) with CLONE_VM unless it makes a
// thread (EINVAL), and turns CLONE_VM | CLONE_VFORK into a plain fork that does not wait. A
// probe, the first time a spawn clones, finds out; there the child is cloned like fork(2)
// (no CLONE_VM), the only clone qemu-user runs as asked, and the plan it writes its step and error
// into is put in a MAP_SHARED page, copied back when the job finishes. The child's steps are the
// same; it costs the copy of the page tables that CLONE_VM avoids. daemon() is refused there
// (ENOSYS, step "clone"): see CloneWithoutSharedMemory.
//
// Man pages: clone(2), mmap(2) MAP_SHARED, pidfd_open(2).
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

#include "spawn_internal.h"
#include "util/raw_syscall.h"

namespace posix_process::spawn {

namespace {

POSIX_PROCESS_CHILD_SIDE int ExitAtOnce(void*) {
  return 0;
}

// 0: not probed yet; 1: CLONE_VM works; 2: it does not (an emulator).
std::atomic<int> clone_vm_state{0};

// Clones a CLONE_VM child that exits at once, and reaps it: EINVAL means an emulator. Signals are
// blocked so that no handler runs in the child, which shares this memory.
int ProbeCloneVm() {
  if constexpr (!kHaveRawSyscall) return 1;
  // For the tests: the emulated path on a real kernel (test/spawn-emulated.test.ts).
  if (getenv("POSIX_PROCESS_TEST_NO_CLONE_VM") != nullptr) return 2;
  constexpr size_t kProbeStack = 64 * 1024;
  void* stack = mmap(nullptr, kProbeStack, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return 0;  // unknown: probe again next time
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  long pid = RawClone(CLONE_VM | SIGCHLD, static_cast<char*>(stack) + kProbeStack, nullptr,
                      ExitAtOnce, nullptr);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  int state = 0;
  if (pid == -EINVAL) {
    state = 2;
  } else if (pid > 0) {
    int status;
    while (::waitpid(static_cast<pid_t>(pid), &status, 0) == -1 && errno == EINTR) {
    }
    state = 1;
  }
  munmap(stack, kProbeStack);
  return state;
}

}  // namespace

bool CloneVmUnsupported() {
  int state = clone_vm_state.load(std::memory_order_relaxed);
  if (state == 0) {
    state = ProbeCloneVm();
    if (state != 0) clone_vm_state.store(state, std::memory_order_relaxed);
  }
  return state == 2;
}

long CloneWithoutSharedMemory(SpawnJob* job, void* stack_top, bool wait_for_exec) {
  // No exec notice (CloneJob's fallback when one cannot be made): nothing would say when the
  // child has exec'd, since a clone here never waits.
  if (wait_for_exec) return -EMFILE;
  // daemon()'s intermediate child waits for the daemon's exec in a CLONE_VFORK clone, which
  // qemu-user does not suspend: it would wait for the daemon's end instead.
  if (job->plan.daemonize) return -ENOSYS;
  void* page =
      mmap(nullptr, sizeof(ChildPlan), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return -errno;
  auto* shared = static_cast<ChildPlan*>(page);
  memcpy(static_cast<void*>(shared), &job->plan, sizeof(ChildPlan));
  long pid = RawClone(SIGCHLD, stack_top, nullptr, RunChild, shared);
  if (pid < 0) {
    munmap(page, sizeof(ChildPlan));
    return pid;
  }
  // qemu-user 7.2 refuses CLONE_PIDFD on a fork-like clone; the child cannot be reaped by anyone
  // but this process before this (a user's waitpid(-1) aside), so the pid still names it.
  long pidfd = syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0);
  if (pidfd < 0) {
    int error = errno;
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    int status;
    while (::waitpid(static_cast<pid_t>(pid), &status, 0) == -1 && errno == EINTR) {
    }
    munmap(page, sizeof(ChildPlan));
    return -error;
  }
  job->clone_pidfd = static_cast<int>(pidfd);
  job->emulated_plan = shared;
  return pid;
}

void TakeEmulatedResults(SpawnJob* job) {
  ChildPlan* shared = job->emulated_plan;
  if (shared == nullptr) return;
  job->plan.error = shared->error;
  job->plan.step = shared->step;
  job->plan.step_index = shared->step_index;
  job->plan.daemon_pid = shared->daemon_pid;
  job->emulated_plan = nullptr;
  munmap(shared, sizeof(ChildPlan));
}

}  // namespace posix_process::spawn
