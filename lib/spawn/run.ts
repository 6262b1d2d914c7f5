/**
 * `run`: spawn a program with its stdout and stderr collected (up to `maxBuffer`), wait for it and
 * return everything; its options are those of spawn with `stdin`/`input` in place of `stdio`.
 */
import type { Readable } from 'node:stream';
import { invalidArgType, invalidArgValue } from '../errors';
import type { Bytes } from '../env';
import { readOptions, validateInteger, validating } from '../validate';
import type { WaitIdResult } from '../wait';
import { spawn } from './index';
import { SPAWN_OPTION_KEYS, type SpawnOptions, type StdioOption } from './options';

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
  /** The child's pid (already reaped). */
  readonly pid: number;
  /** How it ended: exited with a code, or killed by a signal. */
  readonly status: WaitIdResult['status'];
  /** The status as wait(2) would have stored it. */
  readonly raw: number;
  /** Its resource usage: CPU times, max RSS, faults, context switches. */
  readonly rusage: WaitIdResult['rusage'];
  /** Everything it wrote to fd 1 (up to `maxBuffer`). */
  readonly stdout: Buffer;
  /** Everything it wrote to fd 2 (up to `maxBuffer`). */
  readonly stderr: Buffer;
}

/**
 * Spawns a program, collects its stdout and stderr, waits for it and returns everything. The
 * status is returned, not thrown: a non-zero exit is a result, not an error.
 *
 * @throws (rejects) what `spawn` rejects with; a RangeError `ERR_CHILD_PROCESS_STDIO_MAXBUFFER`
 *   when an output passes `maxBuffer` (the child is killed with `killSignal` and reaped first).
 * @param file - the program, as for {@link spawn}
 * @param args - its arguments after `argv[0]`
 * @param options - {@link spawn}'s options, and `maxBuffer`
 * @returns a Promise of its status, resource usage and collected output
 * @see clone(2), execve(2), waitid(2)
 * @example
 * ```ts
 * const { status, stdout } = await run('git', ['status', '--short'], { cwd: '/src/repo' });
 * if (status.kind === 'exited' && status.code === 0) console.log(stdout.toString());
 * ```
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
