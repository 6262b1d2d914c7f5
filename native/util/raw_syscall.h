// System calls that return -errno instead of setting errno, for code that runs in a child sharing
// the memory *and the thread-local storage* of a parent thread that keeps running: a clone with
// CLONE_VM but without CLONE_VFORK (spawn.cc, the direct clone). glibc's syscall(2) would store
// the child's errors in the parent thread's errno at any moment, under code that is reading it.
//
// Inline assembly for the architectures Node ships for on Linux that matter here (x86_64 and
// aarch64), as musl and Go do it. Elsewhere kHaveRawSyscall is false and callers must not clone
// without CLONE_VFORK (spawn.cc then uses its spawning thread for every spawn).
#pragma once

#include <errno.h>
#include <unistd.h>

#include <cstddef>
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

}  // namespace posix_process
