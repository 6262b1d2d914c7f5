/**
 * `pipeline`: children connected by kernel pipes, each one's stdout to the next one's stdin, as
 * a shell's `a | b | c`. No byte passes through JavaScript between stages; only the last stage's
 * output is collected (when asked) and only the first one's input written.
 */
import { setMaxListeners } from 'node:events';
import { Readable } from 'node:stream';
import { abortError, invalidArgType, invalidArgValue, renameArgument } from '../errors';
import type { Bytes } from '../env';
import { binding } from '../native';
import { signalNumber, type Signal } from '../signals';
import { ARGV_MAX, checkLength, readOptions, validateArray, validateBoolean, validateInteger, validating } from '../validate';
import type { WaitIdResult } from '../wait';
import { endReason, stopAsked, stopFor, timedOut, treeEnded, type ChildProcess } from './child-process';
import { endNow, PipeReader } from './pipe-reader';
import { spawn } from './index';
import { readStopOptions, type KillReason } from './kill-tree';
import { closeAll, prepare, SPAWN_OPTION_KEYS, type SpawnOptions, type StdioOption } from './options';
import { collectStream, commandLine, ExitError, maxBufferError, outputPlan, present, pipeInput, readMaxBuffer, succeeded, watchInput, type Collected, type EndStatus, type OutputOptions } from './output';

/**
 * Options of one stage: spawn's, but for stdio and pty (fds 0 and 1 are the pipes), the
 * pipeline-wide ones (`timeout`, `signal`, `killSignal`), and no 'pipe' among `fds`.
 */
export interface StageOptions extends Omit<SpawnOptions, 'stdio' | 'timeout' | 'signal' | 'killSignal' | 'pty' | 'fds'> {
  /** fd 2 of this stage (default 'inherit'); 'pipe' is not allowed (nobody would read it). */
  stderr?: Exclude<StdioOption, 'pipe'>;
  /** More fds for the stage, as `{ childFd: parentFd }` (see `SpawnOptions.fds`; 'pipe' is not allowed). */
  fds?: Readonly<Record<number, number>>;
}

/** One stage: `[file, args?, options?]`. */
export type PipelineStage = readonly [file: Bytes, args?: readonly Bytes[], options?: StageOptions];

/** Pipeline options that send the last stage's stdout elsewhere (see `PipelineResult`). */
export interface StdoutRedirected {
  /** Where the last stage's stdout goes, not a pipe to this process. */
  readonly stdout: Exclude<StdioOption, 'pipe'>;
}

/**
 * `true` when options `O` may send the last stage's stdout elsewhere than to a pipe (the type of
 * their `stdout` allows more than 'pipe'), else `false`.
 *
 * @typeParam O - the options' type
 */
export type StdoutMayGo<O> = 'stdout' extends keyof O ? ([Exclude<O[Extract<'stdout', keyof O>], 'pipe' | undefined>] extends [never] ? false : true) : false;

/** Options of `pipeline`. */
export interface PipelineOptions extends OutputOptions {
  /**
   * Written to the first stage's stdin, which is then closed: a string, bytes or a readable stream
   * (one that errs or closes before its end stops every stage: the call rejects with its error).
   */
  input?: string | Uint8Array | Readable;
  /** fd 0 of the first stage when there is no `input`: 'ignore' (default), 'inherit', an fd or a file. */
  stdin?: Exclude<StdioOption, 'pipe'>;
  /** fd 1 of the last stage: 'pipe' (default: collected as `result.stdout`), 'inherit', an fd or a file. */
  stdout?: StdioOption;
  /**
   * The pipeline's status is the last non-zero exit or signal of any stage (bash's `set -o
   * pipefail`) rather than the last stage's. Default false, as in a shell.
   */
  pipefail?: boolean;
  /** Reject with an `ExitError` when the pipeline's status is not exit code 0. */
  check?: boolean;
  /** Milliseconds after which every stage gets `killSignal` (then SIGKILL after its `forceKillAfter`); 0 (default): never. */
  timeout?: number;
  /** Aborting it sends `killSignal` to every stage (then SIGKILL after its `forceKillAfter`). */
  signal?: AbortSignal;
  /** The signal for `timeout` and `signal` (default 'SIGTERM'). */
  killSignal?: Signal;
}

/**
 * What `pipeline` returns.
 *
 * @typeParam O - the options' type, which decides what `stdout` is
 */
export interface PipelineResult<O = PipelineOptions> {
  /** The pipeline's status: the last stage's, or with `pipefail` the last failing stage's. */
  readonly status: EndStatus;
  /** Every stage's status, in order. */
  readonly statuses: readonly EndStatus[];
  /** Every stage's wait result, in order. */
  readonly results: readonly WaitIdResult[];
  /** The stages' pids, in order. */
  readonly pids: readonly number[];
  /** The last stage's stdout when `stdout` is 'pipe' (a string by default), else undefined. */
  readonly stdout: O extends StdoutRedirected ? undefined : StdoutMayGo<O> extends true ? Collected<O> | undefined : Collected<O>;
  /** The command line, `a | b | c`. */
  readonly command: string;
  /** Milliseconds from the call to the end of the last stage. */
  readonly durationMs: number;
}

// Bytes asked of F_SETPIPE_SZ for the pipes between stages (as spawn's stdout pipes).
const PIPE_SIZE = 1024 * 1024;

const PIPELINE_KEYS: readonly (keyof PipelineOptions)[] = ['encoding', 'lines', 'maxBuffer', 'input', 'stdin', 'stdout', 'pipefail', 'check', 'timeout', 'signal', 'killSignal'];

/** The error of a stage that could not start: its spawn error, with the stage's index and command. */
function stageError(error: unknown, index: number, command: string): unknown {
  if (error instanceof Error) {
    // Defined, not assigned: a DOMException's message is a getter (an AbortError).
    Object.defineProperty(error, 'message', { value: `pipeline stage ${index} (${command}): ${error.message}`, writable: true, configurable: true });
    Object.assign(error, { stage: index, stageCommand: command });
  }
  return error;
}

/** A validated stage: its program, arguments, spawn options and fd 2. */
interface Stage {
  file: Bytes;
  args: readonly Bytes[];
  options: Partial<SpawnOptions>;
  stderr: Exclude<StdioOption, 'pipe'>;
}

// A stage's options: spawn's and `stderr`; those the pipeline sets are read to be refused.
const STAGE_KEYS = [...SPAWN_OPTION_KEYS, 'stderr'] as const;
const PIPELINE_WIDE = ['timeout', 'signal', 'killSignal'] as const;

/**
 * A copy of a stage's arguments or options, its arrays and plain objects copied too, each entry
 * read once: every stage is checked (checkStages) before any starts, then spawned from the same
 * values, so a getter or a Proxy cannot answer the spawn otherwise than the check (an env with a
 * NUL, an fd 'pipe' nobody reads, once earlier stages run). Anything else (Buffers, an
 * AbortSignal, class instances) is kept as it is, and so is an array longer than any option
 * takes, which the check refuses by its length.
 */
function snapshot(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null || depth > 3) return value;
  if (Array.isArray(value)) {
    const length = value.length;
    if (length > ARGV_MAX) return value;
    const copy: unknown[] = [];
    copy.length = length;
    // A hole stays a hole, for the check to refuse.
    for (let i = 0; i < length; i++) if (Object.hasOwn(value, i)) copy[i] = snapshot(value[i], depth + 1);
    return copy;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  const copy: Record<string | symbol, unknown> = {};
  for (const [key, entry] of Object.entries(value)) copy[key] = snapshot(entry, depth + 1);
  // Kept for the check to refuse (an env's symbol keys).
  for (const key of Object.getOwnPropertySymbols(value)) copy[key] = (value as Record<symbol, unknown>)[key];
  return copy;
}

function validateStages(stages: unknown): Stage[] {
  const list = validateArray(stages, 'stages', 4096, (stage, name, i): Stage => {
    if (!Array.isArray(stage) || stage.length < 1 || stage.length > 3) throw invalidArgValue(`${name}[${i}]`, 'must be [file, args?, options?]', stage);
    const [file, rawArgs = [], options = {}] = stage as unknown[];
    if (!Array.isArray(rawArgs)) throw invalidArgType(`${name}[${i}][1]`, 'an array', rawArgs);
    // Before anything walks it: a length of 2 ** 32 - 1 took minutes and then the heap.
    checkLength(rawArgs, `${name}[${i}][1]`, ARGV_MAX - 1);
    const at = `${name}[${i}][2]`;
    const args = snapshot(rawArgs) as unknown[];
    const { stderr = 'inherit', stdio, ...read } = snapshot(readOptions<SpawnOptions & { stderr?: unknown }>(options, STAGE_KEYS, at)) as SpawnOptions & { stderr?: unknown };
    // fds 0 and 1 of a stage are the pipeline's: a stdio option would be ignored, so it is refused.
    if (stdio !== undefined) throw invalidArgValue(`${at}.stdio`, 'is set by the pipeline (use stderr for fd 2)', stdio);
    if (stderr === 'pipe') throw invalidArgValue(`${at}.stderr`, "must not be 'pipe'", stderr);
    for (const key of PIPELINE_WIDE) if (read[key] !== undefined) throw invalidArgValue(`${at}.${key}`, `is the pipeline's (options.${key})`, read[key]);
    if (read.pty !== undefined && read.pty !== false) throw invalidArgValue(`${at}.pty`, 'is not for a stage (its fds 0 and 1 are pipes)', read.pty);
    // Nobody would read the parent's end: the stage could block on it and its fd would stay open.
    for (const [fd, source] of typeof read.fds === 'object' && read.fds !== null ? Object.entries(read.fds) : []) {
      if (source === 'pipe') throw invalidArgValue(`${at}.fds[${fd}]`, "must not be 'pipe' (nobody would read it)", source);
    }
    return { file: file as Bytes, args: args as Bytes[], options: read, stderr: stderr as Stage['stderr'] };
  });
  if (list.length === 0) throw invalidArgValue('stages', 'must have at least one stage', stages);
  return list;
}

// Arguments shown in the command line of an error in a stage's own arguments or options.
const SHOWN_ARGS = 32;

/**
 * A stage's command line for an error in its own arguments or options, from what the caller
 * passed, unchecked: a file or argument that is not a string or bytes shows as its type, and only
 * the first SHOWN_ARGS arguments are shown, so that making the message neither throws nor walks a
 * huge array (a Proxy's length, say).
 */
function uncheckedCommandLine(stage: Stage): string {
  const word = (value: unknown): string => {
    if (typeof value === 'string') return value;
    if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
    if (typeof value === 'function') return '<function>';
    if (typeof value === 'object' && value !== null) return Array.isArray(value) ? '<array>' : '<object>';
    return String(value);
  };
  try {
    const { args } = stage;
    const shown = Math.min(args.length, SHOWN_ARGS);
    const words: string[] = [];
    for (let i = 0; i < shown; i++) words.push(Object.hasOwn(args, i) ? word(args[i]) : '<hole>');
    const more = args.length > shown ? ` ... (${args.length - shown} more arguments)` : '';
    return commandLine(word(stage.file), words) + more;
  } catch {
    return '<unreadable>'; // a revoked Proxy, say
  }
}

/**
 * Checks each stage's options as its spawn() will, before any stage starts: a bad option of a
 * later stage would otherwise reject once the earlier ones had run. Plain fd numbers stand for
 * the pipes, so nothing is opened. Errors name what the caller wrote (`options.stdin`,
 * `stages[1][2].cwd`), not the spawn options the pipeline made of it.
 */
function checkStages(list: readonly Stage[], stdin: StdioOption, stdout: StdioOption): void {
  const last = list.length - 1;
  list.forEach((stage, i) => {
    let pipelineWide = false;
    const rename = (name: string): string | undefined => {
      const renamed = callerName(name, i, i === 0, i === last && stdout !== 'pipe');
      pipelineWide = renamed?.startsWith('options.') ?? false;
      return renamed;
    };
    try {
      readStopOptions(stage.options, 15); // checks forceKillAfter, contain and cgroup
      prepare(stage.file, stage.args, { ...stage.options, stdio: [i === 0 ? stdin : 0, i === last && stdout !== 'pipe' ? stdout : 1, stage.stderr] });
    } catch (error) {
      renameArgument(error, rename);
      // options.stdin and options.stdout are the pipeline's own, not a stage's.
      throw pipelineWide ? error : stageError(error, i, uncheckedCommandLine(stage));
    }
  });
}

/**
 * The name the caller wrote for what spawn() calls `name` in stage `index`: `file`, `args` and
 * `options` are the stage's `[0]`, `[1]` and `[2]`; stdio[0] of the first stage is
 * `options.stdin`, stdio[1] of the last `options.stdout` (when `stdoutGiven`), stdio[2] the
 * stage's `stderr`.
 */
function callerName(name: string, index: number, first: boolean, stdoutGiven: boolean): string | undefined {
  const stage = `stages[${index}]`;
  const stdio = /^options\.stdio\[([012])\]/u.exec(name);
  if (stdio !== null) {
    const rest = name.slice(stdio[0].length);
    if (stdio[1] === '0' && first) return `options.stdin${rest}`;
    if (stdio[1] === '1' && stdoutGiven) return `options.stdout${rest}`;
    if (stdio[1] === '2') return `${stage}[2].stderr${rest}`;
    return undefined; // a pipe between stages: never refused
  }
  if (name === 'file') return `${stage}[0]`;
  if (name === 'args' || name.startsWith('args[')) return `${stage}[1]${name.slice(4)}`;
  if (name === 'options' || name.startsWith('options.') || name.startsWith('options ')) return `${stage}[2]${name.slice(7)}`;
  return undefined;
}

/**
 * Runs `a | b | c`: each stage's stdout is a kernel pipe to the next one's stdin, made before
 * any stage starts; no byte passes through JavaScript. Resolves once every stage has ended, with
 * every status and the last stage's collected output. A stage that cannot start (ENOENT...)
 * rejects the call with its spawn error naming that stage; the stages already started are killed
 * with SIGKILL (a contained stage: its whole tree) and reaped first, and every pipe is closed.
 * `timeout` (counted from the call) and `signal` kill every stage with `killSignal`, then SIGKILL
 * after its `forceKillAfter`; the call then also waits for the whole tree of a contained stage.
 * When they come while a stage is still starting, its spawn is cancelled and the call rejects
 * with its error (ETIMEDOUT or an AbortError, with `stage`), as a stage that cannot start.
 *
 * Each stage starts with SIGPIPE at its default action, so `yes | head -1` ends `yes` by SIGPIPE
 * as in a shell.
 *
 * @typeParam O - the options' type, from which the type of `stdout` follows
 * @param stages - `[file, args?, options?]` per stage, in order; each read once (its arrays and
 *   plain objects, `env` and `fds` included, are copied by their own enumerable entries before
 *   any stage is checked, and the stages spawned from those copies)
 * @param options - output options (`encoding`, `lines`, `maxBuffer`, `check`), `input`/`stdin`
 *   for the first stage, `stdout` for the last, `pipefail`, `timeout`, `signal`, `killSignal`
 * @returns every stage's status and the collected output
 * @throws (rejects) a stage's spawn error with `stage` (its index); SyscallError `EBADF` (syscall
 *   'close') when a pipe between stages was closed behind the library's back (every stage is
 *   killed with SIGKILL and reaped first, as for a stage that cannot start); an `ExitError` with `check`;
 *   RangeError `ERR_CHILD_PROCESS_STDIO_MAXBUFFER` (every stage is killed first; the error has
 *   `killedBy`, `statuses` and `results`); an AbortError
 *   (`ABORT_ERR`) when `signal` is aborted already, before anything starts; the error of a
 *   stream `input` that fails (every stage is stopped first); TypeError / RangeError for bad
 *   arguments, a bad option of any stage included, before any stage starts; their message names
 *   the argument as the caller wrote it (`options.stdin`, `options.stdout`, `stages[1][2].cwd`,
 *   `stages[1][1][0]`), and a stage's own option also sets `stage` and starts with the stage
 * @see pipe(7), bash(1) "Pipelines"
 * @example
 * ```ts
 * const { stdout, statuses } = await pipeline([['yes'], ['head', ['-n', '100000']], ['wc', ['-l']]]);
 * // stdout: '100000\n'; statuses[0]: { kind: 'signaled', signal: 'SIGPIPE', ... }
 * ```
 */
export async function pipeline<const O extends PipelineOptions = Record<never, never>>(stages: readonly PipelineStage[], options: O = {} as O): Promise<PipelineResult<O>> {
  const started = performance.now();
  const plan = validating('pipeline', () => {
    const list = validateStages(stages);
    const { encoding, lines, maxBuffer: maxBufferOption, input, stdin, stdout = 'pipe', pipefail = false, check = false, timeout = 0, signal, killSignal = 'SIGTERM' } = readOptions<PipelineOptions>(options, PIPELINE_KEYS);
    const maxBuffer = readMaxBuffer(maxBufferOption);
    if (input !== undefined && typeof input !== 'string' && !(input instanceof Uint8Array) && !(input instanceof Readable)) throw invalidArgType('options.input', 'a string, a Uint8Array or a Readable', input);
    if (input !== undefined && stdin !== undefined) throw invalidArgValue('options.stdin', 'cannot be combined with input', stdin);
    if ((stdin as unknown) === 'pipe') throw invalidArgValue('options.stdin', "must not be 'pipe' (use input)", stdin);
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an AbortSignal', signal);
    checkStages(list, input !== undefined ? 0 : (stdin ?? 'ignore'), stdout);
    return {
      list,
      output: outputPlan(encoding, lines, maxBuffer),
      input,
      stdin,
      stdout,
      pipefail: validateBoolean(pipefail, 'options.pipefail'),
      check: validateBoolean(check, 'options.check'),
      timeout: validateInteger(timeout, 'options.timeout', 0, 2 ** 31 - 1),
      signal,
      killSignal: signalNumber(killSignal, 'options.killSignal'),
    };
  });
  // As spawn and run: nothing starts for a signal aborted already (after the checks, as there).
  if (plan.signal?.aborted === true) throw abortError('pipeline', plan.signal);
  const command = plan.list.map((stage) => commandLine(stage.file, stage.args)).join(' | ');
  const last = plan.list.length - 1;

  // Every pipe first, then every stage, all at once; the parent's copies are closed once every
  // stage has its own (else a reader would never see end-of-file).
  const pipes: [number, number][] = [];
  try {
    for (let i = 0; i < last; i++) {
      pipes.push(binding.pipe());
      binding.fdSetPipeSize(pipes[i]![0], PIPE_SIZE); // fewer stalls of a fast writer
    }
  } catch (error) {
    closeAll(pipes.flat());
    throw error;
  }
  const inputWatch = plan.input instanceof Readable ? watchInput(plan.input) : undefined;
  // `timeout` and `signal` reach the stages' spawns through a signal of the pipeline's own, their
  // one watch (no timer of a stage's own): it cancels a stage still starting (its spawn blocked in
  // an open...), with ETIMEDOUT for the timeout (its reason `timedOut`), and stops a running one
  // once. It may have a listener per stage (the caller's gets one): more than 10 on the caller's
  // would print a leak warning.
  const relay = plan.signal === undefined && plan.timeout === 0 ? undefined : new AbortController();
  const forward = (): void => relay!.abort(plan.signal!.reason);
  if (relay !== undefined) {
    setMaxListeners(plan.list.length + 2, relay.signal);
    plan.signal?.addEventListener('abort', forward, { once: true });
  }
  const timer = plan.timeout === 0 ? undefined : setTimeout(() => relay!.abort(timedOut), Math.max(0, started + plan.timeout - performance.now()));
  const spawned = await Promise.allSettled(
    plan.list.map((stage, i) => {
      const stdin: StdioOption = i > 0 ? pipes[i - 1]![0] : plan.input !== undefined ? 'pipe' : (plan.stdin ?? 'ignore');
      const stdout: StdioOption = i < last ? pipes[i]![1] : plan.stdout;
      return spawn(stage.file, stage.args, { ...stage.options, stdio: [stdin, stdout, stage.stderr], killSignal: plan.killSignal, signal: relay?.signal });
    }),
  );
  let closeFailure: { error: unknown } | undefined;
  try {
    closeAll(pipes.flat());
  } catch (error) {
    // An fd closed behind the library's back (EBADF): the call fails, as a spawn does (settle).
    closeFailure = { error };
  }
  const children = spawned.map((settled) => (settled.status === 'fulfilled' ? settled.value : null));
  const failed = spawned.findIndex((settled) => settled.status === 'rejected');
  if (failed !== -1 || closeFailure !== undefined) {
    clearTimeout(timer);
    inputWatch?.dispose();
    plan.signal?.removeEventListener('abort', forward);
    // SIGKILL, as documented: killSignal and its grace period are for a pipeline that ran. A
    // contained stage's whole tree: what its leader started could ignore killSignal for ever.
    const trees: Promise<void>[] = [];
    for (const child of children) {
      if (child?.containment != null) {
        trees.push(child.killTree('SIGKILL').catch(() => {}));
        continue;
      }
      try {
        child?.kill('SIGKILL');
      } catch {
        // Already reaped.
      }
    }
    await Promise.all(trees);
    await Promise.all(children.flatMap((child) => (child === null ? [] : [child[Symbol.asyncDispose]()])));
    if (failed === -1) throw closeFailure!.error;
    throw stageError((spawned[failed] as PromiseRejectedResult).reason, failed, commandLine(plan.list[failed]!.file, plan.list[failed]!.args));
  }
  const running = children as unknown as ChildProcess[];
  const lastStdout = running[last]!.stdout;
  const reaped = Promise.all(running.map((child) => child.wait()));
  // A process a stage left behind may hold the last pipe open for as long as it likes: what the
  // library stopped ends with what that pipe holds once every stage is reaped.
  const endOnceReaped = (): void => {
    if (lastStdout instanceof PipeReader) void reaped.then(() => lastStdout[endNow](), () => {});
  };
  const killAll = (reason: KillReason): void => {
    // killSignal, then SIGKILL after the stage's forceKillAfter: a stage that ignores the signal
    // would otherwise hold the call for ever.
    for (const child of running) void child[stopFor](reason).catch(() => {});
    endOnceReaped();
  };
  // The stages' spawns stop them on `timeout` and `signal` (relay).
  if (relay?.signal.aborted === true) endOnceReaped();
  relay?.signal.addEventListener('abort', endOnceReaped, { once: true });
  try {
    const first = running[0]!;
    const firstStdin = first.stdin;
    if (firstStdin !== null) {
      firstStdin.on('error', () => {}); // EPIPE when the stage does not read all of its input
      if (inputWatch !== undefined) {
        inputWatch.onFailure(() => {
          firstStdin.destroy();
          killAll('input');
        });
        pipeInput(plan.input as Readable, firstStdin);
      } else {
        firstStdin.end(plan.input);
      }
    }
    const collection = lastStdout === null ? undefined : collectStream(lastStdout, plan.output.maxBuffer, () => killAll('maxBuffer'));
    const [bytes, results] = await Promise.all([collection?.done, reaped]);
    // A contained stage the library is stopping may outlive its leader (as in run): the call ends
    // with its tree, and its result says whether SIGKILL was needed.
    for (const [i, child] of running.entries()) {
      if (child[stopAsked]() === null || child.containment === null) continue;
      await child[treeEnded]();
      Object.assign(results[i]!, child[endReason]());
    }
    firstStdin?.destroy(); // let go of a stream input the first stage left unread (see run)
    if (inputWatch?.failure !== undefined) throw inputWatch.failure.error;
    // As run's: why the stages ended, with every stage's status and wait result.
    const statuses = results.map((result) => result.status);
    if (collection?.overflowed === true) throw Object.assign(maxBufferError('stdout', false), { killedBy: 'maxBuffer', statuses, results });
    const failing = plan.pipefail ? statuses.findLastIndex((status) => !succeeded(status)) : -1;
    const statusOf = failing === -1 ? last : failing; // the stage whose status is the pipeline's
    const result = {
      status: statuses[statusOf]!,
      statuses,
      results,
      pids: running.map((child) => child.pid),
      stdout: bytes === undefined ? undefined : present(bytes, plan.output),
      command,
      durationMs: performance.now() - started,
    } as unknown as PipelineResult<O>;
    if (plan.check && !succeeded(result.status)) {
      throw new ExitError({ command, pid: running[statusOf]!.pid, status: result.status, stdout: result.stdout, durationMs: result.durationMs, killedBy: results[statusOf]!.killedBy, result });
    }
    return result;
  } finally {
    clearTimeout(timer);
    relay?.signal.removeEventListener('abort', endOnceReaped);
    plan.signal?.removeEventListener('abort', forward);
    inputWatch?.dispose();
  }
}
