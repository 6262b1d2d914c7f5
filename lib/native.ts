/**
 * Loads the native addon and declares its raw interface (internal: the public API is lib/index.ts).
 *
 * The binding is found by node-gyp-build: a local build in `build/Release` (node-gyp or cmake-js)
 * first, then a prebuilt binary in `prebuilds/linux-<arch>/`, tagged by libc. Without either,
 * the import throws ERR_POSIX_PROCESS_NO_BINARY, which says where prebuilds exist and how to build.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The range of real-time signals as glibc reports it (SIGRTMIN is 34 with NPTL, not 32). */
export interface RealtimeSignalRange {
  min: number;
  max: number;
}

/** A posix_spawn file action, as lib/posix-spawn.ts normalises it. */
export type RawFileAction =
  | { action: 'open'; fd: number; path: string | Buffer; flags: number; mode: number }
  | { action: 'close' | 'fchdir' | 'closefrom'; fd: number }
  | { action: 'dup2'; fd: number; newFd: number }
  | { action: 'chdir'; path: string | Buffer };

/** posix_spawn attributes; a key that is present sets the matching POSIX_SPAWN_* flag. */
export interface RawSpawnAttributes {
  pgroup?: number;
  setsid?: boolean;
  resetids?: boolean;
  sigmask?: number[];
  sigdefault?: number[];
  schedPolicy?: number;
  schedPriority?: number;
}

/** One fd of the child: a dup of the parent's `source`, or the file at `path` opened in the child. */
export type RawFdPlan = { target: number; source: number; optional?: boolean } | { target: number; path: string | Buffer; flags: number; mode: number };

/** What native/spawn.cc needs to start a child; lib/spawn/options.ts builds and validates it. */
export interface RawSpawnRequest {
  candidates: readonly (string | Buffer)[];
  argv: (string | Buffer)[];
  /** Left out: the child gets this process's environ (main thread, no env option). */
  envp?: (string | Buffer)[];
  cwd?: string | Buffer;
  fds: readonly RawFdPlan[];
  setsid: boolean;
  pgid?: number;
  groups?: number[];
  gid?: number;
  uid?: number;
  rlimits: { resource: number; soft: number | bigint; hard: number | bigint }[];
  nice?: number;
  umask?: number;
  pdeathsig: number;
  /** Signals blocked in the program (every signal is reset to SIG_DFL, ignored ones too). */
  sigmask: readonly number[];
  /** daemon(): setsid, then the daemon is cloned by the child, which exits; the result is the daemon's pid. */
  daemonize?: boolean;
  /** Sandbox: CLONE_NEW* flags the child is cloned into (clone3); 0 or left out: none. */
  namespaceFlags?: number;
  /** Sandbox: an open fd of a cgroup v2 directory the child starts in (CLONE_INTO_CGROUP); -1 or left out: none. */
  cgroupFd?: number;
  /** Sandbox (lib/spawn/sandbox.ts): the id maps' text, written by the cloning thread; hostname, chroot, capability sets (bit n: capability n), no_new_privs. */
  uidMap?: string;
  gidMap?: string;
  hostname?: string;
  chroot?: string | Buffer;
  capabilities?: bigint;
  ambientCapabilities?: bigint;
  noNewPrivileges?: boolean;
  /** Terminals (lib/spawn/terminal.ts): the child's fd made its controlling terminal, the parent's terminal fd whose foreground the child takes, TIOCNOTTY. */
  setctty?: number;
  foreground?: number;
  noctty?: boolean;
}

/**
 * A started child (pidfd -1 for a daemon), or the step that failed (`errno` positive, `step` the
 * syscall's name), or (`errno` -1) a child that did not reach its exec: `queued` if a cancel
 * dropped it before its clone, else it died in `step`, `signal` the signal that ended it (0: none).
 */
export type RawSpawnResult = { id: number } & ({ pid: number; pidfd: number } | { errno: number; step: string; stepIndex: number; signal: number; queued: boolean });

/**
 * The packed spawn request and results (native/spawn_schema.h): each table maps a slot's name to
 * its index, and `size` is the number of slots.
 */
export interface SpawnSchema {
  readonly layout: Readonly<Record<'candidateCount' | 'argvCount' | 'envCount' | 'hasCwd' | 'fdCount' | 'setsid' | 'pgid' | 'gid' | 'uid' | 'nice' | 'umask' | 'pdeathsig' | 'daemonize' | 'sigmaskLow' | 'sigmaskHigh' | 'resetLow' | 'resetHigh' | 'namespaceFlags' | 'cgroupFd' | 'hasUidMap' | 'hasGidMap' | 'hasHostname' | 'hasChroot' | 'setCapabilities' | 'capabilitiesLow' | 'capabilitiesHigh' | 'ambientLow' | 'ambientHigh' | 'noNewPrivileges' | 'setctty' | 'foreground' | 'noctty' | 'size', number>>;
  readonly fd: Readonly<Record<'target' | 'source' | 'optional' | 'flags' | 'mode' | 'size', number>>;
  readonly result: Readonly<Record<'id' | 'pid' | 'pidfd' | 'errno' | 'step' | 'stepIndex' | 'signal' | 'size', number>>;
}

/** The functions exported by native/module.cc. Arguments are validated by the callers. */
export interface NativeBinding {
  /** Which build produced the binary: 'node-gyp', 'cmake-js' or 'cmake'. */
  readonly buildSystem: string;
  setSyscallErrorConstructor(ctor: new (syscall: string, errno: number, path?: string) => Error): void;
  strerror(errno: number): string;

  getpid(): number;
  getppid(): number;
  kill(pid: number, signo: number): void;
  realtimeSignalRange(): RealtimeSignalRange;

  /**
   * What the last synchronous wait found, written by waitpid, wait4 and waitid when they return
   * a pid; read it at once (lib/wait.ts). Slots: pid, uid, si_code, si_status (the raw
   * status for waitpid and wait4), then the rusage: user and system time in seconds, maxRSS in
   * bytes, minor and major faults, voluntary and involuntary context switches, block inputs and
   * outputs.
   */
  readonly waitRecord: Float64Array;
  waitpid(pid: number, options: number): number | null;
  wait4(pid: number, options: number): number | null;
  waitid(idtype: number, id: number, options: number): number | null;
  pidfdOpen(pid: number): number;
  /** The callback gets a record laid out as `waitRecord` (not that one: a second one, reused by every callback, so read it at once). */
  pidfdWaitStart(pid: number, callback: (error: Error | null, record?: Float64Array) => void): number;
  pidfdWaitAdopt(pidfd: number, pid: number, callback: (error: Error | null, record?: Float64Array) => void): number;
  pidfdWaitCancel(id: number): boolean;
  /** Whether this wait keeps the event loop alive. */
  pidfdWaitRef(id: number, ref: boolean): void;
  /** In the child of fork(): ends the waits inherited from the parent; returns their callbacks. */
  waitAfterFork(): ((error: Error | null, record?: Float64Array) => void)[];
  readonly waitConstants: Readonly<Record<
    | 'WNOHANG' | 'WUNTRACED' | 'WCONTINUED' | 'WEXITED' | 'WSTOPPED' | 'WNOWAIT'
    | 'P_ALL' | 'P_PID' | 'P_PGID' | 'P_PIDFD'
    | 'CLD_EXITED' | 'CLD_KILLED' | 'CLD_DUMPED' | 'CLD_TRAPPED' | 'CLD_STOPPED' | 'CLD_CONTINUED',
    number
  >>;

  posixSpawn(
    searchPath: boolean,
    file: string | Buffer,
    argv: (string | Buffer)[],
    /** null: this process's environ (the main thread's process.env). */
    envp: (string | Buffer)[] | null,
    fileActions: RawFileAction[],
    attributes: RawSpawnAttributes,
  ): number;
  /**
   * Queues a spawn (see native/spawn_request.cc BuildJob); lib/spawn/request.ts, queueSpawn, packs the request:
   * `strings` holds the exec candidates, argv, envp, cwd and fd paths, as one string in which
   * each is followed by a NUL, or as an array when any is a Buffer; `layout` holds how many of
   * each there are, the scalar options and signal sets, and 5 numbers an fd. `firstOfTurn`: no
   * other spawn was asked for in this turn (it may then be cloned at once beside others still
   * before their exec). Returns true when spawnWake must be called once the current turn is over.
   */
  spawnStart(
    id: number,
    strings: string | (string | Buffer)[],
    layout: Float64Array,
    groups: readonly number[] | undefined,
    rlimits: RawSpawnRequest['rlimits'] | undefined,
    firstOfTurn?: boolean,
  ): boolean;
  /** Wakes the spawning thread for the spawns queued since it went idle. */
  spawnWake(): void;
  /** Finished spawns arrive as `count` results of 7 numbers each: id, pid, pidfd, errno (0: exec'd, -1: did not reach its exec), step, stepIndex, signal. The array is reused by the next call. */
  spawnSetDispatcher(dispatcher: (results: Float64Array, count: number) => void): void;
  /** In the child of fork(): returns the parent's spawns in flight, failed with ECHILD, as the dispatcher gets them (no thread is started). */
  spawnAfterFork(): Float64Array;
  /** `timeout` or `signal` fired before the spawn's result: drops it from the queue or kills it before its exec; false once it has finished. */
  spawnCancel(id: number): boolean;
  /** The syscall each step number of a failed child stands for. */
  readonly spawnStepNames: readonly string[];
  /** The slots of a packed request and of a result, by name (native/spawn_schema.h). */
  readonly spawnSchema: SpawnSchema;
  /** For tests: the child's plan that spawnStart would build from these arguments; spawns nothing. */
  spawnDecodeForTest(id: number, strings: string | readonly (string | Buffer)[], layout: Float64Array, groups: readonly number[] | undefined, rlimits: RawSpawnRequest['rlimits'] | undefined): Record<string, unknown>;
  pidfdSendSignal(pidfd: number, signo: number): void;
  pipe(): [number, number];
  closeFd(fd: number): void;
  /** An fd of pipe() or fdSocketpair() that an owner other than the binding now closes. */
  fdHandOver(fd: number): void;
  // fd primitives and runSync's collector (native/fd_calls.cc)
  fdPipe(nonblock: boolean): [number, number];
  fdSocketpair(): [number, number];
  /** flags -1: dup2(2). */
  fdDup3(oldfd: number, newfd: number, flags: number): number;
  fdCloseRange(first: number, last: number, flags: number): void;
  /** The new size, or -1 if the kernel refused. */
  fdSetPipeSize(fd: number, bytes: number): number;
  /** O_NONBLOCK on or off: whether it was on before (1, 0), or -errno. */
  fdSetNonblocking(fd: number, on: boolean): number;
  /** run()'s outputs read on the event loop (native/collect.cc): owns the fds; kind 0 = output `value` passed maxBuffer, 2 = memory could not hold it, 1 = all ended (`value` the Buffers). */
  collectStart(fds: readonly number[], maxBuffer: number, onEvent: (kind: number, value: number | Buffer[]) => void): object;
  collectFinish(handle: object): void;
  collectSync(pid: number, inputFd: number, input: Buffer | null, outputFds: readonly number[], maxBuffer: number, timeoutMs: number, killSignal: number, forceKillAfterMs: number): { outputs: Buffer[]; timedOut: boolean; overflowed: boolean; overflowedOutput: number; outOfMemory: boolean; killed: boolean; forced: boolean };
  /** Test support only (native/testing.cc). */
  readonly testing: { openInheritable(path: string): number; watchErrno(milliseconds: number): number; failNextEpollCtl(errno: number): void; failNextCollectStart(errno: number): void; failNextOutputAlloc(): void; failNextFdResult(): void; failNextSignalPollInit(errno: number): void; failNextSignalForkPipe(): void; throwStdException(): void; failNextWaitRegistration(): void; throwInNextWaitCallback(kind: 'bad_alloc' | 'other'): void; waitRechecks(): number; exhaustFdsAtNextFork(): void };
  readonly spawnOptionConstants: { readonly rlimits: Readonly<Record<string, number>> };
  readonly spawnConstants: Readonly<Record<'SCHED_OTHER' | 'SCHED_FIFO' | 'SCHED_RR', number>>;
  // procfs (native/procfs.cc)
  procfsUnits(): { clockTicksPerSecond: number; pageSize: number };

  // session (native/session.cc)
  setsid(): number;
  getsid(pid: number): number;
  setpgid(pid: number, pgid: number): void;
  getpgid(pid: number): number;
  getpgrp(): number;
  tcsetpgrp(fd: number, pgid: number): void;
  tcgetpgrp(fd: number): number;

  // orphans (native/orphans.cc)
  setChildSubreaper(on: boolean): void;
  isChildSubreaper(): boolean;
  // subreaper holds (native/subreaper_holds.cc): the library's trees holding the flag, process-wide
  /** One more tree: its hold; sets the flag if unset, which needs this process's children (pid, start, ...): -1, holding nothing, if null was given then. */
  subreaperHold(childrenBefore: number[] | null): number;
  /** Gives a hold back; the children before the flag if this dropped it, else null. */
  subreaperRelease(hold: number): number[] | null;
  /** The program's setChildSubreaper(on); false, changing nothing, if it needed `childrenNow` (pid, start, ...) and had null. */
  subreaperForProgram(on: boolean, childrenNow: number[] | null): boolean;
  // subreaper trees (native/subreaper_trees.cc)
  /** In a worker: a tree's leader, killed with its tree if the worker ends first. */
  subreaperTreeAdopted(leader: number): void;
  /** Members a walk of the tree found (pid, start time in ticks, ...). */
  subreaperTreeMembers(leader: number, members: number[]): void;
  /** The tree is over: nothing to kill at the worker's end. */
  subreaperTreeEnded(leader: number): void;
  setParentDeathSignal(signo: number): void;
  getParentDeathSignal(): number;

  // signal handlers (native/signal_handlers.cc)
  /** Records are [signo, code, pid, uid, value, status] repeated; dropped counts pipe overflows. */
  signalWatch(signo: number, dispatcher: (records: Int32Array, dropped: number) => void): void;
  signalUnwatch(signo: number): void;
  /** 0: leave it to others, 1: ignore, 2: default, whenever no JavaScript handler wants it. */
  signalSetBase(signo: number, base: 0 | 1 | 2): void;
  signalReconcile(): void;
  killpg(pgrp: number, signo: number): void;
  sigqueue(pid: number, signo: number, value: number): void;

  // reaper (native/reaper.cc)
  /** The pids of the UV_PROCESS handles on this environment's loop (child_process children). */
  libuvChildPids(): number[];
  /** Makes `dir` if missing and starts its cgroup watchdog (`/bin/sh -c script`), reaped by the background reaper; returns its pid (native/watchdog.cc). */
  startCgroupWatchdog(dir: string, script: string): number;
  /** Opens a pidfd on `pid` (an unreaped child nobody waits for) and reaps it now or on a thread once it exits (native/watchdog.cc). */
  reapInBackground(pid: number): void;
  /** exit_group(2) with a status already masked to 0..255: never returns. */
  exit(status: number): never;

  /** execve(2); env null means this process's environ. Throws SyscallError if it returns. */
  execve(path: string | Buffer, argv: (string | Buffer)[], env: (string | Buffer)[] | null): never;
  /** execvp(3)'s search over the candidate paths (lib/env.ts execCandidates); `file` names the error. */
  execvp(candidates: readonly (string | Buffer)[], argv: (string | Buffer)[], env: (string | Buffer)[] | null, file: string | Buffer): never;

  /**
   * fork(2) with the V8 heap made inheritable and uv_loop_fork in the child; returns the pid, 0 in
   * the child. In the child, `onLoopEmpty('beforeExit')` then `onLoopEmpty('exit')` are called
   * when its loop runs out of work.
   */
  fork(onLoopEmpty: (phase: 'beforeExit' | 'exit') => void): number;
  /** write(2) all of `data`, polling while the non-blocking fd is full. */
  writeAllBlocking(fd: number, data: Buffer): void;

  // resources (native/resources.cc); limits are BigInts, RLIM_INFINITY is 2n ** 64n - 1n
  /** The limits before the call, [soft, hard]; sets them when `soft` and `hard` are given. */
  prlimit(pid: number, resource: number, soft?: bigint, hard?: bigint): [bigint, bigint];
  /** Writes the usage to waitRecord's rusage slots, as wait4 does (lib/wait.ts, rusageFromRecord). */
  getrusage(who: number): void;
  getpriority(which: number, who: number): number;
  setpriority(which: number, who: number, nice: number): void;
  schedGetAffinity(pid: number): number[];
  schedSetAffinity(pid: number, cpus: readonly number[]): void;
  schedGetScheduler(pid: number): { policy: number; priority: number; resetOnFork: boolean };
  schedSetScheduler(pid: number, policy: number, priority: number, resetOnFork: boolean): void;
  readonly resourceConstants: Readonly<Record<
    | 'PRIO_PROCESS' | 'PRIO_PGRP' | 'PRIO_USER' | 'RUSAGE_SELF' | 'RUSAGE_CHILDREN' | 'RUSAGE_THREAD'
    | 'SCHED_OTHER' | 'SCHED_FIFO' | 'SCHED_RR' | 'SCHED_BATCH' | 'SCHED_IDLE' | 'SCHED_EXT' | 'SCHED_DEADLINE',
    number
  >>;
}

function loadBinding(): NativeBinding {
  if (process.platform !== 'linux') {
    const error = new Error(
      `posix-process binds Linux system calls and runs only on Linux (this is ${process.platform})`,
    ) as Error & { code: string };
    error.code = 'ERR_POSIX_PROCESS_UNSUPPORTED_PLATFORM';
    throw error;
  }
  const root = path.join(__dirname, '..');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const load = require('node-gyp-build') as { resolve(dir: string): string };
  let file: string | undefined;
  try {
    file = load.resolve(root);
  } catch {
    // No local build and no prebuild for this platform.
  }
  // node-gyp-build reads musl only on Alpine: a glibc prebuild must never load on another musl.
  if (file === undefined || (file.includes('.glibc.') && isMusl())) throw noBinaryError(root);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as NativeBinding;
}

/** The platforms that have prebuilt binaries (scripts/prebuild.js makes them). */
export const PREBUILT_PLATFORMS = ['linux-x64 (glibc)', 'linux-arm64 (glibc)'] as const;

function isMusl(): boolean {
  try {
    return /\/ld-musl-|\/libc\.musl-/.test(fs.readFileSync('/proc/self/maps', 'latin1'));
  } catch {
    return false;
  }
}

function noBinaryError(root: string): Error {
  const libc = isMusl() ? 'musl' : 'glibc';
  const error = new Error(
    `posix-process: no native binary for linux-${process.arch} (${libc}) in ${root}. ` +
      `Prebuilt binaries exist for ${PREBUILT_PLATFORMS.join(' and ')}; elsewhere the addon is built ` +
      'from source when the package is installed, which needs python3, make and g++ ' +
      '(Debian: apt-get install python3 make g++; Alpine: apk add python3 make g++). ' +
      'Install them and run `npm rebuild posix-process` (it was skipped if install scripts are disabled, ' +
      'as with --ignore-scripts or pnpm: allow them for posix-process).',
  ) as Error & { code: string };
  error.code = 'ERR_POSIX_PROCESS_NO_BINARY';
  return error;
}

export const binding: NativeBinding = loadBinding();

/**
 * @internal State that every copy of this facade in one process shares, kept on the binding
 * object. Two copies that load the same addon file (two bundles, a cleared require cache) get
 * the same binding from Node's module cache, and native code keeps one dispatcher per binding
 * (spawn results, signals): the registries those dispatchers read must be one too, or the
 * second copy would take over the first's spawns (which then never settle) and signals.
 */
export function sharedState<T>(key: string, make: () => T): T {
  const holder = binding as unknown as Record<symbol, T | undefined>;
  return (holder[Symbol.for(`posix-process:${key}`)] ??= make());
}
