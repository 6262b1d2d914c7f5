/** Process identity and signalling: getpid(2), getppid(2), kill(2). */
import { binding } from './native';
import { signalNumber, type Signal } from './signals';
import { validatePidArgument } from './validate';

/**
 * The process ID of the calling process. See getpid(2).
 * Never fails.
 * @returns the pid of this process
 * @throws nothing: getpid(2) cannot fail
 * @see getpid(2)
 */
export function getpid(): number {
  return binding.getpid();
}

/**
 * The process ID of the parent of the calling process. See getppid(2).
 * After the parent dies this is the pid of the process that adopted the caller: 1 (init), or the
 * nearest subreaper ancestor. Never fails.
 * @returns the parent's pid (1, or a subreaper's pid, once the parent is gone)
 * @throws nothing: getppid(2) cannot fail
 * @see getppid(2)
 */
export function getppid(): number {
  return binding.getppid();
}

/**
 * Sends a signal to a process or a process group. See kill(2).
 *
 * `pid > 0` is that process; `pid === 0` every process in the caller's process group;
 * `pid === -1` every process the caller may signal (except init and itself: use with care);
 * `pid < -1` the process group `-pid`. Signal 0 (or `0` from `os.constants`) sends nothing and
 * only checks that the target exists and may be signalled.
 *
 * Safety: a pid can be reused once its process has been reaped. To signal a child you spawned,
 * prefer its handle (which uses a pidfd) over a bare pid.
 *
 * @param pid - the target, as described above
 * @param signal - a signal name ('SIGTERM', 'SIGRTMIN+1') or number; defaults to 'SIGTERM'
 * @throws SyscallError `ESRCH` (no such process or group), `EPERM` (not allowed to signal it)
 * @throws TypeError / RangeError for a bad pid or an unknown signal, before anything is sent
 * @see kill(2)
 * @example
 * ```ts
 * try {
 *   kill(12345, 0); // signal 0 probes: does the process exist?
 * } catch (error) {
 *   if (error instanceof SyscallError && error.code === 'ESRCH') console.log('gone');
 * }
 * ```
 */
export function kill(pid: number, signal: Signal = 'SIGTERM'): void {
  validatePidArgument(pid);
  binding.kill(pid, signalNumber(signal, 'signal', true));
}
