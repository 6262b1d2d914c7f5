/**
 * daemon(): a program started as a real daemon, through the safe spawn's native path.
 *
 * The spawning thread clones a child that starts a new session and clones the daemon (the double
 * fork, native/spawn_child.cc `Daemonize`); the child exits once the daemon has exec'd and is
 * reaped, so the daemon is adopted by init or the nearest subreaper. The thread does not wait for
 * either: a daemon or spawn stuck before its exec delays no other. Everything else (cwd, umask,
 * stdio, closing every other fd, default signal dispositions, empty mask, PATH search, exec errors
 * with their step) is the safe spawn's, with a daemon's defaults.
 *
 * Man pages: daemon(7) (the SysV steps), setsid(2), clone(2), rename(2), fsync(2).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { invalidArgType, invalidArgValue, SyscallError } from './errors';
import type { Bytes, EnvInput } from './env';
import { binding } from './native';
import type { OpenFlags } from './posix-spawn';
import { prepare, type PreparedSpawn, type StdioOption } from './spawn/options';
import { NAMESPACE_FLAGS, SANDBOX_OPTION_KEYS, type SandboxOptions } from './spawn/sandbox';
import { queueSpawn, spawnError } from './spawn/request';
import { readOptions, validating } from './validate';

/**
 * What one of the daemon's fds 0..2 is connected to: 'ignore' (/dev/null, the default), a parent
 * fd (dup'd), or `{ path, flags?, mode? }`, a file opened by the daemon (flags default to 'r' for
 * fd 0 and 'w' for 1 and 2; a relative path is relative to the daemon's `cwd`, '/' by default).
 */
export type DaemonStdio =
  | 'ignore'
  | number
  | {
      /** The file, relative to the daemon's cwd. */
      path: Bytes;
      /** open(2) flags: a number or Node's 'r', 'w', 'a', 'wx', ... */
      flags?: OpenFlags;
      /** Permission bits for a file it creates (default 0o666, less the umask). */
      mode?: number;
    };

/**
 * Options of `daemon`; the sandbox's are those of `spawn` (docs/sandbox.md), but for the `'pid'`
 * namespace.
 */
export interface DaemonOptions extends SandboxOptions {
  /** argv[0] as the program sees it (default: `file`). */
  argv0?: Bytes;
  /** The environment (default: `process.env` at the time of the call). */
  env?: EnvInput;
  /** The daemon's working directory (default '/', so that it keeps no file system busy). */
  cwd?: Bytes;
  /** The daemon's file mode creation mask (default 0o022). */
  umask?: number;
  /** fds 0..2: one option for all three, or one each (missing entries: 'ignore'). */
  stdio?: DaemonStdio | readonly (DaemonStdio | undefined)[];
  /** Run as this user id (setresuid(2)), after `groups` and `gid`; `{ path }` stdio opens as it. */
  uid?: number;
  /** Run as this group id (setresgid(2)), after `groups`. */
  gid?: number;
  /** Supplementary groups (setgroups(2)), set first; with `uid` or `gid` and no `groups`, none. */
  groups?: readonly number[];
  /**
   * A file to write the daemon's pid to (`"<pid>\n"`), atomically: a temporary file is created
   * exclusively in the same folder before the daemon starts, and renamed over this path once the
   * pid is written and synced; the folder is then synced too where it can be opened for reading.
   * A relative path is relative to this process's cwd.
   */
  pidFile?: string;
}

const DAEMON_DEFAULTS = { cwd: '/', umask: 0o022 } as const;

function daemonStdio(stdio: unknown): StdioOption[] {
  if (stdio === undefined) return ['ignore', 'ignore', 'ignore'];
  const entries: unknown[] = Array.isArray(stdio) ? stdio : [stdio, stdio, stdio];
  if (entries.length > 3) throw invalidArgValue('options.stdio', 'has at most 3 entries', stdio);
  return [0, 1, 2].map((target) => {
    const entry = entries[target] ?? 'ignore';
    // 'inherit' would tie the daemon to this process's terminal or pipes, 'pipe' to its lifetime.
    if (entry === 'inherit' || entry === 'pipe') {
      throw invalidArgValue(`options.stdio[${target}]`, "must be 'ignore', an fd or { path } for a daemon", entry);
    }
    return entry as StdioOption; // numbers and { path } are validated by prepare
  });
}

const DAEMON_OPTION_KEYS = ['argv0', 'env', 'cwd', 'umask', 'stdio', 'uid', 'gid', 'groups', 'pidFile', ...SANDBOX_OPTION_KEYS] as const;

/** Validates everything (each option read once) and builds the request, before anything runs. */
function prepareDaemon(file: unknown, args: unknown, rawOptions: unknown): { prepared: PreparedSpawn; pidFile: string | undefined } {
  const options = readOptions<DaemonOptions>(rawOptions, DAEMON_OPTION_KEYS);
  const pidFile: unknown = options.pidFile;
  if (pidFile !== undefined && (typeof pidFile !== 'string' || pidFile.includes('\0'))) {
    throw invalidArgType('options.pidFile', 'a string without NUL bytes', pidFile);
  }
  if (pidFile === '') {
    throw invalidArgValue('options.pidFile', 'cannot be empty', pidFile);
  }
  const prepared = prepare(file, args, {
    argv0: options.argv0,
    env: options.env,
    cwd: options.cwd ?? DAEMON_DEFAULTS.cwd,
    umask: options.umask ?? DAEMON_DEFAULTS.umask,
    stdio: daemonStdio(options.stdio),
    uid: options.uid,
    gid: options.gid,
    groups: options.groups,
    setsid: true,
    namespaces: options.namespaces,
    uidMap: options.uidMap,
    gidMap: options.gidMap,
    hostname: options.hostname,
    chroot: options.chroot,
    noNewPrivileges: options.noNewPrivileges,
    capabilities: options.capabilities,
    ambientCapabilities: options.ambientCapabilities,
  });
  // The daemon's parent exits at once: as pid 1 of a new pid namespace, it would take the daemon
  // with it (pid_namespaces(7)). No fd is open yet (a daemon has no 'pipe').
  if (((prepared.request.namespaceFlags ?? 0) & NAMESPACE_FLAGS.pid) !== 0) throw invalidArgValue('options.namespaces', "must not have 'pid' for a daemon (its parent, pid 1 there, exits at once)", options.namespaces);
  prepared.request.daemonize = true;
  return { prepared, pidFile };
}

function pidFileError(error: unknown): unknown {
  const cause = error as NodeJS.ErrnoException;
  if (typeof cause.errno !== 'number' || typeof cause.syscall !== 'string') return error;
  return new SyscallError(cause.syscall, cause.errno, cause.path, { step: 'pidFile' });
}

/** The pid file's temporary sibling, created exclusively (never through a planted link). */
async function createTemporary(pidFile: string): Promise<{ temporary: string; handle: fs.FileHandle }> {
  const temporary = path.join(path.dirname(pidFile), `.${path.basename(pidFile)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    return { temporary, handle: await fs.open(temporary, 'wx', 0o644) };
  } catch (error) {
    throw pidFileError(error);
  }
}

/** Writes the pid, syncs it and renames the file into place; then syncs the folder's entry. */
async function publishPid(handle: fs.FileHandle, temporary: string, pidFile: string, pid: number): Promise<void> {
  await handle.writeFile(`${pid}\n`);
  await handle.sync();
  await handle.close();
  await fs.rename(temporary, pidFile);
  await syncFolder(path.dirname(pidFile));
}

/**
 * Asks for the folder's entries to be written to disk, where that can be asked: a folder that
 * may be written but not read cannot be opened, and some file systems refuse fsync on a folder.
 * The pid file is in place by then, so a failure here must not kill the daemon it names.
 */
async function syncFolder(folder: string): Promise<void> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(folder, 'r');
  } catch {
    return;
  }
  try {
    await handle.sync();
  } catch {
    // Durability only; see above.
  } finally {
    await handle.close().catch(() => {});
  }
}

function start(prepared: PreparedSpawn): Promise<number> {
  return new Promise((resolve, reject) => {
    queueSpawn(prepared.request, {
      settle: (result) => {
        if ('pid' in result) resolve(result.pid);
        else reject(spawnError({ file: prepared.file, cwd: prepared.cwd, fds: prepared.request.fds, chroot: prepared.request.chroot }, result));
      },
    });
  });
}

/**
 * Starts a program as a daemon (daemon(7)) and resolves with its pid once it has been exec'd.
 *
 * Natively, from the spawning thread: a child starts a new session (setsid) and clones the daemon,
 * then exits and is reaped; the daemon, in that session but not its leader (it can never acquire
 * a controlling terminal), is adopted by init or the nearest subreaper. Before exec the daemon
 * takes `groups`, `gid` and `uid` if given (with `uid` or `gid` alone, no supplementary groups),
 * changes to `cwd` ('/'), sets `umask` (0o022), connects fds 0..2 to /dev/null or the given files,
 * closes every other fd, resets every signal disposition to its default and empties the mask.
 * `file` is searched in the PATH of the daemon's environment, as for `spawn`. The sandbox options
 * apply as for `spawn` (namespaces are the intermediate's, which the daemon shares), but for the
 * `'pid'` namespace, refused.
 *
 * The daemon is not a child of this process: it leaves no zombie here (unless this process is a
 * subreaper, which then adopts it), and is stopped with `kill(pid)`.
 *
 * @throws (rejects) SyscallError with `step` and `path` like `spawn`: 'exec' (ENOENT, EACCES,
 *   ENOEXEC, ...; `path` the program), 'chdir' (`path` the cwd), 'open fd N' (`path` the file);
 *   with `step: 'pidFile'` when the pid file cannot be created (before anything starts) or
 *   written (the daemon is then killed with SIGKILL). TypeError/RangeError for bad arguments,
 *   before anything runs.
 * @param file - the program, searched in the PATH of `env` if it has no slash
 * @param args - its arguments after `argv[0]`
 * @param options - see {@link DaemonOptions}
 * @returns a Promise of the daemon's pid once it has exec'd
 * @throws (rejects) TypeError / RangeError for bad arguments, before anything starts (`daemon` is
 *   async: nothing is thrown synchronously)
 * @see daemon(7), setsid(2), clone(2), execve(2)
 * @example
 * ```ts
 * const pid = await daemon('my-server', ['--port', '8080'], { pidFile: '/run/my-server.pid' });
 * // ... later
 * kill(pid, 'SIGTERM');
 * ```
 */
export async function daemon(file: Bytes, args: readonly Bytes[] = [], options: DaemonOptions = {}): Promise<number> {
  const { prepared, pidFile: pidFileOption } = validating('daemon', () => prepareDaemon(file, args, options));
  if (pidFileOption === undefined) return start(prepared);
  const pidFile = path.resolve(pidFileOption);
  const { temporary, handle } = await createTemporary(pidFile);
  let pid: number;
  try {
    pid = await start(prepared);
  } catch (error) {
    await handle.close();
    await fs.unlink(temporary);
    throw error;
  }
  try {
    await publishPid(handle, temporary, pidFile, pid);
  } catch (error) {
    // A daemon whose pid could not be recorded would run with no one able to find it.
    try {
      binding.kill(pid, os.constants.signals.SIGKILL);
    } catch {
      // Already gone.
    }
    await handle.close().catch(() => {});
    await fs.unlink(temporary).catch(() => {});
    throw pidFileError(error);
  }
  return pid;
}
