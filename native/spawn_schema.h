// The packed spawn request and its results: the one definition of their slots. The native spawn
// files read the request (spawn_request.cc) and write the results (spawn.cc) through the enums
// below; the binding exports the same names and numbers as `spawnSchema` (SchemaObject), and
// lib/spawn/request.ts packs and unpacks by those names, so an option is added here once and
// cannot get out of step between the two languages.
//
// A request is spawnStart(id, strings, layout, groups, rlimits): `layout` is a Float64Array of
// the layout slots, then fd slots for each fd of the child. Each finished spawn reaches the
// facade's dispatcher as result slots in a Float64Array.
#pragma once

// X(enum name, exported name): the request's numbers. -1 leaves a setting as it is.
#define POSIX_PROCESS_LAYOUT_SLOTS(X)                                                      \
  X(kCandidateCount, candidateCount) /* how many of the strings are which (TakeStrings) */ \
  X(kArgvCount, argvCount)                                                                 \
  X(kEnvCount, envCount) /* -1: the child gets this process's environment */               \
  X(kHasCwd, hasCwd)                                                                       \
  X(kFdCount, fdCount)                                                                     \
  X(kSetsid, setsid) /* 1: setsid */                                                       \
  X(kPgid, pgid)     /* -1, or 0 (new group) or the group to join */                       \
  X(kGid, gid)                                                                             \
  X(kUid, uid)                                                                             \
  X(kNice, nice) /* NaN: leave */                                                          \
  X(kUmask, umask)                                                                         \
  X(kPdeathsig, pdeathsig) /* 0: none */                                                   \
  X(kDaemonize, daemonize) /* 1: daemon() */                                               \
  /* Signal sets, in two 32-bit halves: bit (signo - 1) stands for signo. */               \
  X(kSigmaskLow, sigmaskLow)                                                               \
  X(kSigmaskHigh, sigmaskHigh)                                                             \
  X(kResetLow, resetLow) /* reset to SIG_DFL */                                            \
  X(kResetHigh, resetHigh)                                                                 \
  /* sandbox: CLONE_NEW* flags (0: none), and a cgroup v2 directory's fd (-1: none); */    \
  /* 1 for each string after the fd paths, in this order: the uid map, the gid map, the */ \
  /* hostname, the chroot; capability sets in two 32-bit halves (bit n: capability n). */  \
  X(kNamespaceFlags, namespaceFlags)                                                       \
  X(kCgroupFd, cgroupFd)                                                                   \
  X(kHasUidMap, hasUidMap)                                                                 \
  X(kHasGidMap, hasGidMap)                                                                 \
  X(kHasHostname, hasHostname)                                                             \
  X(kHasChroot, hasChroot)                                                                 \
  X(kSetCapabilities, setCapabilities) /* 1: cut the sets to capabilities */               \
  X(kCapabilitiesLow, capabilitiesLow)                                                     \
  X(kCapabilitiesHigh, capabilitiesHigh)                                                   \
  X(kAmbientLow, ambientLow)                                                               \
  X(kAmbientHigh, ambientHigh)                                                             \
  X(kNoNewPrivileges, noNewPrivileges)

// One fd of the child: the target, the parent's source fd or -1 for a path (the next of the
// request's path strings), whether a missing source is fine, and the open flags and mode for a
// path.
#define POSIX_PROCESS_FD_SLOTS(X) \
  X(kTarget, target)              \
  X(kSource, source)              \
  X(kOptional, optional)          \
  X(kFlags, flags)                \
  X(kMode, mode)

// One finished spawn: its id, pid and pidfd (-1 for a daemon: not our child), then errno (0 once
// the program runs), the ChildStep it was in (named by spawnStepNames), which fd or limit, and
// the signal that ended a child before its exec.
#define POSIX_PROCESS_RESULT_SLOTS(X) \
  X(kId, id)                          \
  X(kPid, pid)                        \
  X(kPidfd, pidfd)                    \
  X(kErrno, errno)                    \
  X(kStep, step)                      \
  X(kStepIndex, stepIndex)            \
  X(kSignal, signal)

namespace posix_process::spawn {

#define POSIX_PROCESS_ENUM_ENTRY(slot, name) slot,
enum LayoutSlot : int { POSIX_PROCESS_LAYOUT_SLOTS(POSIX_PROCESS_ENUM_ENTRY) kLayoutSlots };
enum FdSlot : int { POSIX_PROCESS_FD_SLOTS(POSIX_PROCESS_ENUM_ENTRY) kFdSlots };
enum ResultSlot : int { POSIX_PROCESS_RESULT_SLOTS(POSIX_PROCESS_ENUM_ENTRY) kResultSlots };
#undef POSIX_PROCESS_ENUM_ENTRY

}  // namespace posix_process::spawn
