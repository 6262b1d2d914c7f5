// The search of execvp(3) over a prepared list of candidate paths, shared by execvp() of the
// current process and by the spawn child. Async-signal-safe: raw execve(2) calls only, which
// leave errno alone (util/raw_syscall.h).
#pragma once

#include <stddef.h>

namespace posix_process {

// Tries execve(2) on each candidate in order, with glibc's __execvpe rules: a candidate that is
// missing (ENOENT, ENOTDIR, ESTALE, ENODEV, ETIMEDOUT) lets the search go on; one that exists but
// may not be run (EACCES) is remembered, the search goes on, and EACCES is reported if nothing
// later runs; any other error (ENOEXEC, E2BIG, ...) stops the search. There is no fallback that
// runs a file without a #! line through /bin/sh. Returns only on failure, with the errno to
// report (ENOENT for an empty list).
int ExecCandidates(const char* const* candidates, size_t count, char* const* argv,
                   char* const* envp);

}  // namespace posix_process
