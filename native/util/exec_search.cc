#include "exec_search.h"

#include <errno.h>
#include <sys/syscall.h>

#include "raw_syscall.h"

namespace posix_process {

POSIX_PROCESS_CHILD_SIDE int ExecCandidates(const char* const* candidates, size_t count,
                                            char* const* argv, char* const* envp) {
  int error = ENOENT;
  bool saw_eacces = false;
  for (size_t i = 0; i < count; i++) {
    // Raw: the spawn child may share this thread-local errno with a running parent thread.
    error = static_cast<int>(-RawSyscall(SYS_execve, candidates[i], argv, envp));
    if (error == EACCES) {
      saw_eacces = true;
    } else if (error != ENOENT && error != ENOTDIR && error != ESTALE && error != ENODEV &&
               error != ETIMEDOUT) {
      return error;  // stops the search
    }
  }
  return saw_eacces ? EACCES : error;
}

}  // namespace posix_process
