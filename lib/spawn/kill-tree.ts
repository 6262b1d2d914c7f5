/**
 * Stopping a child, or its whole contained tree: the graceful stop (`killSignal`, then SIGKILL
 * after `forceKillAfter`) that `timeout`, `signal`, `maxBuffer` and disposal use, `killTree`, and
 * the record of why the library ended a child (`timedOut`, `killedBy`, `forced`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalidArgType, invalidArgValue, SyscallError } from '../errors';
import { binding, type RawSpawnRequest } from '../native';
import { statusField } from '../procfs';
import { validateInteger } from '../validate';
import type { WaitIdResult } from '../wait';
import type { ChildExitResult } from './output';
import { checkCgroupPath, openContainer, statOf, type Container, type Containment, type ContainOption } from './contain';

const SIGKILL = 9;
const SIGCONT = 18;
// How soon a forced SIGKILL that failed is tried again.
const FORCE_RETRY_MS = 50;
// SIGKILL, SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU: no SIGCONT after these.
const JOB_CONTROL_SIGNALS = new Set([9, 18, 19, 20, 21, 22]);
// How long a namespace's init that the signal cannot reach gets to exit on its own once the
// members that got it are gone, before its SIGKILL (endInitAfter).
const INIT_GRACE_MS = 100;

/** Why the library killed a child: the option or action that did it. */
export type KillReason = 'timeout' | 'abort' | 'maxBuffer' | 'input' | 'dispose';

/** What `child.wait()` resolves with: the wait's result and why the library ended the child. */
export interface ChildResult extends ChildExitResult {
  /** True when `killedBy` is 'timeout': the library's signal for `timeout` found the child running. */
  readonly timedOut: boolean;
  /**
   * What made the library signal the child while it still ran: 'timeout', 'abort' (the `signal`
   * option), 'maxBuffer' (the output limit of `run` or `pipeline`), 'input' (their stream `input`
   * failed), 'dispose' (`await using`); or null when it did not. A stop that comes once the child
   * has exited, reaped or not yet (a zombie), counts for nothing: the status is the child's own.
   * Whether the child had exited is asked of the kernel (waitid(2) `WNOHANG | WNOWAIT` on its
   * pidfd) just before the signal: a child that exits on its own between the two calls is counted
   * as stopped. A child that catches `killSignal` and then exits, with any code, was ended by the
   * library (as execa's `timedOut`, set when its timer fires before the exit is seen; whether a
   * signal ended the process, execa's `isTerminated`, is `status.kind`). A signal from elsewhere,
   * and `kill()` or `killTree()` called by the program, are not the library's. For a contained
   * child (`contain`) the stop ends the whole tree, and it counts whenever it came before the tree
   * had ended, even after the leader's own exit.
   */
  readonly killedBy: KillReason | null;
  /**
   * True when the grace period (`forceKillAfter`, `killTree`'s `forceAfter`) ran out with the
   * child still running (for a contained child: with its tree not yet ended) and SIGKILL was sent;
   * also when the child is PID 1 of a PID namespace that the signal could not reach (no handler
   * for a signal that would end an ordinary process: the kernel drops it), the stop had no grace
   * period, and the library sent SIGKILL in its place because the leader had not exited 100 ms
   * after the other processes that got the signal had ended.
   */
  readonly forced: boolean;
}

/** Options of `child.killTree`. */
export interface KillTreeOptions {
  /** Milliseconds after which whatever is left of the tree gets SIGKILL (default: never). */
  forceAfter?: number;
}

/** @internal How one child is stopped: from spawn's options. */
export interface StopPolicy {
  /** The signal of a graceful stop. */
  readonly killSignal: number;
  /** Milliseconds before SIGKILL, or false for never. */
  readonly forceKillAfter: number | false;
  /** The child's tree, when contained. */
  readonly container: Container | null;
}

/** @internal The default grace before SIGKILL, as execa's `forceKillAfterDelay`. */
export const DEFAULT_FORCE_KILL_AFTER = 5000;

/** @internal The part of a ChildProcess that stops it. */
export interface Stoppable {
  readonly pid: number;
  /** pidfd_send_signal to the leader; false once it has been reaped. */
  signalLeader(signo: number): boolean;
  /** Resolves once the leader has been reaped. */
  exited(): Promise<unknown>;
  /** Whether the leader has been reaped. */
  reaped(): boolean;
  /** Whether the leader has exited: reaped, or a zombie not yet reaped. */
  exitedNow(): boolean;
}

/** @internal Stops one child or its tree, and remembers why. */
export class StopControl {
  /** Why the library's signal ended the child (see ChildResult.killedBy). */
  reason: KillReason | null = null;
  /** The library's first stop, also one that found the child exited already. */
  requested: KillReason | null = null;
  forced = false;
  private stopping: Promise<void> | undefined;
  // Whether the library's own stop keeps the event loop alive (the child's ref()/unref()), and the
  // grace period's timer of a stop under way, which follows it.
  private keepAlive = true;
  private graceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly child: Stoppable,
    readonly policy: StopPolicy,
  ) {}

  /** Why the library ended the child, as of now. */
  why(): Pick<ChildResult, 'timedOut' | 'killedBy' | 'forced'> {
    return { timedOut: this.reason === 'timeout', killedBy: this.reason, forced: this.forced };
  }

  /** The result of the wait with why it ended. */
  decorate(result: WaitIdResult): ChildResult {
    return Object.assign(result, this.why()) as ChildResult; // waitid(WEXITED): exit or signal only
  }

  /** Signals the tree (the child alone when not contained). */
  signalAll(signo: number): void {
    const container = this.policy.container;
    if (container !== null) {
      container.signal(signo);
      return;
    }
    this.child.signalLeader(signo);
  }

  /** Resolves once every process of the tree has ended (the leader reaped); `keepAlive` false: the wait for the tree after the leader does not keep the event loop alive. */
  async gone(keepAlive = true): Promise<void> {
    const container = this.policy.container;
    await this.child.exited().catch(() => {});
    if (container !== null) await container.empty(keepAlive);
  }

  /** Sends `signo` to the tree, then SIGCONT as killTree does (not after 0), without waiting for anything. */
  signalTree(signo: number): void {
    this.signalAll(signo);
    if (signo !== 0 && !JOB_CONTROL_SIGNALS.has(signo)) this.signalAll(SIGCONT);
  }

  /**
   * Sends `signo` to the tree and resolves once all of it has ended; with `forceAfter`, what is
   * left then gets SIGKILL (and `forced` is set). A leader that is a PID namespace's init the
   * signal cannot reach is ended with SIGKILL (endInitAfter) when there is no grace period, or the
   * wait would never end; with one, the grace period's SIGKILL does it.
   */
  /** Whether the library's own stop keeps the event loop alive (the child is not unref()'d). */
  get keepsAlive(): boolean {
    return this.keepAlive;
  }

  /** The child's ref()/unref(): whether the library's own stop keeps the event loop alive. */
  setKeepAlive(keepAlive: boolean): void {
    this.keepAlive = keepAlive;
    this.graceTimer?.[keepAlive ? 'ref' : 'unref']();
  }

  /** See the class; `ownStop`: the library's stop, which keeps the event loop alive only while the child is ref()'d. */
  async killTree(signo: number, forceAfter: number | false, ownStop = false): Promise<void> {
    const keepAlive = !ownStop || this.keepAlive;
    // Asked before anything is signalled, when no grace period's SIGKILL will end the tree: whether
    // the leader is a PID namespace's init that the kernel will not let this signal reach, and
    // which members get it meanwhile.
    const unreachable = forceAfter === false && !this.child.exitedNow() && namespaceInitDrops(this.child.pid, signo);
    const others = unreachable ? (this.policy.container?.members() ?? []).filter((pid) => pid !== this.child.pid) : [];
    this.signalAll(signo);
    // A stopped process only keeps the signal pending: SIGCONT lets it act on it (as systemd does).
    if (!JOB_CONTROL_SIGNALS.has(signo)) this.signalAll(SIGCONT);
    const gone = this.gone(keepAlive);
    // With a grace period, its SIGKILL ends such a leader (as any that outlives the signal):
    // an init that exits on its own once its members are gone (a shell's wait) is not cut short.
    if (unreachable) this.endInitAfter(others, gone);
    if (signo === SIGKILL || forceAfter === false) return gone;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const force = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        // A leader that has exited since (not yet reaped) needs no SIGKILL: it ended on its own.
        if (this.policy.container !== null || !this.child.exitedNow()) {
          this.forced = true;
          this.forceKill(gone);
        }
        resolve();
      }, forceAfter);
      if (!keepAlive) timer.unref();
      if (ownStop) this.graceTimer = timer;
    });
    try {
      await Promise.race([gone, force]);
      await gone;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * SIGKILL to the tree from a timer, where a throw would end the program: a SIGKILL that fails
   * (EMFILE opening cgroup.kill) is tried again every FORCE_RETRY_MS until the tree is gone.
   */
  private forceKill(gone: Promise<void>): void {
    let over = false;
    const end = (): void => void (over = true);
    gone.then(end, end);
    const attempt = (): void => {
      if (over) return;
      try {
        this.signalAll(SIGKILL);
      } catch {
        setTimeout(attempt, FORCE_RETRY_MS).unref(); // the wait for the tree keeps the loop alive
      }
    };
    attempt();
  }

  /**
   * The leader is PID 1 of a PID namespace and the signal, which would end an ordinary process
   * without a handler, is dropped by the kernel: once the members that got it (`others`) have
   * ended (as they would have with the leader gone) and a short grace (INIT_GRACE_MS) has
   * passed without it exiting on its own, the leader gets SIGKILL, the only signal
   * that ends a namespace's init from outside (the kernel then kills what is left in it), and
   * `forced` says so. Nothing is sent once the tree has ended on its own (`gone`).
   */
  private endInitAfter(others: readonly number[], gone: Promise<void>): void {
    let over = false;
    const end = (): void => void (over = true);
    gone.then(end, end);
    const starts = new Map(others.map((pid) => [pid, startOf(pid)]));
    let membersGone = false;
    const look = (delay: number): void => {
      if (over) return;
      if (!membersGone && [...starts].some(([pid, start]) => start !== null && startOf(pid) === start)) {
        // Unreferenced: the wait for the leader keeps the loop alive as long as it should.
        setTimeout(() => look(Math.min(delay * 2, 50)), delay).unref();
        return;
      }
      if (!membersGone) {
        // An init that waits for its members (a shell) exits on its own once they are gone.
        membersGone = true;
        setTimeout(() => look(delay), INIT_GRACE_MS).unref();
        return;
      }
      if (this.child.exitedNow()) return;
      this.forced = true;
      this.child.signalLeader(SIGKILL);
    };
    look(2);
  }

  /**
   * The library's own stop: `killSignal` to the tree, then SIGKILL after `forceKillAfter`. The
   * first reason is kept; a second stop joins the first. A child (not contained) that has exited
   * already, reaped or a zombie, is not signalled and its reason not recorded.
   */
  stop(reason: KillReason): Promise<void> {
    if (this.stopping !== undefined) return this.stopping;
    this.requested = reason;
    if (this.policy.container === null && this.child.exitedNow()) {
      this.stopping = this.gone();
    } else {
      this.reason = reason;
      this.stopping = this.killTree(this.policy.killSignal, this.policy.forceKillAfter, true);
    }
    return this.stopping;
  }
}

/**
 * @internal Whether the child of `pidfd` has exited (a zombie), by waitid(2) with `WNOHANG |
 * WNOWAIT`, which leaves it for its wait to reap; ECHILD (reaped already) counts as exited.
 */
export function exitedAlready(pidfd: number): boolean {
  const { P_PIDFD, WEXITED, WNOHANG, WNOWAIT } = binding.waitConstants;
  try {
    return binding.waitid(P_PIDFD, pidfd, WEXITED | WNOHANG | WNOWAIT) !== null;
  } catch (error) {
    if (error instanceof SyscallError && error.code === 'ECHILD') return true;
    throw error;
  }
}

// Signals whose default action terminates the process (signal(7)): all but SIGKILL (never
// dropped), SIGCHLD, SIGURG and SIGWINCH (ignored) and the job-control ones; real-time ones too.
const NOT_TERMINATING = new Set([0, 9, 17, 18, 19, 20, 21, 22, 23, 28]);

/**
 * @internal Whether `signo` ends a process that has no handler for it (SIGKILL included): the
 * others (0, SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGWINCH) stop,
 * continue or leave it be, so a tree signalled with them is not waited for.
 */
export function endsProcesses(signo: number): boolean {
  return signo === 9 || !NOT_TERMINATING.has(signo);
}

/** Start time (clock ticks after boot) of a live, not zombie, process, or null. */
function startOf(pid: number): number | null {
  const stat = statOf(pid);
  return stat === null || stat.state === 'Z' || stat.state === 'X' ? null : stat.start;
}

/**
 * Whether `pid` is PID 1 of a PID namespace (below this one) that will never get
 * `signo` from here: the kernel drops a signal sent from an ancestor namespace to a namespace's
 * init that has no handler for it (pid_namespaces(7); SIGKILL and SIGSTOP aside), although an
 * ordinary process would die of it. Only signals whose default action terminates count; an init
 * that catches or ignores (SIG_IGN) the signal does what any process would. From
 * `/proc/<pid>/status` (`NSpid`, `SigCgt`, `SigIgn`); false when it cannot be read.
 */
function namespaceInitDrops(pid: number, signo: number): boolean {
  if (NOT_TERMINATING.has(signo)) return false;
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return false;
  }
  const field = (name: string): string => statusField(text, name)?.trim() ?? '';
  const nspids = field('NSpid').split(/\s+/);
  if (nspids.length < 2 || nspids[nspids.length - 1] !== '1') return false;
  const bit = 1n << BigInt(signo - 1);
  const mask = (name: string): bigint => {
    const hex = field(name);
    return /^[0-9a-f]+$/i.test(hex) ? BigInt(`0x${hex}`) : ~0n;
  };
  return (mask('SigCgt') & bit) === 0n && (mask('SigIgn') & bit) === 0n;
}

/** @internal pidfd_send_signal that reports ESRCH as false. */
export function sendQuietly(pidfd: number, signo: number): boolean {
  try {
    binding.pidfdSendSignal(pidfd, signo);
    return true;
  } catch (error) {
    if (error instanceof SyscallError && error.code === 'ESRCH') return false;
    throw error;
  }
}

/** @internal The stop options of spawn, checked. */
export interface StopOptions {
  readonly killSignal: number;
  readonly forceKillAfter: number | false;
  readonly contain: ContainOption | undefined;
  readonly cgroup: string | undefined;
}

/** @internal Checks `forceKillAfter`, `contain` and `cgroup` (nothing is made yet). */
export function readStopOptions(options: { forceKillAfter?: unknown; contain?: unknown; cgroup?: unknown }, killSignal: number): StopOptions {
  const { forceKillAfter, contain, cgroup } = options;
  const force = forceKillAfter === undefined ? DEFAULT_FORCE_KILL_AFTER : forceKillAfter === false ? false : validateInteger(forceKillAfter, 'options.forceKillAfter', 0, 2 ** 31 - 1);
  if (contain !== undefined && typeof contain !== 'boolean' && typeof contain !== 'string') throw invalidArgType('options.contain', 'a boolean or a string', contain);
  if (typeof contain === 'string' && !CONTAINMENTS.includes(contain as Containment)) {
    throw invalidArgValue('options.contain', `must be a boolean or one of ${CONTAINMENTS.map((name) => `'${name}'`).join(', ')}`, contain);
  }
  if (cgroup !== undefined && typeof cgroup !== 'string') throw invalidArgType('options.cgroup', 'a string', cgroup);
  checkCgroupPath(cgroup, 'options.cgroup');
  if (cgroup !== undefined && (contain === undefined || contain === false || contain === 'pid-namespace' || contain === 'subreaper')) {
    throw invalidArgValue('options.cgroup', "needs contain: true or 'cgroup'", cgroup);
  }
  // Against the cwd of the spawn: the leaf's path is used again long after, when the cwd may differ.
  return { killSignal, forceKillAfter: force, contain: contain as ContainOption | undefined, cgroup: cgroup === undefined ? undefined : path.resolve(cgroup) };
}

const CONTAINMENTS: readonly Containment[] = ['cgroup', 'pid-namespace', 'subreaper'];

/**
 * @internal The stop policy of one spawn, with its container made (a cgroup leaf...). A
 * contained child also gets SIGKILL as its parent-death signal unless `pdeathsig` names another.
 *
 * @throws Error `ERR_CONTAINMENT_UNAVAILABLE` for a mechanism this machine or build lacks
 */
export function openPolicy(options: StopOptions, request: RawSpawnRequest): StopPolicy {
  if (options.contain === undefined || options.contain === false) {
    return options.killSignal === 15 && options.forceKillAfter === DEFAULT_FORCE_KILL_AFTER ? DEFAULT_POLICY : { killSignal: options.killSignal, forceKillAfter: options.forceKillAfter, container: null };
  }
  const container = openContainer(options.contain, options.cgroup);
  if (request.pdeathsig === 0) request.pdeathsig = SIGKILL;
  if (container.cgroupFd >= 0) request.cgroupFd = container.cgroupFd;
  container.request?.(request);
  return { killSignal: options.killSignal, forceKillAfter: options.forceKillAfter, container };
}

/** @internal The policy of a child spawned with the default stop options and no containment. */
export const DEFAULT_POLICY: StopPolicy = Object.freeze({ killSignal: 15, forceKillAfter: DEFAULT_FORCE_KILL_AFTER, container: null });
