/**
 * A reaper for a Node process that is PID 1 of a container (or PID namespace) or a child
 * subreaper: it reaps adopted orphans when they exit, and never a child that someone else in the
 * process is waiting for.
 */
import { binding } from './native';
import { invalidArgType } from './errors';
import { isOptionsObject, readOptions, validating } from './validate';
import { childrenOf, pidfdPids } from './procfs';
import { onSignal } from './signal-handlers';
import { waitpid, type WaitResult } from './wait';

/** Options of {@link startReaper}. */
export interface ReaperOptions {
  /** Called on the event loop with each reaped child's pid and decoded status. */
  onReap?: (result: WaitResult) => void;
  /**
   * Pids to leave alone in addition to the built-in rules: for example children started with
   * `posixSpawn` that the program will `waitpid` itself. Any truthy return excludes the pid.
   */
  exclude?: (pid: number) => unknown;
}

/** How soon a sweep that failed is tried again. */
const RETRY_MS = 50;

/** A running reaper; see {@link startReaper}. */
export interface Reaper {
  /** Stops reaping (zombies that appear afterwards stay until someone waits for them). */
  stop(): void;
}


/**
 * Starts reaping: whenever SIGCHLD arrives (and once at start), every exited child of this
 * process is reaped with waitpid(pid, WNOHANG) and reported to `onReap`, EXCEPT
 * - children of `child_process` (libuv's process handles on the loop: it reaps them itself, and
 *   would never emit 'exit' if we did),
 * - children that an open pidfd refers to (`waitAsync`, `pidfdOpen`: their owner reaps them),
 * - pids for which `exclude(pid)` returns true.
 *
 * Meant for a Node process that is PID 1 of a container or PID namespace, or that called
 * `setChildSubreaper(true)`: orphans are reparented to it and would stay zombies otherwise.
 * The reaper does not keep the process alive.
 *
 * Safety: a child you start with `posixSpawn` (or any other way outside child_process) and mean
 * to `waitpid` yourself is reaped by the reaper unless you `exclude` it or wait with `waitAsync`.
 * See wait(2), prctl(2) PR_SET_CHILD_SUBREAPER.
 *
 * An exception thrown by `onReap` or `exclude` is reported as an uncaught exception, and the
 * sweep goes on (a pid whose `exclude` threw is left alone). A later sweep that cannot list the
 * children (`EMFILE`) is tried again every 50 ms until it can, with one process warning
 * (`POSIX_PROCESS_REAPER_RETRY`) for each such streak: nothing is reaped meanwhile.
 *
 * @throws TypeError for options of the wrong types; the error of listing the children (`EMFILE`
 *   from reading /proc) when the first sweep fails, with nothing left installed
 * @param options - `onReap` called for each child reaped, `exclude` pids never to reap
 * @returns a handle whose `stop()` ends the reaping
 * @see waitpid(2) WNOHANG, prctl(2) PR_SET_CHILD_SUBREAPER
 * @example
 * ```ts
 * setChildSubreaper(true);
 * const reaper = startReaper({ onReap: ({ pid, status }) => console.log(pid, status) });
 * // ... later
 * reaper.stop();
 * ```
 */
export function startReaper(options: ReaperOptions = {}): Reaper {
  const { onReap, exclude } = validating('startReaper', () => {
    if (!isOptionsObject(options)) throw invalidArgType('options', 'of type object', options);
    return readOptions<ReaperOptions>(options, ['onReap', 'exclude']);
  });
  if (onReap !== undefined && typeof onReap !== 'function') throw invalidArgType('options.onReap', 'of type function', onReap);
  if (exclude !== undefined && typeof exclude !== 'function') throw invalidArgType('options.exclude', 'of type function', exclude);
  let running = true;
  const sweep = (): void => {
    if (!running) return;
    // Everything below runs synchronously on the JS thread, the only thread that spawns or reaps
    // libuv's children: the list cannot go stale between reading it and calling waitpid.
    const kept = pidfdPids();
    for (const pid of binding.libuvChildPids()) kept.add(pid);
    for (const pid of childrenOf(process.pid)) {
      if (kept.has(pid) || excluded(pid)) continue;
      let result: WaitResult | null;
      try {
        result = waitpid(pid, { nohang: true });
      } catch (error) {
        // ECHILD: reaped by other code (a blocking waitpid elsewhere) since we listed it.
        if ((error as { code?: string }).code === 'ECHILD') continue;
        throw error;
      }
      if (result !== null && onReap !== undefined) {
        try {
          onReap(result);
        } catch (error) {
          reportLater(error);
        }
      }
    }
  };
  // A callback's exception is reported as an uncaught exception (as signal handlers' are) and
  // the sweep goes on: thrown from the first sweep, it would leave startReaper without a handle
  // to stop the reaping it had started.
  const excluded = (pid: number): boolean => {
    if (exclude === undefined) return false;
    try {
      // Truthy, as Array.prototype.filter reads it (`pids.find(...)` returns the pid): a reap
      // cannot be undone, so a doubtful answer leaves the child alone.
      return Boolean(exclude(pid));
    } catch (error) {
      reportLater(error);
      return true; // not known to be the reaper's: left alone
    }
  };
  // A later sweep that fails (EMFILE while listing the children) is tried again shortly, with one
  // warning per streak of failures: thrown from the SIGCHLD handler, it would end the program.
  let retry: ReturnType<typeof setTimeout> | undefined;
  let failing = false;
  const sweepOrRetry = (): void => {
    try {
      sweep();
      failing = false;
    } catch (error) {
      if (!failing) process.emitWarning(`the reaper could not sweep (${(error as Error).message}); trying again every ${RETRY_MS} ms`, { code: 'POSIX_PROCESS_REAPER_RETRY' });
      failing = true;
      if (running && retry === undefined) {
        retry = setTimeout(() => {
          retry = undefined;
          sweepOrRetry();
        }, RETRY_MS);
        retry.unref();
      }
    }
  };
  const remove = onSignal('SIGCHLD', sweepOrRetry);
  try {
    sweep();
  } catch (error) {
    // Listing the children failed (EMFILE): no reaper was started, so none is left installed.
    running = false;
    remove();
    throw error;
  }
  return {
    stop(): void {
      running = false;
      clearTimeout(retry);
      remove();
    },
  };
}

function reportLater(error: unknown): void {
  process.nextTick(() => {
    throw error;
  });
}
