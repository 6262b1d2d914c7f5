/**
 * Signal handlers that run on the event loop with the sender's siginfo, dispositions that stay
 * in force while Node's own listeners come and go, killpg(3) and sigqueue(3).
 *
 * The native side (native/signal_handlers.cc) installs one SA_SIGINFO handler that only writes
 * records to a self-pipe; this module dispatches them to the registered handlers.
 */
import * as os from 'node:os';
import { binding, sharedState } from './native';
import { invalidArgType, invalidArgValue, outOfRange } from './errors';
import { signalName, signalNumber, type Signal } from './signals';
import { isOptionsObject, validateBoolean, validateInteger, validating } from './validate';

/** What a handler receives for each delivered signal. */
export interface SignalEvent {
  /** The signal's canonical name: 'SIGTERM', 'SIGRTMIN+1'. */
  signal: string;
  /** The signal's number (15 for SIGTERM). */
  signo: number;
  /** The sending process (kill, sigqueue, a child for SIGCHLD); 0 when the kernel sent it. */
  pid: number;
  /** The real user ID of the sender. */
  uid: number;
  /** si_code: why the signal was sent (SI_USER 0 for kill, SI_QUEUE -1 for sigqueue, ...). */
  code: number;
  /** The name of `code`: 'SI_USER', 'SI_QUEUE', 'SI_TKILL', 'SI_KERNEL', 'CLD_EXITED', ... */
  codeName: string;
  /** The integer sent with sigqueue(3); only when `code` is SI_QUEUE. */
  value?: number;
  /** For SIGCHLD: the exit code (CLD_EXITED) or the signal number (other CLD_ codes). */
  status?: number;
}

/** A function called on the event loop for each delivered signal. */
export type SignalHandler = (event: SignalEvent) => void;

const SI_QUEUE = -1;
const siCodeNames = new Map<number, string>([
  [0, 'SI_USER'],
  [0x80, 'SI_KERNEL'],
  [-1, 'SI_QUEUE'],
  [-2, 'SI_TIMER'],
  [-3, 'SI_MESGQ'],
  [-4, 'SI_ASYNCIO'],
  [-5, 'SI_SIGIO'],
  [-6, 'SI_TKILL'],
]);
const childCodeNames = ['', 'CLD_EXITED', 'CLD_KILLED', 'CLD_DUMPED', 'CLD_TRAPPED', 'CLD_STOPPED', 'CLD_CONTINUED'];
const SIGCHLD = os.constants.signals.SIGCHLD;
const SIGKILL = os.constants.signals.SIGKILL;
const SIGSTOP = os.constants.signals.SIGSTOP;

function codeName(signo: number, code: number): string {
  if (signo === SIGCHLD && code > 0 && code < childCodeNames.length) return childCodeNames[code]!;
  return siCodeNames.get(code) ?? `code ${code}`;
}

/** Signals this library will not take over, and who owns them. */
const owners = new Map<number, string>([
  [os.constants.signals.SIGUSR1, "Node's inspector (SIGUSR1 starts the debugger: node --inspect, process._debugProcess)"],
  [os.constants.signals.SIGPROF, "V8's CPU profiler"],
  [os.constants.signals.SIGSEGV, "Node's and V8's crash handling (WebAssembly trap handler)"],
  [os.constants.signals.SIGBUS, "Node's and V8's crash handling"],
  [os.constants.signals.SIGFPE, "Node's and V8's crash handling"],
  [os.constants.signals.SIGILL, "Node's and V8's crash handling"],
  [32, "glibc's threads (NPTL thread cancellation)"],
  [33, "glibc's threads (NPTL setxid broadcast)"],
]);

/** The error thrown for a signal that Node, V8 or glibc owns. */
export type ReservedSignalError = Error & {
  /** Always 'ERR_SIGNAL_RESERVED'. */
  code: 'ERR_SIGNAL_RESERVED';
  /** The signal's name. */
  signal: string;
  /** Who owns it: 'Node.js (inspector)', 'V8 (profiler)', 'glibc (threads)', ... */
  owner: string;
};

function checkTakeable(signal: unknown): number {
  const signo = signalNumber(signal);
  if (signo === SIGKILL || signo === SIGSTOP) {
    // sigaction(2) would answer EINVAL: refused up front as an argument, as sigprocmask does.
    throw invalidArgValue('signal', `cannot be ${signalName(signo)}: it cannot be caught, ignored or given a handler`, signal);
  }
  const owner = owners.get(signo);
  if (owner !== undefined) {
    const name = signalName(signo);
    throw Object.assign(new Error(`${name} belongs to ${owner}; posix-process does not take it over`), {
      code: 'ERR_SIGNAL_RESERVED' as const,
      signal: name,
      owner,
    });
  }
  return signo;
}

// Shared by every copy of this facade in the process: native code calls the first copy's
// dispatch, which must find the handlers of all (sharedState).
const shared = sharedState('signals', () => ({ handlers: new Map<number, Set<SignalHandler>>(), dropped: 0 }));
const handlers = shared.handlers;

function dispatch(records: Int32Array, dropped: number): void {
  if (dropped > 0) {
    shared.dropped += dropped;
    process.emitWarning(`${dropped} signal records were dropped because the signal pipe was full`, {
      code: 'POSIX_PROCESS_SIGNALS_DROPPED',
    });
  }
  for (let i = 0; i + 6 <= records.length; i += 6) {
    const signo = records[i]!;
    const set = handlers.get(signo);
    if (set === undefined) continue; // removed after the signal arrived: not delivered
    const code = records[i + 1]!;
    const event: SignalEvent = {
      signal: signalName(signo),
      signo,
      pid: records[i + 2]!,
      uid: records[i + 3]! >>> 0,
      code,
      codeName: codeName(signo, code),
    };
    if (code === SI_QUEUE) event.value = records[i + 4]!;
    if (signo === SIGCHLD && code > 0) event.status = records[i + 5]!;
    // A copy: a handler that removes itself or another must not change this delivery.
    for (const handler of [...set]) {
      if (!set.has(handler)) continue;
      try {
        handler(event);
      } catch (error) {
        // Report it like any callback's exception, without losing the other handlers' deliveries.
        process.nextTick(() => {
          throw error;
        });
      }
    }
  }
}

let hookedNodeListeners = false;

/**
 * Node's process.on('SIGxxx') goes through libuv, which replaces our handler when its first
 * listener comes and sets SIG_DFL when its last goes. Node's own 'newListener'/'removeListener'
 * hooks run before ours, so by the time ours run the disposition has changed: reconcile at once.
 */
function hookNodeListeners(): void {
  if (hookedNodeListeners) return;
  hookedNodeListeners = true;
  const reconcile = (event: string | symbol): void => {
    if (typeof event === 'string' && event.startsWith('SIG')) binding.signalReconcile();
  };
  process.on('newListener', reconcile);
  process.on('removeListener', reconcile);
}

/**
 * Calls `handler` on the event loop each time this process receives `signal`, with the sender's
 * pid and uid, the si_code and (for sigqueue) the value. Several handlers per signal are allowed;
 * they coexist with Node's `process.on(signal)` listeners, which keep firing too. Returns a
 * function that removes the handler (calling it again does nothing). See sigaction(2), signal(7).
 *
 * While a handler is registered the signal no longer has its default action (for SIGTERM, SIGINT:
 * the process does not end). Like Node's listeners, handlers do not keep the process alive.
 * Standard signals that arrive while one of the same kind is pending are merged by the kernel;
 * real-time signals ('SIGRTMIN+n') are queued and each is delivered.
 *
 * A `fork()` child keeps the handlers it inherited, and each process gets only its own signals
 * (the child has a self-pipe of its own from the fork on).
 *
 * Safety: the native handler chains to the one it replaced (libuv's). If another libuv user
 * (child_process's SIGCHLD watcher, a native addon) installs a handler, ours is put back before
 * the next event-loop iteration; a signal arriving in between reaches only that other handler.
 *
 * @throws TypeError `ERR_INVALID_ARG_VALUE` for SIGKILL and SIGSTOP, which cannot be caught
 * @throws SyscallError on the first call of an environment, `EMFILE` (syscall 'pipe2') when its self-pipe cannot be made, `ENOSPC`
 *   (syscall 'uv_poll_init') when it cannot be watched (fs.epoll.max_user_watches used up)
 * @throws Error `ERR_SIGNAL_ENVIRONMENTS` on the first call of an environment while 64 others
 *   (the main thread and workers) watch signals
 * @throws Error `ERR_SIGNAL_RESERVED` for signals owned by Node, V8 or glibc (SIGUSR1, SIGPROF,
 *   SIGSEGV, SIGBUS, SIGFPE, SIGILL, 32, 33); its message and `owner` say who owns it
 * @throws TypeError / RangeError for an unknown signal or a handler that is not a function
 * @param signal - the signal to handle (name or number)
 * @param handler - called on the event loop with a {@link SignalEvent} for each delivery
 * @returns a function that removes this handler (the default disposition comes back with the last one)
 * @see sigaction(2), signal(7)
 * @example
 * ```ts
 * const remove = onSignal('SIGTERM', (event) => {
 *   console.log(`SIGTERM from pid ${event.pid} (uid ${event.uid})`);
 *   remove();
 * });
 * ```
 */
export function onSignal(signal: Signal, handler: SignalHandler): () => void {
  const signo = checkTakeable(signal);
  if (typeof handler !== 'function') throw invalidArgType('handler', 'of type function', handler);
  hookNodeListeners();
  let set = handlers.get(signo);
  if (set === undefined) {
    binding.signalWatch(signo, dispatch);
    set = new Set();
    handlers.set(signo, set);
  }
  // The same function twice is two registrations, as with EventEmitter.
  const registration: SignalHandler = (event) => handler(event);
  set.add(registration);
  return () => {
    const current = handlers.get(signo);
    if (current === undefined || !current.delete(registration) || current.size > 0) return;
    handlers.delete(signo);
    binding.signalUnwatch(signo);
  };
}

/** Options of {@link ignoreSignal}. */
export interface IgnoreSignalOptions {
  /**
   * Must be true to ignore SIGCHLD. An ignored SIGCHLD makes the kernel reap children itself, so
   * `child_process` never sees their exit status ('exit' reports code null or never fires) and
   * waitpid fails with ECHILD.
   */
  breaksChildProcess?: boolean;
}

/**
 * Ignores `signal` (SIG_IGN) whenever no handler of this library or of Node
 * (`process.on(signal)`) wants it, and keeps it so: when Node's last listener for the signal is
 * removed, libuv resets it to SIG_DFL and this library sets SIG_IGN again. See sigaction(2).
 *
 * Safety: ignored signals stay ignored in programs exec'd from this process unless the spawner
 * resets them. The disposition is applied for the whole process but kept (set again after libuv
 * resets it) by the environments that use this library's signal calls: called from a worker
 * alone, it is kept only while that worker lives.
 *
 * @throws Error `ERR_SIGNAL_ENVIRONMENTS` as {@link onSignal}
 * @throws Error `ERR_SIGNAL_IGNORE_SIGCHLD` for SIGCHLD without `{ breaksChildProcess: true }`;
 *   TypeError `ERR_INVALID_ARG_TYPE` for a `breaksChildProcess` that is not a boolean
 * @throws the same errors as {@link onSignal} for SIGKILL, SIGSTOP and reserved signals
 * @param signal - the signal to ignore (name or number)
 * @param options - `breaksChildProcess: true` is required for SIGCHLD
 * @see sigaction(2) SIG_IGN
 */
export function ignoreSignal(signal: Signal, options: IgnoreSignalOptions = {}): void {
  const signo = checkTakeable(signal);
  const breaksChildProcess = validating('ignoreSignal', () => {
    if (!isOptionsObject(options)) throw invalidArgType('options', 'of type object', options);
    return options.breaksChildProcess;
  });
  if (breaksChildProcess !== undefined) validateBoolean(breaksChildProcess, 'options.breaksChildProcess');
  if (signo === SIGCHLD && breaksChildProcess !== true) {
    throw Object.assign(
      new Error(
        'Ignoring SIGCHLD makes the kernel reap every child, so child_process loses their exit status; pass { breaksChildProcess: true } to do it anyway',
      ),
      { code: 'ERR_SIGNAL_IGNORE_SIGCHLD' },
    );
  }
  hookNodeListeners();
  binding.signalSetBase(signo, 1);
}

/**
 * Gives `signal` its default action (SIG_DFL) whenever no handler of this library or of Node
 * wants it, and keeps it so while Node's listeners come and go. Use it to undo
 * {@link ignoreSignal}, or to restore the default of a signal Node ignores (SIGPIPE, SIGXFSZ:
 * then a write to a closed pipe ends the process). See sigaction(2). Kept as
 * {@link ignoreSignal} keeps its disposition.
 *
 * @throws Error `ERR_SIGNAL_ENVIRONMENTS` as {@link onSignal}
 * @throws the same errors as {@link onSignal} for SIGKILL, SIGSTOP and reserved signals
 * @param signal - the signal whose default action to restore (name or number)
 * @see sigaction(2) SIG_DFL
 */
export function defaultSignal(signal: Signal): void {
  const signo = checkTakeable(signal);
  hookNodeListeners();
  binding.signalSetBase(signo, 2);
}

/**
 * Sends a signal to every process of process group `pgrp` (0: the caller's group). See killpg(3).
 *
 * @throws SyscallError `ESRCH` (no such group), `EPERM` (no member may be signalled)
 * @throws TypeError / RangeError for a bad group or signal, before anything is sent; RangeError
 *   `ERR_OUT_OF_RANGE` for group 1, which killpg(3) would turn into kill(-1): every process
 * @param pgrp - the process group (0: the caller's own; not 1)
 * @param signal - a signal name or number; defaults to 'SIGTERM'
 * @see killpg(3)
 */
export function killpg(pgrp: number, signal: Signal = 'SIGTERM'): void {
  validateInteger(pgrp, 'pgrp', 0, 2 ** 31 - 1);
  // glibc's killpg(1) is kill(-1): every process this one may signal, not group 1 (POSIX leaves
  // pgrp <= 1 undefined). Whoever means that says kill(-1, ...).
  if (pgrp === 1) throw outOfRange('pgrp', '0 or > 1 (killpg(1) would signal every process: use kill(-1, signal) for that)', pgrp);
  binding.killpg(pgrp, signalNumber(signal, 'signal', true));
}

/**
 * Sends a signal with an integer value, queued (real-time signals are delivered once per send).
 * A handler installed with {@link onSignal} receives it as `event.value` with code 'SI_QUEUE'.
 * See sigqueue(3).
 *
 * @param pid - the receiving process (> 0)
 * @param value - a 32-bit signed integer
 * @throws SyscallError `ESRCH`, `EPERM`, `EAGAIN` (the receiver's queue of pending signals is full)
 * @throws TypeError / RangeError for a bad pid, signal or value, before anything is sent
 * @param signal - a signal name or number
 * @see sigqueue(3)
 */
export function sigqueue(pid: number, signal: Signal, value: number): void {
  validateInteger(pid, 'pid', 1, 2 ** 31 - 1);
  const signo = signalNumber(signal, 'signal', true);
  validateInteger(value, 'value', -(2 ** 31), 2 ** 31 - 1);
  binding.sigqueue(pid, signo, value);
}

/**
 * How many signal records were lost because the self-pipe was full (normally 0; each loss is also
 * reported as a process warning).
 *
 * @returns the count since this process started
 * @throws nothing
 * @see sigaction(2)
 */
export function droppedSignalCount(): number {
  return shared.dropped;
}
