/**
 * Waiting for children: waitpid(2), wait4(2), waitid(2), and `waitAsync`, which waits on a pidfd
 * from the event loop without blocking it and without a thread.
 *
 * The hazard of waiting for "any child": Node's `child_process` (libuv) reaps its own children by
 * pid, and if anyone else reaps one first its 'exit' event never fires and its handle keeps the
 * event loop alive. `waitpid(-1)`, `waitpid(0)`, `waitpid(-pgid)` and `waitid('all' | 'pgid')`
 * can reap such children. Use them only in programs that do not use `child_process`, or for groups
 * that hold none of its children. The functions that name one pid (and `waitAsync`) are safe.
 */
import { constants as osConstants } from 'node:os';
import { abortError, invalidArgType, invalidArgValue, SyscallError } from './errors';
import { binding } from './native';
import { decodeWaitStatus, encodeWaitStatus, type WaitStatus } from './wait-status';
import { signalName } from './signals';
import { argumentError, isOptionsObject, isOwnKey, validateInteger, validatePidArgument, validating } from './validate';

/** Resource usage of a reaped child (getrusage(2) fields, in units that need no manual). */
export interface Rusage {
  /** User CPU time in seconds. */
  readonly userTime: number;
  /** System CPU time in seconds. */
  readonly systemTime: number;
  /** Peak resident set size in bytes. */
  readonly maxRSS: number;
  /** Page faults served without I/O. */
  readonly minorFaults: number;
  /** Page faults that needed I/O. */
  readonly majorFaults: number;
  /** Context switches because the process waited (I/O, sleep). */
  readonly voluntaryContextSwitches: number;
  /** Context switches forced by the scheduler. */
  readonly involuntaryContextSwitches: number;
  /** File system reads, in 512-byte blocks. */
  readonly blockInputs: number;
  /** File system writes, in 512-byte blocks. */
  readonly blockOutputs: number;
}

/** The result of a wait that found a child. */
export interface WaitResult {
  /** The pid of the child the status belongs to. */
  readonly pid: number;
  /** What happened to it. */
  readonly status: WaitStatus;
  /** The raw status as waitpid(2) reports it (built from the siginfo for waitid results). */
  readonly raw: number;
  /** Its resource usage: present for wait4, waitid and waitAsync. */
  readonly rusage?: Rusage;
}

/** The result of `waitid`, which also reports the real uid of the child. */
export interface WaitIdResult extends WaitResult {
  /** The real user ID of the child (siginfo's si_uid). */
  readonly uid: number;
  readonly rusage: Rusage;
}

/** Options of waitpid(2) and wait4(2). */
export interface WaitOptions {
  /** WNOHANG: return `null` at once if no child has changed state. */
  nohang?: boolean;
  /** WUNTRACED: also report children stopped by a signal. */
  untraced?: boolean;
  /** WCONTINUED: also report stopped children resumed by SIGCONT. */
  continued?: boolean;
}

/** Options of waitid(2): at least one of `exited`, `stopped`, `continued` is needed. */
export interface WaitIdOptions {
  /** WEXITED: report children that ended. */
  exited?: boolean;
  /** WSTOPPED: report children stopped by a signal. */
  stopped?: boolean;
  /** WCONTINUED: report stopped children resumed by SIGCONT. */
  continued?: boolean;
  /** WNOHANG: return `null` at once if no child has changed state. */
  nohang?: boolean;
  /** WNOWAIT: report the child but leave it waitable (it stays a zombie until waited again). */
  nowait?: boolean;
}

/** Which children waitid(2) waits for. */
export type IdType = 'pid' | 'pgid' | 'all' | 'pidfd';

const C = binding.waitConstants;

function optionBits(options: unknown, name: string, bits: Record<string, number>): number {
  if (options === undefined) return 0;
  if (!isOptionsObject(options)) throw invalidArgType(name, 'an object', options);
  let result = 0;
  for (const [key, value] of Object.entries(options)) {
    if (!isOwnKey(bits, key)) throw invalidArgValue(`${name}.${key}`, `is not a known option (${Object.keys(bits).join(', ')})`, value);
    const bit = bits[key]!;
    if (typeof value !== 'boolean' && value !== undefined) throw invalidArgType(`${name}.${key}`, 'a boolean', value);
    if (value === true) result |= bit;
  }
  return result;
}

const waitOptionBits = { nohang: C.WNOHANG, untraced: C.WUNTRACED, continued: C.WCONTINUED };
const waitIdOptionBits = {
  exited: C.WEXITED,
  stopped: C.WSTOPPED,
  continued: C.WCONTINUED,
  nohang: C.WNOHANG,
  nowait: C.WNOWAIT,
};

/**
 * Waits for a child to change state. See waitpid(2).
 *
 * `pid > 0` waits for that child; `-1` for any child; `0` for any child in the caller's process
 * group; `< -1` for any child in process group `-pid`. Blocks the calling thread unless `nohang`
 * is set (then `null` means no child has changed state yet); interrupted waits are retried.
 *
 * Safety: every form but `pid > 0` can reap `child_process` children (see the module notes).
 *
 * @throws SyscallError `ECHILD` (no such child, or none left), `EINVAL` (bad options)
 * @param pid - a child's pid (> 0), -1 (any child), 0 (any in the caller's group) or -pgid (any in that group)
 * @param options - `nohang`: return null instead of blocking; `untraced`, `continued`: report stops and continues
 * @returns the child's pid and decoded status, or `null` (with `nohang`, when nothing is ready)
 * @see waitpid(2)
 * @example
 * ```ts
 * const pid = posixSpawnp('sh', ['sh', '-c', 'exit 3']);
 * const { status } = waitpid(pid)!; // { kind: 'exited', code: 3 }
 * ```
 */
export function waitpid(pid: number, options?: WaitOptions): WaitResult | null {
  validatePidArgument(pid);
  const found = binding.waitpid(pid, validating('waitpid', () => optionBits(options, 'options', waitOptionBits)));
  if (found === null) return null;
  const raw = sharedRecord[Slot.status]!;
  return { pid: found, status: decodeWaitStatus(raw), raw };
}

/**
 * Like `waitpid`, and also returns the child's resource usage. See wait4(2).
 *
 * @throws SyscallError `ECHILD`, `EINVAL`
 * @param pid - as for {@link waitpid}
 * @param options - as for {@link waitpid}
 * @returns as {@link waitpid}, with the child's resource usage
 * @see wait4(2)
 */
export function wait4(pid: number, options?: WaitOptions): (WaitResult & {
  /** The resource usage of the child and its reaped descendants. */
  rusage: Rusage;
}) | null {
  validatePidArgument(pid);
  const found = binding.wait4(pid, validating('wait4', () => optionBits(options, 'options', waitOptionBits)));
  if (found === null) return null;
  const raw = sharedRecord[Slot.status]!;
  return { pid: found, status: decodeWaitStatus(raw), raw, rusage: rusageFromRecord(sharedRecord) };
}

const idTypes: Record<IdType, number> = { pid: C.P_PID, pgid: C.P_PGID, all: C.P_ALL, pidfd: C.P_PIDFD };

// Synchronous native waits leave what they found in one shared record (NativeBinding.waitRecord),
// read here right after each call; asynchronous ones pass their callback a record of the same
// layout, which is reused by the next and so is read at once too. Building these objects in
// JavaScript is much cheaper than setting their properties one by one from C++.
const sharedRecord = binding.waitRecord;
const enum Slot {
  pid,
  uid,
  code,
  status,
  userTime,
  systemTime,
  maxRSS,
  minorFaults,
  majorFaults,
  voluntaryContextSwitches,
  involuntaryContextSwitches,
  blockInputs,
  blockOutputs,
}

/** @internal The Rusage in a wait record's slots (also getrusage's, lib/resources.ts). */
export function rusageFromRecord(record: Float64Array = sharedRecord): Rusage {
  return {
    userTime: record[Slot.userTime]!,
    systemTime: record[Slot.systemTime]!,
    maxRSS: record[Slot.maxRSS]!,
    minorFaults: record[Slot.minorFaults]!,
    majorFaults: record[Slot.majorFaults]!,
    voluntaryContextSwitches: record[Slot.voluntaryContextSwitches]!,
    involuntaryContextSwitches: record[Slot.involuntaryContextSwitches]!,
    blockInputs: record[Slot.blockInputs]!,
    blockOutputs: record[Slot.blockOutputs]!,
  };
}

/** Maps waitid's siginfo (si_code, si_status) onto the same union as the raw statuses. */
function statusFromSiginfo(code: number, value: number): WaitStatus {
  switch (code) {
    case C.CLD_EXITED:
      return { kind: 'exited', code: value };
    case C.CLD_KILLED:
    case C.CLD_DUMPED:
      return { kind: 'signaled', signal: signalName(value), signo: value, coreDumped: code === C.CLD_DUMPED };
    case C.CLD_STOPPED:
    case C.CLD_TRAPPED:
      return { kind: 'stopped', signal: signalName(value & 0x7f), signo: value & 0x7f };
    case C.CLD_CONTINUED:
      return { kind: 'continued' };
    default:
      throw new RangeError(`waitid reported an unknown si_code ${code}`);
  }
}

/** The waitid result in a wait record. */
function waitIdResultFromRecord(record: Float64Array): WaitIdResult {
  const status = statusFromSiginfo(record[Slot.code]!, record[Slot.status]!);
  return { pid: record[Slot.pid]!, uid: record[Slot.uid]!, status, raw: encodeWaitStatus(status), rusage: rusageFromRecord(record) };
}

/**
 * Waits for a child to change state, choosing children by pid, process group, pidfd or all.
 * See waitid(2).
 *
 * `id` is the pid for 'pid', the process group for 'pgid' (0: the caller's own group), a pidfd
 * for 'pidfd', and ignored for 'all'. With `nowait` the child stays waitable.
 *
 * Safety: 'all' and 'pgid' can reap `child_process` children (see the module notes).
 *
 * @throws SyscallError `ECHILD` (no matching child), `EBADF` (not a pidfd)
 * @throws TypeError `ERR_INVALID_ARG_VALUE` for options that select none of `exited`, `stopped`
 *   and `continued`; RangeError `ERR_OUT_OF_RANGE` for an `id` below 0 (below 1 for 'pid');
 *   both before the call (waitid(2) would answer EINVAL)
 * @param idtype - what `id` names: 'pid', 'pgid', 'all' or 'pidfd'
 * @param id - the pid, process group or pidfd (ignored for 'all')
 * @param options - which events to wait for (`exited`, `stopped`, `continued`), `nohang`, `nowait`
 * @returns the child's pid, uid and status, or `null` (with `nohang`, when nothing is ready)
 * @see waitid(2)
 */
export function waitid(idtype: IdType, id: number, options: WaitIdOptions): WaitIdResult | null {
  if (!isOwnKey(idTypes, idtype)) throw invalidArgValue('idtype', "must be 'pid', 'pgid', 'all' or 'pidfd'", idtype);
  const type = idTypes[idtype];
  // waitid(2) answers EINVAL to a pid 0 (P_PID) and to options without an event to wait for.
  validateInteger(id, 'id', idtype === 'pid' ? 1 : 0, 2 ** 31 - 1);
  if (options === undefined || options === null) throw invalidArgType('options', 'an object', options);
  const bits = validating('waitid', () => optionBits(options, 'options', waitIdOptionBits));
  if ((bits & (C.WEXITED | C.WSTOPPED | C.WCONTINUED)) === 0) throw invalidArgValue('options', 'must select exited, stopped or continued', options);
  const found = binding.waitid(type, id, bits);
  return found === null ? null : waitIdResultFromRecord(sharedRecord);
}

/**
 * Opens a pidfd for a process: an fd that refers to that process and no other, even after its pid
 * is reused. See pidfd_open(2). The fd is close-on-exec; close it with `fs.closeSync`.
 *
 * Use it with `waitid('pidfd', fd, ...)`, or poll it: it becomes readable when the process exits.
 *
 * @throws SyscallError `ESRCH` (no such process), `EINVAL` (pid not positive), `EMFILE`
 * @param pid - a process ID (> 0)
 * @returns a close-on-exec fd that refers to exactly that process
 * @see pidfd_open(2)
 */
export function pidfdOpen(pid: number): number {
  validateInteger(pid, 'pid', 1, 2 ** 31 - 1);
  return binding.pidfdOpen(pid);
}

/** Options of `waitAsync`. */
export interface WaitAsyncOptions {
  /** Cancels the wait (not the child): the promise rejects with an AbortError. */
  signal?: AbortSignal;
}

/**
 * Waits for a child to exit without blocking the event loop, and reaps it. The promise resolves
 * with the decoded status and resource usage.
 *
 * Built on pidfd_open(2) and a libuv poll handle: no thread per child and no threadpool use, so
 * thousands of waits can run at once (one fd each). Only the pid named is reaped, so it is safe
 * beside `child_process`. The pending wait keeps the event loop alive, like a child process does.
 *
 * @throws (rejects) SyscallError `ESRCH` (no such process: already reaped, or never existed),
 *   `ECHILD` (not a child of this process, or reaped by someone else while waiting),
 *   `EMFILE` (out of fds); an AbortError when `signal` aborts.
 * @param pid - a child of this process
 * @param options - `signal`: an AbortSignal that cancels the wait (the child is left unreaped)
 * @returns a Promise of the child's result once it has exited (it is then reaped)
 * @see pidfd_open(2), waitid(2) P_PIDFD
 * @example
 * ```ts
 * const pid = posixSpawnp('sleep', ['sleep', '1']);
 * const { status, rusage } = await waitAsync(pid);
 * ```
 */
export function waitAsync(pid: number, options: WaitAsyncOptions = {}): Promise<WaitIdResult> {
  let signal: unknown;
  try {
    validateInteger(pid, 'pid', 1, 2 ** 31 - 1);
    if (!isOptionsObject(options)) throw invalidArgType('options', 'an object', options);
    signal = options.signal; // read once: the checked value is the one used
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an AbortSignal', signal);
  } catch (error) {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes on what validation threw
    return Promise.reject(argumentError(error, 'waitAsync'));
  }
  return waitWith((callback) => binding.pidfdWaitStart(pid, callback), signal);
}

/**
 * Waits for the child whose pidfd is `pidfd` (from clone(CLONE_PIDFD)): the wait owns the fd and
 * closes it once the wait has ended. `onEnded` learns it first, with the result, or null when the
 * wait failed or could not start (the pidfd is closed either way; when it could not start, the
 * child has been SIGKILLed and reaped). Internal: used by `spawn`'s child handle.
 */
export function waitOnOwnedPidfd(pidfd: number, pid: number, onEnded: (result: WaitIdResult | null) => void, onStarted?: (id: number) => void): Promise<WaitIdResult> {
  return waitWith(
    (callback) => {
      const id = binding.pidfdWaitAdopt(pidfd, pid, callback);
      onStarted?.(id);
      return id;
    },
    undefined,
    onEnded,
  );
}

type WaitCallback = (error: Error | null, record?: Float64Array) => void;

function waitWith(start: (callback: WaitCallback) => number, signal: AbortSignal | undefined, onEnded?: (result: WaitIdResult | null) => void): Promise<WaitIdResult> {
  if (signal?.aborted) return Promise.reject(abortError('wait', signal));
  return new Promise((resolve, reject) => {
    let id = 0;
    const onAbort = (): void => {
      if (binding.pidfdWaitCancel(id)) reject(abortError('wait', signal));
    };
    try {
      id = start((error, record) => {
        const result = error === null ? waitIdResultFromRecord(record!) : error;
        signal?.removeEventListener('abort', onAbort);
        // Settled even if onEnded throws (then an uncaught exception): a wait never left pending.
        try {
          onEnded?.(result instanceof Error ? null : result);
        } finally {
          if (result instanceof Error) reject(result);
          else resolve(result);
        }
      });
    } catch (error) {
      // The wait did not start: the pidfd is closed (and an adopted child killed and reaped).
      onEnded?.(null);
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes on what the binding threw
      reject(error);
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * @internal In the child of fork() (lib/fork.ts): the waits inherited from the parent end with
 * ECHILD (their processes are the parent's children), from a microtask (the caller is in the
 * middle of fork()).
 */
export function waitAfterForkInChild(): void {
  const callbacks = binding.waitAfterFork();
  if (callbacks.length > 0) queueMicrotask(() => callbacks.forEach((callback) => callback(new SyscallError('waitid', osConstants.errno.ECHILD))));
}
