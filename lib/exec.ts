/** Replacing the current process with another program: execve(2), execvp(3). */
import { invalidArgType, invalidArgValue } from './errors';
import { requireMainThread } from './main-thread';
import { binding } from './native';

/** A path or argument: a string (passed as UTF-8) or bytes (passed exactly, e.g. non-UTF-8). */
export type ByteString = string | Uint8Array;

/**
 * The environment of the new program: an object `{ NAME: value }` (entries whose value is
 * `undefined` are left out) or a list of `'NAME=value'` strings or Buffers, passed as they are.
 */
export type ExecEnvironment = Readonly<Record<string, ByteString | undefined>> | readonly ByteString[];

function hasNul(value: ByteString): boolean {
  return typeof value === 'string' ? value.includes('\0') : value.includes(0);
}

function toBinding(value: ByteString): string | Buffer {
  if (typeof value === 'string' || Buffer.isBuffer(value)) return value;
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function byteString(value: unknown, name: string): string | Buffer {
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
    throw invalidArgType(name, 'of type string or an instance of Buffer or Uint8Array', value);
  }
  if (hasNul(value)) throw invalidArgValue(name, 'must not contain null bytes', value);
  return toBinding(value);
}

function argumentList(argv: unknown): (string | Buffer)[] {
  if (!Array.isArray(argv)) throw invalidArgType('argv', 'an instance of Array', argv);
  if (argv.length === 0) throw invalidArgValue('argv', 'must not be empty (argv[0] names the program)', argv);
  return argv.map((value, i) => byteString(value, `argv[${i}]`));
}

function environmentList(env: unknown): (string | Buffer)[] | null {
  if (env === undefined || env === null) return null;
  if (Array.isArray(env)) {
    return env.map((entry: unknown, i) => {
      const name = `env[${i}]`;
      const value = byteString(entry, name);
      const equals = typeof value === 'string' ? value.indexOf('=') : value.indexOf(0x3d);
      if (equals <= 0) throw invalidArgValue(name, "must have the form 'NAME=value' with a non-empty NAME", entry);
      return value;
    });
  }
  if (typeof env !== 'object') throw invalidArgType('env', 'an object or an Array', env);
  const list: (string | Buffer)[] = [];
  for (const [key, value] of Object.entries(env as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (key === '' || key.includes('=') || key.includes('\0')) {
      throw invalidArgValue(`env`, `has a variable name that is empty or contains '=' or a null byte (${JSON.stringify(key)})`, env);
    }
    const bytes = byteString(value, `env.${key}`);
    list.push(typeof bytes === 'string' ? `${key}=${bytes}` : Buffer.concat([Buffer.from(`${key}=`), bytes]));
  }
  return list;
}

/**
 * Replaces the current Node process with the program at `path` (same pid). See execve(2).
 *
 * On success this never returns: no 'exit' event, no JavaScript runs again. Before the call it
 * undoes what Node did to the process, so that the new program starts as it would from a shell:
 * fds 0..2 lose close-on-exec and O_NONBLOCK (shared with the program, e.g. a pipe on stdin), the
 * terminal mode is reset (raw mode set by `setRawMode` is undone), signals 1..31 get their default
 * dispositions (Node ignores SIGPIPE) and the signal mask is emptied. If exec fails, all of that
 * is put back exactly and a SyscallError is thrown: the process carries on.
 *
 * Safety: data that Node has queued but not yet written to a pipe or socket is lost, as with
 * `exit`. Other fds without close-on-exec (Node opens files with O_CLOEXEC) are inherited.
 *
 * @param path - the program file (not searched in PATH; see `execvp`)
 * @param argv - the arguments, `argv[0]` first (by convention the program name); not empty
 * @param env - the environment; by default this process's own (including changes made
 *   through `process.env`), byte for byte
 * @throws SyscallError `ENOENT`, `EACCES`, `ENOEXEC`, `E2BIG`, `ENOTDIR`, `ELOOP`, ... with
 *   syscall 'execve' and `path`
 * @throws TypeError for a wrong type, a NUL byte, an empty argv or a bad environment entry, and
 *   Error `ERR_MAIN_THREAD_ONLY` in a worker thread, before anything changes
 */
export function execve(path: ByteString, argv: readonly ByteString[], env?: ExecEnvironment): never {
  const pathBytes = byteString(path, 'path');
  const argvList = argumentList(argv);
  const envList = environmentList(env);
  requireMainThread('execve');
  return binding.execve(pathBytes, argvList, envList);
}

/**
 * Like `execve`, but finds `file` in the PATH of `env` (or of this process) when it contains no
 * slash. See execvp(3).
 *
 * The search follows glibc: each PATH entry in order (an empty entry is the current directory;
 * no PATH means `/bin:/usr/bin`); a candidate that is not there (ENOENT, ENOTDIR, ...) is
 * skipped; one that is there but may not be executed (EACCES) is remembered and the search goes
 * on, and EACCES is reported if no later candidate runs; any other error stops the search and is
 * reported (ENOEXEC for a file that is neither a binary nor a `#!` script: there is no fallback
 * to /bin/sh, unlike glibc's execvp).
 *
 * @throws SyscallError `ENOENT` (not found anywhere), `EACCES`, `ENOEXEC`, `E2BIG`, ... with
 *   syscall 'execvp' and `path` set to `file` as given
 * @throws TypeError / Error `ERR_MAIN_THREAD_ONLY` as for `execve`
 */
export function execvp(file: ByteString, argv: readonly ByteString[], env?: ExecEnvironment): never {
  const fileBytes = byteString(file, 'file');
  const argvList = argumentList(argv);
  const envList = environmentList(env);
  requireMainThread('execvp');
  return binding.execvp(fileBytes, argvList, envList);
}
