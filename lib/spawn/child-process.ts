/**
 * The child handle and what makes it: the ChildProcess class, whose constructor token never
 * leaves this module, the spawn under way that builds one from its result or rejects
 * (PendingSpawn, promiseFor), and the `timeout` and `signal` watch of a spawn and then of its
 * child (Deadline).
 */
import * as net from 'node:net';
import * as os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { abortError, SyscallError } from '../errors';
import type { Bytes } from '../env';
import { binding, type RawFdPlan, type RawSpawnResult } from '../native';
import { signalNumber, type Signal } from '../signals';
import { waitOnOwnedPidfd, type WaitIdResult } from '../wait';
import { closeAll, type PreparedSpawn } from './options';
import { failedLabel, spawnError, stepLabel, type FailedSpawn, type SpawnSettler, type StepContext } from './request';

const noSettler = (): void => {};
const NO_STREAMS: readonly null[] = Object.freeze([null, null, null]);

// Only this module may construct a ChildProcess: its constructor adopts the fd it is given as
// the child's pidfd and closes it once the child is reaped.
const constructing = Symbol('ChildProcess');

/**
 * A running or finished child started by `spawn`. Dispose of it with `await using`. Only
 * `spawn` makes one: `new ChildProcess()` throws TypeError `ERR_ILLEGAL_CONSTRUCTOR`.
 *
 * @hideconstructor
 */
export class ChildProcess implements AsyncDisposable {
  /** The child's pid. */
  readonly pid: number;
  /** A pidfd for the child (pidfd_open(2)), valid until the child has been reaped. */
  readonly pidfd: number;
  /** The parent's end of fd 0 when stdio[0] is 'pipe'. */
  readonly stdin: Writable | null;
  /** The parent's end of fd 1 when stdio[1] is 'pipe'. */
  readonly stdout: Readable | null;
  /** The parent's end of fd 2 when stdio[2] is 'pipe'. */
  readonly stderr: Readable | null;
  /** Whether the child leads its own process group (`setsid`, or `pgid: 0`). */
  readonly leadsGroup: boolean;
  #result: WaitIdResult | null = null;
  // False once the wait has ended, reaped or failed: the pidfd is closed then, and its number may
  // already belong to another file.
  #pidfdOpen = true;
  readonly #exited: Promise<WaitIdResult>;

  /**
   * Not for use: only `spawn` makes a ChildProcess (the key is private to this module).
   *
   * @param key - The module's private key.
   * @param pid - The child's pid.
   * @param pidfd - The child's pidfd, which the handle then owns.
   * @param streams - The parent's ends of fds 0..2.
   * @param leadsGroup - Whether the child leads its process group.
   * @throws TypeError `ERR_ILLEGAL_CONSTRUCTOR` for any other caller.
   */
  constructor(key: typeof constructing, pid: number, pidfd: number, streams: readonly (net.Socket | null)[], leadsGroup: boolean) {
    if (key !== constructing) throw Object.assign(new TypeError('Illegal constructor: a ChildProcess is made by spawn()'), { code: 'ERR_ILLEGAL_CONSTRUCTOR' });
    this.pid = pid;
    this.pidfd = pidfd;
    this.stdin = streams[0] ?? null;
    this.stdout = streams[1] ?? null;
    this.stderr = streams[2] ?? null;
    this.leadsGroup = leadsGroup;
    // Reap as soon as the child exits, whether or not anyone calls wait(): no zombie is left, and
    // the pending wait keeps the event loop alive while the child runs, like child_process. The
    // wait owns the pidfd and closes it once the child has been reaped.
    this.#exited = waitOnOwnedPidfd(pidfd, pid, (result) => {
      this.#pidfdOpen = false;
      this.#result = result;
    });
    this.#exited.catch(() => {}); // rejections reach whoever calls wait()
  }

  /** The result once the child has been reaped, else null. */
  get exitResult(): WaitIdResult | null {
    return this.#result;
  }

  /**
   * Waits for the child to exit (from the event loop, without blocking it) and returns its
   * decoded status and resource usage. Every call returns the same result.
   *
   * @returns a Promise of the child's pid, uid, status and resource usage
   * @see waitid(2) P_PIDFD
   */
  wait(): Promise<WaitIdResult> {
    return this.#exited;
  }

  /**
   * Sends a signal to the child through its pidfd (pidfd_send_signal(2)): it can never reach
   * another process that got the pid after this child was reaped.
   *
   * @param signal - a signal name or number; defaults to 'SIGTERM'
   * @throws SyscallError `ESRCH` once the child has been reaped
   * @see pidfd_send_signal(2)
   */
  kill(signal: Signal = 'SIGTERM'): void {
    const signo = signalNumber(signal, 'signal', true);
    if (!this.#pidfdOpen) throw new SyscallError('pidfd_send_signal', 3 /* ESRCH */);
    binding.pidfdSendSignal(this.pidfd, signo);
  }

  /**
   * Sends a signal to the child's process group (kill(2) with `-pid`): only when the child leads
   * its group (`setsid` or `pgid: 0`), so that the signal cannot reach the caller's own group.
   *
   * @throws Error `ERR_NOT_GROUP_LEADER` when the child does not lead a group
   * @param signal - a signal name or number; defaults to 'SIGTERM'
   * @throws SyscallError `ESRCH` when the group is empty
   * @see kill(2)
   */
  killGroup(signal: Signal = 'SIGTERM'): void {
    const signo = signalNumber(signal, 'signal', true);
    if (!this.leadsGroup) {
      throw Object.assign(new Error('killGroup needs a child that leads its process group: spawn it with setsid or pgid: 0'), {
        code: 'ERR_NOT_GROUP_LEADER',
      });
    }
    binding.kill(-this.pid, signo);
  }

  /** Kills the child with SIGKILL if it still runs, reaps it and closes its streams. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#pidfdOpen) {
      try {
        this.kill('SIGKILL');
      } catch (error) {
        if (!(error instanceof SyscallError && error.code === 'ESRCH')) throw error;
      }
    }
    await this.#exited.catch(() => {});
    for (const stream of [this.stdin, this.stdout, this.stderr]) stream?.destroy();
  }
}

// The promise that `pending` settles. Its executor is one function for all spawns, instead of a
// closure (and its context) allocated by each spawn() call; it runs inside the Promise
// constructor, so `promising` is set only while that runs.
let promising: PendingSpawn | undefined;
function takeSettlers(resolve: (child: ChildProcess) => void, reject: (error: unknown) => void): void {
  promising!.resolve = resolve;
  promising!.reject = reject;
}
/** @internal The promise spawn() returns for a pending spawn. */
export function promiseFor(pending: PendingSpawn): Promise<ChildProcess> {
  promising = pending;
  const promise = new Promise<ChildProcess>(takeSettlers);
  promising = undefined;
  return promise;
}

/**
 * @internal A spawn() under way, until its result arrives: only what the result needs, in one object. A
 * closure over spawn()'s variables kept its scopes' contexts and the whole request (argv, the
 * caller's options...) alive for every spawn under way, for the garbage collector to copy in a
 * burst.
 */
export class PendingSpawn implements SpawnSettler, StepContext {
  readonly file: Bytes;
  readonly cwd: Bytes | undefined;
  readonly fds: readonly RawFdPlan[];
  private readonly parentEnds: readonly (number | null)[];
  private readonly childEnds: readonly number[];
  private readonly leadsGroup: boolean;
  // Set by promiseFor (see takeSettlers).
  resolve: (child: ChildProcess) => void = noSettler;
  reject: (error: unknown) => void = noSettler;
  /** `timeout` and `signal`, when given. */
  deadline: Deadline | undefined;

  constructor(prepared: PreparedSpawn) {
    this.file = prepared.file;
    this.cwd = prepared.cwd;
    this.fds = prepared.request.fds;
    this.parentEnds = prepared.parentEnds;
    this.childEnds = prepared.childEnds;
    this.leadsGroup = prepared.request.setsid || prepared.request.pgid === 0;
  }

  settle(result: RawSpawnResult): void {
    closeAll(this.childEnds);
    const deadline = this.deadline;
    // A cancelled spawn never resolves: native code killed and reaped its child.
    if (!('pid' in result) || deadline?.cancelled === true) {
      deadline?.stop();
      closeAll(this.parentEnds);
      this.reject(deadline?.cancelled === true ? deadline.error(this, result) : spawnError(this, result as FailedSpawn));
      return;
    }
    const streams = this.childEnds.length === 0 ? NO_STREAMS : this.parentEnds.map((fd, target) => (fd === null ? null : new net.Socket({ fd, readable: target !== 0, writable: target === 0 })));
    const child = new ChildProcess(constructing, result.pid, result.pidfd, streams, this.leadsGroup);
    deadline?.adopt(child);
    this.resolve(child);
  }
}

function killQuietly(child: ChildProcess, signal: number): void {
  try {
    child.kill(signal);
  } catch {
    // Already reaped: nothing to kill.
  }
}

/**
 * @internal `timeout` and `signal` of one spawn, from the call on. Before the spawn's result they cancel
 * it: native code drops it from the queue, or kills its child before its exec (SIGKILL) and reaps
 * it, and the spawn rejects naming the step the child was in. After the result they send
 * `killSignal` to the child, once (at once if they fired while the result was on its way); the
 * watch ends when the child is reaped.
 */
export class Deadline {
  /** Native code took the cancel: the spawn fails with error(). */
  cancelled = false;
  private fired: 'timeout' | 'abort' | undefined;
  private child: ChildProcess | undefined;
  private readonly timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onAbort: () => void;

  constructor(
    private readonly id: number,
    timeout: number | undefined,
    private readonly signal: AbortSignal | undefined,
    private readonly killSignal: number,
  ) {
    this.onAbort = () => this.fire('abort');
    // 0 means no timeout, as in child_process.
    this.timer = timeout === undefined || timeout === 0 ? undefined : setTimeout(() => this.fire('timeout'), timeout);
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  private fire(reason: 'timeout' | 'abort'): void {
    if (this.child !== undefined) {
      killQuietly(this.child, this.killSignal);
      return;
    }
    if (this.fired !== undefined) return;
    this.fired = reason;
    this.cancelled = binding.spawnCancel(this.id);
  }

  adopt(child: ChildProcess): void {
    this.child = child;
    if (this.fired !== undefined) killQuietly(child, this.killSignal);
    void child
      .wait()
      .catch(() => {})
      .finally(() => this.stop());
  }

  stop(): void {
    clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  /** ETIMEDOUT or an AbortError, with the step the child was in (or 'queued'). */
  error(where: StepContext, result: RawSpawnResult): Error {
    const label = 'pid' in result ? stepLabel(where, 'execve', 0) : failedLabel(where, result);
    if (this.fired === 'abort') return abortError('spawn', this.signal, { step: label.step });
    return new SyscallError(label.syscall, os.constants.errno.ETIMEDOUT, label.path, { step: label.step });
  }
}
