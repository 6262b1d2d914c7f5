// The sandbox of a spawn (docs/sandbox.md): namespaces, id maps, hostname, /proc, loopback,
// chroot, capabilities and no_new_privs. The clone flags it adds are passed by spawn_clone.cc
// (clone3); the steps it adds to the child run from spawn_child.cc's tables.
#pragma once

#include <sched.h>
#include <stdint.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

namespace posix_process::spawn {

// The namespace flags a request may carry (spawn_schema.h, namespaceFlags).
constexpr uint64_t kNamespaceCloneFlags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
                                          CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                                          CLONE_NEWCGROUP | CLONE_NEWTIME;

}  // namespace posix_process::spawn
