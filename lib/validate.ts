/** Argument validation shared by the families: throws before any system call is made. */
import { invalidArgType, invalidArgValue, outOfRange, SyscallError } from './errors';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * Most entries of argv, and of an environment: above what execve(2) can take (argv and envp
 * share a 6 MiB budget with 8 bytes per pointer, fewer than 800,000 entries), so no call the
 * kernel would run is refused, and a huge or sparse array is refused at once.
 */
export const ARGV_MAX = 2 ** 20;
/** Most supplementary groups: the kernel's NGROUPS_MAX. */
export const GROUPS_MAX = 65536;
/** Most entries of a list of signals: one per signal (SIGNAL_MAX). */
export const SIGNAL_LIST_MAX = 64;
/** Most posix_spawn file actions. */
export const FILE_ACTIONS_MAX = 65536;

/** Checks that `value` is an integer number in [min, max]; TypeError or RangeError otherwise. */
export function validateInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

/** A pid_t argument: any 32-bit integer (0, -1 and negative values are process groups to kill). */
export function validatePidArgument(value: unknown, name = 'pid'): number {
  return validateInteger(value, name, INT32_MIN, INT32_MAX);
}

/** Checks that `value` is a boolean; TypeError otherwise. */
export function validateBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'a boolean', value);
  return value;
}

/**
 * Checks that `value` is an array of at most `maxLength` entries without holes (a hole is refused,
 * never read as `undefined` or through Array.prototype), and returns a dense copy of what `item`
 * makes of each entry. `item` gets the index, so that names are built only for errors.
 */
export function validateArray<T>(value: unknown, name: string, maxLength: number, item: (entry: unknown, name: string, index: number) => T): T[] {
  if (!Array.isArray(value)) throw invalidArgType(name, 'an array', value);
  const length = checkLength(value, name, maxLength);
  const result = new Array<T>(length);
  for (let i = 0; i < length; i++) result[i] = item(entryAt(value, name, i), name, i);
  return result;
}

/** The length of an array argument, refused above `maxLength` before anything iterates it. */
export function checkLength(array: readonly unknown[], name: string, maxLength: number): number {
  // Read once, and checked as a count: a Proxy's `length` of 'x' passed `> maxLength`, and no entry was then read at all.
  const length: unknown = array.length;
  if (typeof length !== 'number' || !Number.isInteger(length) || length < 0) throw invalidArgValue(`${name}.length`, 'must be a non-negative integer', length);
  if (length > maxLength) throw outOfRange(`${name}.length`, `<= ${maxLength}`, length);
  return length;
}

/** `array[index]`, refusing a hole (sparse arrays would otherwise reach native code as undefined). */
export function entryAt(array: readonly unknown[], name: string, index: number): unknown {
  if (!Object.hasOwn(array, index)) throw invalidArgValue(`${name}[${index}]`, 'must not be a hole (arrays must not be sparse)', undefined);
  return array[index];
}

/**
 * Whether `value` can be an options object: an object that is neither null nor an array (as
 * Node's validateObject: an array's entries would otherwise be ignored without a word).
 */
export function isOptionsObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads `keys` of an options argument once each into a plain object: later checks and uses see
 * the same values even when a getter or proxy would answer differently each time. `undefined` is
 * no options; anything else but an object (an array included) is refused.
 */
export function readOptions<T extends object>(options: unknown, keys: readonly (keyof T & string)[], name = 'options'): Partial<T> {
  if (options === undefined) return NO_OPTIONS;
  if (!isOptionsObject(options)) throw invalidArgType(name, 'an object', options);
  const copy: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) copy[keys[i]!] = (options as Record<string, unknown>)[keys[i]!];
  return copy as Partial<T>;
}
const NO_OPTIONS = Object.freeze({});

/** Whether `key` names an own entry of a lookup table (never one of Object.prototype's). */
export function isOwnKey(table: object, key: unknown): boolean {
  return typeof key === 'string' && Object.hasOwn(table, key);
}

/**
 * What a failed validation throws: the library's own errors as they are (see isCoded), and
 * anything else thrown while reading the caller's arguments (a getter's error, a revoked proxy's
 * TypeError, an engine error) as a TypeError `ERR_INVALID_ARG_VALUE` whose `cause` is what was
 * thrown.
 */
export function argumentError(error: unknown, fn: string): unknown {
  if (isCoded(error)) return error;
  let message = 'an exception';
  try {
    message = error instanceof Error ? error.message : String(error);
  } catch {
    // A thrown revoked proxy or a throwing toString: keep the generic word.
  }
  return Object.assign(new TypeError(`The arguments of ${fn}() could not be read: ${message}`), { code: 'ERR_INVALID_ARG_VALUE', cause: error });
}

/** Runs the validation `check` of `fn`, turning what the caller's objects threw into coded errors (see argumentError). */
export function validating<T>(fn: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw argumentError(error, fn);
  }
}

/** What validation itself throws: a coded TypeError or RangeError, a SyscallError, an AbortError. */
function isCoded(error: unknown): boolean {
  try {
    if (error instanceof SyscallError) return true;
    if (error instanceof DOMException) return error.name === 'AbortError';
    return (error instanceof TypeError || error instanceof RangeError) && typeof (error as { code?: unknown }).code === 'string';
  } catch {
    return false; // a proxy that throws from its traps
  }
}
