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
export { processInfo, children, type ProcessInfo, type ProcessStateLetter, type Terminal } from './procfs';
export { setsid, getsid, setpgid, getpgid, getpgrp, tcsetpgrp, tcgetpgrp } from './session';
export { setChildSubreaper, isChildSubreaper, setParentDeathSignal, getParentDeathSignal } from './orphans';
export {
  onSignal,
  ignoreSignal,
  defaultSignal,
  killpg,
  sigqueue,
  droppedSignalCount,
  type SignalEvent,
  type SignalHandler,
  type IgnoreSignalOptions,
  type ReservedSignalError,
} from './signal-handlers';
export { startReaper, type Reaper, type ReaperOptions } from './reaper';
export { exit } from './exit';
export { execve, execvp } from './exec';
export { fork, registerAtFork, type AtForkHooks } from './fork';
export { nativeBuildSystem } from './build-info';
export {
  waitpid,
  wait4,
  waitid,
  waitAsync,
  pidfdOpen,
  type WaitResult,
  type WaitIdResult,
  type WaitOptions,
  type WaitIdOptions,
  type WaitAsyncOptions,
  type IdType,
  type Rusage,
} from './wait';
export {
  decodeWaitStatus,
  waitStatusToExitCode,
  type WaitStatus,
  type ExitedStatus,
  type SignaledStatus,
  type StoppedStatus,
  type ContinuedStatus,
} from './wait-status';
export {
  posixSpawn,
  posixSpawnp,
  type PosixSpawnOptions,
  type FileAction,
  type OpenFlags,
  type SchedulerPolicy,
} from './posix-spawn';
export { type Bytes, type EnvInput } from './env';
export {
  spawn,
  ChildProcess,
  type ChildProcessOf,
  type SpawnOptions,
  type StdioOption,
  type RlimitName,
  type RlimitValue,
  type TerminalSpawnOptions,
} from './spawn/index';
export { openpty, Pty, type PtyOptions, type PtyPair, type WindowSize } from './pty';
export { tcgetattr, tcsetattr, makeRaw, isatty, ttyname, termiosFlags, type TerminalAttributes, type ControlCharacter, type TcsetattrWhen } from './termios';
export { sigprocmask, sigpending, type SigprocmaskHow } from './sigmask';
export { run, type RunOptions, type RunResult, type AllRequested } from './spawn/run';
export { availableContainments, type Containment, type ContainOption, type TreeAccounting } from './spawn/contain';
export type { ChildResult, KillReason, KillTreeOptions } from './spawn/kill-tree';
export type { CapabilityName, CapabilityShortName, IdMapEntry, NamespaceName, SandboxOptions } from './spawn/sandbox';
export { runSync, type OnlyKeysOf, type RunSyncOptions } from './spawn/run-sync';
export { pipeline, type PipelineOptions, type PipelineResult, type PipelineStage, type StageOptions, type StdoutMayGo, type StdoutRedirected } from './spawn/pipeline';
export { ExitError, type ChildExitResult, type ChildStream, type Collected, type EndStatus, type ExitErrorDetails, type OutputEncoding, type OutputOptions, type StdioOf, type StdinOf, type StdoutOf, type StderrOf, type StdioEntry, type PipedAs, type StdioGiven, type FdsOf, type FdsGiven, type PipedFds, type StdioArrayOf, type LinesRequested, type BuffersRequested, type OptionMayBe } from './spawn/output';
export { pipe, dup2, dup3, close, closeRange, type Dup3Options, type CloseRangeOptions } from './fds';
export { daemon, type DaemonOptions, type DaemonStdio } from './daemon';
export {
  prlimit,
  getrusage,
  getpriority,
  setpriority,
  schedGetAffinity,
  schedSetAffinity,
  schedGetScheduler,
  schedSetScheduler,
  type Rlimit,
  type RusageWho,
  type PriorityWhich,
  type SchedPolicy,
  type Scheduler,
  type SchedulerState,
} from './resources';
