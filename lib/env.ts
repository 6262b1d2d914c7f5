/**
 * Arguments and environments for programs: strings (UTF-8) or Buffers (byte-exact), checked for
 * NUL bytes and malformed names before anything is spawned or exec'd.
 */
import { invalidArgType, invalidArgValue, outOfRange } from './errors';
import { ARGV_MAX, checkLength, entryAt, validateArray } from './validate';

/** A program argument or environment entry: a string (sent as UTF-8) or a Buffer (byte-exact). */
export type Bytes = string | Buffer;

/**
 * An environment: an object of names to values (entries whose value is `undefined` are left
 * out), or a list of `NAME=value` entries. In a list, a name given twice keeps its first position
 * and its last value, as `env A=1 A=2` does.
 */
export type EnvInput = Readonly<Record<string, Bytes | undefined>> | readonly Bytes[];

const EQUALS = 0x3d;

// The Buffer's own method could be replaced on the object; the prototype's cannot lie.
const bytesInclude = (bytes: Uint8Array, byte: number): boolean => Uint8Array.prototype.includes.call(bytes, byte);

function hasNul(value: Bytes): boolean {
  return typeof value === 'string' ? value.includes('\0') : bytesInclude(value, 0);
}

/** Checks one string-or-Buffer argument; TypeError for another type or a NUL byte. */
export function validateBytes(value: unknown, name: string): Bytes {
  if (typeof value !== 'string' && !Buffer.isBuffer(value)) throw invalidArgType(name, 'a string or a Buffer', value);
  if (hasNul(value)) throw invalidArgValue(name, 'must not contain NUL bytes', value);
  return value;
}

/** validateBytes for `list[index]`, naming it only on failure: argv is checked on every spawn. */
function validateItem(value: unknown, list: string, index: number): Bytes {
  if ((typeof value === 'string' || Buffer.isBuffer(value)) && !hasNul(value)) return value;
  return validateBytes(value, `${list}[${index}]`);
}

/** Checks an argv array: at most ARGV_MAX strings or Buffers without NUL bytes, and no holes. */
export function validateArgv(argv: unknown, name = 'argv'): Bytes[] {
  if (!Array.isArray(argv)) throw invalidArgType(name, 'an array of strings or Buffers', argv);
  return validateArray(argv, name, ARGV_MAX, validateItem);
}

/**
 * `[first, ...args]` with `args` checked as by validateArgv, built at its final size: an array
 * grown by spread, push or unshift carries spare capacity, which a spawn under way keeps alive.
 */
export function argvStartingWith(first: Bytes, args: unknown, name: string): Bytes[] {
  if (!Array.isArray(args)) throw invalidArgType(name, 'an array of strings or Buffers', args);
  const length = checkLength(args, name, ARGV_MAX - 1);
  const argv = new Array<Bytes>(length + 1);
  argv[0] = first;
  for (let i = 0; i < length; i++) argv[i + 1] = validateItem(entryAt(args, name, i), name, i);
  return argv;
}

function validateName(name: string, where: string): void {
  if (name.length === 0) throw invalidArgValue(where, 'must not have an empty variable name', name);
  if (name.includes('=')) throw invalidArgValue(where, "must not contain '=' in a variable name", name);
  if (name.includes('\0')) throw invalidArgValue(where, 'must not contain NUL bytes', name);
}

/**
 * Turns an environment into the `NAME=value` list that execve(2) takes.
 *
 * @throws TypeError for a value that is not a string or Buffer, a NUL byte, an empty name, an
 *   '=' in a name, a symbol key, a list entry without '=', or a hole in a list.
 * @throws RangeError for more than ARGV_MAX entries.
 */
export function buildEnvironment(env: unknown, name = 'env'): Bytes[] {
  if (Array.isArray(env)) {
    // Map.set keeps the position of a key's first insertion: first position, last value.
    const entries = new Map<string, Bytes>();
    const length = checkLength(env, name, ARGV_MAX);
    for (let i = 0; i < length; i++) {
      const entry = entryAt(env, name, i);
      const bytes = validateItem(entry, name, i);
      const raw = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
      const at = raw.indexOf(EQUALS);
      if (at === -1) throw invalidArgValue(`${name}[${i}]`, "must have the form 'NAME=value'", entry);
      if (at === 0) throw invalidArgValue(`${name}[${i}]`, 'must not have an empty variable name', entry);
      entries.set(raw.subarray(0, at).toString('latin1'), bytes);
    }
    return [...entries.values()];
  }
  if (typeof env !== 'object' || env === null) throw invalidArgType(name, 'an object or an array', env);
  if (Object.getOwnPropertySymbols(env).length > 0) throw invalidArgValue(name, 'must not have symbol keys', env);
  const result: Bytes[] = [];
  const entries = Object.entries(env);
  if (entries.length > ARGV_MAX) throw outOfRange(`${name} entry count`, `<= ${ARGV_MAX}`, entries.length);
  for (const [key, value] of entries) {
    if (value === undefined) continue;
    validateName(key, `${name}.${key}`);
    const bytes = validateBytes(value, `${name}.${key}`);
    result.push(typeof bytes === 'string' ? `${key}=${bytes}` : Buffer.concat([Buffer.from(`${key}=`), bytes]));
  }
  return result;
}

/** glibc's confstr(_CS_PATH): what execvp(3) searches when the environment has no PATH. */
export const DEFAULT_SEARCH_PATH = '/bin:/usr/bin';

const PATH_PREFIX = Buffer.from('PATH=');
const toBuffer = (value: Bytes): Buffer => (typeof value === 'string' ? Buffer.from(value) : value);

/**
 * The PATH a program is searched in: that of `envp` when an environment is given (none there:
 * undefined), else this process's own.
 */
function searchPathFor(envp: readonly Bytes[] | null | undefined): Bytes | undefined {
  if (envp === null || envp === undefined) return process.env.PATH;
  for (const entry of envp) {
    if (typeof entry === 'string' ? entry.startsWith('PATH=') : entry.subarray(0, 5).equals(PATH_PREFIX)) {
      return typeof entry === 'string' ? entry.slice(5) : entry.subarray(5); // byte-exact
    }
  }
  return undefined;
}

// The last list of candidates for a string file and PATH, frozen and reused: spawns of one
// program come in runs, and building the list allocated more than the rest of a spawn() call.
// (Buffers are not cached: they can change in place.) A file with a slash is its own list: it
// is cached with the PATH '', whose list is the same.
let cached: { file: string; path: string; candidates: readonly string[] } | undefined;
function lastCandidates(file: string, path: string): readonly string[] {
  if (cached?.file !== file || cached.path !== path) {
    const candidates = path === '' ? [file] : path.split(':').map((dir) => (dir === '' ? file : `${dir}/${file}`));
    cached = { file, path, candidates: Object.freeze(candidates) };
  }
  return cached.candidates;
}

/**
 * The paths execvp(3) tries, in order: `file` itself if it contains a slash, else each entry of
 * the PATH of `envp` (see searchPathFor; DEFAULT_SEARCH_PATH when it has none) joined with it, an
 * empty entry standing for the current directory. An empty `file` has no candidates: exec reports
 * ENOENT, as glibc does. PATH is looked up only when needed: reading process.env is a native call.
 */
export function execCandidates(file: Bytes, envp: readonly Bytes[] | null | undefined): readonly Bytes[] {
  if (file.length === 0) return [];
  if (typeof file === 'string' ? file.includes('/') : file.includes(0x2f)) return typeof file === 'string' ? lastCandidates(file, '') : [file];
  const path = searchPathFor(envp) ?? DEFAULT_SEARCH_PATH;
  if (typeof file === 'string' && typeof path === 'string') return lastCandidates(file, path);
  // Byte-exact when either is a Buffer.
  const bytes = toBuffer(path);
  const candidates: Bytes[] = [];
  for (let start = 0; start <= bytes.length; ) {
    let end = bytes.indexOf(0x3a, start);
    if (end === -1) end = bytes.length;
    const dir = bytes.subarray(start, end);
    candidates.push(dir.length === 0 ? file : Buffer.concat([dir, Buffer.from('/'), toBuffer(file)]));
    start = end + 1;
  }
  return candidates;
}
