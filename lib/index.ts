/**
 * posix-process: Linux process system calls for Node.js.
 *
 * Works with both `import { getpid } from 'posix-process'` and `require('posix-process')`.
 * Linux only: loading it elsewhere throws an error with code
 * 'ERR_POSIX_PROCESS_UNSUPPORTED_PLATFORM'.
 *
 * @packageDocumentation
 */
export { SyscallError, type ArgumentError } from './errors';
export { signalNumber, signalName, SIGNAL_MAX, type Signal, type RealtimeSignalName } from './signals';
export { getpid, getppid, kill } from './process';
export { nativeBuildSystem } from './build-info';
