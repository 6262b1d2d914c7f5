/**
 * `run`: spawn a program with its stdout and stderr collected (up to `maxBuffer`), wait for it and
 * return everything; its options are those of spawn with `stdin`/`input` in place of `stdio`, and
 * the output options (`encoding`, `lines`, `all`, `check`) of lib/spawn/output.ts.
 */
import { Readable } from 'node:stream';
import { invalidArgType, invalidArgValue } from '../errors';
import type { Bytes } from '../env';
import { binding } from '../native';
import { validateBoolean, validating } from '../validate';
import type { WaitIdResult } from '../wait';
import { endReason, stopAsked, stopFor, treeEnded, type ChildProcess } from './child-process';
import { spawn } from './index';
import { closeAll, readSpawnOptions, type SpawnOptions, type StdioOption } from './options';
import { commandLine, ExitError, maxBufferError, outputPlan, present, pipeInput, readMaxBuffer, succeeded, watchInput, type Collected, type EndStatus, type OptionMayBe, type OutputOptions, type OutputPlan } from './output';
import type { ChildResult } from './kill-tree';

/** Options of `run`: those of `spawn` plus output collection. */
export interface RunOptions extends Omit<SpawnOptions, 'stdio'>, OutputOptions {
  /** fd 0 of the child: 'ignore' (default), 'inherit', an fd, a file (`{ path }`), or `input`. */
  stdin?: Exclude<StdioOption, 'pipe'>;
  /**
   * Written to the child's stdin, which is then closed: a string (UTF-8), bytes, or a readable
   * stream (one that errs or closes before its end stops the child: the call rejects with its error).
   */
  input?: string | Uint8Array | Readable;
  /**
   * stdout and stderr through one pipe, in the order the child wrote them, as `result.all`
   * (`stdout` and `stderr` are then empty).
   */
  all?: boolean;
  /** Reject with an `ExitError` when the child exits non-zero or is killed by a signal. */
  check?: boolean;
}

/** @internal run's options, validated: what run itself uses, and the rest for spawn. */
export interface RunPlan {
  stdin: RunOptions['stdin'];
  input: string | Uint8Array | Readable | undefined;
  all: boolean;
  check: boolean;
  output: OutputPlan;
  spawnOptions: Partial<SpawnOptions>;
}

/** @internal The options of `run` (and `runSync`), read once each; those of `run` itself checked (`spawn` checks the rest). */
export function runOptions(options: unknown, streamInput: boolean): RunPlan {
  // spawn's options as readSpawnOptions' one literal of fixed shape (its `stdio` is replaced by
  // run), run's own read once each: a copy key by key cost about 10 µs a run (docs/output.md).
  const spawnOptions: Partial<SpawnOptions> = options === undefined ? {} : readSpawnOptions(options);
  const own = options as RunOptions | undefined;
  // run wires fds 0 to 2 itself: a stdio or pty given anyway is refused, not silently dropped.
  // Checked as readSpawnOptions read them: a getter read again could hand spawn what passed here.
  const fn = streamInput ? 'run' : 'runSync'; // only run takes a stream as input
  const stdio = spawnOptions.stdio;
  if (stdio !== undefined) throw invalidArgValue('options.stdio', `is set by ${fn} itself (use stdin or input, and all)`, stdio);
  const pty = spawnOptions.pty as unknown;
  if (pty !== undefined && pty !== false) throw invalidArgValue('options.pty', `is not supported by ${fn} (use spawn with pty, and child.pty)`, pty);
  // Nobody would read the parent's end (run returns no stream): the child could block on it, and
  // run with it; the fd would stay open. As pipeline's stages.
  const fds = spawnOptions.fds;
  for (const [fd, source] of typeof fds === 'object' && fds !== null ? Object.entries(fds) : []) {
    if (source === 'pipe') throw invalidArgValue(`options.fds[${fd}]`, `must not be 'pipe' for ${fn} (nobody would read it; use spawn)`, source);
  }
  const stdin = own?.stdin;
  const input = own?.input;
  const maxBuffer = readMaxBuffer(own?.maxBuffer);
  const encoding = own?.encoding;
  const lines = own?.lines;
  const all = own?.all ?? false;
  const check = own?.check ?? false;
  const inputTypes = streamInput ? 'a string, a Uint8Array or a Readable' : 'a string or a Uint8Array';
  if (input !== undefined && typeof input !== 'string' && !(input instanceof Uint8Array) && !(streamInput && input instanceof Readable)) throw invalidArgType('options.input', inputTypes, input);
  // A pipe on stdin that nobody writes or closes would keep a reading child waiting for ever.
  if ((stdin as unknown) === 'pipe') throw invalidArgValue('options.stdin', "must not be 'pipe' (use input)", stdin);
  if (input !== undefined && stdin !== undefined) throw invalidArgValue('options.stdin', 'cannot be combined with input', stdin);
  return { stdin, input, all: validateBoolean(all, 'options.all'), check: validateBoolean(check, 'options.check'), output: outputPlan(encoding, lines, maxBuffer), spawnOptions };
}

/** Options that ask for `all` (see `RunResult`). */
export interface AllRequested {
  /** `all: true`. */
  readonly all: true;
}

/**
 * What `run` returns.
 *
 * @typeParam O - the options' type, which decides what the outputs are
 */
export interface RunResult<O = RunOptions> {
  /** The child's pid. */
  readonly pid: number;
  /** How it ended: exited with a code, or killed by a signal. */
  readonly status: EndStatus;
  /** The raw wait status. */
  readonly raw: number;
  /** Its resource usage. */
  readonly rusage: WaitIdResult['rusage'];
  /** Its stdout: a string by default, Buffer with `encoding: 'buffer'`, lines with `lines: true`. */
  readonly stdout: Collected<O>;
  /** Its stderr, as `stdout`. */
  readonly stderr: Collected<O>;
  /** stdout and stderr interleaved, with `all: true`. */
  readonly all: O extends AllRequested ? Collected<O> : OptionMayBe<O, 'all', true> extends true ? Collected<O> | undefined : undefined;
  /** The command line, quoted as a shell would. */
  readonly command: string;
  /** Milliseconds from the call to the end of the output. */
  readonly durationMs: number;
  /**
   * True when `timeout` passed and the library killed the child (see `ChildResult`), or when the
   * child had exited but a process it left behind still held its outputs open at the deadline
   * (the outputs are then what was read by it).
   */
  readonly timedOut: ChildResult['timedOut'];
  /** What made the library kill the child ('timeout', 'abort', 'maxBuffer'...), or null. */
  readonly killedBy: ChildResult['killedBy'];
  /** True when the grace period ran out and SIGKILL was sent. */
  readonly forced: ChildResult['forced'];
}

/**
 * `count` pipes for the child's outputs, [read end, write end] each; none left open on failure.
 * Of the default size: the collector enlarges one that a fast writer fills (native/collect.cc).
 */
function outputPipes(count: number): [number, number][] {
  const pipes: [number, number][] = [];
  try {
    for (let i = 0; i < count; i++) pipes.push(binding.pipe());
  } catch (error) {
    closeAll(pipes.flat());
    throw error;
  }
  return pipes;
}

/** Outputs read natively to end-of-file: `done` has the bytes, `overflowed` the first output past maxBuffer (-1: none). */
interface NativeCollection {
  done: Promise<Buffer[]>;
  overflowed: number;
  /** The overflow was memory running out, not maxBuffer. */
  outOfMemory: boolean;
  /** Ends the collection with what the pipes hold now (for a child the library stopped, whose leftovers may keep them open). */
  finish(): void;
}

/** Reads `fds` (owned from here on) to end-of-file natively, up to `maxBuffer` each; `onOverflow` runs once, at the first output past it. */
function collectOutputs(fds: number[], maxBuffer: number, onOverflow: () => void): NativeCollection {
  let resolve!: (buffers: Buffer[]) => void;
  const done = new Promise<Buffer[]>((settle) => (resolve = settle));
  // Thrown, not a rejection: the caller has a running child to stop first (the fds are closed).
  const handle = binding.collectStart(fds, maxBuffer, (kind, value) => {
    if (kind === 1) {
      resolve(value as Buffer[]);
    } else if (collection.overflowed === -1) {
      collection.overflowed = value as number;
      collection.outOfMemory = kind === 2;
      onOverflow();
    }
  });
  const collection: NativeCollection = { done, overflowed: -1, outOfMemory: false, finish: () => binding.collectFinish(handle) };
  return collection;
}

/**
 * The child exited on its own, but a process it left behind may still hold its outputs open:
 * `timeout` (counted from the call) and `signal` still bound the run, ending the collection with
 * what was read by then.
 */
function boundOutputWait(collection: NativeCollection, timeout: number | undefined, signal: AbortSignal | undefined, started: number, onTimeout: () => void): void {
  if ((timeout === undefined || timeout === 0) && signal === undefined) return;
  const finish = (): void => collection.finish();
  if (signal?.aborted === true) return finish();
  const timer = timeout === undefined || timeout === 0 ? undefined : setTimeout(() => (onTimeout(), finish()), Math.max(0, started + timeout - performance.now()));
  signal?.addEventListener('abort', finish, { once: true });
  void collection.done.then(() => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', finish);
  });
}

/**
 * Spawns a program, collects its stdout and stderr, waits for it and returns everything. The
 * status is returned, not thrown, unless `check` is set: then a non-zero exit or a signal
 * rejects with an `ExitError` that carries the command, the status, the ends of its outputs and
 * the duration.
 *
 * The outputs are read to their end, as a shell's `$(...)` does, so a process the child leaves
 * in the background holding them delays the result; `timeout` and `signal` bound that wait too
 * (the outputs are then what was read), and `contain: true` ends such leftovers with the child.
 *
 * Outputs are strings (UTF-8) by default: `encoding: 'buffer'` for Buffers, `lines: true` for
 * arrays of lines, `all: true` for both outputs interleaved through one pipe.
 *
 * @typeParam O - the options' type, from which the result's output types follow
 * @param file - the program (searched in PATH when it has no slash)
 * @param args - its arguments, without argv[0]
 * @param options - spawn's options (but `stdio`), `stdin`/`input`, and the output options
 * @returns the status, resource usage and collected outputs
 * @throws (rejects) what `spawn` rejects with; an `ExitError` (`ERR_CHILD_EXIT`) with `check`; a
 *   RangeError `ERR_CHILD_PROCESS_STDIO_MAXBUFFER` when an output passes `maxBuffer` or memory
 *   cannot hold it (the child is killed with `killSignal` and reaped first); the error of a stream `input` that fails
 *   (`ERR_STREAM_PREMATURE_CLOSE` if it closes before its end: the child is stopped and reaped
 *   first); TypeError / RangeError for bad options
 * @see clone(2), execve(2), waitid(2)
 * @example
 * ```ts
 * const { stdout } = await run('git', ['rev-parse', 'HEAD'], { check: true });
 * const { stdout: files } = await run('ls', ['/etc'], { lines: true });
 * ```
 */
export async function run<const O extends RunOptions = Record<never, never>>(file: Bytes, args: readonly Bytes[] = [], options: O = {} as O): Promise<RunResult<O>> {
  const started = performance.now();
  const { stdin, input, all, check, output, spawnOptions } = validating('run', () => runOptions(options, true));
  // The outputs go through pipes made here and read natively (native/collect.cc): no net.Socket
  // on run's path. `all`: one pipe on fds 1 and 2.
  const pipes = outputPipes(all ? 1 : 2);
  const inputWatch = input instanceof Readable ? watchInput(input) : undefined;
  let child: ChildProcess;
  try {
    const out = pipes[0]![1];
    const err = pipes[pipes.length - 1]![1];
    spawnOptions.stdio = [input !== undefined ? 'pipe' : (stdin ?? 'ignore'), out, err]; // run's own object
    child = await spawn(file, args, spawnOptions);
  } catch (error) {
    inputWatch?.dispose();
    closeAll(pipes.flat());
    throw error;
  }
  try {
    closeAll(pipes.map((pipe) => pipe[1]));
  } catch (error) {
    // An fd closed behind the library's back (EBADF): the call fails, as a spawn does (settle),
    // once the child, whose outputs nothing would read, is killed and reaped.
    inputWatch?.dispose();
    try {
      child.kill('SIGKILL');
    } catch {
      // Reaped already.
    }
    await child.wait().catch(() => {});
    try {
      closeAll(pipes.map((pipe) => pipe[0]));
    } catch {
      // Closed behind its back too: the first failure is the one reported.
    }
    throw error;
  }
  const onOverflow = (): void => {
    // A child reaped already (what it left behind wrote past maxBuffer) has nothing left to stop,
    // and the call can only fail: it ends now rather than when the leftover closes the pipe.
    if (child.exitResult !== null && child.containment === null) collection.finish();
    else void child[stopFor]('maxBuffer').catch(() => {});
  };
  let collection: NativeCollection;
  try {
    collection = collectOutputs(
      pipes.map((pipe) => pipe[0]),
      output.maxBuffer,
      onOverflow,
    );
  } catch (error) {
    // Nothing would read the child's outputs: it is killed and reaped before the call fails.
    inputWatch?.dispose();
    try {
      child.kill('SIGKILL');
    } catch {
      // Reaped already.
    }
    await child.wait();
    throw error;
  }
  const stdinStream = child.stdin;
  if (stdinStream !== null) {
    stdinStream.on('error', () => {}); // EPIPE when the child does not read its input
    if (inputWatch !== undefined) {
      inputWatch.onFailure(() => {
        stdinStream.destroy();
        void child[stopFor]('input').catch(() => {});
      });
      pipeInput(input as Readable, stdinStream);
    } else {
      stdinStream.end(input);
    }
  }
  // A child the library stopped (timeout, abort, maxBuffer) is not waited for twice: what it
  // wrote is in the pipes once it is reaped, and what it left behind may hold them open forever.
  let outputTimedOut = false;
  const waited = child.wait().then((result) => {
    if (child[stopAsked]() !== null) collection.finish();
    // A contained tree stays under the spawn's own timeout and signal until all of it has ended.
    else if (child.containment === null) boundOutputWait(collection, spawnOptions.timeout, spawnOptions.signal, started, () => (outputTimedOut = true));
    return result;
  }, (error: unknown) => {
    // The call fails with the wait's error (its child killed and reaped): its pipes are closed
    // now, not when a leftover lets go, and a stream input is let go.
    collection.finish();
    stdinStream?.destroy();
    inputWatch?.dispose();
    throw error;
  });
  const [result, buffers] = await Promise.all([waited, collection.done]);
  // The child is gone: a stream input it left unread is let go, instead of keeping its pipe open
  // (and, for process.stdin, the event loop alive) until it ends or writes again.
  stdinStream?.destroy();
  // A contained tree that the library is stopping (its leader may have exited first): its end
  // says whether SIGKILL was needed. A tree left running on its own is not waited for.
  if (child[stopAsked]() !== null) await child[treeEnded]();
  inputWatch?.dispose();
  if (inputWatch?.failure !== undefined) throw inputWatch.failure.error;
  const why = child[endReason]();
  const overflowed = collection.overflowed;
  if (overflowed !== -1) throw Object.assign(maxBufferError(all ? 'all' : overflowed === 0 ? 'stdout' : 'stderr', collection.outOfMemory), { killedBy: why.killedBy, forced: why.forced, status: result.status });
  const empty = present(Buffer.alloc(0), output);
  const runResult = {
    pid: child.pid,
    status: result.status,
    raw: result.raw,
    rusage: result.rusage,
    stdout: all ? empty : present(buffers[0]!, output),
    stderr: all ? empty : present(buffers[1]!, output),
    all: all ? present(buffers[0]!, output) : undefined,
    command: commandLine(file, args),
    durationMs: performance.now() - started,
    ...why,
    timedOut: why.timedOut || outputTimedOut,
  } as RunResult<O>;
  if (check && !succeeded(runResult.status)) throw new ExitError({ ...(runResult as unknown as RunResult), result: runResult });
  return runResult;
}
