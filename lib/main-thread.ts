/** A guard for calls that act on the whole process and make no sense from a worker thread. */
import { isMainThread } from 'node:worker_threads';

/**
 * Throws an Error with code `ERR_MAIN_THREAD_ONLY` when called from a worker thread: exec and fork
 * replace or copy the whole process, which only the main thread may decide.
 */
export function requireMainThread(name: string): void {
  if (isMainThread) return;
  throw Object.assign(new Error(`${name}() can only be called from the main thread, not from a worker thread`), {
    code: 'ERR_MAIN_THREAD_ONLY',
  });
}
