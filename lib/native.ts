/**
 * Loads the native addon and declares its raw interface (internal: the public API is lib/index.ts).
 *
 * The binding is found by node-gyp-build: a local build in `build/Release` (node-gyp or cmake-js)
 * first, then a prebuilt binary in `prebuilds/linux-<arch>/`.
 */
import * as path from 'node:path';

/** The range of real-time signals as glibc reports it (SIGRTMIN is 34 with NPTL, not 32). */
export interface RealtimeSignalRange {
  min: number;
  max: number;
}

/** The functions exported by native/module.cc. Arguments are validated by the callers. */
export interface NativeBinding {
  /** Which build produced the binary: 'node-gyp', 'cmake-js' or 'cmake'. */
  readonly buildSystem: string;
  setSyscallErrorConstructor(ctor: new (syscall: string, errno: number, path?: string) => Error): void;
  strerror(errno: number): string;

  getpid(): number;
  getppid(): number;
  kill(pid: number, signo: number): void;
  realtimeSignalRange(): RealtimeSignalRange;
}

function loadBinding(): NativeBinding {
  if (process.platform !== 'linux') {
    const error = new Error(
      `posix-process binds Linux system calls and runs only on Linux (this is ${process.platform})`,
    ) as Error & { code: string };
    error.code = 'ERR_POSIX_PROCESS_UNSUPPORTED_PLATFORM';
    throw error;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const load = require('node-gyp-build') as (dir: string) => unknown;
  return load(path.join(__dirname, '..')) as NativeBinding;
}

export const binding: NativeBinding = loadBinding();
