/** Shared test helpers: real processes, read through /proc. */
import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { children, posixSpawnp, SyscallError, type PosixSpawnOptions } from '../lib/index';

export const repoRoot = path.join(__dirname, '..');

/** Resolves with the exit code and signal of a child_process child. */
export function exitOf(child: child_process.ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** The pid of a process that has exited and been reaped (so it no longer exists). */
export function reapedPid(): number {
  const result = child_process.spawnSync('/bin/true');
  if (result.pid === undefined) throw new Error('spawnSync gave no pid');
  return result.pid;
}

/** The fds open in this process, as numbers. */
export function openFds(): number[] {
  return fs.readdirSync('/proc/self/fd').map(Number).sort((a, b) => a - b);
}

/**
 * Field `field` (numbered as in proc(5): 3 is the state, 5 the pgid, 19 the nice value, ...) of
 * /proc/<pid>/stat. The command name, field 2, may contain spaces and parentheses: fields are
 * counted after its last ')'. Throws if the process is gone.
 */
export function statField(pid: number, field: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[field - 3]!;
}

/** The one-letter state of a process from /proc/<pid>/stat, or undefined if it is gone. */
export function processState(pid: number): string | undefined {
  try {
    return statField(pid, 3);
  } catch {
    return undefined;
  }
}

// The children this process had when the current test started (test/setup.ts): a zombie among
// them belongs to an earlier test whose child may still be on its way to being reaped.
let childrenAtTestStart: ReadonlySet<number> = new Set();

/** Records the children that exist before a test starts (called by test/setup.ts). */
export function markTestStart(): void {
  childrenAtTestStart = new Set(childPids());
}

/** A snapshot of this process's children, for `zombieChildren(since)` over several tests. */
export function childSnapshot(): ReadonlySet<number> {
  return new Set(childPids());
}

/**
 * Zombies among this process's children that were not children yet at `since` (default: the
 * start of the current test): only what the caller made, never another test's child that is
 * exiting right now.
 */
export function zombieChildren(since: ReadonlySet<number> = childrenAtTestStart): number[] {
  return childPids().filter((pid) => !since.has(pid) && processState(pid) === 'Z');
}

/** Whether `pid` sleeps in the open(2) of a FIFO that has no other end yet (its wchan). */
export function blockedInFifoOpen(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/wchan`, 'latin1') === 'wait_for_partner';
  } catch {
    return false;
  }
}

/** The pids of this process's children, of every thread. */
export function childPids(): number[] {
  const pids: number[] = [];
  for (const task of fs.readdirSync('/proc/self/task')) {
    let children = '';
    try {
      children = fs.readFileSync(`/proc/self/task/${task}/children`, 'utf8');
    } catch {
      continue;
    }
    pids.push(...children.split(' ').filter(Boolean).map(Number));
  }
  return pids;
}

/** The pids of every descendant of `pid` (each child, then its own descendants), from /proc. */
export function descendants(pid: number): number[] {
  let direct: number[];
  try {
    direct = children(pid);
  } catch {
    return []; // gone meanwhile
  }
  return direct.flatMap((child) => [child, ...descendants(child)]);
}

/**
 * SIGKILLs every descendant of `pid` (a shell's background jobs, say), each before its own
 * children so that none can start another: killing only the top of a tree leaves its children
 * running under init.
 */
export function killDescendants(pid: number): void {
  for (const descendant of descendants(pid)) {
    try {
      process.kill(descendant, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

type RunNodeOptions = Omit<child_process.SpawnSyncOptionsWithStringEncoding, 'encoding'> & { args?: string[]; nodeArgs?: string[] };

/**
 * Runs a script with Node in a child process, from the repository root, and returns its result.
 * With `uid` (and no `cwd`) it runs from a world-readable copy of the package instead (see
 * {@link otherUserPackage}), so that `require('./dist/index.js')` works for that user wherever
 * the checkout is.
 */
export function runNode(script: string, options: RunNodeOptions = {}): child_process.SpawnSyncReturns<string> {
  if (options.uid !== undefined && options.cwd === undefined) {
    const copy = otherUserPackage();
    try {
      return spawnNode(copy.node, script, { ...options, cwd: copy.dir });
    } finally {
      copy.remove();
    }
  }
  return spawnNode(process.execPath, script, options);
}

function spawnNode(node: string, script: string, options: RunNodeOptions): child_process.SpawnSyncReturns<string> {
  return child_process.spawnSync(node, [...(options.nodeArgs ?? []), '-e', script, ...(options.args ?? [])], {
    cwd: repoRoot,
    timeout: 20_000,
    ...options,
    encoding: 'utf8',
  });
}

/** Whether a user who is neither the owner nor in the group can reach and run `file`. */
function reachableByOthers(file: string): boolean {
  const real = fs.realpathSync(file);
  if ((fs.statSync(real).mode & 0o005) !== 0o005) return false;
  for (let dir = path.dirname(real); ; dir = path.dirname(dir)) {
    if ((fs.statSync(dir).mode & 0o001) === 0) return false;
    if (dir === path.dirname(dir)) return true;
  }
}

/** Gives everyone read access to a tree (and search/execute where the owner has it). */
function openToOthers(file: string): void {
  const stat = fs.statSync(file);
  fs.chmodSync(file, stat.isDirectory() || (stat.mode & 0o100) !== 0 ? 0o755 : 0o644);
  if (stat.isDirectory()) for (const entry of fs.readdirSync(file)) openToOthers(path.join(file, entry));
}

/**
 * A world-readable copy, in a new temporary folder, of what a script run as another user (as
 * `nobody`) needs to `require('./dist/index.js')`: dist/, package.json, the addon this process
 * loaded (as build/Release) and node-gyp-build; and the Node binary too when other users cannot
 * reach `process.execPath` (Node installed in a home folder). The checkout itself may be
 * unreadable to them: a home folder of mode 0700, a `mktemp -d` folder. `remove()` deletes it.
 */
export function otherUserPackage(): { dir: string; node: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-process-copy-'));
  const remove = (): void => fs.rmSync(dir, { recursive: true, force: true });
  try {
    fs.cpSync(path.join(repoRoot, 'dist'), path.join(dir, 'dist'), { recursive: true });
    fs.copyFileSync(path.join(repoRoot, 'package.json'), path.join(dir, 'package.json'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const gypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    const addon = gypBuild.resolve(repoRoot);
    fs.mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
    fs.copyFileSync(addon, path.join(dir, 'build', 'Release', path.basename(addon)));
    const gypBuildDir = path.dirname(require.resolve('node-gyp-build/package.json'));
    fs.cpSync(gypBuildDir, path.join(dir, 'node_modules', 'node-gyp-build'), { recursive: true });
    let node = process.execPath;
    if (!reachableByOthers(node)) {
      node = path.join(dir, 'node');
      fs.copyFileSync(process.execPath, node, fs.constants.COPYFILE_FICLONE);
    }
    openToOthers(dir);
    return { dir, node, remove };
  } catch (error) {
    remove();
    throw error;
  }
}

/** Starts a program with posixSpawn (not child_process, so libuv never reaps it). */
export function start(argv: string[], options?: PosixSpawnOptions): number {
  return posixSpawnp(argv[0]!, argv, options);
}

/** Number of threads of this process. */
export function threadCount(): number {
  return fs.readdirSync('/proc/self/task').length;
}

/**
 * Waits until `predicate` holds, polling every 5 ms, for at most `ms`. The default is generous
 * (a wait that holds costs only its own time): under qemu-user, ASan or with both cores busy,
 * starting a program can take seconds.
 */
export async function until(predicate: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** What `fn` throws; fails the test if it does not throw. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** The SyscallError a promise rejects with (anything else it throws is passed on). */
export async function rejection(promise: Promise<unknown>): Promise<SyscallError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SyscallError) return error;
    throw error;
  }
  throw new Error('did not reject');
}

/** A process that a test's child leaves in the background, holding the child's outputs open. */
export interface Leftover {
  /** Where the script writes the leftover's pid. */
  readonly file: string;
  /** A shell script that starts the leftover (`sleep 30 &`), writes its pid, then runs `rest`. */
  script(rest: string): string;
  /** Resolves once the pid has been written. */
  written(): Promise<void>;
  /** Kills the leftover (SIGKILL) and waits until it is gone or a zombie. */
  kill(): Promise<void>;
}

/** A {@link Leftover} whose pid file is named after `name` (one per test). */
export function leftover(name: string): Leftover {
  const file = path.join(os.tmpdir(), `posix-process-leftover-${process.pid}-${name}`);
  const written = (): boolean => fs.existsSync(file) && fs.readFileSync(file, 'utf8').endsWith('\n');
  return {
    file,
    script: (rest) => `sleep 30 & echo $! > ${file}; ${rest}`,
    written: () => until(written),
    kill: async () => {
      // The file exists, empty, before the shell writes the pid: Number('') is 0, and kill(0)
      // would signal the test's own process group.
      await until(written);
      const pid = Number(fs.readFileSync(file, 'utf8'));
      if (!Number.isInteger(pid) || pid <= 0) throw new Error(`leftover ${name}: bad pid file ${JSON.stringify(fs.readFileSync(file, 'utf8'))}`);
      process.kill(pid, 'SIGKILL');
      await until(() => processState(pid) === undefined || processState(pid) === 'Z');
      fs.rmSync(file);
    },
  };
}
