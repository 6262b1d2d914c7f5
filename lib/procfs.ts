/**
 * Process introspection through /proc: proc(5) `/proc/<pid>/stat`, `status`, `cmdline`, `exe` and
 * `/proc/<pid>/task/<tid>/children`. Pure file reads; the only native part is the two units the
 * numbers are expressed in (clock ticks per second, page size).
 */
import * as fs from 'node:fs';
import { binding } from './native';
import { SyscallError } from './errors';
import { validateInteger } from './validate';

/** The scheduler state letters of proc(5), with the word the kernel itself uses in `status`. */
export type ProcessStateLetter = 'R' | 'S' | 'D' | 'Z' | 'T' | 't' | 'X' | 'x' | 'I' | 'K' | 'W' | 'P';

const stateWords: Readonly<Record<ProcessStateLetter, string>> = {
  R: 'running',
  S: 'sleeping',
  D: 'disk sleep',
  Z: 'zombie',
  T: 'stopped',
  t: 'tracing stop',
  X: 'dead',
  x: 'dead',
  I: 'idle',
  K: 'wakekill',
  W: 'waking',
  P: 'parked',
};

/** A controlling terminal, decoded from the `tty_nr` device number of `stat`. */
export interface Terminal {
  /** The raw device number (`tty_nr`). */
  device: number;
  /** The major device number (136 to 143: a pseudo-terminal, 4: a virtual console). */
  major: number;
  /** The minor device number. */
  minor: number;
  /** `/dev/pts/N` or `/dev/ttyN` when the major number says which it is, otherwise undefined. */
  path: string | undefined;
}

/** What /proc says about one process; see {@link processInfo}. */
export interface ProcessInfo {
  /** The process ID asked about. */
  pid: number;
  /**
   * The command name (`comm`, at most 15 bytes; may contain spaces and parentheses): what `ps`
   * shows. It is the name of the main thread, which Node 24 and later call `MainThread`; see
   * `argv` and `executable` for the program.
   */
  name: string;
  /**
   * The command line (`/proc/<pid>/cmdline` split at NUL bytes, decoded as UTF-8, trailing
   * empty strings dropped): empty for kernel threads and zombies. A process may rewrite it
   * (`process.title`).
   */
  argv: string[];
  /**
   * The program file (`/proc/<pid>/exe`, with ' (deleted)' appended by the kernel when it was
   * removed), or null when it cannot be read: kernel threads, zombies, and other users' processes
   * without the privilege to trace them.
   */
  executable: string | null;
  /** The state letter from `stat`: 'R', 'S', 'D', 'Z', 'T', 't', 'X', 'I', ... */
  state: ProcessStateLetter;
  /** The state as a word: 'running', 'sleeping', 'disk sleep', 'zombie', 'stopped', ... */
  stateName: string;
  /** The parent's pid (0 for the kernel's own threads' parent). */
  ppid: number;
  /** Process group ID. */
  pgid: number;
  /** Session ID. */
  sid: number;
  /** The controlling terminal, or null when the process has none. */
  tty: Terminal | null;
  /** The foreground process group of the controlling terminal, or null when there is none. */
  foregroundPgid: number | null;
  /** Real user ID (from `status`). */
  uid: number;
  /** Real group ID (from `status`). */
  gid: number;
  /** Number of threads. */
  threads: number;
  /** CPU time spent in user mode, in seconds (resolution: one clock tick). */
  userCpuSeconds: number;
  /** CPU time spent in the kernel on its behalf, in seconds (resolution: one clock tick). */
  systemCpuSeconds: number;
  /** Resident set size in bytes (0 for zombies and kernel threads). */
  rssBytes: number;
  /** Seconds after boot at which the process started (`starttime` in clock ticks). */
  startedAfterBootSeconds: number;
  /** Wall-clock start time, from the boot time and `starttime`; accurate to about a clock tick. */
  startTime: Date;
}

let units: { clockTicksPerSecond: number; pageSize: number } | undefined;

function procfsUnits(): { clockTicksPerSecond: number; pageSize: number } {
  units ??= binding.procfsUnits();
  return units;
}

/**
 * @internal Whether a failed read of /proc/<pid>/... means the process is gone: ENOENT (no such
 * pid) or ESRCH (it exited while the file was being read). Anything else (EMFILE) is a failure.
 */
export function isProcessGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ESRCH';
}

/** Reads a /proc file; a missing pid directory becomes ESRCH, as kill(2) would report it. */
function readProcFile(pid: number, file: string): string {
  const path = `/proc/${pid}/${file}`;
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (error) {
    if (isProcessGone(error)) throw new SyscallError('open', 3, path);
    throw error;
  }
}

/**
 * Refuses a thread's id with ESRCH, as `ps -p` and psutil's pid_exists do: /proc/<tid> opens for
 * any thread (it is only left out of /proc's listing) and describes the thread, not its process.
 */
function checkProcess(pid: number, status: string): void {
  const group = statusField(status, 'Tgid');
  if (group !== undefined && Number(group) !== pid) throw new SyscallError('open', 3, `/proc/${pid}/status`);
}

/**
 * The command line: NUL-terminated strings. A rewritten one (Node's `process.title`) is padded
 * with NUL bytes to its old length, so trailing empty strings are dropped, as `ps` does.
 */
function commandLine(pid: number): string[] {
  const args = readProcFile(pid, 'cmdline').split('\0');
  while (args.length > 0 && args[args.length - 1] === '') args.pop();
  return args;
}

/** The target of /proc/<pid>/exe, or null when there is none or it may not be read. */
function executablePath(pid: number): string | null {
  try {
    return fs.readlinkSync(`/proc/${pid}/exe`);
  } catch {
    // ENOENT: a kernel thread, a zombie, or a process that has exited meanwhile. EACCES: another
    // user's process (ptrace access mode check).
    return null;
  }
}

function terminal(device: number): Terminal | null {
  if (device === 0) return null;
  // The Linux dev_t encoding (new_decode_dev): 12 bits of major, 20 bits of minor split in two.
  const major = (device >> 8) & 0xfff;
  const minor = (device & 0xff) | ((device >> 12) & 0xfff00);
  let path: string | undefined;
  if (major >= 136 && major <= 143) path = `/dev/pts/${(major - 136) * 256 + minor}`;
  else if (major === 4 && minor < 64) path = `/dev/tty${minor}`;
  return { device, major, minor, path };
}

/** The fields of `stat` after the command name, numbered as in proc(5) (field 3 is the state). */
function parseStat(stat: string): { name: string; fields: string[] } {
  // comm is in parentheses and may itself contain ')' and spaces: it ends at the LAST ')'.
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`unexpected /proc stat format: ${stat.slice(0, 80)}`);
  const rest = stat.slice(close + 2).trimEnd().split(' ');
  // fields[3] = state, so that the indexes match the field numbers of proc(5).
  return { name: stat.slice(open + 1, close), fields: ['', '', '', ...rest] };
}

/** @internal The value of one `Key:` line of `/proc/<pid>/status`, as written (tabs kept). */
export function statusField(status: string, key: string): string | undefined {
  const match = new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(status);
  return match?.[1];
}

function bootTimeMs(): number {
  // /proc/uptime counts CLOCK_BOOTTIME seconds with 10 ms resolution, the same clock starttime uses.
  const uptimeSeconds = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return Date.now() - uptimeSeconds * 1000;
}

/**
 * What the kernel reports about a process: its command name, command line and program file,
 * state (letter and word), parent, process group, session, controlling terminal, threads, CPU
 * time, resident memory and start time. Reads `/proc/<pid>/stat`, `status` and `cmdline`, and
 * the `exe` link; see proc(5).
 *
 * The result is a snapshot: the process may change state or exit right after.
 *
 * @param pid - a process ID (> 0)
 * @throws SyscallError `ESRCH` (syscall 'open', `path` the /proc file) when there is no such
 *   process, also for the id of a thread that does not lead its process (as `ps -p`); other read
 *   errors as Node's fs errors
 * @throws TypeError / RangeError for a pid that is not a positive 32-bit integer
 * @returns what /proc says about the process (see {@link ProcessInfo})
 * @see proc(5) (/proc/pid/stat, status, cmdline, exe)
 * @example
 * ```ts
 * const info = processInfo(process.pid);
 * console.log(info.name, info.state, info.ppid, info.rssBytes);
 * ```
 */
export function processInfo(pid: number): ProcessInfo {
  validateInteger(pid, 'pid', 1, 2 ** 31 - 1);
  const { name, fields } = parseStat(readProcFile(pid, 'stat'));
  const status = readProcFile(pid, 'status');
  checkProcess(pid, status);
  const argv = commandLine(pid);
  const executable = executablePath(pid);
  const { clockTicksPerSecond } = procfsUnits();
  const field = (n: number): number => Number(fields[n]);
  const state = fields[3] as ProcessStateLetter;
  const startedAfterBootSeconds = field(22) / clockTicksPerSecond;
  const vmRssKb = statusField(status, 'VmRSS');
  const foreground = field(8);
  return {
    pid,
    name,
    argv,
    executable,
    state,
    stateName: stateWords[state] ?? 'unknown',
    ppid: field(4),
    pgid: field(5),
    sid: field(6),
    tty: terminal(field(7)),
    foregroundPgid: foreground > 0 ? foreground : null,
    uid: Number(statusField(status, 'Uid')?.split(/\s+/)[0]),
    gid: Number(statusField(status, 'Gid')?.split(/\s+/)[0]),
    threads: field(20),
    userCpuSeconds: field(14) / clockTicksPerSecond,
    systemCpuSeconds: field(15) / clockTicksPerSecond,
    rssBytes: vmRssKb === undefined ? 0 : parseInt(vmRssKb, 10) * 1024,
    startedAfterBootSeconds,
    startTime: new Date(Math.round(bootTimeMs() + startedAfterBootSeconds * 1000)),
  };
}

/**
 * The pids of the direct children of a process, in increasing order, from
 * `/proc/<pid>/task/<tid>/children` of each of its threads (a child belongs to the thread that
 * created it). Zombie children that are not reaped yet are included.
 *
 * @param pid - a process ID (> 0)
 * @throws SyscallError `ESRCH` (syscall 'open', `path` the /proc task directory) when there is
 *   no such process; for the id of a thread that does not lead its process, `path` its status
 * @throws TypeError / RangeError for a pid that is not a positive 32-bit integer
 * @returns the pids of its direct children, zombies included
 * @see proc(5) (/proc/pid/task/tid/children)
 */
export function children(pid: number): number[] {
  validateInteger(pid, 'pid', 1, 2 ** 31 - 1);
  const taskDir = `/proc/${pid}/task`;
  try {
    fs.accessSync(taskDir);
  } catch (error) {
    if (isProcessGone(error)) throw new SyscallError('open', 3, taskDir);
    throw error;
  }
  checkProcess(pid, readProcFile(pid, 'status'));
  const pids = new Set(childrenOf(pid));
  if (pids.size === 0 && !fs.existsSync(taskDir)) throw new SyscallError('open', 3, taskDir);
  return [...pids].sort((a, b) => a - b);
}

/**
 * @internal The direct children of `pid` (of all its threads), or [] once it is gone: `children`
 * without its checks, for the reaper's sweep, which runs on every SIGCHLD. Other failures (EMFILE)
 * are thrown: a sweep must not take a failed listing for an empty one.
 */
export function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch (error) {
    if (isProcessGone(error)) return [];
    throw error;
  }
  const pids: number[] = [];
  for (const task of tasks) pids.push(...taskChildren(pid, task));
  return pids;
}

/**
 * @internal The children of one thread (`task`) of `pid`, or [] once that thread is gone (a thread
 * that exits while we look has no children left to report). Other failures (EMFILE) are thrown.
 */
export function taskChildren(pid: number, task: number | string): number[] {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'latin1');
  } catch (error) {
    if (isProcessGone(error)) return [];
    throw error;
  }
  const pids: number[] = [];
  for (const word of text.split(' ')) if (word !== '' && word !== '\n') pids.push(Number(word));
  return pids;
}

/**
 * @internal Pids that some open pidfd of this process refers to (spawn's children, waitAsync,
 * pidfdOpen, other code), from /proc/self/fdinfo. A failure (EMFILE) is thrown, not taken for
 * "none": a caller would reap a child that another handle waits for.
 */
export function pidfdPids(): Set<number> {
  const pids = new Set<number>();
  for (const fd of fs.readdirSync('/proc/self/fdinfo')) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // closed meanwhile (the readdir's own fd, for one)
      throw error;
    }
    const match = /^Pid:\s*(-?\d+)$/m.exec(text);
    if (match !== null) pids.add(Number(match[1]));
  }
  return pids;
}
