// The kernel's struct sigaction, for rt_sigaction(2) called directly: glibc's struct has another
// layout, and its sigaction(2) refuses signals 32 and 33, which a new program must not inherit as
// ignored either. A disposition read and written back in this form is restored exactly (flags,
// restorer, mask). The mask is the kernel's 64-bit sigset: pass sizeof(uint64_t) as sigsetsize.
#pragma once

#include <stdint.h>

namespace posix_process {

struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)(void);
  uint64_t mask;
};

// Every signal number the kernel has on Linux: 1..31 and the real-time ones up to 64.
constexpr int kMaxSignal = 64;

}  // namespace posix_process
