/** fork(2) with JavaScript going on in the child, and Python-style at-fork hooks. */
import * as fs from 'node:fs';
import * as util from 'node:util';
import { invalidArgType } from './errors';
import { isOptionsObject, readOptions, validating } from './validate';
import { exit } from './exit';
import { requireMainThread } from './main-thread';
import { binding } from './native';
import { containAfterForkInChild } from './spawn/contain';
import { spawnAfterForkInChild } from './spawn/request';
import { waitAfterForkInChild } from './wait';

/** Functions run around `fork()`, like Python's `os.register_at_fork`. */
export interface AtForkHooks {
  /** Runs in the parent before the fork; hooks registered later run first. */
  before?: () => void;
  /** Runs in the parent after the fork, in registration order (also when the fork failed). */
  parent?: () => void;
  /** Runs in the child after the fork, in registration order. */
  child?: () => void;
}

const hooks: AtForkHooks[] = [];
const HOOK_NAMES = ['before', 'parent', 'child'] as const;

/**
 * Registers functions to run around every `fork()` of this library, like Python's
 * `os.register_at_fork`: `before` hooks in the parent just before the fork, in reverse
 * registration order; `parent` and `child` hooks just after it, in registration order, in the
 * parent and in the child. As in Python, an exception thrown by a hook does not stop the fork or
 * the other hooks: it is reported with `process.emitWarning`.
 *
 * @returns a function that removes these hooks again
 * @throws TypeError `ERR_INVALID_ARG_TYPE` if a hook is given but is not a function
 * @param atFork - `before` runs in the parent before the fork, `parent` after it in the parent, `child` in the child
 * @see pthread_atfork(3)
 */
export function registerAtFork(atFork: AtForkHooks): () => void {
  // Read once each: the hooks checked are the hooks kept.
  const entry = validating('registerAtFork', () => {
    if (!isOptionsObject(atFork)) throw invalidArgType('hooks', 'of type object', atFork);
    return readOptions<AtForkHooks>(atFork, HOOK_NAMES, 'hooks');
  });
  for (const name of HOOK_NAMES) {
    const hook = entry[name];
    if (hook !== undefined && typeof hook !== 'function') throw invalidArgType(`hooks.${name}`, 'of type function', hook);
  }
  hooks.push(entry);
  return () => {
    const index = hooks.indexOf(entry);
    if (index !== -1) hooks.splice(index, 1);
  };
}

function runHooks(phase: keyof AtForkHooks): void {
  const list = phase === 'before' ? [...hooks].reverse() : [...hooks];
  for (const entry of list) {
    try {
      entry[phase]?.();
    } catch (error) {
      reportHookError(error);
    }
  }
}

/**
 * Reports what a hook threw, never throwing itself: a report that threw would leave fork() with
 * the child's pid unreturned (a null-prototype object or a revoked proxy cannot be tested with
 * instanceof or made a string).
 */
function reportHookError(error: unknown): void {
  let warning: Error | string;
  try {
    warning = error instanceof Error ? error : String(error);
  } catch {
    warning = 'an at-fork hook threw a value that cannot be made a string';
  }
  try {
    process.emitWarning(warning, { code: 'ERR_AT_FORK_HOOK' });
  } catch {
    // Nowhere left to report it.
  }
}

/**
 * The Node command-line flags `fork()` needs, on every Node line this package supports (20 to 26):
 * `--single-threaded` makes V8 run its work (compilation, GC) on the calling thread instead of
 * helper threads the child does not have; `--v8-pool-size=1` leaves Node's V8 platform one worker
 * thread, so that the few jobs V8 posts all the same (Node 20's mark-compact, Node 26's scavenger)
 * signal a condition variable with a single waiter, which cannot block in the child. See
 * docs/design.md, "fork() and V8's platform threads".
 */
export const forkNodeFlags: readonly string[] = ['--single-threaded', '--v8-pool-size=1'];

/** An option's name as Node and V8 compare it: `_` and `-` are the same. */
function optionName(arg: string): string {
  const equals = arg.indexOf('=');
  const name = equals === -1 ? arg : arg.slice(0, equals);
  return name.replace(/_/g, '-');
}

/** Which of the flags `fork()` needs are missing from `execArgv` (the last word wins). */
export function missingForkFlags(execArgv: readonly string[] = process.execArgv): string[] {
  let singleThreaded = false;
  let poolSize: string | undefined;
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const name = optionName(arg);
    if (name === '--single-threaded') singleThreaded = true;
    else if (name === '--no-single-threaded' || name === '--nosingle-threaded') singleThreaded = false;
    else if (name === '--v8-pool-size') {
      // `--v8-pool-size=1` or `--v8-pool-size 1`.
      poolSize = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : execArgv[++i];
    }
  }
  const missing: string[] = [];
  if (!singleThreaded) missing.push('--single-threaded');
  if (poolSize === undefined || !/^0*1$/.test(poolSize)) missing.push('--v8-pool-size=1');
  return missing;
}

// --single-threaded-gc alone is refused: on Node 20.20 a child that allocates heavily hung in 2 of
// 20 forks (V8 still posts GC jobs to the platform's worker queue, whose threads the child does
// not have). --single-threaded alone hung 17 of 20 such children on Node 26.12 (V8 14.6 posts
// every scavenge to the worker queue); with --v8-pool-size=1 as well, none (docs/design.md).
function requireForkFlags(): void {
  const missing = missingForkFlags();
  if (missing.length === 0) return;
  const flags = forkNodeFlags.join(' ');
  const gcOnly = process.execArgv.some((arg) => optionName(arg) === '--single-threaded-gc');
  throw Object.assign(
    new Error(
      `fork() needs Node started with ${flags} (missing: ${missing.join(' ')}): the child has only the forking ` +
        'thread, and waits forever for V8 and Node helper threads that fork() does not copy. --single-threaded ' +
        'keeps V8 from handing its work to helper threads; --v8-pool-size=1 leaves Node a single V8 worker ' +
        'thread, so that the jobs V8 still posts cannot block the child' +
        (gcOnly ? ' (--single-threaded-gc is not enough: children that allocate heavily were measured to hang)' : '') +
        `. Start Node as \`node ${flags} script.js\`, or begin the script with the line ` +
        `\`#!/usr/bin/env -S node ${flags}\`. Both flags must be on the command line: --single-threaded ` +
        'cannot be set in NODE_OPTIONS or at run time.',
    ),
    { code: 'ERR_FORK_NEEDS_SINGLE_THREADED' },
  );
}

let inForkChild = false;

/** Writes text to fd 2 directly (stderr is synchronous in the child, see setUpChild). */
function writeStderr(text: string): void {
  try {
    fs.writeSync(2, text);
  } catch {
    // Nowhere left to report it.
  }
}

function describeFatal(error: unknown): string {
  const text = error instanceof Error ? util.inspect(error) : `Uncaught ${util.inspect(error)}`;
  return `${text}\n\nNode.js ${process.version}\n`;
}

function finalStatus(code: unknown): number {
  const exitCode = process.exitCode;
  const chosen = exitCode === undefined || exitCode === null ? code : exitCode;
  const number = Number(chosen);
  return Number.isInteger(number) ? number : 1;
}

type StreamWrite = (chunk: unknown, encoding: BufferEncoding, callback: (error?: Error | null) => void) => void;

/**
 * Makes the child's stdout/stderr writes complete before `write` calls back, when they go to a
 * pipe or socket (files and terminals are synchronous in Node already): a write that libuv left
 * queued would be lost when the child ends through exit_group. The fd's flags are not changed: its
 * open file description is shared with the parent.
 */
function makeStdioSynchronous(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const kind = (stream as unknown as { _type?: string })._type;
    if (kind !== 'pipe' && kind !== 'tcp') continue;
    const fd = stream.fd;
    const writable = stream as unknown as { _write: StreamWrite; _writev: unknown };
    writable._write = (chunk, encoding, callback) => {
      try {
        binding.writeAllBlocking(fd, Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), encoding));
        callback();
      } catch (error) {
        callback(error as Error);
      }
    };
    writable._writev = null;
  }
}

/**
 * Prepares the child to run JavaScript and, above all, to end without Node's teardown, which
 * crashes in a forked child: process.exit(n), an empty event loop and a fatal exception all end
 * through exit_group with the status Node would have used.
 */
function setUpChild(pid: number): void {
  // Node stores process.pid once at start-up; the child has a pid of its own.
  Object.defineProperty(process, 'pid', { value: pid, writable: false, enumerable: true, configurable: true });
  // The spawning thread of the addon and the waits in progress are the parent's.
  spawnAfterForkInChild();
  waitAfterForkInChild();
  containAfterForkInChild();
  makeStdioSynchronous();
  // A child of a fork child inherits the handlers below.
  if (inForkChild) return;
  inForkChild = true;

  let fatalError: { error: unknown } | undefined;
  // Called by process.exit() after the 'exit' event (and by anything else that calls it).
  (process as unknown as { reallyExit: (code?: number) => never }).reallyExit = (code?: number) => exit(finalStatus(code ?? 0));

  // Runs before 'uncaughtException' listeners: when there are none, the exception is fatal and
  // Node would print it after emitting 'exit', from C++, and then tear down.
  process.on('uncaughtExceptionMonitor', (error) => {
    const captured = (process as unknown as { hasUncaughtExceptionCaptureCallback(): boolean }).hasUncaughtExceptionCaptureCallback();
    if (captured || process.listenerCount('uncaughtException') > 0) return;
    fatalError = { error };
    if ((process as unknown as { _exiting?: boolean })._exiting === true) {
      // Thrown from an 'exit' listener: no further 'exit' event will come.
      writeStderr(describeFatal(error));
      exit(finalStatus(1));
    }
  });

  // The 'exit' event of an empty loop or of a fatal exception (process.exit() ends in reallyExit
  // above). emit() runs the listeners in order; those added after this one are run here, then
  // the child ends.
  const onExit = (code: number): void => {
    const listeners = process.listeners('exit');
    for (const listener of listeners.slice(listeners.indexOf(onExit) + 1)) {
      try {
        (listener).call(process, code);
      } catch (error) {
        writeStderr(describeFatal(error));
        exit(finalStatus(1));
      }
    }
    if (fatalError !== undefined) writeStderr(describeFatal(fatalError.error));
    exit(finalStatus(code));
  };
  process.on('exit', onExit);
}

/**
 * What Node does when the loop runs out of work, done for the fork child (see native/fork.cc:
 * Node's own path would wait for worker threads the child does not have).
 */
function onChildLoopEmpty(phase: 'beforeExit' | 'exit'): void {
  const code = finalStatus(0);
  if (phase === 'beforeExit') {
    process.emit('beforeExit', code);
    return;
  }
  (process as unknown as { _exiting: boolean })._exiting = true;
  process.emit('exit', code);
  exit(finalStatus(code)); // only if the 'exit' listener of setUpChild was removed
}

/**
 * Creates a child process that is a copy of this one, and in which JavaScript goes on from the
 * same point. See fork(2).
 *
 * Returns 0 in the child and the child's pid in the parent, as in C. The child has its own event
 * loop (timers, promises and async fs work in it) and inherits the parent's open handles (a
 * listening server, a running child_process, stdin being read...), which keep its loop alive as
 * they do in the parent. The child ends like a normal Node program, but through exit_group(2)
 * instead of Node's teardown (which cannot run in a fork child): `process.exit(n)` and the
 * `exitCode` of an empty loop give the status, 'exit' listeners run, and a fatal exception prints
 * its stack on stderr and ends with status 1. Its stdout/stderr writes are complete when `write()`
 * returns (the child writes pipes and sockets synchronously), so output reaches its destination.
 *
 * Node must run with `--single-threaded --v8-pool-size=1` on its command line: start it as
 * `node --single-threaded --v8-pool-size=1 script.js`, or give the script the shebang `#!/usr/bin/env -S node --single-threaded --v8-pool-size=1`. Without them a
 * child that allocates can hang for ever in V8's garbage collector (17 forks of 20 on Node 26 with
 * `--single-threaded` alone); `fork()` refuses instead.
 *
 * Safety: only the calling thread exists in the child (as after any fork): worker threads, and
 * work in flight on libuv's threadpool at the time of the fork, are not in the child. Output the
 * parent had queued on a pipe but not yet written (`process.stdout.writableLength > 0`) may be
 * written by both; wait for 'drain' first. Reap the child with `waitpid`: Node's child_process
 * does not know about it.
 *
 * @returns 0 in the child, the child's pid in the parent
 * @throws Error `ERR_FORK_NEEDS_SINGLE_THREADED` when Node runs without one of those flags (its
 *   message names them), `ERR_MAIN_THREAD_ONLY` in a worker thread
 * @throws SyscallError `EAGAIN` (process limit), `ENOMEM` with syscall 'fork'; `EMFILE` (or
 *   another errno) with syscall 'open' and path '/proc/self/smaps' when the V8 heap cannot be
 *   prepared for the child; `EMFILE` with syscall 'epoll_create1' when the epoll sets the child's
 *   waits and spawns need cannot be made (they are made before the fork, so that the child needs
 *   no free fd). No child is created and no fd is left open then.
 * @see fork(2)
 * @example
 * ```ts
 * #!/usr/bin/env -S node --single-threaded --v8-pool-size=1
 * import { fork, waitpid } from 'posix-process';
 *
 * const pid = fork();
 * if (pid === 0) {
 *   console.log('child');
 *   process.exit(3);
 * }
 * console.log(waitpid(pid)!.status); // { kind: 'exited', code: 3 }
 * ```
 */
export function fork(): number {
  requireMainThread('fork');
  requireForkFlags();
  runHooks('before');
  let pid: number;
  try {
    pid = binding.fork(onChildLoopEmpty);
  } catch (error) {
    // As in Python, the parent hooks run after a failed fork too: they undo what `before` did.
    runHooks('parent');
    throw error;
  }
  if (pid === 0) {
    setUpChild(binding.getpid());
    runHooks('child');
  } else {
    runHooks('parent');
  }
  return pid;
}
