/**
 * The child handle and what makes it: the ChildProcess class, whose constructor token never
 * leaves this module, the spawn under way that builds one from its result or rejects
 * (PendingSpawn, promiseFor), and the `timeout` and `signal` watch of a spawn and then of its
 * child (Deadline).
 */
import * as net from 'node:net';
import * as os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { abortError, invalidArgValue, SyscallError } from '../errors';
import type { Bytes } from '../env';
import { binding, type RawFdPlan, type RawSpawnResult } from '../native';
import { childRuns, createPty, type Pty } from '../pty';
import { signalNumber, type Signal } from '../signals';
import { waitOnOwnedPidfd, type WaitIdResult } from '../wait';
import { closeAll, type PreparedSpawn } from './options';
import { closed, readLines, type ChildStream, type StderrOf, type StdinOf, type StdioArrayOf, type StdoutOf } from './output';
import { failedLabel, spawnError, stepLabel, type FailedSpawn, type SpawnSettler, type StepContext } from './request';
import { nextStop, restoreForeground, saveForeground, type OpenedPty, type SavedForeground } from './terminal';
import { signalReapedGroup } from './group';
import { endNow, PipeReader } from './pipe-reader';
import { SocketStream } from './socket-stream';
import type { Containment, TreeAccounting } from './contain';
import { DEFAULT_POLICY, endsProcesses, exitedAlready, sendQuietly, StopControl, type ChildResult, type KillReason, type KillTreeOptions, type StopPolicy } from './kill-tree';
import { readOptions, validateInteger, validating } from '../validate';

const noSettler = (): void => {};
/** @internal The library's own stop of a child (`timeout`, `signal`, `maxBuffer`): killSignal, then SIGKILL. */
export const stopFor = Symbol('stopFor');
/** @internal Resolves once the child has been reaped and, when contained, its whole tree has ended. */
export const treeEnded = Symbol('treeEnded');
/** @internal See ChildProcess[endReason]. */
export const endReason = Symbol('endReason');
/** @internal See ChildProcess[stopAsked]. */
export const stopAsked = Symbol('stopAsked');
/**
 * @internal The reason of an abort that stands for a timeout: a pipeline aborts its stages'
 * signal with it when its `timeout` passes (one timer for every stage).
 */
export const timedOut = Symbol('timedOut');
/** @internal See ChildProcess[followRef]. */
const followRef = Symbol('followRef');
const NO_STREAMS: readonly null[] = Object.freeze([null, null, null]);

// Only this module may construct a ChildProcess: its constructor adopts the fd it is given as
// the child's pidfd and closes it once the child is reaped.
const constructing = Symbol('ChildProcess');
const adopt = Symbol('adopt');

/**
 * A running or finished child started by `spawn`. Dispose of it with `await using`. Only
 * `spawn` makes one: `new ChildProcess()` throws TypeError `ERR_ILLEGAL_CONSTRUCTOR`.
 *
 * `spawn` returns it as a {@link ChildProcessOf}, whose streams follow the `stdio` option.
 *
 * @hideconstructor
 */
export class ChildProcess implements AsyncDisposable {
  /** The child's pid. */
  readonly pid: number;
  /** A pidfd for the child (pidfd_open(2)), valid until the child has been reaped. */
  readonly pidfd: number;
  /**
   * The parent's end of fd 0 when stdio[0] is 'pipe'; destroyed once the child has been reaped,
   * as child_process does (a later write fails through its callback, not as an 'error' event).
   * An EPIPE while it runs (it closed its input) fails the write alike, without ending this
   * program when nobody listens for 'error'.
   */
  readonly stdin: Writable | null;
  /** The parent's end of fd 1 when stdio[1] is 'pipe'. */
  readonly stdout: Readable | null;
  /** The parent's end of fd 2 when stdio[2] is 'pipe'. */
  readonly stderr: Readable | null;
  /**
   * Every piped stream by child fd, as child_process's `stdio`: [stdin, stdout, stderr, ...], with
   * a Duplex at N for `fds: { N: 'pipe' }`, null where the fd is not piped.
   */
  readonly stdio: readonly (ChildStream | null)[];
  #waitId = 0;
  #finished: Promise<ChildResult> | undefined;
  /** Whether the child leads its own process group (`setsid`, or `pgid: 0`). */
  readonly leadsGroup: boolean;
  /** The master of the child's terminal with the `pty` option (lib/pty.ts), else null. */
  readonly pty: Pty | null;
  #result: ChildResult | null = null;
  readonly #stop: StopControl;
  // False once the wait has ended, reaped or failed: the pidfd is closed then, and its number may
  // already belong to another file.
  #pidfdOpen = true;
  // The leader's reap, and wait()'s result: the same, but for a contained tree the library is
  // stopping at the reap, which ends with the tree, when whether SIGKILL was needed is known.
  readonly #reaped: Promise<ChildResult>;
  readonly #exited: Promise<ChildResult>;
  // The `timeout` timer (Deadline), which unref()/ref() treat like the wait.
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Not for use: only `spawn` makes a ChildProcess (the key is private to this module).
   *
   * @param key - The module's private key.
   * @param pid - The child's pid.
   * @param pidfd - The child's pidfd, which the handle then owns.
   * @param streams - The parent's ends of fds 0..2.
   * @param leadsGroup - Whether the child leads its process group.
   * @param pty - The master of its terminal with the `pty` option.
   * @param policy - How the library stops it (containment, killSignal, forceKillAfter).
   * @throws TypeError `ERR_ILLEGAL_CONSTRUCTOR` for any other caller.
   */
  // Private for TypeScript callers (the .d.ts says so); the key refuses JavaScript ones.
  private constructor(key: typeof constructing, pid: number, pidfd: number, streams: readonly (ChildStream | null)[], leadsGroup: boolean, pty: Pty | null = null, policy: StopPolicy = DEFAULT_POLICY) {
    if (key !== constructing) throw Object.assign(new TypeError('Illegal constructor: a ChildProcess is made by spawn()'), { code: 'ERR_ILLEGAL_CONSTRUCTOR' });
    this.pid = pid;
    this.pidfd = pidfd;
    this.stdin = (streams[0] ?? null) as Writable | null;
    this.stdout = (streams[1] ?? null) as Readable | null;
    this.stderr = (streams[2] ?? null) as Readable | null;
    this.stdio = streams;
    this.leadsGroup = leadsGroup;
    this.pty = pty;
    pty?.[childRuns](true);
    this.#stop = new StopControl(
      { pid, signalLeader: (signo) => this.#pidfdOpen && sendQuietly(pidfd, signo), exited: () => this.#reaped, reaped: () => !this.#pidfdOpen, exitedNow: () => !this.#pidfdOpen || exitedAlready(pidfd) },
      policy,
    );
    // Reap as soon as the child exits, whether or not anyone calls wait(): no zombie is left, and
    // the pending wait keeps the event loop alive while the child runs, like child_process. The
    // wait owns the pidfd and closes it once the child has been reaped.
    const onStarted = (id: number): void => void (this.#waitId = id); // for unref()/ref()
    this.#reaped = waitOnOwnedPidfd(pidfd, pid, (result) => {
      this.#pidfdOpen = false;
      this.pty?.[childRuns](false); // its master may close now: no session of the child's to hang up
      this.#result = result === null ? null : this.#stop.decorate(result);
      policy.container?.leaderReaped();
      // As child_process does: a write to the stdin of a child that has ended could only fail
      // with EPIPE, an 'error' event that ends the program when nobody listens.
      if (this.stdin !== null && !this.stdin.destroyed) this.stdin.destroy();
    }, onStarted) as Promise<ChildResult>;
    this.#exited = this.#reaped.then(async (result) => {
      if (this.#stop.requested === null || policy.container === null || policy.forceKillAfter === false) return result;
      // A timeout or abort under way: its forced SIGKILL may come after the leader's end, and
      // wait() says it (as run() does), in the same object as exitResult. Without a grace
      // period nothing is forced later, and a member that ignores the signal would hold wait().
      await this.#stop.gone(this.#stop.keepsAlive); // an unref()'d child's tree does not hold the loop
      return Object.assign(result, this.#stop.why());
    });
    this.#reaped.catch(() => {});
    this.#exited.catch(() => {}); // rejections reach whoever calls wait()
    // A child the library stopped (timeout, abort): its outputs end with what their pipes hold
    // once it is reaped, for every reader (a lines() loop too, not only finished()), though a
    // process it left behind holds them open. Each is a PipeReader (fd 1, 2) or a SocketStream (3
    // and up): streamFor makes nothing else.
    void this.#reaped.then(() => this.#stop.requested !== null && this.stdio.forEach((stream, fd) => fd !== 0 && (stream as PipeReader | SocketStream | null)?.[endNow]()), () => {});
  }

  /** @internal The handle of a child that PendingSpawn has started (the constructor's arguments but the key). */
  static [adopt](pid: number, pidfd: number, streams: readonly (ChildStream | null)[], leadsGroup: boolean, pty: Pty | null, policy: StopPolicy): ChildProcess {
    return new ChildProcess(constructing, pid, pidfd, streams, leadsGroup, pty, policy);
  }

  /** The result once the child has been reaped, else null. */
  get exitResult(): ChildResult | null {
    return this.#result;
  }

  /**
   * Waits for the child to exit (from the event loop, without blocking it) and returns its
   * decoded status and resource usage, and whether the library killed it and why (`timedOut`,
   * `killedBy`, `forced`). Every call returns the same result.
   *
   * @returns a Promise of the child's pid, uid, status, resource usage and why it ended
   * @throws (rejects) SyscallError with syscall 'epoll_ctl' (`ENOSPC`: the user's
   *   fs.epoll.max_user_watches reached; `ENOMEM`) when the wait could not start: the child has
   *   been SIGKILLed and reaped by then, and `kill()` throws `ESRCH`
   * @see waitid(2) P_PIDFD
   */
  wait(): Promise<ChildResult> {
    return this.#exited;
  }

  /**
   * Resolves once the child has exited and every piped stream it reads from (stdout, stderr,
   * `fds: {N: 'pipe'}`) has closed, as child_process's 'close': output is complete then. A piped
   * output nobody reads yet when it is called is drained and dropped, so that a full pipe cannot
   * hold the child: attach readers first.
   *
   * @returns the wait's result (the same as `wait()`)
   * @throws (rejects) what `wait()` rejects with
   * @see waitid(2)
   * @example
   * ```ts
   * const child = await spawn('ls', [], { stdio: ['ignore', 'pipe', 'inherit'] });
   * child.stdout.on('data', (chunk) => process.stdout.write(chunk));
   * const { status } = await child.finished();
   * ```
   */
  finished(): Promise<ChildResult> {
    this.#finished ??= finishedOf(this.stdio, this.#exited);
    return this.#finished;
  }

  /**
   * The lines of a piped output as they arrive, as an async iterator (each without its '\n').
   * Leaving the loop early (`break`) leaves the stream open for the next reader, with what was
   * read but not yet made into lines put back (UTF-8, ASCII, latin1; other encodings destroy
   * it): the child writes on. Read the rest or call `finished()`, or it blocks once the pipe is full.
   *
   * @param from - 'stdout' (default) or 'stderr'
   * @param encoding - how bytes are decoded (default 'utf8')
   * @returns an async iterator of lines; it ends when the stream does (for a child the library
   *   stopped, once it is reaped, though a process it left behind holds the pipe)
   * @throws Error `ERR_NOT_PIPED` when that output is not a pipe; TypeError
   *   `ERR_INVALID_ARG_VALUE` for another `from` or an unknown encoding
   * @example
   * ```ts
   * for await (const line of child.lines()) console.log('>', line);
   * ```
   */
  lines(from: 'stdout' | 'stderr' = 'stdout', encoding: BufferEncoding = 'utf8'): AsyncGenerator<string, void, undefined> {
    if (from !== 'stdout' && from !== 'stderr') throw invalidArgValue('from', "must be 'stdout' or 'stderr'", from);
    if (typeof encoding !== 'string' || !Buffer.isEncoding(encoding)) throw invalidArgValue('encoding', 'must be a Node encoding', encoding);
    const stream = from === 'stderr' ? this.stderr : this.stdout;
    if (stream === null) throw Object.assign(new Error(`${from} is not a pipe: spawn with stdio 'pipe' for it`), { code: 'ERR_NOT_PIPED' });
    return readLines(stream, encoding);
  }

  /**
   * Lets the event loop end while the child runs: neither its wait, its streams (`child.pty`
   * too), its `timeout` nor the grace period of a stop under way keep the process alive (as
   * child_process's `unref()`).
   */
  unref(): void {
    binding.pidfdWaitRef(this.#waitId, false);
    for (const stream of this.stdio) (stream as net.Socket | PipeReader | SocketStream | null)?.unref();
    this.pty?.unref();
    this.#timer?.unref();
    this.#stop.setKeepAlive(false); // a stop under way (timeout, abort): its grace period too
  }

  /** Undoes `unref()`: the running child keeps the event loop alive again. */
  ref(): void {
    binding.pidfdWaitRef(this.#waitId, true);
    for (const stream of this.stdio) (stream as net.Socket | PipeReader | SocketStream | null)?.ref();
    this.pty?.ref();
    this.#timer?.ref();
    this.#stop.setKeepAlive(true);
  }

  /** @internal The `timeout` timer of this child, which unref() and ref() then follow. */
  [followRef](timer: ReturnType<typeof setTimeout>): void {
    this.#timer = timer;
  }

  /**
   * Waits for the child's next stop or continue without reaping it (waitid(2) with WSTOPPED |
   * WCONTINUED on its pidfd, checked at each SIGCHLD): resolves with a result whose `status.kind`
   * is 'stopped' (with the signal: SIGTSTP for Ctrl-Z, SIGTTIN for a background read of the
   * terminal...) or 'continued'; or with the exit result (as `wait()`) if the child ends first.
   * Each stop and each continue is reported once, to one caller; one not yet reported when this
   * is called is reported at once.
   *
   * @returns the stop, the continue or the exit
   * @see waitid(2)
   */
  waitStopped(): Promise<WaitIdResult> {
    if (!this.#pidfdOpen) return this.#reaped;
    return nextStop(this.pidfd, () => this.#pidfdOpen, this.#reaped);
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
   * Sends a signal to the child's process group: only when the child leads its group (`setsid`
   * or `pgid: 0`), so that the signal cannot reach the caller's own group.
   *
   * It never reaches another group that got the same number. Until the child has been reaped
   * (also while it is a zombie) the number is its pid and cannot be reused: kill(2) with `-pid`.
   * Once it has been reaped, the members left (the group lives on while one is left) are found
   * in /proc and each signalled through a pidfd once it is checked to be in the group; when a
   * process with that pid exists again, the group had ended before (a pid is only given out when
   * no group has that number) and nothing is signalled. One case is not told apart: a group that
   * ended, was made again under the same number by a process that has since exited, and still
   * has members; this needs the pid to be reused after the child was reaped.
   *
   * @param signal - a signal name or number; defaults to 'SIGTERM'
   * @throws Error `ERR_NOT_GROUP_LEADER` when the child does not lead a group
   * @throws SyscallError `ESRCH` (syscall 'kill') when the group is empty or has ended (nothing
   *   was signalled)
   * @see kill(2), pidfd_send_signal(2), credentials(7) (process groups)
   */
  killGroup(signal: Signal = 'SIGTERM'): void {
    const signo = signalNumber(signal, 'signal', true);
    if (!this.leadsGroup) {
      throw Object.assign(new Error('killGroup needs a child that leads its process group: spawn it with setsid or pgid: 0'), {
        code: 'ERR_NOT_GROUP_LEADER',
      });
    }
    if (this.#pidfdOpen) binding.kill(-this.pid, signo);
    else signalReapedGroup(this.pid, signo);
  }

  /**
   * The containment mechanism in force ('cgroup', 'pid-namespace' or 'subreaper'), or null for a
   * child spawned without `contain`.
   */
  get containment(): Containment | null {
    return this.#stop.policy.container?.kind ?? null;
  }

  /**
   * Signals every process of the contained tree, the leader's orphans included (also once the
   * leader has exited), then SIGCONT (unless the signal is SIGKILL or one of job control) so
   * that a stopped process acts on it (with `contain: 'cgroup'`, a cgroup of the tree frozen
   * from outside is thawed with it), and resolves once every one of them has exited and been
   * reaped or accounted for. With `forceAfter`, whatever is left after that many milliseconds gets SIGKILL
   * (and the result's `forced` is true). A leader that is PID 1 of a PID namespace (`contain:
   * 'pid-namespace'`) and has no handler for a signal that would end an ordinary process never
   * gets it (the kernel drops it, pid_namespaces(7)): without `forceAfter`, once the other
   * processes that got it have ended and the leader has had 100 ms to exit on its own, it gets
   * SIGKILL in its place, which ends the namespace (`forced` is true); with `forceAfter`, that
   * SIGKILL does it.
   * A signal that does not end a process without a handler (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU,
   * SIGCONT, SIGCHLD, SIGURG, SIGWINCH, 0) is sent to every process of the tree and the promise
   * resolves at once: `killTree('SIGSTOP')` freezes the tree, `killTree('SIGCONT')` resumes it.
   * A process of the tree that this process may not signal (EPERM: one whose ids changed, such
   * as sudo's command) is passed over, as systemd does: `cgroup.kill` still ends it ('cgroup'
   * with SIGKILL or `forceAfter`); otherwise the promise waits for it to end on its own.
   *
   * @param signal - the signal (default 'SIGTERM'); 'SIGKILL' ends the tree at once
   * @param options - `forceAfter`: milliseconds of grace before SIGKILL
   * @returns a Promise that resolves once no process of the tree is left (once the signal is
   *   sent, for a signal that does not end processes)
   * @throws Error `ERR_NOT_CONTAINED` for a child spawned without `contain`; TypeError /
   *   RangeError for a bad signal, `options` or `forceAfter` (`ERR_INVALID_ARG_VALUE` with a
   *   signal that does not end processes)
   * @see docs/containment.md; cgroups(7) (`cgroup.kill`), pid_namespaces(7), prctl(2) PR_SET_CHILD_SUBREAPER
   * @example
   * ```ts
   * const server = await spawn('sh', ['-c', 'setsid sleep 100 & exec my-server'], { contain: true });
   * await server.killTree('SIGTERM', { forceAfter: 2000 });
   * ```
   */
  killTree(signal: Signal = 'SIGTERM', options: KillTreeOptions = {}): Promise<void> {
    try {
      const signo = signalNumber(signal, 'signal', true);
      const { forceAfter: force } = validating('killTree', () => readOptions<KillTreeOptions>(options, ['forceAfter']));
      const forceAfter = force === undefined ? false : validateInteger(force, 'options.forceAfter', 0, 2 ** 31 - 1);
      if (this.#stop.policy.container === null) throw notContained('killTree');
      if (!endsProcesses(signo)) {
        // SIGSTOP, SIGCONT...: the tree goes on existing, so there is no end to wait for.
        if (forceAfter !== false) throw invalidArgValue('options.forceAfter', `needs a signal that ends processes (${signal} does not)`, force);
        this.#stop.signalTree(signo);
        return Promise.resolve();
      }
      return this.#stop.killTree(signo, forceAfter);
    } catch (error) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes on what validation threw
      return Promise.reject(error);
    }
  }

  /**
   * The pids of the contained tree's live processes now (the leader included while it runs):
   * from the cgroup, the namespace, or a walk of /proc. A snapshot.
   *
   * @returns the pids, in no particular order
   * @throws Error `ERR_NOT_CONTAINED` for a child spawned without `contain`
   */
  descendants(): number[] {
    const container = this.#stop.policy.container;
    if (container === null) throw notContained('descendants');
    return container.members();
  }

  /**
   * CPU time of the whole tree, and peak memory and process count where the cgroup has those
   * controllers: only the 'cgroup' mechanism measures (null otherwise). Kept after the tree ends.
   *
   * @returns the figures, or null
   */
  treeAccounting(): TreeAccounting | null {
    return this.#stop.policy.container?.accounting() ?? null;
  }

  /** @internal See treeEnded; `keepAlive` false: the wait does not keep the event loop alive. */
  [treeEnded](keepAlive = true): Promise<void> {
    return this.#stop.gone(keepAlive);
  }

  /** @internal Why the library ended the child or its tree, as of now (run() reads it once the tree has ended). */
  [endReason](): Pick<ChildResult, 'timedOut' | 'killedBy' | 'forced'> {
    return this.#stop.why();
  }

  /** @internal The library's first stop of the child, also one that found it exited already (its outputs are not waited for then). */
  [stopAsked](): KillReason | null {
    return this.#stop.requested;
  }

  /** @internal The library's own stop (timeout, abort, maxBuffer, dispose). */
  [stopFor](reason: KillReason): Promise<void> {
    return this.#stop.stop(reason);
  }

  /**
   * Stops the child if it still runs (the whole tree when contained): `killSignal`, then SIGKILL
   * after `forceKillAfter`; reaps it and closes its streams.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      if (this.#pidfdOpen || this.#stop.policy.container !== null) await this.#stop.stop('dispose');
      await this.#exited.catch(() => {});
    } finally {
      // Even when the stop failed (a signal refused): the streams are ours to close either way.
      for (const stream of [...this.stdio, this.pty]) stream?.destroy();
    }
  }
}

/**
 * The wait, then the close of every stream the child writes to (fd 0 is ours to write); a child
 * the library stopped has had its outputs ended at its reap already (the constructor).
 */
async function finishedOf(stdio: readonly (ChildStream | null)[], exited: Promise<ChildResult>): Promise<ChildResult> {
  const outputs = stdio.filter((stream, fd): stream is ChildStream => stream !== null && fd !== 0);
  for (const stream of outputs) if ((stream as Readable).readableFlowing === null) (stream as Readable).resume();
  const [result] = await Promise.all([exited, ...outputs.map(closed)]);
  return result;
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
  readonly chroot: Bytes | undefined;
  private readonly parentEnds: readonly (number | null)[];
  private readonly childEnds: readonly number[];
  private readonly leadsGroup: boolean;
  private readonly pty: OpenedPty | undefined;
  // With `foreground`: the terminal's group before the spawn, given back if the spawn fails.
  private readonly foreground: SavedForeground | undefined;
  // Set by promiseFor (see takeSettlers).
  resolve: (child: ChildProcess) => void = noSettler;
  reject: (error: unknown) => void = noSettler;
  /** `timeout` and `signal`, when given. */
  deadline: Deadline | undefined;
  /** How the child is stopped, and its container (set by spawn). */
  policy: StopPolicy = DEFAULT_POLICY;

  constructor(prepared: PreparedSpawn) {
    this.file = prepared.file;
    this.cwd = prepared.cwd;
    this.fds = prepared.request.fds;
    this.chroot = prepared.request.chroot;
    this.parentEnds = prepared.parentEnds;
    this.childEnds = prepared.childEnds;
    this.leadsGroup = prepared.request.setsid || prepared.request.pgid === 0;
    this.pty = prepared.pty;
    this.foreground = saveForeground(prepared.request);
  }

  settle(result: RawSpawnResult): void {
    const deadline = this.deadline;
    // A cancelled spawn never resolves: native code killed and reaped its child.
    if (!('pid' in result) || deadline?.cancelled === true) {
      deadline?.stop();
      this.policy.container?.abandon();
      if (this.foreground !== undefined) restoreForeground(this.foreground);
      try {
        closeAll(this.pty === undefined ? [...this.childEnds, ...this.parentEnds] : [...this.childEnds, ...this.parentEnds, this.pty.master]);
      } catch {
        // An fd closed behind the library's back (EBADF): the spawn's own error is the outcome.
      }
      // A step that failed on its own (errno set) had ended the spawn before the cancel, which
      // found only its exiting child: its error is the outcome, not ETIMEDOUT or an AbortError.
      const failedItself = !('pid' in result) && result.errno !== -1;
      this.reject(deadline?.cancelled === true && !failedItself ? deadline.error(this, result) : spawnError(this, result as FailedSpawn));
      return;
    }
    let child: ChildProcess | undefined;
    try {
      child = this.handleFor(result);
      deadline?.adopt(child);
      this.resolve(child);
    } catch (error) {
      this.abandonStarted(result, child, error);
    }
  }

  /**
   * The handle of the started child, on the parent's ends of its pipes, once the child's ends
   * are closed. Throws what failed (EBADF: an fd closed behind the library's back; net.Socket and
   * PipeReader refuse some fds) after destroying the streams it made and closing the parent's
   * ends it had not made streams of yet; the child itself is left to abandonStarted.
   */
  private handleFor(result: { pid: number; pidfd: number }): ChildProcess {
    // The streams made so far (none to make without a pipe: the shared NO_STREAMS).
    const streams: (ChildStream | null)[] = this.childEnds.length === 0 ? (NO_STREAMS as (ChildStream | null)[]) : [];
    try {
      closeAll(this.childEnds);
      if (streams !== NO_STREAMS) {
        // Indexed, as closeAll: this runs for every spawn.
        for (let i = 0; i < this.parentEnds.length; i++) streams.push(streamFor(this.parentEnds[i]!, i));
      }
      this.policy.container?.adopt(result.pid);
      return ChildProcess[adopt](result.pid, result.pidfd, streams, this.leadsGroup, this.pty === undefined ? null : createPty(this.pty.master, this.pty.path), this.policy);
    } catch (error) {
      for (const stream of streams) stream?.destroy();
      const rawEnds = this.parentEnds.slice(streams.length);
      try {
        closeAll(this.pty === undefined ? rawEnds : [...rawEnds, this.pty.master]);
      } catch {
        // Closed behind the library's back too: the first failure is the one reported.
      }
      throw error;
    }
  }

  /**
   * The child runs but its handle could not be made, or was made and could not be handed over:
   * SIGKILL it, reap it, and reject with the error, which is this spawn's alone (the batch goes
   * on, see dispatch). The parent's ends are released by then (handleFor, or the handle's dispose).
   */
  private abandonStarted(result: { pid: number; pidfd: number }, child: ChildProcess | undefined, error: unknown): void {
    this.deadline?.stop();
    if (child !== undefined) {
      // Its wait owns the pidfd and reaps it; its streams are destroyed at dispose.
      try {
        child.kill('SIGKILL'); // through its pidfd while it is open, else ESRCH
      } catch {
        // already reaped
      }
      void child[Symbol.asyncDispose]().catch(() => {});
    } else {
      sendQuietly(result.pidfd, os.constants.signals.SIGKILL);
      const container = this.policy.container;
      waitOnOwnedPidfd(result.pidfd, result.pid, () => container?.abandon()).catch(() => {});
    }
    this.reject(error);
  }
}

/** The parent's stream on its end of a pipe to the child's fd `target`. */
function streamFor(fd: number | null, target: number): ChildStream | null {
  if (fd === null) return null;
  if (target === 1 || target === 2) return new PipeReader(fd);
  const stream = target === 0 ? new net.Socket({ fd, readable: false, writable: true }) : new SocketStream(fd);
  // net.Socket closes it from here on, not the environment's teardown (native/util/addon_state.h;
  // handed over once owned: the teardown closes the handles first, then skips a closed fd).
  if (target === 0) binding.fdHandOver(fd);
  stream.on('error', epipeIsNotFatal);
  return stream;
}

/**
 * EPIPE on stdin (or an fd 3 and up) is the child closing its end while it runs (`head`): a
 * write's callback gets it, but it does not end this program as an 'error' nobody listens to (as
 * execa); any other error without a listener of the caller's still does.
 */
function epipeIsNotFatal(this: net.Socket | SocketStream, error: NodeJS.ErrnoException): void {
  if (error.code !== 'EPIPE' && this.listenerCount('error') === 1) throw error;
}

function notContained(what: string): Error {
  return Object.assign(new Error(`${what} needs a contained child: spawn it with contain: true`), { code: 'ERR_NOT_CONTAINED' });
}

function stopQuietly(child: ChildProcess, reason: KillReason): void {
  child[stopFor](reason).catch(() => {});
}

/**
 * @internal `timeout` and `signal` of one spawn, from the call on. Before the spawn's result they cancel
 * it: native code drops it from the queue, or kills its child before its exec (SIGKILL) and reaps
 * it, and the spawn rejects naming the step the child was in (or with the error of a step it had
 * already failed on its own). After the result they send
 * `killSignal` to the child (its tree when contained), then SIGKILL after `forceKillAfter`, once
 * (at once if they fired while the result was on its way); the
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
  ) {
    this.onAbort = () => this.fire(signal!.reason === timedOut ? 'timeout' : 'abort');
    // 0 means no timeout, as in child_process.
    this.timer = timeout === undefined || timeout === 0 ? undefined : setTimeout(() => this.fire('timeout'), timeout);
    // Aborted since spawn() checked it (by a getter of its options): no 'abort' event will come.
    if (signal?.aborted === true) this.onAbort();
    else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  private fire(reason: 'timeout' | 'abort'): void {
    if (this.child !== undefined) {
      stopQuietly(this.child, reason);
      return;
    }
    if (this.fired !== undefined) return;
    this.fired = reason;
    this.cancelled = binding.spawnCancel(this.id);
  }

  adopt(child: ChildProcess): void {
    this.child = child;
    // An unref()'d child must not be kept, and then killed, by its timeout alone.
    if (this.timer !== undefined) child[followRef](this.timer);
    if (this.fired !== undefined) stopQuietly(child, this.fired);
    // A contained tree can outlive its leader: the watch lasts until all of it has ended, which
    // only the timer (unref()'d with the child) keeps the loop alive for.
    const stop = (): void => this.stop();
    child[treeEnded](false).then(stop, stop);
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

/**
 * The handle `spawn` returns: a {@link ChildProcess} whose `stdin`, `stdout` and `stderr` follow
 * the `stdio` option `S` it was spawned with (a `Readable`, not `Readable | null`, where it says
 * 'pipe'; `null` where it cannot), and whose `stdio[N]` is a `Duplex` for each `fds: {N: 'pipe'}`
 * of `F`. It is assignable to a plain `ChildProcess`.
 *
 * @typeParam S - the `stdio` option the child was spawned with
 * @typeParam F - the `fds` option the child was spawned with
 */
export type ChildProcessOf<S, F = undefined> = ChildProcess & {
  /** Every fd's stream: `stdio[0..2]` as `stdin`, `stdout`, `stderr`; `stdio[N]` for `fds: {N: 'pipe'}`. */
  readonly stdio: StdioArrayOf<S, F>;
  /** The parent's end of fd 0: a `Writable` when stdio[0] is 'pipe'. */
  readonly stdin: StdinOf<S>;
  /** The parent's end of fd 1: a `Readable` when stdio[1] is 'pipe'. */
  readonly stdout: StdoutOf<S>;
  /** The parent's end of fd 2: a `Readable` when stdio[2] is 'pipe'. */
  readonly stderr: StderrOf<S>;
};
