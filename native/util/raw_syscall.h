// System calls that return -errno instead of setting errno, for code that runs in a child sharing
// the memory *and the thread-local storage* of a parent thread that keeps running: a clone with
// CLONE_VM but without CLONE_VFORK (spawn_clone.cc, the direct clone). glibc's syscall(2) would
// store the child's errors in the parent thread's errno at any moment, under code that is reading
// it.
//
// Inline assembly for the architectures Node ships for on Linux that matter here (x86_64 and
// aarch64), as musl and Go do it. Elsewhere kHaveRawSyscall is false and callers must not clone
// without CLONE_VFORK (spawn_clone.cc then uses its spawning thread for every spawn).
#pragma once

#include <errno.h>
#include <sched.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

// Marks code that runs in a clone child on a stack of its own (spawn_child.cc): the sanitizers of
// `npm run test:sanitize` know neither that stack nor that its memory is the parent's, so this
// code is not instrumented (and what it calls here is always inlined into it).
#define POSIX_PROCESS_CHILD_SIDE __attribute__((no_sanitize_address, no_sanitize_undefined))
#define POSIX_PROCESS_ALWAYS_INLINE inline __attribute__((always_inline))

namespace posix_process {

#if defined(__x86_64__)
constexpr bool kHaveRawSyscall = true;
POSIX_PROCESS_ALWAYS_INLINE long RawSyscall6(long number, long a1, long a2, long a3, long a4,
                                             long a5, long a6) {
  register long r10 asm("r10") = a4;
  register long r8 asm("r8") = a5;
  register long r9 asm("r9") = a6;
  long result;
  asm volatile("syscall"
               : "=a"(result)
               : "a"(number), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return result;
}
#elif defined(__aarch64__)
constexpr bool kHaveRawSyscall = true;
POSIX_PROCESS_ALWAYS_INLINE long RawSyscall6(long number, long a1, long a2, long a3, long a4,
                                             long a5, long a6) {
  register long x8 asm("x8") = number;
  register long x0 asm("x0") = a1;
  register long x1 asm("x1") = a2;
  register long x2 asm("x2") = a3;
  register long x3 asm("x3") = a4;
  register long x4 asm("x4") = a5;
  register long x5 asm("x5") = a6;
  asm volatile("svc 0"
               : "+r"(x0)
               : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
               : "memory");
  return x0;
}
#else
// Only ever called under CLONE_VFORK (the parent thread is suspended), where errno is free.
constexpr bool kHaveRawSyscall = false;
POSIX_PROCESS_ALWAYS_INLINE long RawSyscall6(long number, long a1, long a2, long a3, long a4,
                                             long a5, long a6) {
  long result = ::syscall(number, a1, a2, a3, a4, a5, a6);
  return result == -1 ? -errno : result;
}
#endif

template <typename T>
POSIX_PROCESS_ALWAYS_INLINE long SyscallArgument(T value) {
  if constexpr (std::is_null_pointer_v<T>) {
    return 0;
  } else if constexpr (std::is_pointer_v<T>) {
    return reinterpret_cast<long>(value);
  } else {
    return static_cast<long>(value);
  }
}

// RawSyscall(SYS_x, args...) -> the result, or -errno (-4095..-1) on failure. errno is untouched.
template <typename... Args>
POSIX_PROCESS_ALWAYS_INLINE long RawSyscall(long number, Args... args) {
  static_assert(sizeof...(args) <= 6, "a system call takes at most six arguments");
  long a[6] = {SyscallArgument(args)...};
  return RawSyscall6(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

// RawClone(flags, stack_top, parent_tid, fn, arg): clone(2) of a child that starts on
// `stack_top`, runs fn(arg) and ends with exit_group(its result). Returns the child's pid, or
// -errno; unlike glibc's clone(3) it never writes errno, which a CLONE_VM child shares with the
// thread that cloned it (the intermediate child of daemon() clones while the spawning thread,
// whose errno it is, runs on). `parent_tid` receives the pidfd (CLONE_PIDFD) or the pid
// (CLONE_PARENT_SETTID).
#if defined(__x86_64__)
POSIX_PROCESS_ALWAYS_INLINE long RawClone(unsigned long flags, void* stack_top, int* parent_tid,
                                          int (*fn)(void*), void* arg) {
  register long r10 asm("r10") = 0;  // child_tid
  register long r8 asm("r8") = 0;    // tls
  register void* r12 asm("r12") = arg;
  register int (*r13)(void*) asm("r13") = fn;
  long result;
  // The child has the parent's registers on its new stack (16-byte aligned at the top): it calls
  // fn(arg) with no frame to return to, and exits with fn's result.
  asm volatile(
      "syscall\n\t"
      "testq %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xorl %%ebp, %%ebp\n\t"
      "movq %%r12, %%rdi\n\t"
      "callq *%%r13\n\t"
      "movl %%eax, %%edi\n\t"
      "movl %[exit_group], %%eax\n\t"
      "syscall\n\t"
      "hlt\n"
      "1:\n\t"
      : "=a"(result)
      : "a"(56L /* SYS_clone */), "D"(flags), "S"(stack_top), "d"(parent_tid), "r"(r10), "r"(r8),
        "r"(r12), "r"(r13), [exit_group] "i"(231 /* SYS_exit_group */)
      : "rcx", "r11", "memory");
  return result;
}
#elif defined(__aarch64__)
POSIX_PROCESS_ALWAYS_INLINE long RawClone(unsigned long flags, void* stack_top, int* parent_tid,
                                          int (*fn)(void*), void* arg) {
  register long x8 asm("x8") = 220;  // SYS_clone: flags, stack, parent_tid, tls, child_tid
  register long x0 asm("x0") = static_cast<long>(flags);
  register void* x1 asm("x1") = stack_top;
  register int* x2 asm("x2") = parent_tid;
  register long x3 asm("x3") = 0;
  register long x4 asm("x4") = 0;
  register void* x19 asm("x19") = arg;
  register int (*x20)(void*) asm("x20") = fn;
  asm volatile(
      "svc 0\n\t"
      "cbnz x0, 1f\n\t"
      "mov x29, xzr\n\t"
      "mov x30, xzr\n\t"
      "mov x0, x19\n\t"
      "blr x20\n\t"
      "mov x8, #94\n\t"  // SYS_exit_group
      "svc 0\n\t"
      "brk #0\n"
      "1:\n\t"
      : "+r"(x0)
      : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x19), "r"(x20)
      : "memory");
  return x0;
}
#else
// Only ever used under CLONE_VFORK (the cloning thread is suspended), where errno is free.
POSIX_PROCESS_ALWAYS_INLINE long RawClone(unsigned long flags, void* stack_top, int* parent_tid,
                                          int (*fn)(void*), void* arg) {
  int pid = ::clone(fn, stack_top, static_cast<int>(flags), arg, parent_tid);
  return pid == -1 ? -errno : pid;
}
#endif

// The arguments of clone3(2) (struct clone_args of <linux/sched.h>, up to `cgroup`, Linux 5.7),
// declared here because <linux/sched.h> clashes with glibc's <sched.h>.
struct CloneArgs {
  uint64_t flags;
  uint64_t pidfd;  // CLONE_PIDFD: where the kernel writes the pidfd (an int*)
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;  // the lowest address: the child starts at stack + stack_size
  uint64_t stack_size;
  uint64_t tls;
  uint64_t set_tid;
  uint64_t set_tid_size;
  uint64_t cgroup;  // CLONE_INTO_CGROUP: an fd of a cgroup v2 directory
};
constexpr unsigned long long kCloneIntoCgroup = 0x200000000ULL;
constexpr long kSysClone3 = 435;  // the same number on x86_64 and aarch64 (asm-generic)

// RawClone3(args, fn, arg): clone3(2) with the same contract as RawClone: the child starts on
// the stack that `args` names, runs fn(arg) and ends with exit_group(its result); returns the
// child's pid or -errno (-ENOSYS before Linux 5.3 or under a seccomp filter that refuses it), and
// never writes errno. Needed for CLONE_INTO_CGROUP and CLONE_NEWTIME, which clone(2) cannot pass.
#if defined(__x86_64__)
POSIX_PROCESS_ALWAYS_INLINE long RawClone3(CloneArgs* args, int (*fn)(void*), void* arg) {
  register void* r12 asm("r12") = arg;
  register int (*r13)(void*) asm("r13") = fn;
  long result;
  asm volatile(
      "syscall\n\t"
      "testq %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xorl %%ebp, %%ebp\n\t"
      "movq %%r12, %%rdi\n\t"
      "callq *%%r13\n\t"
      "movl %%eax, %%edi\n\t"
      "movl %[exit_group], %%eax\n\t"
      "syscall\n\t"
      "hlt\n"
      "1:\n\t"
      : "=a"(result)
      : "a"(kSysClone3), "D"(args), "S"(sizeof(CloneArgs)), "r"(r12),
        "r"(r13), [exit_group] "i"(231 /* SYS_exit_group */)
      : "rcx", "r11", "memory");
  return result;
}
#elif defined(__aarch64__)
POSIX_PROCESS_ALWAYS_INLINE long RawClone3(CloneArgs* args, int (*fn)(void*), void* arg) {
  register long x8 asm("x8") = kSysClone3;
  register long x0 asm("x0") = reinterpret_cast<long>(args);
  register long x1 asm("x1") = sizeof(CloneArgs);
  register void* x19 asm("x19") = arg;
  register int (*x20)(void*) asm("x20") = fn;
  asm volatile(
      "svc 0\n\t"
      "cbnz x0, 1f\n\t"
      "mov x29, xzr\n\t"
      "mov x30, xzr\n\t"
      "mov x0, x19\n\t"
      "blr x20\n\t"
      "mov x8, #94\n\t"  // SYS_exit_group
      "svc 0\n\t"
      "brk #0\n"
      "1:\n\t"
      : "+r"(x0)
      : "r"(x8), "r"(x1), "r"(x19), "r"(x20)
      : "memory");
  return x0;
}
#else
// No raw clone3 here: callers fall back to clone(2) as on a kernel without clone3.
POSIX_PROCESS_ALWAYS_INLINE long RawClone3(CloneArgs*, int (*)(void*), void*) {
  return -ENOSYS;
}
#endif

}  // namespace posix_process
