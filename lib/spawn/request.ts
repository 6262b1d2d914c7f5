/**
 * The trip of a spawn request to native code and of its result back: packing the validated
 * request into the form spawnStart takes (packRequest, slots by name from binding.spawnSchema),
 * starting it (queueSpawn) and waking the spawning thread, the dispatcher that hands each result
 * to its pending spawn (pendingSpawns), and the errors that name the child's failed step
 * (spawnError, stepLabel).
 */
import * as os from 'node:os';
import { SyscallError } from '../errors';
import type { Bytes } from '../env';
import { binding, sharedState, type RawFdPlan, type RawSpawnRequest, type RawSpawnResult } from '../native';
import { signalName } from '../signals';

const NO_STRINGS: readonly Bytes[] = Object.freeze([]);

/** @internal What a failed step's error names: the program, the cwd, the fd plans, the chroot. */
export interface StepContext {
  readonly file: Bytes;
  readonly cwd: Bytes | undefined;
  readonly fds: readonly RawFdPlan[];
  readonly chroot?: Bytes | undefined;
}

/** A step of the child as errors name it: its syscall, the `step` and the path it concerns. */
interface StepLabel {
  syscall: string;
  step: string;
  path: string | undefined;
}

// A spawn that a cancel dropped before its child was cloned.
const QUEUED: StepLabel = Object.freeze({ syscall: 'clone', step: 'queued', path: undefined });

/** @internal The step a child was in, as its error names it. */
export function stepLabel(where: StepContext, step: string, stepIndex: number): StepLabel {
  const pathOf = (value: Bytes | undefined): string | undefined => (value === undefined ? undefined : value.toString());
  switch (step) {
    case 'execve':
      return { syscall: 'execve', step: 'exec', path: pathOf(where.file) };
    case 'chdir':
      return { syscall: 'chdir', step: 'chdir', path: pathOf(where.cwd) };
    case 'open': {
      const plan = where.fds[stepIndex];
      return { syscall: 'open', step: `open fd ${plan?.target}`, path: plan && 'path' in plan ? pathOf(plan.path) : undefined };
    }
    case 'dup2':
      return { syscall: 'dup2', step: `fd ${where.fds[stepIndex]?.target}`, path: undefined };
    // The sandbox's (docs/sandbox.md): the id maps are written by this process (index 1: the
    // open of the /proc file failed).
    case 'uid_map':
    case 'gid_map':
      return { syscall: stepIndex === 1 ? 'open' : 'write', step, path: undefined };
    case 'userns_sync':
      return { syscall: 'futex', step, path: undefined };
    case 'mount':
      return { syscall: 'mount', step, path: stepIndex === 1 ? '/proc' : '/' };
    case 'loopback':
      return { syscall: 'ioctl', step, path: undefined };
    case 'chroot':
      return { syscall: 'chroot', step, path: pathOf(where.chroot) };
    default:
      return { syscall: step, step, path: undefined };
  }
}

export type FailedSpawn = Exclude<RawSpawnResult, { pid: number }>;

/** @internal The step a failed spawn names. */
export function failedLabel(where: StepContext, result: FailedSpawn): StepLabel {
  return result.errno === -1 && result.queued ? QUEUED : stepLabel(where, result.step, result.stepIndex);
}

/**
 * @internal The error of a spawn that failed (also for `daemon`): the failed step with its errno
 * and the path it concerns; or, for a child that died before its exec (killed from outside, say),
 * ECHILD with the step it was in and the `signal` that ended it.
 */
export function spawnError(where: StepContext, result: FailedSpawn): SyscallError {
  const label = failedLabel(where, result);
  if (result.errno !== -1) return new SyscallError(label.syscall, result.errno, label.path, { step: label.step });
  const details = result.signal === 0 ? { step: label.step } : { step: label.step, signal: signalName(result.signal) };
  return new SyscallError(label.syscall, os.constants.errno.ECHILD, label.path, details);
}

/** @internal Receives the result of a queued spawn (see queueSpawn). */
export interface SpawnSettler {
  settle(result: RawSpawnResult): void;
}
// Finished spawns arrive from native code in batches (one call per wake-up of the event loop),
// to the dispatcher of the first copy of this facade in the process, which settles the spawns of
// every copy (sharedState).
const spawns = sharedState('spawns', () => {
  binding.spawnSetDispatcher((results, count) => dispatch(results, count));
  return { pending: new Map<number, SpawnSettler>(), nextId: 1 };
});
const pendingSpawns = spawns.pending;

// Scratch space for packing requests, reused by every call: spawnStart copies what it needs
// before it returns. Layouts by fd count (usually 3); the strings are cleared after each call.
// (Typed as Bytes; between calls its slots hold undefined.)
// The slots by name, from the one definition in native/spawn_schema.h.
const L = binding.spawnSchema.layout;
const F = binding.spawnSchema.fd;
const R = binding.spawnSchema.result;
const layouts: Float64Array[] = [];
const scratchStrings: Bytes[] = [];

/**
 * @internal Starts a spawn: cloned at once from this thread when no other is under way, else
 * queued for the spawning thread (native/spawn_clone.cc); `settler` receives its result on the event
 * loop. Returns the spawn's id (for spawnCancel). Throws (and starts nothing) when the binding
 * refuses the request.
 */
export function queueSpawn(request: RawSpawnRequest, settler: SpawnSettler): number {
  const id = spawns.nextId++;
  packRequest(request);
  pendingSpawns.set(id, settler);
  const firstOfTurn = spawnsThisTurn++ === 0;
  if (firstOfTurn) void SETTLED.then(endTurn);
  let needsWake: boolean;
  try {
    needsWake = binding.spawnStart(id, packedStrings, packedLayout, request.groups, request.rlimits.length === 0 ? undefined : request.rlimits, firstOfTurn);
  } catch (error) {
    pendingSpawns.delete(id);
    throw error;
  } finally {
    releasePackedRequest();
  }
  if (needsWake && !wakeQueued) {
    wakeQueued = true;
    // A reaction of a settled promise, not queueMicrotask, which makes a costly AsyncResource in
    // the middle of the burst (docs/performance.md).
    void SETTLED.then(wakeSpawningThread);
  }
  return id;
}

// The last packed request (packRequest): scratch, read at once by spawnStart.
let packedLayout: Float64Array = new Float64Array(0);
let packedStrings: string | Bytes[] = '';

/**
 * @internal Packs a request into one string (or array) and one typed array, the form
 * NativeBinding.spawnStart takes (slots by name from binding.spawnSchema): each value native code
 * reads through N-API costs more than the rest of the request's trip. The result is scratch
 * space, reused by the next call: use it at once, then releasePackedRequest().
 */
export function packRequest(request: RawSpawnRequest): void {
  const fdCount = request.fds.length;
  const layout = (layouts[fdCount] ??= new Float64Array(L.size + fdCount * F.size));
  // Indexed loops: for...of allocates an iterator and a result per element until V8 optimises
  // this function, which in a burst of spawn() calls it has not yet.
  const strings = scratchStrings;
  let count = 0;
  for (let i = 0; i < request.candidates.length; i++) strings[count++] = request.candidates[i]!;
  for (let i = 0; i < request.argv.length; i++) strings[count++] = request.argv[i]!;
  const envp = request.envp ?? NO_STRINGS;
  for (let i = 0; i < envp.length; i++) strings[count++] = envp[i]!;
  if (request.cwd !== undefined) strings[count++] = request.cwd;
  for (let i = 0; i < fdCount; i++) {
    const fd = request.fds[i]!;
    const at = L.size + i * F.size;
    layout[at + F.target] = fd.target;
    if ('path' in fd) {
      layout[at + F.source] = -1;
      layout[at + F.optional] = 0;
      layout[at + F.flags] = fd.flags;
      layout[at + F.mode] = fd.mode;
      strings[count++] = fd.path;
    } else {
      layout[at + F.source] = fd.source;
      layout[at + F.optional] = fd.optional === true ? 1 : 0;
      layout[at + F.flags] = 0;
      layout[at + F.mode] = 0;
    }
  }
  layout[L.candidateCount] = request.candidates.length;
  layout[L.argvCount] = request.argv.length;
  layout[L.envCount] = request.envp === undefined ? -1 : request.envp.length;
  layout[L.hasCwd] = request.cwd === undefined ? 0 : 1;
  layout[L.fdCount] = fdCount;
  layout[L.setsid] = request.setsid ? 1 : 0;
  layout[L.pgid] = request.pgid ?? -1;
  layout[L.gid] = request.gid ?? -1;
  layout[L.uid] = request.uid ?? -1;
  layout[L.nice] = request.nice ?? NaN;
  layout[L.umask] = request.umask ?? -1;
  layout[L.pdeathsig] = request.pdeathsig;
  layout[L.daemonize] = request.daemonize === true ? 1 : 0;
  // Signal sets as bit (signo - 1) for each signal, in two 32-bit halves.
  let maskLow = 0;
  let maskHigh = 0;
  for (let i = 0; i < request.sigmask.length; i++) {
    const signo = request.sigmask[i]!;
    if (signo <= 32) maskLow |= 1 << (signo - 1);
    else maskHigh |= 1 << (signo - 33);
  }
  layout[L.sigmaskLow] = maskLow >>> 0;
  layout[L.sigmaskHigh] = maskHigh >>> 0;
  layout[L.resetLow] = 0xffffffff; // every signal back to SIG_DFL, ignored ones too
  layout[L.resetHigh] = 0xffffffff;
  layout[L.namespaceFlags] = request.namespaceFlags ?? 0;
  layout[L.cgroupFd] = request.cgroupFd ?? -1;
  // The sandbox's strings, after the fd paths, in the order of their slots.
  layout[L.hasUidMap] = request.uidMap === undefined ? 0 : ((strings[count++] = request.uidMap), 1);
  layout[L.hasGidMap] = request.gidMap === undefined ? 0 : ((strings[count++] = request.gidMap), 1);
  layout[L.hasHostname] = request.hostname === undefined ? 0 : ((strings[count++] = request.hostname), 1);
  layout[L.hasChroot] = request.chroot === undefined ? 0 : ((strings[count++] = request.chroot), 1);
  // No BigInt arithmetic unless asked: this runs on every spawn.
  const capabilities = request.capabilities;
  const ambient = request.ambientCapabilities;
  layout[L.setCapabilities] = capabilities === undefined ? 0 : 1;
  layout[L.capabilitiesLow] = capabilities === undefined ? 0 : Number(capabilities & 0xffffffffn);
  layout[L.capabilitiesHigh] = capabilities === undefined ? 0 : Number(capabilities >> 32n);
  layout[L.ambientLow] = ambient === undefined ? 0 : Number(ambient & 0xffffffffn);
  layout[L.ambientHigh] = ambient === undefined ? 0 : Number(ambient >> 32n);
  layout[L.noNewPrivileges] = request.noNewPrivileges === true ? 1 : 0;
  layout[L.setctty] = request.setctty ?? -1;
  layout[L.foreground] = request.foreground ?? -1;
  layout[L.noctty] = request.noctty === true ? 1 : 0;
  // All strings in one: the native side converts it once and splits it at the NULs (none of
  // the strings has one: validated). Buffers are byte-exact, so with any of them, the array.
  let allStrings = true;
  for (let i = 0; i < count; i++) if (typeof strings[i] !== 'string') allStrings = false;
  if (allStrings) strings[count++] = ''; // for the last string's NUL
  // Its length changes only with the request's shape: setting it releases or regrows the array's
  // backing store, an allocation per call that filling the slots avoids.
  if (strings.length !== count) strings.length = count;
  packedStrings = allStrings ? strings.join('\0') : strings;
  packedLayout = layout;
}

/** @internal Drops the packed request's strings: the scratch keeps nothing of a request alive. */
export function releasePackedRequest(): void {
  scratchStrings.fill(undefined as never);
  packedStrings = '';
}

/** @internal For tests: the last packed request, as spawnStart would get it. */
export function packedRequest(): { strings: string | readonly Bytes[]; layout: Float64Array } {
  return { strings: packedStrings, layout: packedLayout };
}

// The spawning thread is woken once the JavaScript turn that queued spawns for it is over (see
// native/spawn.cc, SpawnStart): a burst of spawn() calls runs without it competing for the CPUs.
let wakeQueued = false;
const SETTLED = Promise.resolve();
// Spawns asked for in this turn (reset by a reaction once it is over): the first of a turn may
// be cloned directly beside others still before their exec, the rest of a burst go to the thread.
let spawnsThisTurn = 0;
function endTurn(): void {
  spawnsThisTurn = 0;
}
function wakeSpawningThread(): void {
  wakeQueued = false;
  binding.spawnWake();
}
const stepNames = binding.spawnStepNames;
// `results` is reused by the next call (native/spawn.cc, TakeResults): read at once, never kept.
function dispatch(results: Float64Array, count: number = results.length / R.size): void {
  for (let at = 0; at < count * R.size; at += R.size) {
    const id = results[at + R.id]!;
    const pid = results[at + R.pid]!;
    const errno = results[at + R.errno]!;
    const settler = pendingSpawns.get(id);
    pendingSpawns.delete(id);
    if (settler !== undefined) settleOne(settler, errno === 0 ? { id, pid, pidfd: results[at + R.pidfd]! } : { id, errno, step: stepNames[results[at + R.step]!]!, stepIndex: results[at + R.stepIndex]!, signal: results[at + R.signal]!, queued: pid === -1 });
  }
}

/**
 * Settles one spawn of a batch: a settler that throws (it should reject its own promise instead)
 * must not lose the spawns after it, so its error is thrown again once the batch is done.
 */
function settleOne(settler: SpawnSettler, result: RawSpawnResult): void {
  try {
    settler.settle(result);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/**
 * @internal In the child of fork() (lib/fork.ts): the parent's spawns that were in flight fail
 * here with ECHILD, from a microtask (the caller is in the middle of fork()). The spawning thread
 * is started again only when a spawn needs it.
 */
export function spawnAfterForkInChild(): void {
  const results = binding.spawnAfterFork();
  if (results.length > 0) queueMicrotask(() => dispatch(results));
}
