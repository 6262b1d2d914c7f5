/**
 * posix_spawn(3) and posix_spawnp(3): start a program without forking the Node process.
 *
 * Two defaults differ from C, because Node changes the process it runs in:
 * - Node marks fds 0, 1 and 2 close-on-exec, so a C-style posix_spawn gives the child no stdio.
 *   Unless `inheritStdio: false`, file actions `dup2(n, n)` for n = 0..2 run first (a dup2 onto
 *   itself clears close-on-exec).
 * - Node ignores SIGPIPE and SIGXFSZ, and ignored signals survive exec. Unless given, `setsigdef`
 *   is every signal from 1 to 64 but glibc's own 32 and 33, and `setsigmask` is empty, so the
 *   child starts with default dispositions and nothing blocked, as it would from a shell (but for
 *   32 and 33, which glibc's posix_spawn always leaves ignored).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { invalidArgType, invalidArgValue, SyscallError } from './errors';
import { buildEnvironment, validateArgv, validateBytes, type Bytes, type EnvInput } from './env';
import { binding, type RawFileAction, type RawSpawnAttributes } from './native';
import { signalList, signalName, type Signal } from './signals';
import { FILE_ACTIONS_MAX, isOwnKey, readOptions, validateArray, validateBoolean, validateInteger, validating } from './validate';

/** Open flags as a number (`fs.constants.O_*`) or as Node's flag strings ('r', 'w', 'ax+', ...). */
export type OpenFlags = number | 'r' | 'r+' | 'rs+' | 'w' | 'wx' | 'w+' | 'wx+' | 'a' | 'ax' | 'a+' | 'ax+' | 'as' | 'as+';

/** A posix_spawn file action; they run in the child in the order given. */
export type FileAction =
  /** open(path, flags, mode) onto `fd` (posix_spawn_file_actions_addopen). */
  | {
      /** The kind of action. */
      action: 'open';
      /** The fd the file ends up on. */
      fd: number;
      /** The file to open, relative to the child's cwd at that point. */
      path: Bytes;
      /** open(2) flags: a number or Node's 'r', 'w', 'a', 'wx', ... (default 'r'). */
      flags?: OpenFlags;
      /** Permission bits for a file it creates (default 0o666, less the umask). */
      mode?: number;
    }
  /** close(fd) (addclose). */
  | {
      /** The kind of action. */
      action: 'close';
      /** The fd to close. */
      fd: number;
    }
  /** dup2(fd, newFd) (adddup2); onto itself it clears close-on-exec. */
  | {
      /** The kind of action. */
      action: 'dup2';
      /** The fd to copy. */
      fd: number;
      /** Where the copy goes. */
      newFd: number;
    }
  /** chdir(path) (addchdir_np); later relative paths are relative to it. */
  | {
      /** The kind of action. */
      action: 'chdir';
      /** The folder to change to. */
      path: Bytes;
    }
  /** fchdir(fd) (addfchdir_np). */
  | {
      /** The kind of action. */
      action: 'fchdir';
      /** An fd of the folder to change to. */
      fd: number;
    }
  /** Close every fd from `fd` up (addclosefrom_np). */
  | {
      /** The kind of action. */
      action: 'closefrom';
      /** The lowest fd closed. */
      fd: number;
    };

/** Scheduling policies of sched(7) that glibc's posix_spawnattr_setschedpolicy accepts. */
export type SchedulerPolicy = 'other' | 'fifo' | 'rr';

/** Options of `posixSpawn` and `posixSpawnp`: file actions and attributes. */
export interface PosixSpawnOptions {
  /** The environment; defaults to `process.env`. */
  env?: EnvInput;
  /** File actions, run in order before exec. */
  fileActions?: readonly FileAction[];
  /** Add dup2(n, n) for fds 0..2 before `fileActions` (default true; see the module notes). */
  inheritStdio?: boolean;
  /** POSIX_SPAWN_SETPGROUP: put the child in process group `setpgroup` (0: a new group it leads); not with `setsid`. */
  setpgroup?: number;
  /** POSIX_SPAWN_SETSID: the child starts a new session. */
  setsid?: boolean;
  /** POSIX_SPAWN_SETSIGMASK: the child's blocked signals (default: none); not SIGKILL, SIGSTOP, 32 or 33. */
  setsigmask?: readonly Signal[];
  /** POSIX_SPAWN_SETSIGDEF: signals reset to their default action (default: 1..31 and 34..64); not 32 or 33. */
  setsigdef?: readonly Signal[];
  /** POSIX_SPAWN_RESETIDS: effective ids become the real ids. */
  resetids?: boolean;
  /** POSIX_SPAWN_SETSCHEDULER: scheduling policy and static priority (0 for other/batch/idle). */
  scheduler?: {
    /** The scheduling policy of sched(7). */
    policy: SchedulerPolicy;
    /** The static priority: 1 to 99 for 'fifo' and 'rr' (required), 0 for 'other' (the default). */
    priority?: number;
  };
}

const O = fs.constants;
const openFlagStrings: Record<string, number> = {
  r: O.O_RDONLY,
  'r+': O.O_RDWR,
  'rs+': O.O_RDWR | O.O_SYNC,
  w: O.O_TRUNC | O.O_CREAT | O.O_WRONLY,
  wx: O.O_TRUNC | O.O_CREAT | O.O_WRONLY | O.O_EXCL,
  'w+': O.O_TRUNC | O.O_CREAT | O.O_RDWR,
  'wx+': O.O_TRUNC | O.O_CREAT | O.O_RDWR | O.O_EXCL,
  a: O.O_APPEND | O.O_CREAT | O.O_WRONLY,
  ax: O.O_APPEND | O.O_CREAT | O.O_WRONLY | O.O_EXCL,
  'a+': O.O_APPEND | O.O_CREAT | O.O_RDWR,
  'ax+': O.O_APPEND | O.O_CREAT | O.O_RDWR | O.O_EXCL,
  as: O.O_APPEND | O.O_CREAT | O.O_WRONLY | O.O_SYNC,
  'as+': O.O_APPEND | O.O_CREAT | O.O_RDWR | O.O_SYNC,
};

/** The numeric open(2) flags for Node-style flags. */
export function openFlags(flags: unknown, name: string): number {
  if (typeof flags === 'number') return validateInteger(flags, name, 0, 2 ** 31 - 1);
  if (isOwnKey(openFlagStrings, flags)) return openFlagStrings[flags as string]!;
  throw invalidArgValue(name, `must be a number or one of ${Object.keys(openFlagStrings).join(', ')}`, flags);
}

const FD_MAX = 2 ** 31 - 1;
const validateFd = (fd: unknown, name: string): number => validateInteger(fd, name, 0, FD_MAX);

function normaliseFileAction(action: unknown, list: string, i: number): RawFileAction {
  const name = `${list}[${i}]`;
  if (typeof action !== 'object' || action === null) throw invalidArgType(name, 'an object', action);
  const a = action as Record<string, unknown>;
  const kind = a.action; // read once: the kind checked is the kind passed on
  switch (kind) {
    case 'open':
      return {
        action: 'open',
        fd: validateFd(a.fd, `${name}.fd`),
        path: validateBytes(a.path, `${name}.path`),
        flags: openFlags(a.flags ?? 'r', `${name}.flags`),
        mode: a.mode === undefined ? 0o666 : validateInteger(a.mode, `${name}.mode`, 0, 0o7777),
      };
    case 'close':
    case 'fchdir':
    case 'closefrom':
      return { action: kind, fd: validateFd(a.fd, `${name}.fd`) };
    case 'dup2':
      return { action: 'dup2', fd: validateFd(a.fd, `${name}.fd`), newFd: validateFd(a.newFd, `${name}.newFd`) };
    case 'chdir':
      return { action: 'chdir', path: validateBytes(a.path, `${name}.path`) };
    default:
      throw invalidArgValue(`${name}.action`, 'must be open, close, dup2, chdir, fchdir or closefrom', kind);
  }
}

const schedulerPolicies: Record<SchedulerPolicy, number> = {
  other: binding.spawnConstants.SCHED_OTHER,
  fifo: binding.spawnConstants.SCHED_FIFO,
  rr: binding.spawnConstants.SCHED_RR,
};

/**
 * The signals reset to their default action in a child unless `setsigdef` says otherwise: the
 * standard signals 1..31 and the real-time ones from SIGRTMIN (34) to SIGRTMAX (64), since a
 * signal this process ignores would stay ignored in the new program. glibc's own signals 32 and
 * 33 cannot be put in a sigset_t (sigaddset refuses them), and glibc's posix_spawn child sets
 * them to SIG_IGN, which survives exec: every posix_spawn'd program on glibc starts with 32 and
 * 33 ignored.
 */
export const DEFAULT_SIGNAL_RESETS: readonly number[] = ((): number[] => {
  const { min, max } = binding.realtimeSignalRange();
  const realtime = Array.from({ length: max - min + 1 }, (_, i) => min + i);
  return [...Array.from({ length: 31 }, (_, i) => i + 1), ...realtime];
})();

// glibc's own signals, which sigaddset refuses (they would be dropped from the set silently), and
// the two the kernel never blocks (dropped from the mask silently): refused, as sigprocmask does.
const GLIBC_SIGNALS = [32, 33];
const UNBLOCKABLE = [os.constants.signals.SIGKILL, os.constants.signals.SIGSTOP];

/** A signal list of the attributes, without the signals `refused` (see above). */
function signalSet(list: unknown, name: string, refused: readonly number[]): number[] {
  const signals = signalList(list, name);
  for (let i = 0; i < signals.length; i++) {
    const signo = signals[i]!;
    if (!refused.includes(signo)) continue;
    const why = GLIBC_SIGNALS.includes(signo) ? "glibc's own signal, which a sigset_t cannot hold" : 'it cannot be blocked';
    throw invalidArgValue(`${name}[${i}]`, `cannot be ${signalName(signo)}: ${why}`, signo);
  }
  return signals;
}

function buildAttributes(options: Partial<PosixSpawnOptions>): RawSpawnAttributes {
  const attributes: RawSpawnAttributes = {
    sigmask: signalSet(options.setsigmask ?? [], 'options.setsigmask', [...GLIBC_SIGNALS, ...UNBLOCKABLE]),
    sigdefault: signalSet(options.setsigdef ?? DEFAULT_SIGNAL_RESETS, 'options.setsigdef', GLIBC_SIGNALS),
  };
  if (options.setpgroup !== undefined) attributes.pgroup = validateInteger(options.setpgroup, 'options.setpgroup', 0, 2 ** 31 - 1);
  if (options.setsid !== undefined) attributes.setsid = validateBoolean(options.setsid, 'options.setsid');
  // glibc's child calls setsid() and then setpgid(0, pgroup), which a session leader is always
  // refused (EPERM, setpgid(2)): the pair can never work.
  if (attributes.setsid === true && attributes.pgroup !== undefined) {
    throw invalidArgValue('options.setpgroup', 'cannot be given with setsid: true (a session leader cannot change its process group)', options.setpgroup);
  }
  if (options.resetids !== undefined) attributes.resetids = validateBoolean(options.resetids, 'options.resetids');
  if (options.scheduler !== undefined) {
    const { policy, priority = 0 } = readOptions<{ policy: unknown; priority: unknown }>(options.scheduler, ['policy', 'priority'], 'options.scheduler');
    if (!isOwnKey(schedulerPolicies, policy)) throw invalidArgValue('options.scheduler.policy', `must be one of ${Object.keys(schedulerPolicies).join(', ')}`, policy);
    attributes.schedPolicy = schedulerPolicies[policy as SchedulerPolicy];
    // What sched_setscheduler(2) takes (sched_get_priority_min/max on Linux): 1..99 for the
    // real-time policies, 0 for 'other'; anything else fails in the child with EINVAL.
    const [min, max] = policy === 'other' ? [0, 0] : [1, 99];
    attributes.schedPriority = validateInteger(priority, 'options.scheduler.priority', min, max);
  }
  return attributes;
}


const OPTION_KEYS = ['env', 'fileActions', 'inheritStdio', 'setpgroup', 'setsid', 'setsigmask', 'setsigdef', 'resetids', 'scheduler'] as const;

/** Everything posix_spawn needs, validated from arguments read once each (see readOptions). */
function validateRequest(file: unknown, argv: unknown, rawOptions: unknown) {
  const program = validateBytes(file, 'file');
  const args = validateArgv(argv);
  // As execve: a program started with no argv[0] is refused (Linux 5.18+ would insert "").
  if (args.length === 0) throw invalidArgValue('argv', 'must not be empty (argv[0] names the program)', argv);
  const options = readOptions<PosixSpawnOptions>(rawOptions, OPTION_KEYS);
  // Without env, native code copies environ, which is process.env on the main thread (a worker's
  // process.env is its own copy): building it here cost about 50 µs a call.
  const env = options.env === undefined && isMainThread ? null : buildEnvironment(options.env ?? process.env, 'options.env');
  const actions = options.fileActions === undefined ? [] : validateArray(options.fileActions, 'options.fileActions', FILE_ACTIONS_MAX, normaliseFileAction);
  const inheritStdio = options.inheritStdio === undefined ? true : validateBoolean(options.inheritStdio, 'options.inheritStdio');
  // dup2(n, n) clears close-on-exec; on an fd this process has closed it would fail every spawn
  // with EBADF, where C's posix_spawn leaves that fd closed in the child too.
  const stdio: RawFileAction[] = inheritStdio ? [0, 1, 2].filter(isOpenFd).map((fd) => ({ action: 'dup2', fd, newFd: fd })) : [];
  return { program, args, env, actions, stdio, attributes: buildAttributes(options) };
}

function spawnWith(searchPath: boolean, file: unknown, argv: unknown, rawOptions: unknown): number {
  const { program, args, env, actions, stdio, attributes } = validating(searchPath ? 'posixSpawnp' : 'posixSpawn', () => validateRequest(file, argv, rawOptions));
  try {
    return binding.posixSpawn(searchPath, program, args, env, [...stdio, ...actions], attributes);
  } catch (error) {
    if (!(error instanceof SyscallError)) throw error;
    // glibc refused to add an action (EBADF: an fd at or above the fd limit): native code says which.
    const added = (error as SyscallError & { actionIndex?: number }).actionIndex;
    if (added !== undefined) {
      const step = added < stdio.length ? `stdio dup2 ${(stdio[added] as { fd: number }).fd}` : `fileActions[${added - stdio.length}] ${actions[added - stdio.length]!.action}`;
      throw new SyscallError(searchPath ? 'posix_spawnp' : 'posix_spawn', error.errno, undefined, { step });
    }
    throw attributeError(error, actions, attributes);
  }
}

/**
 * posix_spawn reports only an errno, not which step failed. When a file action explains the
 * errno better than the program does (an O_EXCL open of a file that exists, a chdir into a
 * missing folder, a dup2 of an fd that is not open), the error names that action and its path
 * instead of the program; an EPERM that `setpgroup` explains names that step.
 */
function attributeError(error: SyscallError, actions: RawFileAction[], attributes: RawSpawnAttributes): SyscallError {
  if (error.code === 'EPERM' && attributes.pgroup !== undefined && attributes.pgroup !== 0 && !groupToJoin(attributes.pgroup)) {
    return new SyscallError(error.syscall, error.errno, undefined, { step: 'setpgroup' });
  }
  if (error.code === 'EBADF') {
    const index = firstBadFdAction(actions);
    if (index !== undefined) return new SyscallError(error.syscall, error.errno, undefined, { step: `fileActions[${index}] ${actions[index]!.action}` });
  }
  // The child's cwd at each action, as far as it can be known here (undefined after an fchdir to
  // an fd that is not this process's: relative paths are then not looked at).
  let cwd: string | undefined = process.cwd();
  const opened = new Map<number, string>(); // fds the actions open, with their paths
  for (const [index, action] of actions.entries()) {
    if (action.action === 'fchdir') {
      const target = fchdirTarget(action.fd, opened);
      if (error.code === 'ENOTDIR' && target !== undefined && pathProblem(target, true) === 'ENOTDIR') {
        return new SyscallError(error.syscall, error.errno, target, { step: `fileActions[${index}] fchdir` });
      }
      cwd = target;
      continue;
    }
    if (action.action !== 'open' && action.action !== 'chdir') continue;
    if (cwd === undefined && !path.isAbsolute(action.path.toString())) continue;
    // An empty path is ENOENT to open(2) and chdir(2) (path.resolve would make it the cwd).
    if (action.path.length === 0) {
      if (error.code === 'ENOENT') return new SyscallError(error.syscall, error.errno, '', { step: `fileActions[${index}] ${action.action}` });
      continue;
    }
    const target = path.resolve(cwd ?? '/', action.path.toString());
    if (action.action === 'chdir') {
      const problem = pathProblem(target, true);
      if (problem === error.code) return new SyscallError(error.syscall, error.errno, target, { step: `fileActions[${index}] chdir` });
      cwd = target;
      continue;
    }
    const creates = (action.flags & O.O_CREAT) !== 0;
    const exists = fs.existsSync(target);
    const problem =
      error.code === 'EEXIST' && creates && (action.flags & O.O_EXCL) !== 0 && exists
        ? 'EEXIST'
        : creates && !exists
          ? (pathProblem(path.dirname(target), true) ?? accessProblem(path.dirname(target), fs.constants.W_OK | fs.constants.X_OK))
          : (pathProblem(target, false) ?? openProblem(target, action.flags));
    if (problem === error.code) return new SyscallError(error.syscall, error.errno, target, { step: `fileActions[${index}] open` });
    opened.set(action.fd, target);
  }
  return new SyscallError(error.syscall, error.errno, error.path, { step: 'exec' });
}

/**
 * Whether process group `pgid` may be there for the child to join: setpgid(2) answers EPERM when
 * there is no such group, or when its leader is in another session (members of a group whose
 * leader has exited cannot be told apart cheaply: then the group may be there).
 */
function groupToJoin(pgid: number): boolean {
  try {
    return binding.getsid(pgid) === binding.getsid(0) && binding.getpgid(pgid) === pgid;
  } catch {
    // No leader: is there a group at all? (kill -pgid with signal 0 probes it)
    try {
      binding.kill(-pgid, 0);
      return true;
    } catch (error) {
      return (error as { code?: unknown }).code !== 'ESRCH';
    }
  }
}

/**
 * exec never fails with EBADF: a file action did. The first dup2 or fchdir whose fd is not open at
 * its turn: open in this process (close-on-exec ones too: they close only at exec) and not closed
 * by an earlier action, or made by one.
 */
function firstBadFdAction(actions: RawFileAction[]): number | undefined {
  const made = new Set<number>();
  const closed = new Set<number>();
  let closedFrom = Infinity;
  const isOpen = (fd: number): boolean => made.has(fd) || (!closed.has(fd) && fd < closedFrom && isOpenFd(fd));
  const make = (fd: number): void => {
    made.add(fd);
    closed.delete(fd);
  };
  for (const [index, action] of actions.entries()) {
    switch (action.action) {
      case 'open':
        make(action.fd);
        break;
      case 'close':
        made.delete(action.fd);
        closed.add(action.fd);
        break;
      case 'closefrom':
        closedFrom = Math.min(closedFrom, action.fd);
        for (const fd of made) if (fd >= action.fd) made.delete(fd);
        break;
      case 'dup2':
        if (!isOpen(action.fd)) return index;
        make(action.newFd);
        break;
      case 'fchdir':
        if (!isOpen(action.fd)) return index;
        break;
    }
  }
  return undefined;
}

/** The errno code that opening (or entering, for a folder) `target` would likely fail with. */
/** Whether `fd` is open in this process. */
function isOpenFd(fd: number): boolean {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

/** The directory an fchdir action moves to: an fd an earlier action opened, or this process's fd (close-on-exec ones too); undefined if unknown. */
function fchdirTarget(fd: number, opened: ReadonlyMap<number, string>): string | undefined {
  const made = opened.get(fd);
  if (made !== undefined) return made;
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/** The errno access(2) gives for `mode` on `target` (EACCES, EROFS), or undefined. */
function accessProblem(target: string, mode: number): string | undefined {
  try {
    fs.accessSync(target, mode);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code;
  }
}

/** What opening the existing `target` with `flags` would fail with, as far as can be told here: EISDIR, EACCES, EROFS. */
function openProblem(target: string, flags: number): string | undefined {
  const access = flags & (O.O_RDONLY | O.O_WRONLY | O.O_RDWR);
  const writes = access !== O.O_RDONLY;
  if (writes && fs.statSync(target, { throwIfNoEntry: false })?.isDirectory() === true) return 'EISDIR';
  return accessProblem(target, access === O.O_RDWR ? fs.constants.R_OK | fs.constants.W_OK : writes ? fs.constants.W_OK : fs.constants.R_OK);
}

function pathProblem(target: string, directory: boolean): string | undefined {
  try {
    const stat = fs.statSync(target);
    if (directory && !stat.isDirectory()) return 'ENOTDIR';
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code;
  }
}

/**
 * Starts the program at `path` with glibc's posix_spawn(3) and returns its pid at once. The
 * child is not waited for: reap it with `waitpid(pid)` or `waitAsync(pid)`.
 *
 * glibc runs the child with clone(CLONE_VM | CLONE_VFORK), so this costs the same whatever the
 * size of the Node heap, and exec errors are reported (not a child that exits with 127).
 *
 * @param path - the program; not searched in PATH (see `posixSpawnp`)
 * @param argv - the argument vector, `argv[0]` included; not empty
 * @throws SyscallError `ENOENT`, `EACCES`, `ENOEXEC`, `E2BIG` from exec, `EBADF`, `EEXIST`,
 *   `ENOTDIR`, `EISDIR`, `EACCES` from a file action (as far as this process can tell which
 *   failed: the child's own view may differ, a file changed in between), `EPERM` from a `setpgroup` group that cannot be joined (`step`
 *   'setpgroup') or a `scheduler` the caller may not set — with `syscall` 'posix_spawn', `path`
 *   the program or the file action's path, and `step` which one failed.
 * @throws TypeError / RangeError for bad arguments, NUL bytes, bad env names, before spawning:
 *   `ERR_INVALID_ARG_VALUE` for `setsid: true` with `setpgroup` (glibc would fail with EPERM),
 *   for glibc's signals 32 and 33 in `setsigmask` or `setsigdef` and SIGKILL or SIGSTOP in
 *   `setsigmask` (they would be dropped silently),
 *   `ERR_OUT_OF_RANGE` for a `scheduler.priority` its policy does not take (0 for 'other', 1 to
 *   99 for 'fifo' and 'rr').
 * @param options - file actions and attributes (see {@link PosixSpawnOptions})
 * @returns the child's pid (reap it with {@link waitpid} or {@link waitAsync})
 * @see posix_spawn(3)
 * @example
 * ```ts
 * const pid = posixSpawn('/bin/echo', ['echo', 'hello'], {
 *   fileActions: [{ action: 'open', fd: 1, path: '/tmp/out.txt', flags: 'w', mode: 0o644 }],
 * });
 * waitpid(pid);
 * ```
 */
export function posixSpawn(path: Bytes, argv: readonly Bytes[], options?: PosixSpawnOptions): number {
  return spawnWith(false, path, argv, options);
}

/**
 * Like `posixSpawn`, but a `file` without a slash is searched in the PATH of the *parent*
 * process (glibc's posix_spawnp(3) reads `PATH` from the parent's environment, not from
 * `options.env`). A match that is not executable makes the search go on, and EACCES is reported
 * if nothing later matches. There is no shell fallback: a file without a shebang gives ENOEXEC.
 *
 * @throws SyscallError as `posixSpawn`, with `syscall` 'posix_spawnp'
 * @param file - the program: searched in this process's PATH if it has no slash
 * @param argv - the argument vector, `argv[0]` included; not empty
 * @param options - file actions and attributes, as for {@link posixSpawn}
 * @returns the child's pid
 * @see posix_spawnp(3)
 * @example
 * ```ts
 * const pid = posixSpawnp('sleep', ['sleep', '0.1']);
 * console.log(waitpid(pid)!.status); // { kind: 'exited', code: 0 }
 * ```
 */
export function posixSpawnp(file: Bytes, argv: readonly Bytes[], options?: PosixSpawnOptions): number {
  return spawnWith(true, file, argv, options);
}
