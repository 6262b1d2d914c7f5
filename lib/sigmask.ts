/**
 * The calling thread's signal mask: `sigprocmask` and `sigpending`.
 *
 * In Node, a mask is a thread's: the main thread's mask does not stop a signal sent to the
 * process (kill(2)) from being delivered to another thread of Node's (libuv's pool, V8's workers
 * block nothing a shell cares about), where libuv's handler, or the default action, takes it. What
 * the mask governs: signals sent to the thread itself, what `sigpending` reports, and the mask of
 * processes forked from this thread by other libraries. See docs/terminals.md.
 */
import { invalidArgValue } from './errors';
import { signalList, signalName, type Signal } from './signals';
import { terminalBinding as native } from './terminal-binding';
import { validating } from './validate';

/** How `sigprocmask` changes the mask. */
export type SigprocmaskHow = 'block' | 'unblock' | 'setmask';

const HOWS: Readonly<Record<SigprocmaskHow, number>> = Object.freeze({ block: 0, unblock: 1, setmask: 2 });
// Not maskable (the kernel ignores them silently), or glibc's own (SIGCANCEL, SIGSETXID), which
// glibc drops silently: refused rather than reported as blocked when they are not.
const REFUSED = new Set([9, 19, 32, 33]);

function namesOf([low, high]: [number, number]): Signal[] {
  const names: Signal[] = [];
  for (let signo = 1; signo <= 64; signo++) {
    const word = signo <= 32 ? low : high;
    if (((word >>> ((signo - 1) % 32)) & 1) !== 0 && !REFUSED.has(signo)) names.push(signalName(signo) as Signal);
  }
  return names;
}

/**
 * Changes the calling thread's signal mask and returns the previous one.
 *
 * @param how - 'block' adds `signals`, 'unblock' removes them, 'setmask' sets the mask to them
 * @param signals - signal names or numbers
 * @returns the previous mask, as signal names in number order
 * @throws TypeError `ERR_INVALID_ARG_VALUE` for an unknown `how`, for SIGKILL and SIGSTOP (which
 *   cannot be blocked) and for signals 32 and 33 (glibc's own); `ERR_UNKNOWN_SIGNAL`
 * @see pthread_sigmask(3), sigprocmask(2)
 * @example
 * ```ts
 * const previous = sigprocmask('block', ['SIGCHLD']);
 * try { ... } finally { sigprocmask('setmask', previous); }
 * ```
 */
export function sigprocmask(how: SigprocmaskHow, signals: readonly Signal[]): Signal[] {
  if (typeof how !== 'string' || !Object.hasOwn(HOWS, how)) throw invalidArgValue('how', "must be 'block', 'unblock' or 'setmask'", how);
  const [low, high] = validating('sigprocmask', () => {
    let lowBits = 0;
    let highBits = 0;
    for (const signo of signalList(signals, 'signals')) {
      if (REFUSED.has(signo)) throw invalidArgValue('signals', `cannot hold ${signalName(signo)}: it cannot be blocked`, signals);
      if (signo <= 32) lowBits |= 1 << (signo - 1);
      else highBits |= 1 << (signo - 33);
    }
    return [lowBits, highBits];
  });
  return namesOf(native.sigprocmask(HOWS[how], low | 0, high | 0));
}

/**
 * The signals pending for the calling thread or the process (blocked, not yet delivered).
 *
 * @returns signal names in number order
 * @throws nothing: sigpending(2) fails only for a bad pointer (EFAULT), which this call never passes
 * @see sigpending(2)
 */
export function sigpending(): Signal[] {
  return namesOf(native.sigpending());
}
