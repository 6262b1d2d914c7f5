/**
 * A child's output as a script wants it: the "finished" wait (exit and every piped stream
 * closed), collection of streams into strings, Buffers or lines (collectOutput), lines of a
 * running child (readLines), the `check` error (ExitError), and the types that follow the
 * options (a stream is `Readable`, not `Readable | null`, when stdio says 'pipe').
 */
import { StringDecoder } from 'node:string_decoder';
import { finished, Transform, type Readable, type Writable, type Duplex } from 'node:stream';
import type { Bytes } from '../env';
import type { ExitedStatus, SignaledStatus } from '../wait-status';
import type { WaitIdResult } from '../wait';
import { invalidArgType, invalidArgValue } from '../errors';
import { validateBoolean, validateInteger, validating } from '../validate';
import type { KillReason } from './kill-tree';

/** How collected output is returned: a Node text encoding (strings), or 'buffer' (Buffers). */
export type OutputEncoding = BufferEncoding | 'buffer';

/** The status of a child that has ended: it exited or a signal killed it (nothing else ends one). */
export type EndStatus = ExitedStatus | SignaledStatus;

/** What `child.wait()` resolves with: a waitid(2) result whose status is exit or signal only. */
export interface ChildExitResult extends WaitIdResult {
  /** How the child ended: `{ kind: 'exited', code }` or `{ kind: 'signaled', signal, ... }`. */
  readonly status: EndStatus;
}

/**
 * The entry of the `stdio` option `S` for fd `I` (`S` itself when it is one value for all three).
 *
 * @typeParam S - the `stdio` option
 * @typeParam I - the fd, 0..2
 */
export type StdioEntry<S, I extends 0 | 1 | 2> = S extends readonly unknown[] ? (S extends readonly [] ? undefined : I extends keyof S ? S[I] : undefined) : S;
/**
 * A stream type when the stdio entry `T` is exactly 'pipe', null when it cannot be, either when
 * it is wider.
 *
 * @typeParam T - the stdio entry
 * @typeParam Stream - the stream's type
 */
export type PipedAs<T, Stream> = [T] extends ['pipe'] ? Stream : 'pipe' extends T ? Stream | null : null;

/**
 * The type of `child.stdin` for the stdio option `S`: `Writable` where it says 'pipe', `null` where it cannot.
 *
 * @typeParam S - the `stdio` option
 */
export type StdinOf<S> = PipedAs<StdioEntry<S, 0>, Writable>;
/**
 * The type of `child.stdout` for the stdio option `S`: `Readable` where it says 'pipe', `null` where it cannot.
 *
 * @typeParam S - the `stdio` option
 */
export type StdoutOf<S> = PipedAs<StdioEntry<S, 1>, Readable>;
/**
 * The type of `child.stderr` for the stdio option `S`, as `StdoutOf`.
 *
 * @typeParam S - the `stdio` option
 */
export type StderrOf<S> = PipedAs<StdioEntry<S, 2>, Readable>;

/**
 * The child fds that the `fds` option `F` makes pipes (its keys whose value is 'pipe').
 *
 * @typeParam F - the `fds` option
 */
export type PipedFds<F> = F extends object ? { [K in keyof F]: F[K] extends 'pipe' ? K : never }[keyof F] : never;

/**
 * The type of `child.stdio` for the `stdio` option `S` and the `fds` option `F`: fds 0 to 2 as
 * `stdin`, `stdout` and `stderr`, and a `Duplex` (not `| null`) at each fd that `F` makes a pipe.
 *
 * @typeParam S - the `stdio` option
 * @typeParam F - the `fds` option
 */
export type StdioArrayOf<S, F> = readonly [StdinOf<S>, StdoutOf<S>, StderrOf<S>, ...(ChildStream | null)[]] & { readonly [K in PipedFds<F> & number]: Duplex };

/** The `fds` option of an options type, `undefined` when it has none. */
export type FdsOf<O> = O extends FdsGiven ? O['fds'] : undefined;

/** Options that carry an `fds` option (see `FdsOf`). */
export interface FdsGiven {
  /** The `fds` option. */
  readonly fds: unknown;
}

/** The `stdio` option of an options type, `undefined` when it has none. */
export type StdioOf<O> = O extends StdioGiven ? O['stdio'] : undefined;

/** Options that carry a `stdio` option (see `StdioOf`). */
export interface StdioGiven {
  /** The `stdio` option. */
  readonly stdio: unknown;
}

/** Options that ask for lines (see `Collected`). */
export interface LinesRequested {
  /** `lines: true`. */
  readonly lines: true;
}

/** Options that ask for Buffers (see `Collected`). */
export interface BuffersRequested {
  /** `encoding: 'buffer'`. */
  readonly encoding: 'buffer';
}

/** A stream of `child.stdio`: fd 0 is Writable, 1 and 2 Readable, fds 3 and up (`fds: {N: 'pipe'}`) Duplex. */
export type ChildStream = Readable | Writable | Duplex;

/** Options that say what to do with collected output (`run`, `runSync`, `pipeline`). */
export interface OutputOptions {
  /**
   * 'utf8' (the default) returns strings; 'buffer' returns Buffers; any other Node encoding
   * ('latin1', 'hex', ...) decodes with it.
   */
  encoding?: OutputEncoding;
  /** Return each output as an array of lines (split on '\n', a final '\r' stripped, no trailing empty line). */
  lines?: boolean;
  /** Most bytes kept of each output (default 64 MiB; `Infinity`: as many as memory holds); beyond it the child is killed with `killSignal`. */
  maxBuffer?: number;
}

/**
 * `true` when the option `K` of options `O` may be `V` (its type is wider than one literal, say
 * `boolean` or `OutputEncoding`), `false` when it cannot be (absent, or a literal that is not `V`).
 *
 * @typeParam O - the options' type
 * @typeParam K - the option
 * @typeParam V - the value
 */
export type OptionMayBe<O, K extends PropertyKey, V> = K extends keyof O ? (V extends O[K] ? true : false) : false;

/**
 * One collected output for options `O`: string[] with `lines: true`, Buffer with `encoding:
 * 'buffer'`, else string; a union of those when the options' type allows several (`lines: boolean`).
 *
 * @typeParam O - the options' type
 */
export type Collected<O> = O extends LinesRequested
  ? string[]
  : (OptionMayBe<O, 'lines', true> extends true ? string[] : never) | (O extends BuffersRequested ? Buffer : OptionMayBe<O, 'encoding', 'buffer'> extends true ? Buffer | string : string);

/** @internal Validated output options. */
export interface OutputPlan {
  encoding: OutputEncoding;
  lines: boolean;
  maxBuffer: number;
}

/**
 * @internal The error that stops `run`, `runSync` or `pipeline` when an output passes maxBuffer, or when memory
 * cannot hold it (a `maxBuffer` of Infinity): the child is killed and reaped first.
 */
export function maxBufferError(stream: string, outOfMemory: boolean): RangeError {
  const message = outOfMemory ? `${stream} could not be held: memory ran out before maxBuffer` : `${stream} maxBuffer length exceeded`;
  return Object.assign(new RangeError(message), { code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER' });
}

/**
 * @internal `maxBuffer` checked: 64 MiB by default, `Infinity` for no limit (as child_process
 * takes it), else an integer from 0.
 */
export function readMaxBuffer(value: unknown): number {
  if (value === undefined) return 64 * 1024 * 1024;
  if (value === Infinity) return Number.MAX_SAFE_INTEGER; // more than any process can hold
  validateInteger(value, 'options.maxBuffer', 0, Number.MAX_SAFE_INTEGER);
  return value as number;
}

/** @internal Checks `encoding` and `lines` (maxBuffer is checked by readMaxBuffer). */
export function outputPlan(encoding: unknown, lines: unknown, maxBuffer: number): OutputPlan {
  const checked = encoding ?? 'utf8';
  if (checked !== 'buffer' && (typeof checked !== 'string' || !Buffer.isEncoding(checked))) throw invalidArgValue('options.encoding', "must be 'buffer' or a Node encoding", encoding);
  if (lines !== undefined) validateBoolean(lines, 'options.lines');
  return { encoding: checked, lines: lines === true, maxBuffer };
}

/** @internal Turns collected bytes into what the plan asks for. */
export function present(bytes: Buffer, plan: OutputPlan): string | Buffer | string[] {
  if (plan.lines) return splitLines(bytes.toString(plan.encoding === 'buffer' ? 'utf8' : plan.encoding));
  return plan.encoding === 'buffer' ? bytes : bytes.toString(plan.encoding);
}

/** @internal Lines of a text: split on '\n', a final '\r' of each removed, no empty last line. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map(withoutCr);
}

/** A line without its final '\r' (of a '\r\n' line end), if it has one. */
function withoutCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** @internal A stream collected up to a limit: `bytes` once it has closed, `overflowed` if it passed the limit. */
export interface Collection {
  done: Promise<Buffer>;
  overflowed: boolean;
}

/**
 * @internal Collects a readable stream (all of it, up to `maxBuffer`; past it `onOverflow` runs
 * once and the rest is discarded, still read so the writer is never blocked). Resolves on
 * 'close', also when the stream errs.
 */
export function collectStream(stream: Readable, maxBuffer: number, onOverflow: () => void): Collection {
  const collection: Collection = { done: undefined as unknown as Promise<Buffer>, overflowed: false };
  // A pipe at end-of-file with nothing in it ends and closes without anyone reading it: the
  // stream may be closed already (empty) when collection starts late (a pipeline's last stage).
  if (stream.closed || stream.destroyed) {
    collection.done = Promise.resolve(Buffer.alloc(0));
    return collection;
  }
  collection.done = new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      if (collection.overflowed) return;
      size += chunk.length;
      if (size > maxBuffer) {
        collection.overflowed = true;
        // Keep what fits, as child_process does.
        const room = maxBuffer - (size - chunk.length);
        if (room > 0) chunks.push(chunk.subarray(0, room));
        onOverflow();
        return;
      }
      chunks.push(chunk);
    });
    stream.on('error', () => {}); // reported by the child's status; 'close' follows
    // One chunk may be a small view of a shared read slab (native/util/read_slab.cc): a copy,
    // so that a kept result does not hold the slab.
    stream.on('close', () => resolve(chunks.length === 1 && chunks[0]!.byteLength === chunks[0]!.buffer.byteLength ? chunks[0]! : Buffer.concat(chunks)));
  });
  return collection;
}

/** @internal A stream `input`'s failure: its error, or a close before its end (see watchInput). */
export interface InputWatch {
  /** The failure once it has come, else undefined. */
  readonly failure: { error: unknown } | undefined;
  /** Runs `stop` at the failure (at once if it has come already). */
  onFailure(stop: () => void): void;
  /** Stops watching. */
  dispose(): void;
}

/**
 * @internal Watches a stream `input` from before the spawn: one that fails would leave the child
 * waiting for the rest of its stdin for ever, so the caller stops it and rejects with the error.
 */
export function watchInput(input: Readable): InputWatch {
  let stop: (() => void) | undefined;
  const watch = {
    failure: undefined as { error: unknown } | undefined,
    onFailure(then: () => void): void {
      stop = then;
      if (watch.failure !== undefined) then();
    },
    dispose: finished(input, { writable: false }, (error) => {
      if (error === undefined || error === null || watch.failure !== undefined) return;
      watch.failure = { error };
      stop?.();
    }),
  };
  return watch;
}

/**
 * @internal Pipes a stream `input` into the child's stdin. A chunk that is neither a string nor
 * bytes (from an object-mode stream) fails `input` with a TypeError, which its watch reports:
 * written to stdin, it would have thrown from the stream's 'data' event as an uncaught exception.
 */
export function pipeInput(input: Readable, stdin: Writable): void {
  // Once stdin has closed (the child is done with it), `input` is let go as a direct pipe would;
  // a child reaped before this call already had its stdin destroyed, and nothing is piped then.
  if (stdin.destroyed) return;
  const bytesOnly = new Transform({
    writableObjectMode: true,
    transform(chunk: unknown, _encoding, callback): void {
      if (typeof chunk === 'string' || chunk instanceof Uint8Array) return callback(null, chunk);
      input.destroy(invalidArgType('options.input chunk', 'a string or a Uint8Array', chunk));
      callback();
    },
  });
  stdin.once('close', () => bytesOnly.destroy());
  input.pipe(bytesOnly).pipe(stdin);
}

/** @internal Resolves once the stream has closed (at once if it already has). */
export function closed(stream: ChildStream): Promise<void> {
  if (stream.closed || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('close', () => resolve());
    stream.on('error', () => {});
  });
}

// Encodings in which the byte 0x0A is always '\n' and never part of another character: their
// lines are cut in bytes, so that a reader leaving early can give back what it has not used.
const BYTE_NEWLINE = new Set(['utf8', 'utf-8', 'ascii', 'latin1', 'binary']);

/** A line's bytes as text, without a final '\r'. */
function lineText(bytes: Buffer, encoding: BufferEncoding): string {
  return withoutCr(bytes.toString(encoding));
}

/**
 * @internal Lines of a readable stream as they arrive (an async iterator). Each line without its
 * '\n' (and a final '\r'); the last one even without a newline. A loop that leaves early
 * (`break`) leaves the stream open, with the bytes it had not made into lines put back at its
 * front, for the next reader (as a Python loop over `proc.stdout` does); other encodings than
 * UTF-8, ASCII and latin1 destroy it then, as Node's stream iterator does.
 */
export async function* readLines(stream: Readable, encoding: BufferEncoding = 'utf8'): AsyncGenerator<string, void, undefined> {
  if (!BYTE_NEWLINE.has(encoding.toLowerCase())) return yield* decodedLines(stream, encoding);
  let rest: Buffer[] = []; // the bytes after the last newline, in the order they came
  let ended = false;
  try {
    for await (const chunk of stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer | string>) {
      let bytes = typeof chunk === 'string' ? Buffer.from(chunk, stream.readableEncoding ?? 'utf8') : chunk;
      rest.push(bytes);
      let newline = bytes.indexOf(0x0a);
      while (newline !== -1) {
        rest.pop();
        const line = rest.length === 0 ? bytes.subarray(0, newline) : Buffer.concat([...rest, bytes.subarray(0, newline)]);
        bytes = bytes.subarray(newline + 1);
        rest = bytes.length > 0 ? [bytes] : [];
        yield lineText(line, encoding);
        newline = bytes.indexOf(0x0a);
      }
    }
    ended = true;
    if (rest.length > 0) yield lineText(Buffer.concat(rest), encoding);
  } finally {
    if (!ended && !stream.destroyed) {
      if (rest.length > 0 && !stream.readableEnded) stream.unshift(Buffer.concat(rest));
      // Node lets go of the iterator's 'readable' listener a tick later; after that the stream
      // counts as unread again, so that finished() drains what nobody reads.
      await new Promise<void>((resolve) => process.nextTick(resolve));
    }
  }
}

/** Lines of an encoding whose characters may contain the byte 0x0A (UTF-16, base64, hex). */
async function* decodedLines(stream: Readable, encoding: BufferEncoding): AsyncGenerator<string, void, undefined> {
  const decoder = new StringDecoder(encoding);
  // The text after the last newline, in pieces: only new text is searched, so a long line costs
  // linear time (appending to one string and searching it all again was quadratic).
  let rest: string[] = [];
  function* split(text: string): Generator<string, void, undefined> {
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      rest.push(text.slice(start, newline));
      const line = rest.join('');
      rest = [];
      start = newline + 1;
      yield withoutCr(line);
    }
    if (start < text.length) rest.push(text.slice(start));
  }
  for await (const chunk of stream as AsyncIterable<Buffer>) yield* split(decoder.write(chunk));
  yield* split(decoder.end());
  if (rest.length > 0) yield withoutCr(rest.join(''));
}

const TAIL_LINES = 20;
const TAIL_CHARS = 4000;

/** The end of an output for an error message: its last lines, at most a few KB. */
function tail(output: string | Buffer | string[] | undefined): string {
  if (output === undefined) return '';
  const text = Array.isArray(output) ? output.slice(-TAIL_LINES).join('\n') : Buffer.isBuffer(output) ? bytesTail(output) : output;
  const lines = splitLines(text.slice(-TAIL_CHARS));
  return lines.slice(-TAIL_LINES).join('\n');
}

/** The last TAIL_CHARS bytes as UTF-8, from the start of a character (not a U+FFFD for the bytes of a cut one). */
function bytesTail(bytes: Buffer): string {
  let start = Math.max(0, bytes.length - TAIL_CHARS);
  while (start > 0 && start < bytes.length && (bytes[start]! & 0xc0) === 0x80) start++;
  return bytes.subarray(start).toString('utf8');
}

// Control characters (C0, DEL, C1): printed raw, a newline would split the command line of an
// error message and an escape sequence would reach the terminal that shows it.
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
const ANSI_C_ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', "'": "\\'", '\n': '\\n', '\t': '\\t', '\r': '\\r' };

/** One word as a shell reads it back: bare, in single quotes, or in `$'...'` (bash, zsh, POSIX.1-2024) when it has control characters. */
function shellWord(text: string): string {
  if (/^[\w@%+=:,./-]+$/u.test(text)) return text;
  if (!CONTROL.test(text)) return `'${text.replace(/'/g, `'\\''`)}'`;
  // As UTF-8 bytes (\xHH), which need no locale to read back: C1 characters are 0xC2 0x80..0x9F.
  // eslint-disable-next-line no-control-regex -- control characters are what it escapes
  const escaped = text.replace(/[\\'\u0000-\u001f\u007f-\u009f]/gu, (char) => ANSI_C_ESCAPES[char] ?? [...Buffer.from(char)].map((byte) => `\\x${byte.toString(16).padStart(2, '0')}`).join(''));
  return `$'${escaped}'`;
}

/** @internal A command line as a shell would show it: words quoted when they need it, on one line. */
export function commandLine(file: Bytes, args: readonly Bytes[]): string {
  return [file, ...args].map((word) => shellWord(Buffer.isBuffer(word) ? word.toString('utf8') : String(word))).join(' ');
}

/** What `ExitError` is built from. */
export interface ExitErrorDetails {
  /** The command line (quoted as a shell would). */
  readonly command: string;
  /** The pid of the child. */
  readonly pid: number;
  /** How it ended. */
  readonly status: EndStatus;
  /** Collected stdout (absent when not collected). */
  readonly stdout?: string | Buffer | string[];
  /** Collected stderr (absent when not collected). */
  readonly stderr?: string | Buffer | string[];
  /** stdout and stderr interleaved (with `all`). */
  readonly all?: string | Buffer | string[];
  /** Milliseconds from the call to the end. */
  readonly durationMs: number;
  /** Why the library killed the child (its `timeout`, an abort...), null or absent when it did not: the message says so. */
  readonly killedBy?: KillReason | null;
  /** The whole result, for callers that want every field. */
  readonly result: object;
}

/**
 * The error of `check: true`: the child exited with a non-zero code or was killed by a signal.
 * Its message names the command, the status and the duration, and ends with the last lines of
 * stderr (and of stdout); the fields carry everything.
 */
export class ExitError extends Error {
  /** 'ERR_CHILD_EXIT': a child that did not exit with 0. */
  readonly code = 'ERR_CHILD_EXIT';
  /** The command line, quoted as a shell would. */
  readonly command: string;
  /** The pid of the child. */
  readonly pid: number;
  /** How it ended. */
  readonly status: EndStatus;
  /** The exit code, or null when a signal killed it. */
  readonly exitCode: number | null;
  /** The signal's name when a signal killed it, else null. */
  readonly signal: string | null;
  /** Collected stdout, whole (the message only shows its end). */
  readonly stdout: string | Buffer | string[] | undefined;
  /** Collected stderr, whole. */
  readonly stderr: string | Buffer | string[] | undefined;
  /** stdout and stderr interleaved, with `all`. */
  readonly all: string | Buffer | string[] | undefined;
  /** Milliseconds from the call to the end. */
  readonly durationMs: number;
  /** Why the library killed the child ('timeout', 'abort'...), or null when it did not. */
  readonly killedBy: KillReason | null;
  /** The message's first line: what failed and how, without the ends of the outputs (as execa's `shortMessage`). */
  readonly shortMessage: string;
  /** The result the call would have returned without `check`. */
  readonly result: object;

  /**
   * Made by `run`, `runSync` and `pipeline` (exported for `instanceof`).
   *
   * @param details - the command, status, outputs and duration
   * @throws TypeError `ERR_INVALID_ARG_TYPE` when `details` or its `status` is not an object, or an
   *   output (`stdout`, `stderr`, `all`) is not a string, bytes or an array of strings;
   *   `ERR_INVALID_ARG_VALUE` for a status that is neither exited nor signaled
   */
  constructor(details: ExitErrorDetails) {
    const checked = validating('ExitError', () => checkDetails(details));
    details = checked.details;
    const { kind, code, signal } = checked;
    const how = kind === 'exited' ? `exit code ${String(code)}` : `signal ${String(signal)}`;
    const after = `after ${Math.round(details.durationMs)} ms`;
    // A signal the library sent says nothing of why by itself: the message names the reason.
    const killedBy = details.killedBy ?? null;
    const what = killedBy === null ? `failed with ${how} ${after}` : killedBy === 'timeout' ? `timed out ${after} (${how})` : killedBy === 'abort' ? `was aborted ${after} (${how})` : `was stopped (${killedBy}) ${after} (${how})`;
    const shortMessage = `Command ${what}: ${details.command}`;
    const parts = [shortMessage];
    const errTail = tail(details.stderr);
    const outTail = tail(details.all ?? details.stdout);
    if (errTail !== '') parts.push(`stderr (end):\n${errTail}`);
    if (outTail !== '') parts.push(`${details.all !== undefined ? 'output' : 'stdout'} (end):\n${outTail}`);
    super(parts.join('\n'));
    this.name = 'ExitError';
    this.command = details.command;
    this.pid = details.pid;
    this.status = details.status;
    this.exitCode = kind === 'exited' ? (code as number) : null;
    this.signal = kind === 'signaled' ? (signal as string) : null;
    this.stdout = details.stdout;
    this.stderr = details.stderr;
    this.all = details.all;
    this.durationMs = details.durationMs;
    this.killedBy = killedBy;
    this.shortMessage = shortMessage;
    this.result = details.result;
  }
}

/** The details, read once each (the status's kind, code and signal too); the status an exit or a signal. */
function checkDetails(details: unknown): { details: ExitErrorDetails; kind: 'exited' | 'signaled'; code: unknown; signal: unknown } {
  if (typeof details !== 'object' || details === null) throw invalidArgType('details', 'an object', details);
  const { command, pid, status, stdout, stderr, all, durationMs, killedBy, result } = details as ExitErrorDetails;
  if (typeof status !== 'object' || status === null) throw invalidArgType('details.status', 'an object', status);
  const { kind, code, signal } = status as { kind: unknown; code?: unknown; signal?: unknown };
  if (kind !== 'exited' && kind !== 'signaled') throw invalidArgValue('details.status.kind', "must be 'exited' or 'signaled'", kind);
  const checked = {
    command: String(command),
    pid: Number(pid),
    status,
    stdout: checkOutput(stdout, 'details.stdout'),
    stderr: checkOutput(stderr, 'details.stderr'),
    all: checkOutput(all, 'details.all'),
    durationMs: Number(durationMs),
    killedBy: typeof killedBy === 'string' ? killedBy : null,
    result: result ?? {},
  };
  return { details: checked, kind, code, signal };
}

/** A collected output as ExitError shows it: absent, a string, bytes (a Uint8Array is seen as a Buffer) or lines. */
function checkOutput(output: unknown, name: string): string | Buffer | string[] | undefined {
  if (output === undefined || typeof output === 'string' || Buffer.isBuffer(output)) return output;
  if (output instanceof Uint8Array) return Buffer.from(output.buffer, output.byteOffset, output.byteLength);
  if (!Array.isArray(output)) throw invalidArgType(name, 'a string, a Buffer or an array of strings', output);
  for (let i = 0; i < output.length; i++) {
    if (typeof output[i] !== 'string') throw invalidArgType(`${name}[${i}]`, 'of type string', output[i]);
  }
  return output as string[];
}

/** @internal Whether a status is a success: exit code 0. */
export function succeeded(status: EndStatus): boolean {
  return status.kind === 'exited' && status.code === 0;
}
