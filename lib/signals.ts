/**
 * Signal names and numbers. Standard names come from `os.constants.signals` (Node's own table),
 * real-time signals from glibc's SIGRTMIN/SIGRTMAX as `'SIGRTMIN+n'` / `'SIGRTMAX-n'`.
 */
import * as os from 'node:os';
import { binding } from './native';
import { invalidArgType, outOfRange, shown, type ArgumentError } from './errors';
import { isOwnKey, SIGNAL_LIST_MAX, validateArray } from './validate';

/** A real-time signal named relative to glibc's SIGRTMIN or SIGRTMAX. */
export type RealtimeSignalName = 'SIGRTMIN' | 'SIGRTMAX' | `SIGRTMIN+${number}` | `SIGRTMAX-${number}`;

/** A signal name ('SIGTERM', 'SIGRTMIN+2') or number (15). */
export type Signal = NodeJS.Signals | RealtimeSignalName | number;

const standardSignals: Readonly<Record<string, number>> = os.constants.signals;
const realtime = binding.realtimeSignalRange();

/** The largest signal number the kernel accepts (64 on Linux). */
export const SIGNAL_MAX = realtime.max;

const namesByNumber = new Map<number, string>();
for (const [name, signo] of Object.entries(standardSignals)) {
  // os.constants.signals lists the canonical name first (SIGABRT before SIGIOT, SIGIO before SIGPOLL).
  if (!namesByNumber.has(signo)) namesByNumber.set(signo, name);
}

function unknownSignal(value: string): ArgumentError {
  return Object.assign(new TypeError(`Unknown signal: ${shown(value)}`), { code: 'ERR_UNKNOWN_SIGNAL' });
}

function realtimeSignalNumber(name: string): number | undefined {
  const unnamed = /^SIG(3[23])$/.exec(name);
  // 'SIG32' and 'SIG33', as signalName names glibc's own signals below SIGRTMIN.
  if (unnamed !== null) return Number(unnamed[1]) < realtime.min ? Number(unnamed[1]) : undefined;
  const match = /^SIGRT(MIN|MAX)(?:([+-])(\d{1,2}))?$/.exec(name);
  if (match === null) return undefined;
  const [, base, sign, offsetText] = match;
  const offset = offsetText === undefined ? 0 : Number(offsetText);
  // SIGRTMIN counts up, SIGRTMAX counts down, as in glibc and the shells; both stay within
  // SIGRTMIN..SIGRTMAX (SIGRTMAX-40 is no name for SIGXCPU, nor SIGRTMAX-31 for glibc's 33).
  let signo: number | undefined;
  if (base === 'MIN' && sign !== '-') signo = realtime.min + offset;
  if (base === 'MAX' && sign !== '+') signo = realtime.max - offset;
  return signo !== undefined && signo >= realtime.min && signo <= realtime.max ? signo : undefined;
}

/**
 * The number of a signal given by name or number. 0 (the null signal, for probing) is allowed when
 * `allowZero` is true.
 *
 * @throws TypeError `ERR_UNKNOWN_SIGNAL` for an unknown name (a 'SIGRTMIN+n' or 'SIGRTMAX-n'
 *   outside SIGRTMIN..SIGRTMAX included), `ERR_INVALID_ARG_TYPE` for a value that is neither a
 *   string nor a number.
 * @throws RangeError `ERR_OUT_OF_RANGE` for NaN, Infinity, a non-integer, or a number that is not
 *   a signal.
 * @param signal - a name from `os.constants.signals` ('SIGTERM'), 'SIGRTMIN+n' / 'SIGRTMAX-n',
 *   'SIG32' / 'SIG33' (the names {@link signalName} gives glibc's own signals), or a number
 * @param name - the argument's name in error messages
 * @param allowZero - whether 0 (the probe "signal") is accepted
 * @returns the signal's number
 * @see signal(7)
 * @example
 * ```ts
 * signalNumber('SIGTERM');    // 15
 * signalNumber('SIGRTMIN+2'); // 36
 * ```
 */
export function signalNumber(signal: unknown, name = 'signal', allowZero = false): number {
  if (typeof signal === 'string') {
    // Own keys only: 'toString' or 'constructor' must not find Object.prototype's.
    const signo = isOwnKey(standardSignals, signal) ? standardSignals[signal] : realtimeSignalNumber(signal);
    if (signo === undefined || signo < 1 || signo > realtime.max) throw unknownSignal(signal);
    return signo;
  }
  if (typeof signal !== 'number') {
    throw invalidArgType(argumentName(name), 'a signal name or number', signal);
  }
  const min = allowZero ? 0 : 1;
  if (!Number.isInteger(signal) || signal < min || signal > realtime.max) {
    throw outOfRange(argumentName(name), `an integer signal number from ${min} to ${realtime.max}`, signal);
  }
  return signal;
}

// The `name` of signalNumber is checked only when an error needs it: signals are converted on
// every spawn and kill.
function argumentName(name: unknown): string {
  if (typeof name !== 'string') throw invalidArgType('name', 'of type string', name);
  return name;
}

/**
 * The canonical name of a signal number: 'SIGTERM' for 15, 'SIGRTMIN+2' for 36.
 * Signals 32 and 33 (reserved by glibc's threads) are named 'SIG32' and 'SIG33'.
 *
 * @throws RangeError `ERR_OUT_OF_RANGE` if `signo` is not a signal number, TypeError
 *   `ERR_INVALID_ARG_TYPE` if it is not a number.
 * @param signo - a signal number from 1 to 64
 * @returns its name ('SIGTERM', 'SIGRTMIN+2')
 * @see signal(7)
 */
export function signalName(signo: number): string {
  if (typeof signo !== 'number') throw invalidArgType('signo', 'of type number', signo);
  if (!Number.isInteger(signo) || signo < 1 || signo > realtime.max) {
    throw outOfRange('signo', `an integer from 1 to ${realtime.max}`, signo);
  }
  const name = namesByNumber.get(signo);
  if (name !== undefined) return name;
  if (signo >= realtime.min) return signo === realtime.min ? 'SIGRTMIN' : `SIGRTMIN+${signo - realtime.min}`;
  return `SIG${signo}`;
}

/** A list of signals: an array of at most SIGNAL_LIST_MAX signals, without holes. */
export function signalList(list: unknown, name: string): number[] {
  if (!Array.isArray(list)) throw invalidArgType(name, 'an array of signals', list);
  return validateArray(list, name, SIGNAL_LIST_MAX, signalListEntry);
}
const signalListEntry = (signal: unknown, name: string, i: number): number => signalNumber(signal, `${name}[${i}]`);
