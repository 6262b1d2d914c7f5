/** Replacing the current process with another program: execve(2), execvp(3). */
import { buildEnvironment, execCandidates, validateArgv, validateBytes, type Bytes, type EnvInput } from './env';
import { invalidArgValue } from './errors';
import { requireMainThread } from './main-thread';
import { binding } from './native';
import { validating } from './validate';

function argumentList(argv: unknown): Bytes[] {
  const list = validateArgv(argv);
  if (list.length === 0) throw invalidArgValue('argv', 'must not be empty (argv[0] names the program)', argv);
  return list;
}

function environmentList(env: unknown): Bytes[] | null {
  return env === undefined || env === null ? null : buildEnvironment(env);
}

/**
 * Replaces the current Node process with the program at `path` (same pid). See execve(2).
 *
 * On success this never returns: no 'exit' event, no JavaScript runs again. Before the call it
 * undoes what Node did to the process, so that the new program starts as it would from a shell:
 * fds 0..2 lose close-on-exec and O_NONBLOCK (shared with the program, e.g. a pipe on stdin), the
 * terminal mode is reset (raw mode set by `setRawMode` is undone), every ignored or caught signal
 * from 1 to 64 gets its default disposition (Node ignores SIGPIPE; ignored real-time signals too)
 * and the signal mask is emptied. If exec fails, all of that
 * is put back exactly and a SyscallError is thrown: the process carries on.
 *
 * Safety: data that Node has queued but not yet written to a pipe or socket is lost, as with
 * `exit`. Other fds without close-on-exec (Node opens files with O_CLOEXEC) are inherited.
 *
 * @param path - the program file (not searched in PATH; see `execvp`)
 * @param argv - the arguments, `argv[0]` first (by convention the program name); not empty
 * @param env - the environment; by default this process's own (including changes made
 *   through `process.env`), byte for byte
 * @throws SyscallError `ENOENT`, `EACCES`, `ENOEXEC`, `E2BIG`, `ENOTDIR`, `ELOOP`, ... with
 *   syscall 'execve' and `path`
 * @throws TypeError for a wrong type, a NUL byte, an empty argv or a bad environment entry, and
 *   Error `ERR_MAIN_THREAD_ONLY` in a worker thread, before anything changes
 * @see execve(2)
 * @example
 * ```ts
 * // This process becomes `ls` (same pid); the line after runs only if the exec failed.
 * execve('/bin/ls', ['ls', '-l', '/']);
 * ```
 */
export function execve(path: Bytes, argv: readonly Bytes[], env?: EnvInput): never {
  const [pathBytes, argvList, envList] = validating('execve', () => [validateBytes(path, 'path'), argumentList(argv), environmentList(env)] as const);
  requireMainThread('execve');
  return binding.execve(pathBytes, argvList, envList);
}

/**
 * Like `execve`, but finds `file` in the PATH of `env` (or of this process) when it contains no
 * slash. See execvp(3). PATH is taken from `env` when it is given, else from this process.
 *
 * The search follows glibc: each PATH entry in order (an empty entry is the current directory;
 * no PATH means `/bin:/usr/bin`); a candidate that is not there (ENOENT, ENOTDIR, ...) is
 * skipped; one that is there but may not be executed (EACCES) is remembered and the search goes
 * on, and EACCES is reported if no later candidate runs; any other error stops the search and is
 * reported (ENOEXEC for a file that is neither a binary nor a `#!` script: there is no fallback
 * to /bin/sh, unlike glibc's execvp).
 *
 * @throws SyscallError `ENOENT` (not found anywhere), `EACCES`, `ENOEXEC`, `E2BIG`, ... with
 *   syscall 'execvp' and `path` set to `file` as given
 * @throws TypeError / Error `ERR_MAIN_THREAD_ONLY` as for `execve`
 * @param file - the program: searched in the PATH of `env` (or of this process) if it has no slash
 * @param argv - the arguments, `argv[0]` first; not empty
 * @param env - the environment; by default this process's own
 * @returns never: on success this process runs the new program
 * @see execvp(3), execve(2)
 * @example
 * ```ts
 * execvp('sh', ['sh', '-c', 'echo $$']); // prints this process's pid: exec keeps it
 * ```
 */
export function execvp(file: Bytes, argv: readonly Bytes[], env?: EnvInput): never {
  const [fileBytes, argvList, envList] = validating('execvp', () => [validateBytes(file, 'file'), argumentList(argv), environmentList(env)] as const);
  requireMainThread('execvp');
  // With no PATH in the given environment, glibc's default applies (not this process's PATH).
  return binding.execvp(execCandidates(fileBytes, envList), argvList, envList, fileBytes);
}
