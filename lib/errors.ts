/**
 * The library's errors: one class for failed system calls, shaped like Node's own errno errors,
 * and Node-style TypeError/RangeError for bad arguments, thrown before any system call.
 */
import * as os from 'node:os';
import * as util from 'node:util';
import { binding } from './native';

const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(os.constants.errno)) {
  if (!errnoNames.has(value)) errnoNames.set(value, name);
}

const LIBUV_OWN_CODES = 3000;

/**
 * The name of a (positive) errno value: libuv's name (what Node's own errors use), or for the few
 * errnos libuv does not know (EBADMSG, ENOLINK, ...) the name from `os.constants.errno`.
 */
function errnoName(errno: number): string {
  // From 3000 up libuv's codes are its own (UV_EAI_*, UV_EOF...), not errnos of the kernel.
  const libuvName = errno < LIBUV_OWN_CODES ? util.getSystemErrorName(-errno) : '';
  if (libuvName !== '' && !libuvName.startsWith('Unknown system error')) return libuvName;
  return errnoNames.get(errno) ?? `E${errno}`;
}

/**
 * A failed system call, shaped like Node's errno errors (`fs`, `child_process`):
 * `code` is the errno name ('ESRCH'), `errno` its negative number (-3), `syscall` the call that
 * failed ('kill') and `path` the file involved, if any. The message is
 * `"<syscall> <code>: <strerror text>"`, plus ` '<path>'` when there is a path.
 *
 * @example
 * try { kill(123456, 0) } catch (e) { if (e instanceof SyscallError && e.code === 'ESRCH') ... }
 */
export class SyscallError extends Error {
  /** The errno name, e.g. 'ENOENT', from libuv's table or `os.constants.errno`. */
  readonly code: string;
  /** The negative errno number, as in Node's own errors (ENOENT is -2). */
  readonly errno: number;
  /** The system call that failed, e.g. 'kill', 'waitpid', 'posix_spawn'. */
  readonly syscall: string;
  /** The path the call was about, when there is one. */
  readonly path?: string;
  /** Which step of a multi-step operation failed (e.g. 'exec', 'fileActions[1] open'). */
  readonly step?: string;
  /** The signal that ended a spawned child before its exec (`spawn`'s ECHILD), e.g. 'SIGKILL'. */
  readonly signal?: string;

  /**
   * Makes the error of a failed system call, shaped like Node's own errno errors (the library
   * throws these; user code may make one for its own calls).
   *
   * @param syscall - the name of the failed call
   * @param errno - the errno value, positive as in C or negative as in Node
   * @param path - the file involved, if any
   * @param details - `step`: which step of a multi-step operation failed; `signal`: the signal
   *   that ended a spawned child before its exec
   * @throws TypeError `ERR_INVALID_ARG_TYPE` for arguments of the wrong types; RangeError
   *   `ERR_OUT_OF_RANGE` for an errno that is 0, not an integer, or beyond 4095 either way
   */
  constructor(syscall: string, errno: number, path?: string, details: { step?: string; signal?: string } = {}) {
    const { step, signal } = checkSyscallErrorArguments(syscall, errno, path, details);
    const positive = Math.abs(errno);
    const code = errnoName(positive);
    let message = `${syscall} ${code}: ${binding.strerror(positive)}`;
    if (path !== undefined) message += ` '${path}'`;
    super(message);
    this.name = 'SyscallError';
    this.code = code;
    this.errno = -positive;
    this.syscall = syscall;
    if (path !== undefined) this.path = path;
    if (step !== undefined) this.step = step;
    if (signal !== undefined) this.signal = signal;
  }
}

binding.setSyscallErrorConstructor(SyscallError);

/** The checks of `new SyscallError(...)` (users may build one too); returns `details.step`, read once. */
function checkSyscallErrorArguments(syscall: unknown, errno: unknown, path: unknown, details: unknown): { step?: string; signal?: string } {
  if (typeof syscall !== 'string') throw invalidArgType('syscall', 'of type string', syscall);
  if (typeof errno !== 'number') throw invalidArgType('errno', 'of type number', errno);
  if (!Number.isInteger(errno) || errno === 0 || Math.abs(errno) > 4095) throw outOfRange('errno', 'an integer from 1 to 4095 or -4095 to -1', errno);
  if (path !== undefined && typeof path !== 'string') throw invalidArgType('path', 'of type string', path);
  if (typeof details !== 'object' || details === null) throw invalidArgType('details', 'an object', details);
  let step: unknown;
  let signal: unknown;
  try {
    ({ step, signal } = details as { step?: unknown; signal?: unknown });
  } catch (error) {
    throw Object.assign(invalidArgValue('details', 'could not be read', details), { cause: error });
  }
  if (step !== undefined && typeof step !== 'string') throw invalidArgType('details.step', 'of type string', step);
  if (signal !== undefined && typeof signal !== 'string') throw invalidArgType('details.signal', 'of type string', signal);
  return { step, signal };
}

/** A TypeError or RangeError carrying a Node-style `code` such as 'ERR_INVALID_ARG_TYPE'. */
export type ArgumentError = (TypeError | RangeError) & {
  /** Node's code: 'ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_OUT_OF_RANGE', 'ERR_UNKNOWN_SIGNAL'. */
  code: string;
};

function withCode<E extends Error>(error: E, code: string): E & { code: string } {
  return Object.assign(error, { code });
}

// A string longer than this is cut in an error message, as Node cuts the values it shows: a 4 MB
// argument made a 4 MB message.
const SHOWN_STRING = 128;

/** @internal `text` cut to what an error message shows of a value. */
export function shown(text: string): string {
  return text.length > SHOWN_STRING ? `${text.slice(0, SHOWN_STRING)}...` : text;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `type string (${JSON.stringify(shown(value))})`;
  if (typeof value === 'function') return 'function';
  if (typeof value === 'object') return `an instance of ${constructorName(value)}`;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- only primitives are left here
  return `type ${typeof value} (${shown(String(value))})`;
}

/** The name of an object's constructor, read without letting a getter or proxy trap throw. */
function constructorName(value: object): string {
  try {
    const name: unknown = (value.constructor as { name?: unknown } | undefined)?.name;
    return typeof name === 'string' ? name : 'Object';
  } catch {
    return 'Object';
  }
}

/** A received value in a range error: numbers as they are, anything else as describe says. */
function received(value: unknown): string {
  return typeof value === 'number' || typeof value === 'bigint' || typeof value === 'string' ? shown(String(value)) : describe(value);
}

/** TypeError `ERR_INVALID_ARG_TYPE`: `name` should have been `expected`. */
export function invalidArgType(name: string, expected: string, actual: unknown): ArgumentError {
  return withCode(
    new TypeError(`The "${name}" argument must be ${expected}. Received ${describe(actual)}`),
    'ERR_INVALID_ARG_TYPE',
  );
}

/** RangeError `ERR_OUT_OF_RANGE`: `name` must satisfy `range`. */
export function outOfRange(name: string, range: string, actual: unknown): ArgumentError {
  return withCode(
    new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${received(actual)}`),
    'ERR_OUT_OF_RANGE',
  );
}

/** TypeError `ERR_INVALID_ARG_VALUE`: `name` has the right type but a value that cannot work. */
export function invalidArgValue(name: string, reason: string, actual: unknown): ArgumentError {
  return withCode(
    new TypeError(`The argument '${name}' ${reason}. Received ${describe(actual)}`),
    'ERR_INVALID_ARG_VALUE',
  );
}

/**
 * @internal An argument error of invalidArgType, outOfRange or invalidArgValue with the argument
 * it names renamed by `rename` (undefined: kept), for a caller that passed the argument on
 * under another name than the one its own caller wrote. Anything else is returned as it is.
 */
export function renameArgument<E>(error: E, rename: (name: string) => string | undefined): E {
  if (!(error instanceof Error)) return error;
  const match = /^(The "|The value of "|The argument ')(.*?)(" argument |" is out of range|' )/su.exec(error.message);
  const name = match === null ? undefined : rename(match[2]!);
  if (match !== null && name !== undefined) error.message = `${match[1]!}${name}${error.message.slice(match[1]!.length + match[2]!.length)}`;
  return error;
}

/**
 * The AbortError (a DOMException, as Node's own APIs throw) for an operation `signal` aborted,
 * with Node's `code` 'ABORT_ERR' (DOMException's own `code` is the legacy number 20) and, when
 * given, the `step` it was stopped in.
 */
export function abortError(what: string, signal: AbortSignal | undefined, details: { step?: string } = {}): Error {
  const error = new DOMException(`The ${what} was aborted`, 'AbortError');
  Object.defineProperty(error, 'code', { value: 'ABORT_ERR', writable: true, enumerable: false, configurable: true });
  if (details.step !== undefined) Object.assign(error, { step: details.step });
  return Object.assign(error, { cause: signal?.reason as unknown });
}
