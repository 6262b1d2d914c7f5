/**
 * Wait statuses as types: the raw integer from waitpid(2)/wait4(2), or waitid(2)'s siginfo,
 * decoded into a discriminated union shaped like Rust nix's `WaitStatus`.
 */
import { outOfRange, invalidArgType, invalidArgValue } from './errors';
import { readOptions, validateInteger, validating } from './validate';
import { signalName, signalNumber, SIGNAL_MAX } from './signals';

/** A child that ended with `exit(code)` or by returning `code` from main (0..255). */
export interface ExitedStatus {
  /** The case: the child called exit (or returned from main). */
  readonly kind: 'exited';
  /** Its exit code, 0 to 255 (WEXITSTATUS). */
  readonly code: number;
}

/** A child killed by a signal; `coreDumped` when the kernel wrote a core file. */
export interface SignaledStatus {
  /** The case: a signal ended the child. */
  readonly kind: 'signaled';
  /** The signal's name ('SIGKILL'). */
  readonly signal: string;
  /** The signal's number (WTERMSIG). */
  readonly signo: number;
  /** Whether a core file was written (WCOREDUMP). */
  readonly coreDumped: boolean;
}

/**
 * A child stopped by a signal (waited with `untraced`, or traced). `ptraceEvent` is the
 * PTRACE_EVENT_* number of a ptrace event stop; `ptraceSyscall` marks a syscall stop under
 * PTRACE_O_TRACESYSGOOD (signo SIGTRAP | 0x80).
 */
export interface StoppedStatus {
  /** The case: a signal stopped the child. */
  readonly kind: 'stopped';
  /** The stopping signal's name ('SIGSTOP', 'SIGTSTP'). */
  readonly signal: string;
  /** The stopping signal's number (WSTOPSIG, without the 0x80 of a syscall stop). */
  readonly signo: number;
  /** The PTRACE_EVENT_* number of a ptrace event stop (status >> 16); absent otherwise. */
  readonly ptraceEvent?: number;
  /** Present (true) for a syscall stop under PTRACE_O_TRACESYSGOOD. */
  readonly ptraceSyscall?: true;
}

/** A stopped child resumed by SIGCONT (waited with `continued`). */
export interface ContinuedStatus {
  /** The case: SIGCONT resumed the child (WIFCONTINUED). */
  readonly kind: 'continued';
}

/** What happened to a child, as reported by a wait. Read each field only in its own case. */
export type WaitStatus = ExitedStatus | SignaledStatus | StoppedStatus | ContinuedStatus;

const CONTINUED_RAW = 0xffff;
const SIGTRAP = signalNumber('SIGTRAP');
const PTRACE_EVENT_STOP = 0x80;
const STOP_SIGNALS = new Set(['SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU'].map((name) => signalNumber(name)));

function checkRaw(raw: unknown): number {
  if (typeof raw !== 'number') throw invalidArgType('raw', 'of type number', raw);
  if (!Number.isInteger(raw) || raw < 0 || raw > 0x7fffffff) {
    throw outOfRange('raw', 'a wait status: an integer from 0 to 2**31-1', raw);
  }
  return raw;
}

function impossible(raw: number): RangeError {
  return outOfRange('raw', 'a status the kernel can report', `0x${raw.toString(16)}`);
}

/**
 * Decodes a raw wait status (the `int` filled in by waitpid(2) or wait4(2)).
 *
 * Unlike the C macros, fields never leak between cases: glibc's `WCOREDUMP(0xffff)` is true, but
 * a continued status has no `coreDumped` at all.
 *
 * @throws RangeError `ERR_OUT_OF_RANGE` for a value no kernel produces (such as 0x7f7f, a stop by
 *   signal 127, or an exit status with the core-dump bit).
 * @throws TypeError `ERR_INVALID_ARG_TYPE` if `raw` is not a number.
 * @param raw - a status as wait(2) stores it
 * @returns the decoded status: exited with a code, signaled, stopped or continued
 * @see wait(2) (WIFEXITED, WEXITSTATUS, WIFSIGNALED, WTERMSIG, WCOREDUMP, WIFSTOPPED, WSTOPSIG, WIFCONTINUED)
 * @example
 * ```ts
 * decodeWaitStatus(0x0300); // { kind: 'exited', code: 3 }
 * decodeWaitStatus(0x0009); // { kind: 'signaled', signal: 'SIGKILL', signo: 9, coreDumped: false }
 * ```
 */
export function decodeWaitStatus(raw: number): WaitStatus {
  checkRaw(raw);
  const low7 = raw & 0x7f;
  if (raw === CONTINUED_RAW) return { kind: 'continued' };
  if ((raw & 0xff) === 0x7f) {
    // Stopped: signal in bits 8..15, ptrace event in bits 16..23.
    const stopSignal = (raw >> 8) & 0xff;
    const event = raw >> 16;
    const syscallStop = stopSignal === (SIGTRAP | 0x80);
    const signo = syscallStop ? stopSignal & 0x7f : stopSignal;
    if (signo < 1 || signo > SIGNAL_MAX || event > 0xff) throw impossible(raw);
    // ptrace stops are SIGTRAP, but PTRACE_EVENT_STOP's group-stop under PTRACE_SEIZE, which
    // carries the stopping signal (ptrace(2)).
    const groupStop = event === PTRACE_EVENT_STOP && STOP_SIGNALS.has(signo);
    if ((event !== 0 || syscallStop) && signo !== SIGTRAP && !groupStop) throw impossible(raw);
    const status: StoppedStatus = { kind: 'stopped', signal: signalName(signo), signo };
    if (event !== 0) return { ...status, ptraceEvent: event };
    if (syscallStop) return { ...status, ptraceSyscall: true };
    return status;
  }
  if (raw > 0xffff) throw impossible(raw);
  if (low7 === 0) {
    if (raw & 0x80) throw impossible(raw); // the core-dump bit on an exit status
    return { kind: 'exited', code: raw >> 8 };
  }
  // Killed by a signal: the high byte is always 0.
  if (low7 > SIGNAL_MAX || raw >> 8 !== 0) throw impossible(raw);
  return { kind: 'signaled', signal: signalName(low7), signo: low7, coreDumped: (raw & 0x80) !== 0 };
}

/**
 * The raw status integer that waitpid(2) would have reported for a status: the inverse of
 * `decodeWaitStatus`, used to give waitid(2) results a `raw` too.
 */
export function encodeWaitStatus(status: WaitStatus): number {
  switch (status.kind) {
    case 'exited':
      return (status.code & 0xff) << 8;
    case 'signaled':
      return status.signo | (status.coreDumped ? 0x80 : 0);
    case 'stopped':
      return ((status.ptraceEvent ?? 0) << 16) | ((status.signo | (status.ptraceSyscall ? 0x80 : 0)) << 8) | 0x7f;
    case 'continued':
      return CONTINUED_RAW;
  }
}

/** waitStatusToExitCode of a decoded status, its fields read once and checked. */
function exitCodeOfStatus(status: object): number {
  const { kind, code, signo } = readOptions<{ kind: unknown; code: unknown; signo: unknown }>(status, ['kind', 'code', 'signo'], 'status');
  if (kind === 'exited') return validateInteger(code, 'status.code', 0, 255);
  if (kind === 'signaled') return -validateInteger(signo, 'status.signo', 1, SIGNAL_MAX);
  if (kind === 'stopped' || kind === 'continued') throw outOfRange('status', 'an exited or signaled status', `a ${kind} status`);
  throw invalidArgValue('status.kind', "must be 'exited', 'signaled', 'stopped' or 'continued'", kind);
}

/**
 * The exit code a shell would report, with exactly the semantics of Python's
 * `os.waitstatus_to_exitcode`: an exited child gives its code, a child killed by a signal gives
 * minus the signal number, and anything else throws.
 *
 * Given a raw integer it follows the C macros as Python does (so 0x0180 gives 1); given a decoded
 * `WaitStatus` it reads its fields.
 *
 * @throws RangeError `ERR_OUT_OF_RANGE` for a stopped or continued status, or a raw value that is
 *   neither exited nor signaled (Python raises ValueError).
 * @param rawOrStatus - a raw status or a decoded one
 * @returns the exit code, or minus the signal number for a signaled status
 * @see wait(2)
 */
export function waitStatusToExitCode(rawOrStatus: number | WaitStatus): number {
  if (typeof rawOrStatus === 'object' && rawOrStatus !== null) {
    return validating('waitStatusToExitCode', () => exitCodeOfStatus(rawOrStatus));
  }
  if (typeof rawOrStatus !== 'number') throw invalidArgType('status', 'a number or a WaitStatus', rawOrStatus);
  // Python takes any C int; negative values are reinterpreted by the macros as their bits.
  if (!Number.isInteger(rawOrStatus) || rawOrStatus < -(2 ** 31) || rawOrStatus > 2 ** 31 - 1) {
    throw outOfRange('status', 'a 32-bit integer', rawOrStatus);
  }
  const raw = rawOrStatus;
  if ((raw & 0x7f) === 0) return (raw & 0xff00) >> 8; // WIFEXITED, WEXITSTATUS
  // WIFSIGNALED: (signed char)((raw & 0x7f) + 1) >> 1 > 0, i.e. low 7 bits neither 0 nor 0x7f.
  if ((raw & 0x7f) !== 0x7f) return -(raw & 0x7f);
  if ((raw & 0xff) === 0x7f) {
    throw outOfRange('status', 'an exited or signaled status', `stopped by signal ${(raw & 0xff00) >> 8}`);
  }
  throw outOfRange('status', 'an exited or signaled status', raw);
}
