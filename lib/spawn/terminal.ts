/**
 * The terminal options of spawn (`pty`, `setctty`, `foreground`, `noctty`): their validation into
 * the request, the pty made for `pty`, and the wait for a child's stops and continues
 * (`ChildProcess.waitStopped`).
 */
import { invalidArgType, invalidArgValue, SyscallError } from '../errors';
import { binding, type RawSpawnRequest } from '../native';
import { onSignal } from '../signal-handlers';
import { ptySize, type PtyOptions } from '../pty';
import { terminalBinding as native } from '../terminal-binding';
import { validateBoolean, validateInteger } from '../validate';
import { waitid, type WaitIdResult } from '../wait';

/** The terminal options of `spawn` (docs/terminals.md). */
export interface TerminalSpawnOptions {
  /**
   * Run the program in a new pseudo-terminal: its fds 0..2 are the slave, which is its
   * controlling terminal, in a new session (implies `setsid`); `child.pty` is the master as a
   * duplex stream. `true` for 80 x 24, or `{ cols, rows }`. Not with `stdio`, `setsid`, `pgid`,
   * `setctty`, `foreground` or `noctty`.
   */
  pty?: boolean | PtyOptions;
  /**
   * Make the child's fd N (0 usually) its controlling terminal (TIOCSCTTY), after its fds are in
   * place. Needs `setsid: true`: only a session leader can acquire a terminal.
   */
  setctty?: number;
  /**
   * Put the child's process group in the foreground of a terminal before its exec (tcsetpgrp
   * with SIGTTOU blocked): `true` for the terminal on this process's fd 0, or another fd of this
   * process. Implies `pgid: 0` unless `pgid` is given. Not with `setsid`. If the spawn then
   * fails, the terminal goes back to the group that had it.
   */
  foreground?: boolean | number;
  /** Detach the child from this process's controlling terminal (TIOCNOTTY on its fd 0). Not with `setsid`. */
  noctty?: boolean;
}

/** @internal The terminal part of a prepared spawn: the pty to open, if any. */
export interface TerminalPlan {
  pty: { cols: number; rows: number } | undefined;
}

/** @internal An opened pty for a spawn. */
export interface OpenedPty {
  master: number;
  slave: number;
  path: string;
}

const FD_MAX = 2 ** 31 - 1;

/**
 * @internal Validates the terminal options into `request` (before anything is opened); returns
 * the pty to open, which `openTerminal` opens once every other option has passed.
 */
export function terminalRequest(options: TerminalSpawnOptions & { stdio?: unknown; pgid?: unknown }, request: RawSpawnRequest): TerminalPlan {
  const { pty, setctty, foreground, noctty } = options;
  const conflict = (name: string, other: string, value: unknown): Error => invalidArgValue(`options.${name}`, `cannot be combined with ${other}`, value);
  if (pty !== undefined && pty !== false) {
    if (pty !== true && (typeof pty !== 'object' || pty === null)) throw invalidArgType('options.pty', 'a boolean or an object', pty);
    // `pty: true` is spawn's shorthand for the default size.
    const size = ptySize(pty === true ? undefined : pty, 'options.pty');
    // `false` is "off", as everywhere else: no conflict.
    const on = (value: unknown): unknown => (value === false ? undefined : value);
    for (const [name, value] of Object.entries({ stdio: options.stdio, setsid: request.setsid ? true : undefined, pgid: options.pgid, setctty, foreground: on(foreground), noctty: on(noctty) })) {
      if (value !== undefined) throw conflict('pty', `options.${name} (the pty is the child's stdio, terminal and session)`, pty);
    }
    request.setsid = true;
    request.setctty = 0;
    return { pty: size };
  }
  if (setctty !== undefined) {
    request.setctty = validateInteger(setctty, 'options.setctty', 0, 65535);
    if (!request.setsid) throw invalidArgValue('options.setctty', 'needs setsid: true (only a session leader can acquire a controlling terminal)', setctty);
  }
  if (foreground !== undefined && foreground !== false) {
    const fd = foreground === true ? 0 : validateInteger(foreground, 'options.foreground', 0, FD_MAX);
    if (request.setsid) throw conflict('foreground', 'setsid (a new session has no terminal; use setctty)', foreground);
    request.foreground = fd;
    request.pgid ??= 0;
  }
  if (noctty !== undefined && validateBoolean(noctty, 'options.noctty')) {
    if (request.setsid) throw conflict('noctty', 'setsid (a new session has no terminal to leave)', noctty);
    request.noctty = true;
  }
  return { pty: undefined };
}

/** @internal Opens the pty of a plan (last, once nothing else can fail). */
export function openTerminal(plan: TerminalPlan): OpenedPty | undefined {
  if (plan.pty === undefined) return undefined;
  // Held: a worker terminated before the spawn has settled closes them (native/pty.cc).
  const [master, slave, path] = native.openPty(plan.pty.cols, plan.pty.rows, true);
  return { master, slave, path };
}

/** @internal The foreground group of the terminal that a `foreground` spawn is to take, read before it. */
export interface SavedForeground {
  fd: number;
  pgid: number;
}

/** @internal What `restoreForeground` needs if the spawn fails: undefined without `foreground`, or when the fd is not this process's terminal (the child's step fails then, taking nothing). */
export function saveForeground(request: RawSpawnRequest): SavedForeground | undefined {
  const fd = request.foreground;
  if (fd === undefined) return undefined;
  try {
    return { fd, pgid: binding.tcgetpgrp(fd) };
  } catch {
    return undefined;
  }
}

/**
 * @internal After a failed `foreground` spawn: the child took the terminal before its failing
 * step, and its group, now empty, has it; the group that had it before gets it back. A group with
 * a process in it (one that took the terminal since) keeps it. Never throws: the spawn's own
 * error is the one reported.
 */
export function restoreForeground(saved: SavedForeground): void {
  try {
    const now = binding.tcgetpgrp(saved.fd);
    if (now === saved.pgid || now <= 0) return;
    try {
      binding.kill(-now, 0);
      return; // someone is in that group
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ESRCH') return;
    }
    binding.tcsetpgrp(saved.fd, saved.pgid);
  } catch {
    // The terminal is gone or no longer ours: nothing to give back.
  }
}

// The children waiting for a stop or a continue: checked on every SIGCHLD (the kernel sends one
// to the parent when a child stops or continues), while at least one waits.
interface StopWaiter {
  check(): boolean;
}
const stopWaiters = new Set<StopWaiter>();
let removeSigchld: (() => void) | undefined;

function checkAll(): void {
  for (const waiter of stopWaiters) {
    if (waiter.check()) stopWaiters.delete(waiter);
  }
  releaseSigchld();
}

function releaseSigchld(): void {
  if (stopWaiters.size === 0) {
    removeSigchld?.();
    removeSigchld = undefined;
  }
}

/**
 * @internal The next stop or continue of the child behind `pidfd` (waitid(P_PIDFD, WSTOPPED |
 * WCONTINUED | WNOHANG): reports it without reaping), or its exit result if it ends first.
 * `isOpen` says whether the pidfd is still the child's (the exit wait closes it once it reaps).
 */
export function nextStop(pidfd: number, isOpen: () => boolean, exited: Promise<WaitIdResult>): Promise<WaitIdResult> {
  return new Promise((resolve, reject) => {
    let done = false;
    const waiter: StopWaiter = {
      check(): boolean {
        if (done) return true;
        if (!isOpen()) return false; // the exit result is on its way
        try {
          const result = waitid('pidfd', pidfd, { stopped: true, continued: true, nohang: true });
          if (result === null) return false;
          done = true;
          resolve(result);
        } catch (error) {
          // ECHILD: reaped by the exit wait, whose result has not reached the handle yet.
          if (error instanceof SyscallError && error.code === 'ECHILD') return false;
          done = true;
          reject(error instanceof Error ? error : new Error(String(error)));
        }
        return true;
      },
    };
    const ended = (): boolean => {
      if (done) return false;
      done = true;
      stopWaiters.delete(waiter);
      releaseSigchld();
      return true;
    };
    exited.then(
      (result) => ended() && resolve(result),
      (error: unknown) => ended() && reject(error as Error),
    );
    if (waiter.check()) return;
    try {
      removeSigchld ??= onSignal('SIGCHLD', checkAll);
    } catch (error) {
      // Not left among the waiters: it would take (and drop) a stop meant for a later wait.
      done = true;
      reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    stopWaiters.add(waiter);
    // A stop between the first check and the handler's installation is seen now.
    checkAll();
  });
}
