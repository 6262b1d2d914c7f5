/**
 * The safe spawn: fork-then-exec done natively, without the JS thread ever waiting for it, with a
 * child handle.
 *
 * Everything between clone and exec runs in native code (native/spawn_child.cc), in a
 * clone(CLONE_VM) child started from the JS thread without waiting for its exec, or from a
 * dedicated spawning thread for bursts: the cost does not grow with the Node heap, the event loop
 * never waits for a spawn, and exec errors come back as errors that name the step that failed.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { isMainThread } from 'node:worker_threads';
import { abortError, invalidArgType, invalidArgValue, outOfRange, SyscallError } from './errors';
import { argvStartingWith, buildEnvironment, execCandidates, validateBytes, type Bytes, type EnvInput } from './env';
import { binding, type RawFdPlan, type RawSpawnRequest, type RawSpawnResult } from './native';
import { openFlags, type OpenFlags } from './posix-spawn';
import { signalList, signalName, signalNumber, type Signal } from './signals';
import { argumentError, GROUPS_MAX, isOwnKey, readOptions, validateArray, validateBoolean, validateInteger, validating } from './validate';
import { waitOnOwnedPidfd, type WaitIdResult } from './wait';

/**
 * What one of the child's fds 0..2 is connected to:
 * - 'inherit': the parent's same fd (left closed if the parent's is closed);
 * - 'ignore': /dev/null;
 * - 'pipe': a pipe whose other end is a Node stream on the handle (`stdin`, `stdout`, `stderr`);
 * - a number: that fd of the parent;
 * - `{ path, flags?, mode? }`: a file opened in the child (flags default to 'r' for fd 0 and 'w'
 *   for 1 and 2; relative paths are relative to `cwd`).
 */
export type StdioOption = 'inherit' | 'ignore' | 'pipe' | number | { path: Bytes; flags?: OpenFlags; mode?: number };

/** Resource limits by name (the RLIMIT_* of getrlimit(2), in lower case). */
export type RlimitName =
  | 'as' | 'core' | 'cpu' | 'data' | 'fsize' | 'locks' | 'memlock' | 'msgqueue' | 'nice'
  | 'nofile' | 'nproc' | 'rss' | 'rtprio' | 'rttime' | 'sigpending' | 'stack';

/** A limit: one value for soft and hard, or `[soft, hard]`. `Infinity` is RLIM_INFINITY. */
export type RlimitValue = number | bigint | readonly [number | bigint, number | bigint];

/** Options of `spawn` and `run`. */
export interface SpawnOptions {
  /** argv[0] as the program sees it (default: `file`). */
  argv0?: Bytes;
  /** The environment (default: `process.env` at the time of the call). */
  env?: EnvInput;
  /** The working directory of the child. */
  cwd?: Bytes;
  /** fds 0..2: one option for all three, or one each (missing entries: 'inherit'). */
  stdio?: StdioOption | readonly (StdioOption | undefined)[];
  /** More fds for the child, as `{ childFd: parentFd }`, e.g. `{ 3: fd }`. Every other fd is closed. */
  fds?: Readonly<Record<number, number>>;
  /** Start a new session (setsid(2)); the child leads it and a new process group. */
  setsid?: boolean;
  /** Put the child in process group `pgid`; 0 makes it lead a new group (setpgid(2)). */
  pgid?: number;
  /** Signals blocked in the program (default: none). */
  sigmask?: readonly Signal[];
  /** The file mode creation mask of the child (umask(2)). */
  umask?: number;
  /** Run as this user id (setresuid(2)), after `groups` and `gid`. */
  uid?: number;
  /** Run as this group id (setresgid(2)), after `groups`. */
  gid?: number;
  /**
   * Supplementary groups (setgroups(2)); set first. With `uid` or `gid` and no `groups`, the child
   * has none (unless this process may not change them: without CAP_SETGID it keeps its own).
   */
  groups?: readonly number[];
  /** Resource limits, e.g. `{ nofile: [256, 1024], core: Infinity }` (prlimit(2)). */
  rlimits?: Readonly<Partial<Record<RlimitName, RlimitValue>>>;
  /** Signal the program gets when this Node process exits (PR_SET_PDEATHSIG, set right before exec). */
  pdeathsig?: Signal;
  /** Scheduling niceness (setpriority(2)), -20..19. */
  nice?: number;
  /**
   * Aborting it before the program runs cancels the spawn (it rejects with an AbortError and the
   * program never runs); after, it sends `killSignal` to the child.
   */
  signal?: AbortSignal;
  /**
   * Milliseconds, from the call, after which a spawn whose program has not started yet is
   * cancelled (it rejects with ETIMEDOUT), or the running child gets `killSignal`. 0 (the
   * default): never, as in child_process.
   */
  timeout?: number;
  /** The signal for `timeout` and `signal` (default 'SIGTERM'). */
  killSignal?: Signal;
}

const O = fs.constants;
const rlimitResources = binding.spawnOptionConstants.rlimits;
const NO_SIGNALS: readonly number[] = Object.freeze([]);
const NO_STRINGS: readonly Bytes[] = Object.freeze([]);
const noSettler = (): void => {};
const NO_STREAMS: readonly null[] = Object.freeze([null, null, null]);

// Only this module may construct a ChildProcess: its constructor adopts the fd it is given as
// the child's pidfd and closes it once the child is reaped.
const constructing = Symbol('ChildProcess');

/**
 * A running or finished child started by `spawn`. Dispose of it with `await using`. Only
 * `spawn` makes one: `new ChildProcess()` throws TypeError `ERR_ILLEGAL_CONSTRUCTOR`.
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

  /** @internal Created by `spawn` only. */
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
   */
  wait(): Promise<WaitIdResult> {
    return this.#exited;
  }

  /**
   * Sends a signal to the child through its pidfd (pidfd_send_signal(2)): it can never reach
   * another process that got the pid after this child was reaped.
   *
   * @throws SyscallError `ESRCH` once the child has been reaped
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
   * @throws SyscallError `ESRCH` when the group is empty
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

/** @internal A validated request and the fds made for it (shared with lib/daemon.ts). */
export interface PreparedSpawn extends Pick<FdLayout, 'parentEnds' | 'childEnds'> {
  request: RawSpawnRequest;
  file: Bytes;
  cwd?: Bytes;
}

// The fd plans of 'inherit' and 'ignore', the same for every spawn (plans are never changed once
// made): one object fewer per fd and spawn for the garbage collector. An inherited fd the parent
// has closed stays closed in the child (checked there).
const INHERIT_PLANS: readonly RawFdPlan[] = [0, 1, 2].map((target) => Object.freeze({ target, source: target, optional: true }));
const IGNORE_PLANS: readonly RawFdPlan[] = [0, 1, 2].map((target) => Object.freeze({ target, path: '/dev/null', flags: target === 0 ? O.O_RDONLY : O.O_WRONLY, mode: 0 }));

/** The child's fds, and the pipes made for them. */
interface FdLayout {
  readonly fds: readonly RawFdPlan[];
  /** Parent ends of 'pipe' stdio, by child fd. */
  readonly parentEnds: readonly (number | null)[];
  /** Child ends of pipes, closed in the parent once the child has them. */
  readonly childEnds: readonly number[];
}

// The whole layout when stdio is 'inherit' (the default) or 'ignore' for all three fds, with no
// extra fds: nothing per spawn at all.
const sharedLayout = (plans: readonly RawFdPlan[]): FdLayout => Object.freeze({ fds: Object.freeze([...plans]), parentEnds: Object.freeze([null, null, null]), childEnds: Object.freeze([]) });
const INHERIT_LAYOUT = sharedLayout(INHERIT_PLANS);
const IGNORE_LAYOUT = sharedLayout(IGNORE_PLANS);

function normaliseStdio(stdio: SpawnOptions['stdio']): StdioOption[] {
  if (stdio === undefined) return ['inherit', 'inherit', 'inherit'];
  if (!Array.isArray(stdio)) return [stdio as StdioOption, stdio as StdioOption, stdio as StdioOption];
  if (stdio.length > 3) throw invalidArgValue('options.stdio', 'has at most 3 entries (use options.fds for more)', stdio);
  // A missing entry (a hole too) is 'inherit', as documented.
  return [0, 1, 2].map((i) => (stdio[i] as StdioOption | undefined) ?? 'inherit');
}

// Native close: these fds come from binding.pipe(), and fs.closeSync warns about such fds in
// worker threads.
function closeAll(fds: readonly (number | null)[]): void {
  // Indexed: for...of allocates an iterator until V8 optimises the caller (settle(), each spawn).
  for (let i = 0; i < fds.length; i++) {
    const fd = fds[i]!;
    if (fd !== null) binding.closeFd(fd);
  }
}

const NO_RLIMITS: RawSpawnRequest['rlimits'] = [];

function rlimitValue(value: unknown, name: string): number | bigint {
  if (typeof value === 'bigint') {
    if (value < 0n || value >= 2n ** 64n) throw outOfRange(name, 'from 0 to 2**64-1', value);
    return value;
  }
  if (value === Infinity) return Infinity;
  return validateInteger(value, name, 0, Number.MAX_SAFE_INTEGER);
}

function rlimitEntries(rlimits: unknown): RawSpawnRequest['rlimits'] {
  if (rlimits === undefined) return NO_RLIMITS; // never changed: shared by every request
  if (typeof rlimits !== 'object' || rlimits === null) throw invalidArgType('options.rlimits', 'an object', rlimits);
  return Object.entries(rlimits).map(([name, value]) => {
    if (!isOwnKey(rlimitResources, name)) throw invalidArgValue(`options.rlimits.${name}`, `is not a resource (${Object.keys(rlimitResources).join(', ')})`, value);
    const resource = rlimitResources[name]!;
    const [soft, hard] = Array.isArray(value) ? rlimitPair(value, `options.rlimits.${name}`) : [value, value];
    const limit = { resource, soft: rlimitValue(soft, `options.rlimits.${name}[0]`), hard: rlimitValue(hard, `options.rlimits.${name}[1]`) };
    if (limit.soft > limit.hard) throw outOfRange(`options.rlimits.${name}`, 'a soft limit not above the hard limit', `[${String(soft)}, ${String(hard)}]`);
    return limit;
  });
}

/** `[soft, hard]`: exactly two entries, read once each. */
function rlimitPair(value: readonly unknown[], name: string): unknown[] {
  if (value.length !== 2) throw invalidArgValue(name, 'must be a number, a bigint or [soft, hard]', value);
  return validateArray(value, name, 2, (entry) => entry);
}

function optionalInteger(value: unknown, name: string, min: number, max: number): number | undefined {
  return value === undefined ? undefined : validateInteger(value, name, min, max);
}

/**
 * The child's fds 0..2 from `stdio` (validated before any pipe is made, so that a bad entry
 * leaks nothing), then the `extra` ones; pipes are made here, last.
 */
function fdLayout(stdio: SpawnOptions['stdio'], extra: readonly RawFdPlan[]): FdLayout {
  if (extra.length === 0 && (stdio === undefined || stdio === 'inherit' || stdio === 'ignore')) {
    return stdio === 'ignore' ? IGNORE_LAYOUT : INHERIT_LAYOUT;
  }
  const plans: (RawFdPlan | 'pipe')[] = normaliseStdio(stdio).map((option, target) => {
    if (option === 'inherit') return INHERIT_PLANS[target]!;
    if (option === 'ignore') return IGNORE_PLANS[target]!;
    if (option === 'pipe') return 'pipe';
    if (typeof option === 'number') return { target, source: validateInteger(option, `options.stdio[${target}]`, 0, 2 ** 31 - 1) };
    if (typeof option === 'object' && option !== null) {
      const { path, flags, mode } = readOptions<{ path: unknown; flags: unknown; mode: unknown }>(option, ['path', 'flags', 'mode'], `options.stdio[${target}]`);
      return {
        target,
        path: validateBytes(path, `options.stdio[${target}].path`),
        flags: openFlags(flags ?? (target === 0 ? 'r' : 'w'), `options.stdio[${target}].flags`),
        mode: mode === undefined ? 0o666 : validateInteger(mode, `options.stdio[${target}].mode`, 0, 0o7777),
      };
    }
    throw invalidArgValue(`options.stdio[${target}]`, "must be 'inherit', 'ignore', 'pipe', an fd or { path }", option);
  });

  const parentEnds: (number | null)[] = [null, null, null];
  const childEnds: number[] = [];
  try {
    // Of its final size, like argv: the stdio plans with a pipe's child end for 'pipe', then the
    // extra fds.
    const fds = plans.map((plan, target): RawFdPlan => {
      if (plan !== 'pipe') return plan;
      const [readEnd, writeEnd] = binding.pipe();
      const [parentEnd, childEnd] = target === 0 ? [writeEnd, readEnd] : [readEnd, writeEnd];
      parentEnds[target] = parentEnd;
      childEnds.push(childEnd);
      return { target, source: childEnd };
    });
    return { fds: extra.length === 0 ? fds : fds.concat(extra), parentEnds, childEnds };
  } catch (error) {
    closeAll([...parentEnds, ...childEnds]);
    throw error;
  }
}

/**
 * @internal Validates everything and builds the native request (also for `daemon`). Creates pipes
 * last, so a bad option leaks nothing.
 */
export function prepare(file: unknown, args: unknown, options: Partial<SpawnOptions>): PreparedSpawn {
  const program = validateBytes(file, 'file');
  const argv = argvStartingWith(options.argv0 === undefined ? program : validateBytes(options.argv0, 'options.argv0'), args, 'args');
  // Without an env option the child gets process.env. On the main thread that is the real
  // environment, which native code copies faster than JavaScript can build it; a worker's
  // process.env is its own copy and must be built here.
  const envp = options.env === undefined && isMainThread ? undefined : buildEnvironment(options.env ?? process.env, 'options.env');
  const cwd = options.cwd === undefined ? undefined : validateBytes(options.cwd, 'options.cwd');

  const request: RawSpawnRequest = {
    candidates: execCandidates(program, envp),
    argv,
    fds: [],
    setsid: options.setsid === undefined ? false : validateBoolean(options.setsid, 'options.setsid'),
    rlimits: rlimitEntries(options.rlimits),
    pdeathsig: options.pdeathsig === undefined ? 0 : signalNumber(options.pdeathsig, 'options.pdeathsig'),
    sigmask: options.sigmask === undefined ? NO_SIGNALS : signalList(options.sigmask, 'options.sigmask'),
  };
  if (envp !== undefined) request.envp = envp;
  if (cwd !== undefined) request.cwd = cwd;
  const pgid = optionalInteger(options.pgid, 'options.pgid', 0, 2 ** 31 - 1);
  if (pgid !== undefined) {
    if (request.setsid) throw invalidArgValue('options.pgid', 'cannot be combined with setsid (a new session has its own group)', pgid);
    request.pgid = pgid;
  }
  const uid = optionalInteger(options.uid, 'options.uid', 0, 2 ** 32 - 2);
  if (uid !== undefined) request.uid = uid;
  const gid = optionalInteger(options.gid, 'options.gid', 0, 2 ** 32 - 2);
  if (gid !== undefined) request.gid = gid;
  if (options.groups !== undefined) request.groups = validateArray(options.groups, 'options.groups', GROUPS_MAX, groupId);
  const nice = optionalInteger(options.nice, 'options.nice', -20, 19);
  if (nice !== undefined) request.nice = nice;
  const umask = optionalInteger(options.umask, 'options.umask', 0, 0o777);
  if (umask !== undefined) request.umask = umask;

  // fds 3 and up.
  const extra: RawFdPlan[] = [];
  if (options.fds !== undefined) {
    if (typeof options.fds !== 'object' || options.fds === null) throw invalidArgType('options.fds', 'an object of child fd to parent fd', options.fds);
    for (const [key, source] of Object.entries(options.fds)) {
      const target = Number(key);
      if (!Number.isInteger(target) || target < 3 || target > 65535) throw outOfRange('options.fds key', 'a child fd from 3 to 65535', key);
      extra.push({ target, source: validateInteger(source, `options.fds[${key}]`, 0, 2 ** 31 - 1) });
    }
  }

  const { fds, parentEnds, childEnds } = fdLayout(options.stdio, extra);
  request.fds = fds;
  const prepared: PreparedSpawn = { request, parentEnds, childEnds, file: program };
  if (cwd !== undefined) prepared.cwd = cwd;
  return prepared;
}


const groupId = (group: unknown, name: string, i: number): number => validateInteger(group, `${name}[${i}]`, 0, 2 ** 32 - 2);

/** The options of `spawn` (and, but for stdio, of `run`). */
const SPAWN_OPTION_KEYS = ['argv0', 'env', 'cwd', 'stdio', 'fds', 'setsid', 'pgid', 'sigmask', 'umask', 'uid', 'gid', 'groups', 'rlimits', 'pdeathsig', 'nice', 'signal', 'timeout', 'killSignal'] as const;

/**
 * readOptions for SPAWN_OPTION_KEYS, as one object literal: it runs on every spawn, and a
 * literal of fixed shape costs a few nanoseconds where a copy key by key costs half a microsecond.
 */
function readSpawnOptions(options: unknown): SpawnOptions {
  if (options === undefined) return NO_OPTIONS;
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
  const o = options as SpawnOptions;
  return {
    argv0: o.argv0,
    env: o.env,
    cwd: o.cwd,
    stdio: o.stdio,
    fds: o.fds,
    setsid: o.setsid,
    pgid: o.pgid,
    sigmask: o.sigmask,
    umask: o.umask,
    uid: o.uid,
    gid: o.gid,
    groups: o.groups,
    rlimits: o.rlimits,
    pdeathsig: o.pdeathsig,
    nice: o.nice,
    signal: o.signal,
    timeout: o.timeout,
    killSignal: o.killSignal,
  };
}
const NO_OPTIONS: SpawnOptions = Object.freeze({});

/** @internal What a failed step's error names: the program, the cwd, the fd plans. */
export interface StepContext {
  readonly file: Bytes;
  readonly cwd: Bytes | undefined;
  readonly fds: readonly RawFdPlan[];
}

/** A step of the child as errors name it: its syscall, the `step` and the path it concerns. */
interface StepLabel {
  syscall: string;
  step: string;
  path: string | undefined;
}

// A spawn that a cancel dropped before its child was cloned.
const QUEUED: StepLabel = Object.freeze({ syscall: 'clone', step: 'queued', path: undefined });

function stepLabel(where: StepContext, step: string, stepIndex: number): StepLabel {
  const pathOf = (value: Bytes | undefined): string | undefined => (value === undefined ? undefined : value.toString());
  switch (step) {
    case 'execve':
      return { syscall: 'execve', step: 'exec', path: pathOf(where.file) };
    case 'chdir':
      return { syscall: 'chdir', step: 'chdir', path: pathOf(where.cwd) };
    case 'open': {
      const plan = where.fds[stepIndex];
      return { syscall: 'open', step: `open fd ${plan?.target}`, path: plan && 'path' in plan ? pathOf(plan.path) : undefined };
    }
    case 'dup2':
      return { syscall: 'dup2', step: `fd ${where.fds[stepIndex]?.target}`, path: undefined };
    default:
      return { syscall: step, step, path: undefined };
  }
}

type FailedSpawn = Exclude<RawSpawnResult, { pid: number }>;

function failedLabel(where: StepContext, result: FailedSpawn): StepLabel {
  return result.errno === -1 && result.queued ? QUEUED : stepLabel(where, result.step, result.stepIndex);
}

/**
 * @internal The error of a spawn that failed (also for `daemon`): the failed step with its errno
 * and the path it concerns; or, for a child that died before its exec (killed from outside, say),
 * ECHILD with the step it was in and the `signal` that ended it.
 */
export function spawnError(where: StepContext, result: FailedSpawn): SyscallError {
  const label = failedLabel(where, result);
  if (result.errno !== -1) return new SyscallError(label.syscall, result.errno, label.path, { step: label.step });
  const details = result.signal === 0 ? { step: label.step } : { step: label.step, signal: signalName(result.signal) };
  return new SyscallError(label.syscall, os.constants.errno.ECHILD, label.path, details);
}


/**
 * Starts a program and resolves with its handle once it has been exec'd; rejects with the error
 * that stopped it (the step, its syscall and path: a bad `cwd` gives ENOENT with `path` = the cwd,
 * an unopenable redirect names that file, exec errors name the program).
 *
 * `file` without a slash is searched in the PATH of the *child's* environment (`/bin:/usr/bin`
 * if it has none), like execvp(3): a match that cannot be executed (EACCES) lets the search go on
 * and is reported if nothing later matches; ENOEXEC (a file with no shebang) stops the search, and
 * there is no fallback to /bin/sh.
 *
 * Every fd but 0..2 and `options.fds` is closed in the child; signal dispositions start at their
 * defaults (Node ignores SIGPIPE; the child does not) and the signal mask is empty unless
 * `sigmask` says otherwise. The JS thread never waits for the exec and the libuv threadpool is
 * not used: one spawn at a time is cloned from the JS thread without waiting (the exec is told by
 * a close-on-exec pipe), and spawns asked for meanwhile by a dedicated native thread.
 *
 * `timeout` and `signal` apply from the call: a spawn still queued is dropped, and a child still
 * before its exec (blocked opening a FIFO, say) is killed with SIGKILL and reaped, so the program
 * does not run (one whose exec completes at that very moment is killed at once).
 *
 * @throws (rejects) SyscallError with `step`: 'exec' (ENOENT, EACCES, ENOEXEC, E2BIG, ENOTDIR),
 *   'chdir', 'open fd N', 'setuid'/'setgid'/'setgroups' (EPERM), 'setrlimit', ...; ETIMEDOUT
 *   with the `step` the child was stuck in when `timeout` passed before its exec ('queued' if it
 *   was not cloned yet); ECHILD with `step` and `signal` when the child was killed before its exec
 *   by someone else; a TypeError or RangeError for bad arguments (NUL bytes, '=' in an env name,
 *   ...) before anything is spawned; an AbortError (`code` 'ABORT_ERR', with `step` as for
 *   ETIMEDOUT) if `options.signal` is aborted before the program runs.
 */
export function spawn(file: Bytes, args: readonly Bytes[] = [], options: SpawnOptions = {}): Promise<ChildProcess> {
  let prepared: PreparedSpawn;
  let killSignal: number;
  try {
    options = readSpawnOptions(options); // each option read once, here
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an AbortSignal', options.signal);
    killSignal = signalNumber(options.killSignal ?? 'SIGTERM', 'options.killSignal');
    if (options.timeout !== undefined) validateInteger(options.timeout, 'options.timeout', 0, 2 ** 31 - 1);
    if (options.signal?.aborted) throw abortError('spawn', options.signal);
    prepared = prepare(file, args, options);
  } catch (error) {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes on what validation threw
    return Promise.reject(argumentError(error, 'spawn'));
  }
  const pending = new PendingSpawn(prepared);
  const promise = promiseFor(pending);
  try {
    const id = queueSpawn(prepared.request, pending);
    // Only when asked: a Deadline allocates its closures.
    if (options.timeout !== undefined || options.signal !== undefined) pending.deadline = new Deadline(id, options.timeout, options.signal, killSignal);
  } catch (error) {
    pending.reject(error);
    try {
      closeAll([...prepared.childEnds, ...prepared.parentEnds]);
    } catch {
      // spawn() reports by its promise only: the binding's refusal is the error that matters.
    }
  }
  return promise;
}

// The promise that `pending` settles. Its executor is one function for all spawns, instead of a
// closure (and its context) allocated by each spawn() call; it runs inside the Promise
// constructor, so `promising` is set only while that runs.
let promising: PendingSpawn | undefined;
function takeSettlers(resolve: (child: ChildProcess) => void, reject: (error: unknown) => void): void {
  promising!.resolve = resolve;
  promising!.reject = reject;
}
function promiseFor(pending: PendingSpawn): Promise<ChildProcess> {
  promising = pending;
  const promise = new Promise<ChildProcess>(takeSettlers);
  promising = undefined;
  return promise;
}

/**
 * A spawn() under way, until its result arrives: only what the result needs, in one object. A
 * closure over spawn()'s variables kept its scopes' contexts and the whole request (argv, the
 * caller's options...) alive for every spawn under way, for the garbage collector to copy in a
 * burst.
 */
class PendingSpawn implements SpawnSettler, StepContext {
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
 * `timeout` and `signal` of one spawn, from the call on. Before the spawn's result they cancel
 * it: native code drops it from the queue, or kills its child before its exec (SIGKILL) and reaps
 * it, and the spawn rejects naming the step the child was in. After the result they send
 * `killSignal` to the child, once (at once if they fired while the result was on its way); the
 * watch ends when the child is reaped.
 */
class Deadline {
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

// Finished spawns arrive from native code in batches (one call per wake-up of the event loop).
let nextSpawnId = 1;
/** @internal Receives the result of a queued spawn (see queueSpawn). */
export interface SpawnSettler {
  settle(result: RawSpawnResult): void;
}
const pendingSpawns = new Map<number, SpawnSettler>();

// Scratch space for packing requests, reused by every call: spawnStart copies what it needs
// before it returns. Layouts by fd count (usually 3); the strings are cleared after each call.
// (Typed as Bytes; between calls its slots hold undefined.)
// The slots by name, from the one definition in native/spawn_schema.h.
const L = binding.spawnSchema.layout;
const F = binding.spawnSchema.fd;
const R = binding.spawnSchema.result;
const layouts: Float64Array[] = [];
const scratchStrings: Bytes[] = [];

/**
 * @internal Starts a spawn: cloned at once from this thread when no other is under way, else
 * queued for the spawning thread (native/spawn.cc); `settler` receives its result on the event
 * loop. Returns the spawn's id (for spawnCancel). Throws (and starts nothing) when the binding
 * refuses the request.
 */
export function queueSpawn(request: RawSpawnRequest, settler: SpawnSettler): number {
  const id = nextSpawnId++;
  packRequest(request);
  pendingSpawns.set(id, settler);
  let needsWake: boolean;
  try {
    needsWake = binding.spawnStart(id, packedStrings, packedLayout, request.groups, request.rlimits.length === 0 ? undefined : request.rlimits);
  } catch (error) {
    pendingSpawns.delete(id);
    throw error;
  } finally {
    releasePackedRequest();
  }
  if (needsWake && !wakeQueued) {
    wakeQueued = true;
    // A reaction of a settled promise, not queueMicrotask: that one makes an AsyncResource,
    // about 25 µs when the turn has just begun after the loop was idle (2.5 µs for this), in the
    // middle of the burst of spawn() calls that the wake-up is deferred for.
    void SETTLED.then(wakeSpawningThread);
  }
  return id;
}

// The last packed request (packRequest): scratch, read at once by spawnStart.
let packedLayout: Float64Array = new Float64Array(0);
let packedStrings: string | Bytes[] = '';

/**
 * @internal Packs a request into one string (or array) and one typed array, the form
 * NativeBinding.spawnStart takes (slots by name from binding.spawnSchema): each value native code
 * reads through N-API costs more than the rest of the request's trip. The result is scratch
 * space, reused by the next call: use it at once, then releasePackedRequest().
 */
export function packRequest(request: RawSpawnRequest): void {
  const fdCount = request.fds.length;
  const layout = (layouts[fdCount] ??= new Float64Array(L.size + fdCount * F.size));
  // Indexed loops: for...of allocates an iterator and a result per element until V8 optimises
  // this function, which in a burst of spawn() calls it has not yet.
  const strings = scratchStrings;
  let count = 0;
  for (let i = 0; i < request.candidates.length; i++) strings[count++] = request.candidates[i]!;
  for (let i = 0; i < request.argv.length; i++) strings[count++] = request.argv[i]!;
  const envp = request.envp ?? NO_STRINGS;
  for (let i = 0; i < envp.length; i++) strings[count++] = envp[i]!;
  if (request.cwd !== undefined) strings[count++] = request.cwd;
  for (let i = 0; i < fdCount; i++) {
    const fd = request.fds[i]!;
    const at = L.size + i * F.size;
    layout[at + F.target] = fd.target;
    if ('path' in fd) {
      layout[at + F.source] = -1;
      layout[at + F.optional] = 0;
      layout[at + F.flags] = fd.flags;
      layout[at + F.mode] = fd.mode;
      strings[count++] = fd.path;
    } else {
      layout[at + F.source] = fd.source;
      layout[at + F.optional] = fd.optional === true ? 1 : 0;
      layout[at + F.flags] = 0;
      layout[at + F.mode] = 0;
    }
  }
  layout[L.candidateCount] = request.candidates.length;
  layout[L.argvCount] = request.argv.length;
  layout[L.envCount] = request.envp === undefined ? -1 : request.envp.length;
  layout[L.hasCwd] = request.cwd === undefined ? 0 : 1;
  layout[L.fdCount] = fdCount;
  layout[L.setsid] = request.setsid ? 1 : 0;
  layout[L.pgid] = request.pgid ?? -1;
  layout[L.gid] = request.gid ?? -1;
  layout[L.uid] = request.uid ?? -1;
  layout[L.nice] = request.nice ?? NaN;
  layout[L.umask] = request.umask ?? -1;
  layout[L.pdeathsig] = request.pdeathsig;
  layout[L.daemonize] = request.daemonize === true ? 1 : 0;
  // Signal sets as bit (signo - 1) for each signal, in two 32-bit halves.
  let maskLow = 0;
  let maskHigh = 0;
  for (let i = 0; i < request.sigmask.length; i++) {
    const signo = request.sigmask[i]!;
    if (signo <= 32) maskLow |= 1 << (signo - 1);
    else maskHigh |= 1 << (signo - 33);
  }
  layout[L.sigmaskLow] = maskLow >>> 0;
  layout[L.sigmaskHigh] = maskHigh >>> 0;
  layout[L.resetLow] = 0xffffffff; // every signal back to SIG_DFL, ignored ones too
  layout[L.resetHigh] = 0xffffffff;
  // All strings in one: the native side converts it once and splits it at the NULs (none of
  // the strings has one: validated). Buffers are byte-exact, so with any of them, the array.
  let allStrings = true;
  for (let i = 0; i < count; i++) if (typeof strings[i] !== 'string') allStrings = false;
  if (allStrings) strings[count++] = ''; // for the last string's NUL
  // Its length changes only with the request's shape: setting it releases or regrows the array's
  // backing store, an allocation per call that filling the slots avoids.
  if (strings.length !== count) strings.length = count;
  packedStrings = allStrings ? strings.join('\0') : strings;
  packedLayout = layout;
}

/** @internal Drops the packed request's strings: the scratch keeps nothing of a request alive. */
export function releasePackedRequest(): void {
  scratchStrings.fill(undefined as never);
  packedStrings = '';
}

/** @internal For tests: the last packed request, as spawnStart would get it. */
export function packedRequest(): { strings: string | readonly Bytes[]; layout: Float64Array } {
  return { strings: packedStrings, layout: packedLayout };
}

// The spawning thread is woken once the JavaScript turn that queued spawns for it is over (see
// native/spawn.cc, SpawnStart): a burst of spawn() calls runs without it competing for the CPUs.
let wakeQueued = false;
const SETTLED = Promise.resolve();
function wakeSpawningThread(): void {
  wakeQueued = false;
  binding.spawnWake();
}
const stepNames = binding.spawnStepNames;
// `results` is reused by the next call (native/spawn.cc, TakeResults): read at once, never kept.
function dispatch(results: Float64Array, count: number = results.length / R.size): void {
  for (let at = 0; at < count * R.size; at += R.size) {
    const id = results[at + R.id]!;
    const pid = results[at + R.pid]!;
    const errno = results[at + R.errno]!;
    const settler = pendingSpawns.get(id);
    pendingSpawns.delete(id);
    settler?.settle(errno === 0 ? { id, pid, pidfd: results[at + R.pidfd]! } : { id, errno, step: stepNames[results[at + R.step]!]!, stepIndex: results[at + R.stepIndex]!, signal: results[at + R.signal]!, queued: pid === -1 });
  }
}
binding.spawnSetDispatcher(dispatch);

/**
 * @internal In the child of fork() (lib/fork.ts): the parent's spawns that were in flight fail
 * here with ECHILD, from a microtask (the caller is in the middle of fork()). The spawning thread
 * is started again only when a spawn needs it.
 */
export function spawnAfterForkInChild(): void {
  const results = binding.spawnAfterFork();
  if (results.length > 0) queueMicrotask(() => dispatch(results));
}

/** Options of `run`: those of `spawn` plus output collection. */
export interface RunOptions extends Omit<SpawnOptions, 'stdio'> {
  /** fd 0 of the child: 'ignore' (default), 'inherit', an fd, a file, or `input`. */
  stdin?: Exclude<StdioOption, 'pipe'>;
  /** Written to the child's stdin, which is then closed. */
  input?: string | Uint8Array;
  /** Most bytes kept of stdout and of stderr each (default 64 MiB); beyond it the child is killed. */
  maxBuffer?: number;
}

const RUN_OPTION_KEYS: readonly (keyof RunOptions)[] = [...SPAWN_OPTION_KEYS.filter((key) => key !== 'stdio'), 'stdin', 'input', 'maxBuffer'];

/** The options of `run`, read once each; those of `run` itself checked (`spawn` checks the rest). */
function runOptions(options: unknown): { stdin: RunOptions['stdin']; input: RunOptions['input']; maxBuffer: number; spawnOptions: Partial<SpawnOptions> } {
  const { stdin, input, maxBuffer = 64 * 1024 * 1024, ...spawnOptions } = readOptions<RunOptions>(options, RUN_OPTION_KEYS);
  validateInteger(maxBuffer, 'options.maxBuffer', 0, Number.MAX_SAFE_INTEGER);
  if (input !== undefined && typeof input !== 'string' && !(input instanceof Uint8Array)) throw invalidArgType('options.input', 'a string or a Uint8Array', input);
  // A pipe on stdin that nobody writes or closes would keep a reading child waiting for ever.
  if ((stdin as unknown) === 'pipe') throw invalidArgValue('options.stdin', "must not be 'pipe' (use input)", stdin);
  return { stdin, input, maxBuffer, spawnOptions };
}

/** What `run` returns. */
export interface RunResult {
  readonly pid: number;
  readonly status: WaitIdResult['status'];
  readonly raw: number;
  readonly rusage: WaitIdResult['rusage'];
  readonly stdout: Buffer;
  readonly stderr: Buffer;
}

/**
 * Spawns a program, collects its stdout and stderr, waits for it and returns everything. The
 * status is returned, not thrown: a non-zero exit is a result, not an error.
 *
 * @throws (rejects) what `spawn` rejects with; a RangeError `ERR_CHILD_PROCESS_STDIO_MAXBUFFER`
 *   when an output passes `maxBuffer` (the child is killed with `killSignal` and reaped first).
 */
export async function run(file: Bytes, args: readonly Bytes[] = [], options: RunOptions = {}): Promise<RunResult> {
  const { stdin, input, maxBuffer, spawnOptions } = validating('run', () => runOptions(options));
  const child = await spawn(file, args, { ...spawnOptions, stdio: [input !== undefined ? 'pipe' : (stdin ?? 'ignore'), 'pipe', 'pipe'] });
  const overflow: { stream: string | null } = { stream: null };
  const collect = (stream: Readable, name: string): Promise<Buffer> =>
    new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBuffer) {
          if (overflow.stream === null) {
            overflow.stream = name;
            try {
              child.kill(spawnOptions.killSignal ?? 'SIGTERM');
            } catch {
              // Already gone.
            }
          }
          return;
        }
        chunks.push(chunk);
      });
      stream.on('close', () => resolve(Buffer.concat(chunks)));
    });
  if (input !== undefined) child.stdin!.end(input);
  child.stdin?.on('error', () => {}); // EPIPE when the child does not read its input
  const [stdout, stderr, result] = await Promise.all([collect(child.stdout!, 'stdout'), collect(child.stderr!, 'stderr'), child.wait()]);
  if (overflow.stream !== null) {
    throw Object.assign(new RangeError(`${overflow.stream} maxBuffer length exceeded`), { code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER' });
  }
  return { pid: child.pid, status: result.status, raw: result.raw, rusage: result.rusage, stdout, stderr };
}
