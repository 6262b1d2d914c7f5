/**
 * `runSync`: `run` for scripts that cannot await. The child is started by posix_spawn(3) (never a
 * fork of the Node process) and its pipes are fed and drained by one poll(2) loop in native code
 * (native/fd_calls.cc collectSync), so that a child writing much to both outputs while reading its
 * input never deadlocks; then it is reaped with wait4(2). The JS thread is blocked meanwhile.
 */
import { invalidArgValue, SyscallError } from '../errors';
import { argvStartingWith, validateBytes, type Bytes } from '../env';
import { binding } from '../native';
import { openFlags, posixSpawnp, type FileAction, type PosixSpawnOptions } from '../posix-spawn';
import { signalNumber } from '../signals';
import { readOptions, validateInteger, validating } from '../validate';
import { wait4 } from '../wait';
import { readStopOptions } from './kill-tree';
import { closeAll } from './options';
import { commandLine, ExitError, maxBufferError, present, succeeded, type EndStatus, type OutputOptions } from './output';
import { runOptions, type RunOptions, type RunResult } from './run';

/** Options of `runSync`: those of `run` that posix_spawn can honour (`input` not a stream). */
export type RunSyncOptions = Pick<RunOptions, 'argv0' | 'env' | 'cwd' | 'setsid' | 'pgid' | 'timeout' | 'killSignal' | 'forceKillAfter' | 'stdin' | 'all' | 'check' | keyof OutputOptions> & {
  /** Written to the child's stdin, which is then closed. */
  input?: string | Uint8Array;
};

/**
 * The keys of `O` that `Allowed` does not have, each typed `never`: intersected with an options
 * parameter whose type is inferred (which TypeScript does not check for excess properties), it
 * makes a key that `runSync` refuses at run time a compile-time error too.
 */
export type OnlyKeysOf<Allowed, O> = Record<Exclude<keyof O, keyof Allowed>, never>;

const SYNC_SPAWN_KEYS = new Set(['argv0', 'env', 'cwd', 'setsid', 'pgid', 'timeout', 'killSignal', 'forceKillAfter']);

const NOT_STOPPED = Object.freeze({ killedBy: null, forced: false });

/** The file action that puts `stdin` on fd 0 (null for 'inherit'), checked here: no spawn() checks it. */
/**
 * A failure to start named as run's (the safe spawn's) steps name it: the file actions are
 * runSync's own making, so 'fileActions[1] dup2' and syscall 'posix_spawnp' mean nothing to its
 * caller; 'fd 0' and 'dup2', 'open fd 0' and 'open', 'chdir', 'exec' and 'execve' do.
 */
function asRunStep(error: SyscallError, actions: readonly FileAction[]): SyscallError {
  const which = /^fileActions\[(\d+)\] /.exec(error.step ?? '');
  const action = which === null ? undefined : actions[Number(which[1])];
  let named: { syscall: string; step: string } | undefined;
  if (action?.action === 'dup2') named = { syscall: 'dup2', step: `fd ${action.newFd}` };
  else if (action?.action === 'open') named = { syscall: 'open', step: `open fd ${action.fd}` };
  else if (action?.action === 'chdir') named = { syscall: 'chdir', step: 'chdir' };
  else if (error.step === 'exec') named = { syscall: 'execve', step: 'exec' };
  return named === undefined ? error : new SyscallError(named.syscall, error.errno, error.path, { step: named.step });
}

function stdinAction(stdin: unknown): FileAction | null {
  if (stdin === undefined || stdin === 'ignore') return { action: 'open', fd: 0, path: '/dev/null', flags: 'r' };
  if (stdin === 'inherit') return null;
  if (typeof stdin === 'number') return { action: 'dup2', fd: validateInteger(stdin, 'options.stdin', 0, 2 ** 31 - 1), newFd: 0 };
  if (typeof stdin === 'object' && stdin !== null) {
    const { path, flags, mode } = readOptions<{ path: unknown; flags: unknown; mode: unknown }>(stdin, ['path', 'flags', 'mode'], 'options.stdin');
    return {
      action: 'open',
      fd: 0,
      path: validateBytes(path, 'options.stdin.path'),
      flags: openFlags(flags ?? 'r', 'options.stdin.flags'),
      mode: mode === undefined ? 0o666 : validateInteger(mode, 'options.stdin.mode', 0, 0o7777),
    };
  }
  throw invalidArgValue('options.stdin', "must be 'inherit', 'ignore', an fd or { path }", stdin);
}

/**
 * Runs a program to its end synchronously and returns what `run` would: status, resource usage
 * and outputs (strings by default; `encoding`, `lines`, `all`, `check`, `maxBuffer`, `timeout`,
 * `killSignal` and `forceKillAfter` as in `run`). The event loop does not run meanwhile.
 *
 * `file` without a slash is searched in this process's PATH (posix_spawnp(3)). Options that
 * posix_spawn cannot apply (`uid`, `rlimits`, `fds`, ...) are refused. `timeout` counts from the
 * exec: a `stdin` file whose open blocks (a FIFO with no writer) blocks the call until it opens.
 *
 * @typeParam O - the options' type, from which the result's output types follow
 * @param file - the program
 * @param args - its arguments, without argv[0]
 * @param options - see `RunSyncOptions`
 * @returns the status, resource usage and collected outputs
 * @throws SyscallError from posix_spawn (`ENOENT`, `EACCES`, `ENOEXEC`...), with the `step` and
 *   `syscall` that `run` gives (`exec` and `execve`, `chdir`, `open fd 0` and `open`, `fd 0` and
 *   `dup2`); an
 *   `ExitError` (`ERR_CHILD_EXIT`) with `check`; RangeError `ERR_CHILD_PROCESS_STDIO_MAXBUFFER`
 *   when an output passes `maxBuffer` or memory cannot hold it (the child is killed and reaped first);
 *   TypeError / RangeError `ERR_INVALID_ARG_VALUE` for bad or unsupported options
 * @see posix_spawn(3), poll(2), wait4(2)
 * @example
 * ```ts
 * const { stdout } = runSync('uname', ['-r'], { check: true });
 * ```
 */
export function runSync<const O extends RunSyncOptions = Record<never, never>>(file: Bytes, args: readonly Bytes[] = [], options: O & OnlyKeysOf<RunSyncOptions, O> = {} as O & OnlyKeysOf<RunSyncOptions, O>): RunResult<O> {
  const started = performance.now();
  const { stdin, input, all, check, output, spawnOptions } = validating('runSync', () => runOptions(options, false));
  const spawnAttributes = validating('runSync', () => {
    for (const [key, value] of Object.entries(spawnOptions)) {
      if (value !== undefined && !SYNC_SPAWN_KEYS.has(key)) throw invalidArgValue(`options.${key}`, 'is not supported by runSync (use run)', value);
    }
    const program = validateBytes(file, 'file');
    const argv = argvStartingWith(spawnOptions.argv0 === undefined ? program : validateBytes(spawnOptions.argv0, 'options.argv0'), args, 'args');
    const attributes: PosixSpawnOptions = {};
    if (spawnOptions.env !== undefined) attributes.env = spawnOptions.env;
    if (spawnOptions.setsid !== undefined) attributes.setsid = spawnOptions.setsid;
    // Checked here, so that an error names the option as the caller wrote it (not posix_spawn's).
    if (spawnOptions.pgid !== undefined) attributes.setpgroup = validateInteger(spawnOptions.pgid, 'options.pgid', 0, 2 ** 31 - 1);
    const cwd = spawnOptions.cwd === undefined ? undefined : validateBytes(spawnOptions.cwd, 'options.cwd');
    return {
      program,
      argv,
      cwd,
      attributes,
      stdin: stdinAction(stdin),
      timeout: spawnOptions.timeout === undefined ? 0 : validateInteger(spawnOptions.timeout, 'options.timeout', 0, 2 ** 31 - 1),
      ...readStopOptions(spawnOptions, signalNumber(spawnOptions.killSignal ?? 'SIGTERM', 'options.killSignal')),
    };
  });
  // runOptions(options, false) refused streams.
  const bytes = input as string | Uint8Array | undefined;
  const inputBytes = bytes === undefined ? null : typeof bytes === 'string' ? Buffer.from(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  const childEnds: number[] = [];
  const parentEnds: number[] = [];
  let inputFd = -1;
  let nonblockingStdin = -1; // a stdin whose O_NONBLOCK was cleared for the child
  const actions: FileAction[] = [];
  let pid: number;
  try {
    if (spawnAttributes.cwd !== undefined) actions.push({ action: 'chdir', path: spawnAttributes.cwd });
    if (inputBytes !== null) {
      const [readEnd, writeEnd] = binding.pipe();
      childEnds.push(readEnd);
      parentEnds.push((inputFd = writeEnd));
      actions.push({ action: 'dup2', fd: readEnd, newFd: 0 });
    } else if (spawnAttributes.stdin !== null) {
      actions.push(spawnAttributes.stdin);
    }
    // A stdin taken from this process may be Node's, which sets O_NONBLOCK on it: the child would
    // fail with EAGAIN. Cleared on the shared file, as spawn's child (and libuv's) does, and set
    // back once the child is reaped (a closed fd, EBADF, is the spawn's to report).
    const sharedStdin = inputBytes !== null ? -1 : spawnAttributes.stdin === null ? 0 : spawnAttributes.stdin.action === 'dup2' ? spawnAttributes.stdin.fd : -1;
    if (sharedStdin >= 0 && binding.fdSetNonblocking(sharedStdin, false) === 1) nonblockingStdin = sharedStdin;
    const outputs: number[] = [];
    for (const target of all ? [1] : [1, 2]) {
      const [readEnd, writeEnd] = binding.pipe();
      childEnds.push(writeEnd);
      parentEnds.push(readEnd);
      outputs.push(readEnd);
      actions.push({ action: 'dup2', fd: writeEnd, newFd: target });
    }
    if (all) actions.push({ action: 'dup2', fd: 1, newFd: 2 });
    actions.push({ action: 'closefrom', fd: 3 });
    try {
      pid = posixSpawnp(spawnAttributes.program, spawnAttributes.argv, { ...spawnAttributes.attributes, fileActions: actions });
    } catch (error) {
      throw error instanceof SyscallError ? asRunStep(error, actions) : error;
    }
    try {
      closeAll(childEnds.splice(0));
    } catch (error) {
      // An fd closed behind our back: nothing would read the outputs; the child is not left behind.
      process.kill(pid, 'SIGKILL');
      wait4(pid);
      throw error;
    }
    // collectSync owns the parent's ends from here and closes them.
    const outputFds = outputs;
    parentEnds.length = 0;
    let collected: ReturnType<typeof binding.collectSync>;
    try {
      collected = binding.collectSync(pid, inputFd, inputBytes, outputFds, output.maxBuffer, spawnAttributes.timeout, spawnAttributes.killSignal, spawnAttributes.forceKillAfter === false ? -1 : spawnAttributes.forceKillAfter);
    } catch (error) {
      // Our unreaped child (its pid cannot be reused): killed, if collectSync has not, and reaped.
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // It has exited.
      }
      wait4(pid);
      throw error;
    }
    const why = collected.killed ? { killedBy: collected.timedOut ? 'timeout' : 'maxBuffer', forced: collected.forced } : NOT_STOPPED;
    const reaped = wait4(pid)!;
    if (collected.overflowed) {
      throw Object.assign(maxBufferError(all ? 'all' : collected.overflowedOutput === 0 ? 'stdout' : 'stderr', collected.outOfMemory), { ...why, status: reaped.status });
    }
    const empty = present(Buffer.alloc(0), output);
    const result = {
      pid,
      status: reaped.status as EndStatus,
      raw: reaped.raw,
      rusage: reaped.rusage,
      stdout: all ? empty : present(collected.outputs[0]!, output),
      stderr: all ? empty : present(collected.outputs[1]!, output),
      all: all ? present(collected.outputs[0]!, output) : undefined,
      command: commandLine(file, args),
      durationMs: performance.now() - started,
      timedOut: collected.timedOut,
      ...why,
    } as RunResult<O>;
    if (check && !succeeded(result.status)) throw new ExitError({ ...(result as unknown as RunResult), result });
    return result;
  } finally {
    // The child is reaped (or was never made): Node's reads of its stdin go on as before.
    if (nonblockingStdin >= 0) binding.fdSetNonblocking(nonblockingStdin, true);
    // Non-empty only when the call fails: its own error matters more than a failing close.
    try {
      closeAll([...childEnds, ...parentEnds]);
    } catch {
      // Every other fd is closed (closeAll goes on past a failure).
    }
  }
}
