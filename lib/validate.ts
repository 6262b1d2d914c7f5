/** Argument validation shared by the families: throws before any system call is made. */
import { invalidArgType, outOfRange } from './errors';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

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
