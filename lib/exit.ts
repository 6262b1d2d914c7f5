/** Ending the whole process at once: exit_group(2). */
import { invalidArgType, outOfRange } from './errors';
import { binding } from './native';

/**
 * Ends the whole process at once with `code`, like `_exit(2)` in C. See exit_group(2).
 *
 * Nothing else runs: no 'exit' or 'beforeExit' event, no atexit handlers, no V8 teardown; every
 * thread ends. The kernel keeps only the low 8 bits of the status, and so does this function:
 * `exit(256)` ends with status 0 and `exit(-1)` with 255, as in C.
 *
 * Safety: data that Node has queued but not yet written (for example to a pipe whose reader is
 * slow, or to a socket) is lost, exactly as with `_exit` in C. Writes to files, and to pipes and
 * terminals that had room, are already done when `write()` returns.
 *
 * @param code - any integer; only `code & 0xff` reaches the parent
 * @throws TypeError `ERR_INVALID_ARG_TYPE` if code is not a number
 * @throws RangeError `ERR_OUT_OF_RANGE` if code is not an integer (1.5, NaN, Infinity)
 * @see exit_group(2), _exit(2)
 */
export function exit(code = 0): never {
  if (typeof code !== 'number') throw invalidArgType('code', 'of type number', code);
  if (!Number.isSafeInteger(code)) throw outOfRange('code', 'an integer', code);
  // ToInt32 is exact modulo 2**32 for safe integers, so this is the low 8 bits, as the kernel does.
  return binding.exit(code & 0xff);
}
