// The sandbox of a spawn (docs/sandbox.md). Two sides:
// - the thread that cloned a child in a new user namespace writes its id maps (WriteIdMaps) and
//   then lets it go on: a futex in the plan, which the child shares (CLONE_VM);
// - the child's steps, async-signal-safe like the rest of spawn_child.cc (raw system calls, no
//   allocation, no errno): wait for the maps, make / private and mount a fresh /proc, set the
//   hostname, bring up the loopback interface, chroot, keep and cut capabilities, no_new_privs.
//
// Man pages: user_namespaces(7), pid_namespaces(7), mount_namespaces(7), network_namespaces(7),
// clone(2), futex(2), mount(2), sethostname(2), netdevice(7), chroot(2), capabilities(7),
// capget(2), prctl(2) PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_SET_KEEPCAPS, PR_SET_NO_NEW_PRIVS.
#include "spawn_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "spawn_internal.h"
#include "util/raw_syscall.h"

namespace posix_process::spawn {

namespace {

// capget(2) and capset(2), version 3: two 32-bit halves of each set.
constexpr uint32_t kCapabilityVersion3 = 0x20080522;
struct CapabilityHeader {
  uint32_t version;
  int pid;
};
struct CapabilityData {
  uint32_t effective;
  uint32_t permitted;
  uint32_t inheritable;
};
constexpr int kCapSetgid = 6;

// Writes `text` to /proc/<pid>/<file> in one write(2), as the kernel requires of the maps.
// Returns 0 or the errno value, with `*open_failed` set when it is the open's.
int WriteProcFile(pid_t pid, const char* file, const char* text, bool* open_failed) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", static_cast<int>(pid), file);
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  *open_failed = fd < 0;
  if (fd < 0) return errno;
  size_t length = strlen(text);
  ssize_t written = ::write(fd, text, length);
  int error = written < 0 ? errno : static_cast<size_t>(written) != length ? EIO : 0;
  ::close(fd);
  return error;
}

// The child's pid as /proc numbers it, which is that of the pid namespace that mounted /proc,
// not always this process's (a Node in a pid namespace of its own without a /proc of its own):
// the "Pid:" line of its pidfd's fdinfo, given in /proc's namespace. Returns 0 with `*error` set
// when the child is not there (ENOENT: not visible in that namespace; ESRCH: gone), and `pid`
// where fdinfo cannot be read or has no such line (kernels before 5.3).
pid_t ProcPid(int pidfd, pid_t pid, int* error) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return pid;
  char text[512];
  ssize_t length = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  if (length <= 0) return pid;
  text[length] = '\0';
  const char* line = strstr(text, "Pid:\t");
  if (line == nullptr || (line != text && line[-1] != '\n')) return pid;
  long number = strtol(line + 5, nullptr, 10);
  if (number > 0) return static_cast<pid_t>(number);
  *error = number == 0 ? ENOENT : ESRCH;
  return 0;
}

}  // namespace

bool MayMapAnyGid() {
  CapabilityHeader header = {kCapabilityVersion3, 0};
  CapabilityData data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  return (data[0].effective >> kCapSetgid & 1) != 0;
}

void WriteIdMaps(SpawnJob* job) {
  ChildPlan& plan = job->plan;
  int error = 0;
  ChildStep step = ChildStep::kUidMap;
  bool open_failed = false;
  pid_t pid = ProcPid(job->clone_pidfd, job->pid, &error);
  if (error == 0 && plan.uid_map != nullptr) {
    error = WriteProcFile(pid, "uid_map", plan.uid_map, &open_failed);
  }
  if (error == 0 && plan.gid_map != nullptr) {
    step = ChildStep::kGidMap;
    if (plan.deny_setgroups) error = WriteProcFile(pid, "setgroups", "deny", &open_failed);
    if (error == 0) error = WriteProcFile(pid, "gid_map", plan.gid_map, &open_failed);
  }
  if (error != 0) {
    // Never let it pass the gate: it dies where it waits, and FinishJob reaps it.
    job->map_error = error;
    job->map_step = static_cast<int>(step);
    job->map_index = open_failed ? 1 : 0;
    syscall(SYS_pidfd_send_signal, job->clone_pidfd, SIGKILL, nullptr, 0);
    return;
  }
  __atomic_store_n(const_cast<uint32_t*>(&plan.userns_gate), 1, __ATOMIC_RELEASE);
  syscall(SYS_futex, &plan.userns_gate, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

// userns_sync: until the maps are written the child has no uid or gid in its user namespace.
POSIX_PROCESS_CHILD_SIDE void AwaitIdMaps(ChildPlan* plan) {
  if (!plan->wait_for_maps) return;
  auto* gate = const_cast<uint32_t*>(&plan->userns_gate);
  while (__atomic_load_n(gate, __ATOMIC_ACQUIRE) == 0) {
    RawSyscall(SYS_futex, gate, FUTEX_WAIT_PRIVATE, 0, nullptr, nullptr, 0);
  }
}

namespace {

// loopback: "lo" up (SIOCSIFFLAGS on a socket of the new network namespace, netdevice(7)).
POSIX_PROCESS_CHILD_SIDE void BringUpLoopback(ChildPlan* plan) {
  long sock = RawSyscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) Fail(plan, ChildStep::kLoopback, sock);
  ifreq request = {};
  request.ifr_name[0] = 'l';
  request.ifr_name[1] = 'o';
  long result = RawSyscall(SYS_ioctl, sock, SIOCGIFFLAGS, &request);
  if (result == 0) {
    request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP | IFF_RUNNING);
    result = RawSyscall(SYS_ioctl, sock, SIOCSIFFLAGS, &request);
  }
  RawSyscall(SYS_close, sock);
  if (result < 0) Fail(plan, ChildStep::kLoopback, result);
}

}  // namespace

// mount (index 0: / made private, 1: /proc), sethostname, loopback, chroot: what the new
// namespaces need before the program runs, while the child still has its capabilities there.
POSIX_PROCESS_CHILD_SIDE void EnterSandbox(ChildPlan* plan) {
  uint64_t namespaces = plan->namespace_flags;
  long result;
  if ((namespaces & CLONE_NEWNS) != 0) {
    // Nothing mounted from here on reaches the parent's namespace, nor the other way.
    result = RawSyscall(SYS_mount, nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
    if (result < 0) Fail(plan, ChildStep::kMount, result, 0);
    // A /proc of the new pid namespace, so that ps shows its processes only.
    if ((namespaces & CLONE_NEWPID) != 0) {
      Enter(plan, ChildStep::kMount, 1);
      result =
          RawSyscall(SYS_mount, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
      if (result < 0) Fail(plan, ChildStep::kMount, result, 1);
    }
  }
  if (plan->hostname != nullptr) {
    Enter(plan, ChildStep::kHostname);
    result = RawSyscall(SYS_sethostname, plan->hostname, plan->hostname_length);
    if (result < 0) Fail(plan, ChildStep::kHostname, result);
  }
  if ((namespaces & CLONE_NEWNET) != 0) {
    Enter(plan, ChildStep::kLoopback);
    BringUpLoopback(plan);
  }
  if (plan->chroot != nullptr) {
    Enter(plan, ChildStep::kChroot);
    // chdir("/") too: a cwd left outside the new root would be a way out of it.
    if ((result = RawSyscall(SYS_chroot, plan->chroot)) < 0 ||
        (result = RawSyscall(SYS_chdir, "/")) < 0) {
      Fail(plan, ChildStep::kChroot, result);
    }
  }
}

// prctl(PR_SET_KEEPCAPS): a setuid away from 0 keeps the permitted set, from which SetCapabilities
// takes what the program keeps and the ambient set.
POSIX_PROCESS_CHILD_SIDE void KeepCapabilities(ChildPlan* plan) {
  if (!plan->set_capabilities && plan->ambient_capabilities == 0) return;
  long result = RawSyscall(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0);
  if (result < 0) Fail(plan, ChildStep::kKeepCaps, result);
}

namespace {

POSIX_PROCESS_CHILD_SIDE void SetCapabilitySets(ChildPlan* plan, uint64_t effective,
                                                uint64_t permitted, uint64_t inheritable) {
  CapabilityHeader header = {kCapabilityVersion3, 0};
  CapabilityData data[2];
  for (int half = 0; half < 2; half++) {
    data[half].effective = static_cast<uint32_t>(effective >> (32 * half));
    data[half].permitted = static_cast<uint32_t>(permitted >> (32 * half));
    data[half].inheritable = static_cast<uint32_t>(inheritable >> (32 * half));
  }
  long result = RawSyscall(SYS_capset, &header, data);
  if (result < 0) Fail(plan, ChildStep::kCapset, result);
}

}  // namespace

// capset (index: the capability, for the bounding set and the ambient raise): the capabilities
// outside plan->capabilities leave the bounding set (so an exec of a root or file-capability
// program cannot get them back) and every other set; the ambient ones are made inheritable and
// raised, so that a program that is not root holds them after its exec.
POSIX_PROCESS_CHILD_SIDE void SetCapabilities(ChildPlan* plan) {
  if (!plan->set_capabilities && plan->ambient_capabilities == 0) return;
  CapabilityHeader header = {kCapabilityVersion3, 0};
  CapabilityData data[2] = {};
  long result = RawSyscall(SYS_capget, &header, data);
  if (result < 0) Fail(plan, ChildStep::kCapset, result);
  uint64_t permitted = data[0].permitted | static_cast<uint64_t>(data[1].permitted) << 32;
  uint64_t inheritable = data[0].inheritable | static_cast<uint64_t>(data[1].inheritable) << 32;
  uint64_t keep = plan->set_capabilities ? plan->capabilities : ~0ULL;
  // A setuid away from 0 cleared the effective set: the bounding set needs CAP_SETPCAP in it.
  SetCapabilitySets(plan, permitted, permitted, inheritable);
  for (int cap = 0; plan->set_capabilities && cap < 64; cap++) {
    if ((keep >> cap & 1) != 0) continue;
    long in_bounding = RawSyscall(SYS_prctl, PR_CAPBSET_READ, cap, 0, 0, 0);
    if (in_bounding < 0) break;  // EINVAL: past the kernel's last capability
    if (in_bounding == 1 && (result = RawSyscall(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0)) < 0) {
      Fail(plan, ChildStep::kCapset, result, cap);
    }
  }
  uint64_t ambient = plan->ambient_capabilities;
  SetCapabilitySets(plan, permitted & keep, permitted & keep, (inheritable & keep) | ambient);
  for (int cap = 0; cap < 64; cap++) {
    if ((ambient >> cap & 1) == 0) continue;
    result = RawSyscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
    if (result < 0) Fail(plan, ChildStep::kCapset, result, cap);
  }
}

// prctl(PR_SET_NO_NEW_PRIVS): neither the program nor what it runs can gain privileges by exec
// (setuid bits, file capabilities).
POSIX_PROCESS_CHILD_SIDE void SetNoNewPrivileges(ChildPlan* plan) {
  if (!plan->no_new_privileges) return;
  long result = RawSyscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (result < 0) Fail(plan, ChildStep::kNoNewPrivs, result);
}

}  // namespace posix_process::spawn
