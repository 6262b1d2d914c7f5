/**
 * Orphans and parent death, through prctl(2): child subreapers (PR_SET_CHILD_SUBREAPER) and the
 * parent-death signal (PR_SET_PDEATHSIG) of the calling process.
 */
import { binding } from './native';
import { invalidArgType } from './errors';
import { signalName, signalNumber, type Signal } from './signals';
import { setChildSubreaperForProgram } from './spawn/contain';

/**
 * Makes the calling process a child subreaper (or stops it being one): orphaned descendants are
 * then reparented to it instead of to init (PID 1), and it receives their SIGCHLD and must reap
 * them. See prctl(2) PR_SET_CHILD_SUBREAPER.
 *
 * With `contain: 'subreaper'` trees alive: `true` stays set after the last of them ends (which
 * otherwise drops the flag), and `false` takes effect only once the last of them has ended, so
 * that their orphans cannot escape to init meanwhile.
 *
 * Safety: Node reaps only the children it spawned itself. Adopted orphans stay zombies until
 * something reaps them (`waitpid`, or a reaper that knows which pids belong to child_process).
 *
 * @param on - true to become a subreaper, false to stop
 * @throws TypeError `ERR_INVALID_ARG_TYPE` if `on` is not a boolean
 * @throws SyscallError from prctl(2) (`EINVAL` where the kernel or an emulator such as qemu-user does not support it)
 * @see prctl(2) PR_SET_CHILD_SUBREAPER
 * @example
 * ```ts
 * setChildSubreaper(true);
 * // orphaned descendants are now adopted by this process: reap them
 * const reaper = startReaper();
 * ```
 */
export function setChildSubreaper(on: boolean): void {
  if (typeof on !== 'boolean') throw invalidArgType('on', 'of type boolean', on);
  setChildSubreaperForProgram(on);
}

/**
 * Whether the calling process is a child subreaper.
 *
 * @returns true once {@link setChildSubreaper} made it one
 * @throws SyscallError from prctl(2) (`EINVAL` where it is not supported, as under qemu-user)
 * @see prctl(2) PR_GET_CHILD_SUBREAPER
 */
export function isChildSubreaper(): boolean {
  return binding.isChildSubreaper();
}

/**
 * Asks the kernel to send `signal` to the calling process when its parent dies, or clears that
 * request with `0` or `null`. See prctl(2) PR_SET_PDEATHSIG.
 *
 * Safety: "parent" is the parent THREAD: if the parent forked this process from a thread that
 * exits early (a worker, a threadpool thread), the signal fires then. The setting is cleared in
 * children of fork and by a change of credentials (setuid and friends). If the parent may already
 * have died before the call, compare `getppid()` with the pid you expect afterwards. The signal
 * can arrive while the dying parent's other threads are still exiting: for a moment `getppid()`
 * may still return the old parent's pid before it changes to init or a subreaper.
 *
 * @param signal - a signal name or number, or 0 / null to clear
 * @throws TypeError / RangeError for an unknown signal
 * @throws SyscallError from prctl(2)
 * @see prctl(2) PR_SET_PDEATHSIG
 */
export function setParentDeathSignal(signal: Signal | null): void {
  binding.setParentDeathSignal(signal === null ? 0 : signalNumber(signal, 'signal', true));
}

/**
 * The parent-death signal of the calling process as a name ('SIGTERM', 'SIGRTMIN+1'), or null when
 * none is set. See prctl(2) PR_GET_PDEATHSIG.
 * @returns the signal's name, or `null` when none is set
 * @throws SyscallError from prctl(2)
 * @see prctl(2) PR_GET_PDEATHSIG
 */
export function getParentDeathSignal(): string | null {
  const signo = binding.getParentDeathSignal();
  return signo === 0 ? null : signalName(signo);
}
