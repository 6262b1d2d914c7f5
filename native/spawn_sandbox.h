// The sandbox of a spawn (docs/sandbox.md): namespaces with their id maps, hostname, /proc,
// loopback, chroot, capabilities and no_new_privs. spawn_clone.cc passes its clone flags
// (clone3) and has the id maps written (WriteIdMaps); its steps in the child run from
// spawn_child.cc's tables, in the order spawn_child.h gives and explains.
#pragma once

#include <sched.h>
#include <stdint.h>

#include "spawn_child.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

namespace posix_process::spawn {

struct SpawnJob;

// The namespace flags a request may carry (spawn_schema.h, namespaceFlags).
constexpr uint64_t kNamespaceCloneFlags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
                                          CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                                          CLONE_NEWCGROUP | CLONE_NEWTIME;

// In this process: whether it may write any gid map (CAP_SETGID); without it, the kernel takes a
// gid_map only once setgroups(2) is denied in the child's user namespace.
bool MayMapAnyGid();

// On the thread that cloned the job's child, right after the clone: writes its uid_map and
// gid_map, then opens the gate it waits at (userns_sync). On failure the child is killed (it
// never passes the gate), the error, step and index go to job->map_error, map_step and
// map_index, and FinishJob reports them once the child is gone.
void WriteIdMaps(SpawnJob* job);

// The child's steps (spawn_child.cc's tables).
void AwaitIdMaps(ChildPlan* plan);         // userns_sync
void EnterSandbox(ChildPlan* plan);        // mount, sethostname, loopback, chroot
void KeepCapabilities(ChildPlan* plan);    // prctl(PR_SET_KEEPCAPS)
void SetCapabilities(ChildPlan* plan);     // capset
void SetNoNewPrivileges(ChildPlan* plan);  // prctl(PR_SET_NO_NEW_PRIVS)

}  // namespace posix_process::spawn
