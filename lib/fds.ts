/**
 * fd primitives as a shell uses them to wire a pipeline by hand: pipe(2), dup2(2), dup3(2),
 * close(2), close_range(2). With `fork()` and `execvp()` they build `a | b` the way C does
 * (examples/24-pipeline-by-hand.ts).
 *
 * These fds are plain numbers, outside Node's streams and `fs`: close what you open. A `pipe()`
 * end is close-on-exec; `dup2`/`dup3` without `cloexec` make a copy that a program exec'd later
 * inherits, which is how a shell hands a pipe to its children.
 */
import { binding } from './native';
import { readOptions, validateBoolean, validateInteger, validating } from './validate';

const FD_MAX = 2 ** 31 - 1;
const O_CLOEXEC = 0o2000000;
const CLOSE_RANGE_CLOEXEC = 4;

/**
 * Makes a pipe: bytes written to the write end come out of the read end. Both ends are
 * close-on-exec (pipe2(2) with O_CLOEXEC), at the lowest free fd numbers, as in C.
 *
 * @returns `[readFd, writeFd]`
 * @throws SyscallError `EMFILE`, `ENFILE`
 * @see pipe(2), pipe(7)
 * @example
 * ```ts
 * const [readFd, writeFd] = pipe();
 * ```
 */
export function pipe(): [readFd: number, writeFd: number] {
  return binding.fdPipe(false);
}

/**
 * Makes `newfd` a copy of `oldfd`, closing what `newfd` was first (atomically). The copy is not
 * close-on-exec, so a program exec'd afterwards has it: a shell's `>&`.
 *
 * @param oldfd - the fd to copy
 * @param newfd - the number the copy gets
 * @returns `newfd`
 * @throws SyscallError `EBADF` (oldfd not open), `EBUSY` (EINTR is retried); RangeError
 *   `ERR_OUT_OF_RANGE`; TypeError `ERR_INVALID_ARG_TYPE` (not a number)
 * @see dup2(2)
 */
export function dup2(oldfd: number, newfd: number): number {
  validating('dup2', () => {
    validateInteger(oldfd, 'oldfd', 0, FD_MAX);
    validateInteger(newfd, 'newfd', 0, FD_MAX);
  });
  return binding.fdDup3(oldfd, newfd, -1);
}

/** Options of `dup3`. */
export interface Dup3Options {
  /** Make the copy close-on-exec (O_CLOEXEC); default false. */
  cloexec?: boolean;
}

/**
 * Like `dup2`, with the copy close-on-exec if asked, and `oldfd === newfd` an error.
 *
 * @param oldfd - the fd to copy
 * @param newfd - the number the copy gets
 * @param options - `cloexec`
 * @returns `newfd`
 * @throws SyscallError `EINVAL` (oldfd equals newfd), `EBADF`, `EBUSY`; RangeError
 *   `ERR_OUT_OF_RANGE`; TypeError `ERR_INVALID_ARG_TYPE`
 * @see dup3(2)
 */
export function dup3(oldfd: number, newfd: number, options: Dup3Options = {}): number {
  const cloexec = validating('dup3', () => {
    validateInteger(oldfd, 'oldfd', 0, FD_MAX);
    validateInteger(newfd, 'newfd', 0, FD_MAX);
    const { cloexec = false } = readOptions<Dup3Options>(options, ['cloexec']);
    return validateBoolean(cloexec, 'options.cloexec');
  });
  return binding.fdDup3(oldfd, newfd, cloexec ? O_CLOEXEC : 0);
}

/**
 * Closes an fd. Closing one that a Node stream or `fs` handle still uses breaks that handle:
 * use it for the fds that `pipe`, `dup2` and `dup3` gave you.
 *
 * @param fd - the fd to close
 * @throws SyscallError `EBADF` (not open), `EIO`; RangeError `ERR_OUT_OF_RANGE`; TypeError
 *   `ERR_INVALID_ARG_TYPE` (not a number)
 * @see close(2)
 */
export function close(fd: number): void {
  validating('close', () => validateInteger(fd, 'fd', 0, FD_MAX));
  binding.closeFd(fd);
}

/** Options of `closeRange`. */
export interface CloseRangeOptions {
  /** Mark the fds close-on-exec instead of closing them (CLOSE_RANGE_CLOEXEC, Linux 5.11). */
  cloexec?: boolean;
}

/**
 * Closes every fd from `first` to `last` included (`Infinity`: all above `first`), or marks them
 * close-on-exec. Meant for a `fork()` child about to exec: in the parent it would close the fds
 * Node itself uses.
 *
 * @param first - the lowest fd
 * @param last - the highest fd, or `Infinity`
 * @param options - `cloexec`
 * @throws SyscallError `EINVAL`, `ENOSYS` (before Linux 5.9); RangeError `ERR_OUT_OF_RANGE`;
 *   TypeError `ERR_INVALID_ARG_TYPE`
 * @see close_range(2)
 */
export function closeRange(first: number, last: number, options: CloseRangeOptions = {}): void {
  const cloexec = validating('closeRange', () => {
    validateInteger(first, 'first', 0, FD_MAX);
    if (last !== Infinity) validateInteger(last, 'last', first, FD_MAX);
    const { cloexec = false } = readOptions<CloseRangeOptions>(options, ['cloexec']);
    return validateBoolean(cloexec, 'options.cloexec');
  });
  binding.fdCloseRange(first, last === Infinity ? FD_MAX : last, cloexec ? CLOSE_RANGE_CLOEXEC : 0);
}
