/**
 * The options of spawn, from what the caller passes to a validated plan: the option types
 * (SpawnOptions, StdioOption, the rlimits), reading each option once (readSpawnOptions),
 * validating them into the native request (prepare, rlimitEntries), and the child's fd layout
 * with the pipes made for it (fdLayout), made last so that a bad option leaks nothing.
 */
import * as fs from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { invalidArgType, invalidArgValue, outOfRange } from '../errors';
import { argvStartingWith, buildEnvironment, execCandidates, validateBytes, type Bytes, type EnvInput } from '../env';
import { binding, type RawFdPlan, type RawSpawnRequest } from '../native';
import { openFlags, type OpenFlags } from '../posix-spawn';
import { signalList, signalNumber, type Signal } from '../signals';
import { openTerminal, terminalRequest, type OpenedPty, type TerminalSpawnOptions } from './terminal';
import type { ContainOption } from './contain';
import { GROUPS_MAX, isOptionsObject, isOwnKey, readOptions, validateArray, validateBoolean, validateInteger } from '../validate';
import { SANDBOX_OPTION_KEYS, sandboxRequest, type SandboxOptions } from './sandbox';

/**
 * What one of the child's fds 0..2 is connected to:
 * - 'inherit': the parent's same fd (left closed if the parent's is closed);
 * - 'ignore': /dev/null;
 * - 'pipe': a pipe whose other end is a Node stream on the handle (`stdin`, `stdout`, `stderr`);
 * - a number: that fd of the parent;
 * - `{ path, flags?, mode? }`: a file opened in the child (flags default to 'r' for fd 0 and 'w'
 *   for 1 and 2; relative paths are relative to `cwd`).
 */
export type StdioOption =
  | 'inherit'
  | 'ignore'
  | 'pipe'
  | number
  | {
      /** The file, relative to the child's cwd. */
      path: Bytes;
      /** open(2) flags: a number or Node's 'r', 'w', 'a', 'wx', ... */
      flags?: OpenFlags;
      /** Permission bits for a file it creates (default 0o666, less the umask). */
      mode?: number;
    };

/** Resource limits by name (the RLIMIT_* of getrlimit(2), in lower case). */
export type RlimitName =
  | 'as' | 'core' | 'cpu' | 'data' | 'fsize' | 'locks' | 'memlock' | 'msgqueue' | 'nice'
  | 'nofile' | 'nproc' | 'rss' | 'rtprio' | 'rttime' | 'sigpending' | 'stack';

/** A limit: one value for soft and hard, or `[soft, hard]`. `Infinity` is RLIM_INFINITY. */
export type RlimitValue = number | bigint | readonly [number | bigint, number | bigint];

/** Options of `spawn` and `run` (the sandbox's: docs/sandbox.md; the terminal's: docs/terminals.md). */
export interface SpawnOptions extends SandboxOptions, TerminalSpawnOptions {
  /** argv[0] as the program sees it (default: `file`). */
  argv0?: Bytes;
  /** The environment (default: `process.env` at the time of the call). */
  env?: EnvInput;
  /** The working directory of the child. */
  cwd?: Bytes;
  /** fds 0..2: one option for all three, or one each (missing entries: 'inherit'). */
  stdio?: StdioOption | readonly (StdioOption | undefined)[];
  /**
   * More fds for the child, as `{ childFd: parentFd }`, e.g. `{ 3: fd }`, or `'pipe'`: a socket
   * pair whose other end is the Duplex `child.stdio[childFd]`. Every other fd is closed. The
   * highest child fd must be below the child's RLIMIT_NOFILE less one (fds are first moved above
   * it): else the spawn fails with SyscallError `EBADF` (syscall 'dup2', `step` 'fd N' naming it).
   */
  fds?: Readonly<Record<number, number | 'pipe'>>;
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
  /** The signal for `timeout`, `signal`, `maxBuffer` and disposal (default 'SIGTERM'). */
  killSignal?: Signal;
  // contain (docs/containment.md)
  /**
   * Milliseconds after `killSignal` before the library sends SIGKILL when it stops the child
   * (`timeout`, `signal`, `maxBuffer`, disposal), to the whole tree when contained; `false`:
   * never (default 5000, as execa's `forceKillAfterDelay`).
   */
  forceKillAfter?: number | false;
  /**
   * Contain the child and every process it ever starts, however it detaches, in one tree the
   * handle knows (`killTree`, `descendants`): `true` picks the best mechanism available here,
   * or name one ('cgroup', 'pid-namespace', 'subreaper'); see docs/containment.md.
   */
  contain?: ContainOption;
  /**
   * The cgroup v2 directory under which the 'cgroup' mechanism makes its leaves (default: found;
   * a relative path is taken against the cwd at the spawn).
   * With `contain: true` it asks for that mechanism: a directory it cannot use is refused.
   */
  cgroup?: string;
}

const O = fs.constants;
const rlimitResources = binding.spawnOptionConstants.rlimits;
const NO_SIGNALS: readonly number[] = Object.freeze([]);

/** @internal A validated request and the fds made for it (shared with lib/daemon.ts). */
export interface PreparedSpawn extends Pick<FdLayout, 'parentEnds' | 'childEnds'> {
  request: RawSpawnRequest;
  file: Bytes;
  cwd?: Bytes;
  /** The pty of `pty` (its slave is also in childEnds). */
  pty?: OpenedPty;
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

// @internal Native close: these fds come from binding.pipe(), and fs.closeSync warns about such
// fds in worker threads. Every fd is closed, even past one that fails (an fd closed behind the
// library's back: EBADF); then the first failure is thrown.
export function closeAll(fds: readonly (number | null)[]): void {
  let failure: unknown;
  let failed = false;
  // Indexed: for...of allocates an iterator until V8 optimises the caller (settle(), each spawn).
  for (let i = 0; i < fds.length; i++) {
    const fd = fds[i]!;
    if (fd === null) continue;
    try {
      binding.closeFd(fd);
    } catch (error) {
      if (!failed) {
        failure = error;
        failed = true;
      }
    }
  }
  if (failed) throw failure;
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
    return { resource: rlimitResources[name]!, ...rlimitLimits(value, `options.rlimits.${name}`) };
  });
}

/** @internal One RlimitValue, checked, as `{ soft, hard }` (shared with lib/resources.ts prlimit). */
export function rlimitLimits(value: unknown, name: string): { soft: number | bigint; hard: number | bigint } {
  const [soft, hard] = Array.isArray(value) ? rlimitPair(value, name) : [value, value];
  const limit = { soft: rlimitValue(soft, `${name}[0]`), hard: rlimitValue(hard, `${name}[1]`) };
  if (limit.soft > limit.hard) throw outOfRange(name, 'a soft limit not above the hard limit', `[${String(soft)}, ${String(hard)}]`);
  return limit;
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
function fdLayout(stdio: SpawnOptions['stdio'], extra: readonly (RawFdPlan | number)[]): FdLayout {
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
      // Of the default size: PipeReader reads all a pipe holds at once, and 1 MiB was no faster
      // there (docs/output.md). Extra fds are socket pairs (extraPipe), not these.
      const [parentEnd, childEnd] = target === 0 ? [writeEnd, readEnd] : [readEnd, writeEnd];
      parentEnds[target] = parentEnd;
      childEnds.push(childEnd);
      return { target, source: childEnd };
    });
    // output: `fds: { N: 'pipe' }` (a number in `extra`) is a socket pair.
    const extraPlans = extra.map((plan) => (typeof plan === 'number' ? extraPipe(plan, parentEnds, childEnds) : plan));
    return { fds: extra.length === 0 ? fds : fds.concat(extraPlans), parentEnds, childEnds };
  } catch (error) {
    closeAll([...parentEnds, ...childEnds]);
    throw error;
  }
}

/** The plan of a child fd 3 or above given as 'pipe': one end of a socket pair, the other the parent's. */
function extraPipe(target: number, parentEnds: (number | null)[], childEnds: number[]): RawFdPlan {
  const [parentEnd, childEnd] = binding.fdSocketpair();
  childEnds.push(childEnd);
  while (parentEnds.length < target) parentEnds.push(null);
  parentEnds[target] = parentEnd;
  return { target, source: childEnd };
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
  sandboxRequest(options, request);

  // fds 3 and up.
  const extra: (RawFdPlan | number)[] = []; // a number: that child fd is 'pipe'
  if (options.fds !== undefined) {
    if (typeof options.fds !== 'object' || options.fds === null) throw invalidArgType('options.fds', 'an object of child fd to parent fd', options.fds);
    for (const [key, source] of Object.entries(options.fds)) {
      const target = Number(key);
      if (!Number.isInteger(target) || target < 3 || target > 65535) throw outOfRange('options.fds key', 'a child fd from 3 to 65535', key);
      // One spelling per fd: '03' or '0x3' beside '3' would plan child fd 3 twice (a 'pipe' each, one leaked).
      if (String(target) !== key) throw invalidArgValue('options.fds key', 'must be a child fd written in decimal, without leading zeros', key);
      if (source !== 'pipe' && typeof source !== 'number') throw invalidArgType(`options.fds[${key}]`, "a parent fd or 'pipe'", source);
      extra.push(source === 'pipe' ? target : { target, source: validateInteger(source, `options.fds[${key}]`, 0, 2 ** 31 - 1) });
    }
  }

  const terminal = terminalRequest(options, request);
  // Opened last but for the pipes, which can still fail (EMFILE): the pty is then closed too.
  const pty = openTerminal(terminal);
  let layout: FdLayout;
  try {
    layout = fdLayout(pty === undefined ? options.stdio : pty.slave, extra);
  } catch (error) {
    if (pty !== undefined) closeAll([pty.master, pty.slave]);
    throw error;
  }
  const { fds, parentEnds, childEnds } = layout;
  request.fds = fds;
  const prepared: PreparedSpawn = { request, parentEnds, childEnds: pty === undefined ? childEnds : [...childEnds, pty.slave], file: program };
  if (pty !== undefined) prepared.pty = pty;
  if (cwd !== undefined) prepared.cwd = cwd;
  return prepared;
}

const groupId = (group: unknown, name: string, i: number): number => validateInteger(group, `${name}[${i}]`, 0, 2 ** 32 - 2);

/** The options of `spawn` (and, but for stdio, of `run`). */
export const SPAWN_OPTION_KEYS = ['argv0', 'env', 'cwd', 'stdio', 'fds', 'setsid', 'pgid', 'sigmask', 'umask', 'uid', 'gid', 'groups', 'rlimits', 'pdeathsig', 'nice', 'signal', 'timeout', 'killSignal', 'forceKillAfter', 'contain', 'cgroup', ...SANDBOX_OPTION_KEYS, 'pty', 'setctty', 'foreground', 'noctty'] as const;

/**
 * readOptions for SPAWN_OPTION_KEYS, as one object literal of fixed shape: it runs on every spawn,
 * and a copy key by key cost far more (docs/performance.md).
 */
export function readSpawnOptions(options: unknown): SpawnOptions {
  if (options === undefined) return NO_OPTIONS;
  // An array too (as readOptions): its entries would be ignored without a word.
  if (!isOptionsObject(options)) throw invalidArgType('options', 'an object', options);
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
    forceKillAfter: o.forceKillAfter,
    contain: o.contain,
    cgroup: o.cgroup,
    namespaces: o.namespaces,
    uidMap: o.uidMap,
    gidMap: o.gidMap,
    hostname: o.hostname,
    chroot: o.chroot,
    noNewPrivileges: o.noNewPrivileges,
    capabilities: o.capabilities,
    ambientCapabilities: o.ambientCapabilities,
    pty: o.pty,
    setctty: o.setctty,
    foreground: o.foreground,
    noctty: o.noctty,
  };
}
const NO_OPTIONS: SpawnOptions = Object.freeze({});
