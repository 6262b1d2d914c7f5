/**
 * The safe spawn: fork-then-exec done natively, without the JS thread ever waiting for it, with a
 * child handle.
 *
 * Everything between clone and exec runs in native code (native/spawn_child.cc), in a
 * clone(CLONE_VM) child started from the JS thread without waiting for its exec, or from a
 * dedicated spawning thread for bursts: the cost does not grow with the Node heap, the event loop
 * never waits for a spawn, and exec errors come back as errors that name the step that failed.
 *
 * This file holds spawn() and re-exports the public names of lib/spawn/ (options.ts: validation;
 * request.ts: packing and dispatch; child-process.ts: the handle; run.ts: `run`, which calls
 * spawn() and is imported from there to keep the modules free of import cycles).
 */
import { abortError, invalidArgType } from '../errors';
import type { Bytes } from '../env';
import { signalNumber } from '../signals';
import { argumentError, validateInteger } from '../validate';
import { Deadline, PendingSpawn, promiseFor, type ChildProcessOf } from './child-process';
import { closeAll, prepare, readSpawnOptions, type PreparedSpawn, type SpawnOptions } from './options';
import type { FdsOf, StdioOf } from './output';
import { queueSpawn } from './request';
import { openPolicy, readStopOptions } from './kill-tree';

export { ChildProcess, type ChildProcessOf } from './child-process';
export type { RlimitName, RlimitValue, SpawnOptions, StdioOption } from './options';
export type { TerminalSpawnOptions } from './terminal';

/**
 * Starts a program and resolves with its handle once it has been exec'd; rejects with the error
 * that stopped it (the step, its syscall and path: a bad `cwd` gives ENOENT with `path` = the cwd,
 * an unopenable redirect names that file, exec errors name the program).
 *
 * `file` without a slash is searched in the PATH of the *child's* environment (`/bin:/usr/bin`
 * if it has none), like execvp(3): a match that cannot be executed (EACCES) lets the search go on
 * and is reported if nothing later matches; ENOEXEC (a file with no shebang) stops the search, and
 * there is no fallback to /bin/sh.
 *
 * Every fd but 0..2 and `options.fds` is closed in the child; signal dispositions start at their
 * defaults (Node ignores SIGPIPE; the child does not) and the signal mask is empty unless
 * `sigmask` says otherwise. The JS thread never waits for the exec and the libuv threadpool is
 * not used: one spawn at a time is cloned from the JS thread without waiting (the exec is told by
 * a close-on-exec pipe), and spawns asked for meanwhile by a dedicated native thread.
 *
 * `timeout` and `signal` apply from the call: a spawn still queued is dropped, and a child still
 * before its exec (blocked opening a FIFO, say) is killed with SIGKILL and reaped, so the program
 * does not run (one whose exec completes at that very moment is killed at once). A child that had
 * already exec'd, unseen while this thread was busy, resolves the spawn and is then stopped as a
 * running child is (`killSignal`, its whole tree when contained).
 *
 * The sandbox options (`namespaces`, `uidMap`/`gidMap`, `hostname`, `chroot`, `capabilities`,
 * `ambientCapabilities`, `noNewPrivileges`) are applied in the child too, in the order and with
 * the needs that docs/sandbox.md gives.
 *
 * @typeParam O - the options' type: `child.stdin`/`stdout`/`stderr` are streams where its `stdio` says 'pipe'
 * @throws (rejects) SyscallError with `step`: 'exec' (ENOENT, EACCES, ENOEXEC, E2BIG, ENOTDIR),
 *   'chdir', 'open fd N', 'setuid'/'setgid'/'setgroups' (EPERM), 'setrlimit', ...; for the
 *   sandbox 'clone' (EPERM: a namespace without 'user', unprivileged), 'uid_map'/'gid_map'
 *   (EPERM), 'mount', 'sethostname', 'loopback', 'chroot', 'capset', 'prctl'; ETIMEDOUT
 *   with the `step` the child was stuck in when `timeout` passed before its exec ('queued' if it
 *   was not cloned yet); ECHILD with `step` and `signal` when the child was killed before its exec
 *   by someone else; a TypeError or RangeError for bad arguments (NUL bytes, '=' in an env name,
 *   ...) before anything is spawned; an AbortError (`code` 'ABORT_ERR', with `step` as for
 *   ETIMEDOUT) if `options.signal` is aborted before the program runs.
 * @param file - the program: searched in the PATH of the child's environment if it has no slash
 * @param args - its arguments after `argv[0]` (which is `file`, or `options.argv0`)
 * @param options - what the child gets before its exec (see {@link SpawnOptions})
 * @returns a Promise of the {@link ChildProcess} once its program runs
 * @see clone(2), execve(2), pidfd_open(2)
 * @example
 * ```ts
 * await using child = await spawn('sort', [], { stdio: ['pipe', 'pipe', 'inherit'], timeout: 5000 });
 * child.stdin!.end('b\na\n');
 * const { status, rusage } = await child.wait(); // { kind: 'exited', code: 0 }, CPU time, max RSS...
 * ```
 */
export function spawn<const O extends SpawnOptions = Record<never, never>>(file: Bytes, args: readonly Bytes[] = [], options: O = {} as O): Promise<ChildProcessOf<StdioOf<O>, FdsOf<O>>> {
  let prepared: PreparedSpawn;
  let killSignal: number;
  let policy: ReturnType<typeof openPolicy>;
  let stopOptions: ReturnType<typeof readStopOptions>;
  try {
    options = readSpawnOptions(options) as O; // each option read once, here
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an AbortSignal', options.signal);
    killSignal = signalNumber(options.killSignal ?? 'SIGTERM', 'options.killSignal');
    if (options.timeout !== undefined) validateInteger(options.timeout, 'options.timeout', 0, 2 ** 31 - 1);
    if (options.signal?.aborted) throw abortError('spawn', options.signal);
    stopOptions = readStopOptions(options, killSignal);
    prepared = prepare(file, args, options);
  } catch (error) {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes on what validation threw
    return Promise.reject(argumentError(error, 'spawn'));
  }
  if (options.signal?.aborted === true) {
    // Aborted by a getter that prepare() read (env, args...): refused before it is queued, as a
    // spawn queued already could exec before the cancel reaches it.
    closeAll([...prepared.childEnds, ...prepared.parentEnds, prepared.pty?.master ?? null]);
    return Promise.reject(abortError('spawn', options.signal));
  }
  try {
    policy = openPolicy(stopOptions, prepared.request); // the cgroup leaf, if any, made last
  } catch (error) {
    closeAll([...prepared.childEnds, ...prepared.parentEnds, prepared.pty?.master ?? null]);
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes on the containment's error
    return Promise.reject(error);
  }
  const pending = new PendingSpawn(prepared);
  pending.policy = policy;
  const promise = promiseFor(pending);
  try {
    const id = queueSpawn(prepared.request, pending);
    // Only when asked: a Deadline allocates its closures.
    if (options.timeout !== undefined || options.signal !== undefined) pending.deadline = new Deadline(id, options.timeout, options.signal);
  } catch (error) {
    policy.container?.abandon();
    pending.reject(error);
    try {
      closeAll([...prepared.childEnds, ...prepared.parentEnds, prepared.pty?.master ?? null]);
    } catch {
      // spawn() reports by its promise only: the binding's refusal is the error that matters.
    }
  }
  return promise as unknown as Promise<ChildProcessOf<StdioOf<O>, FdsOf<O>>>; // the streams follow the stdio and fds options
}
