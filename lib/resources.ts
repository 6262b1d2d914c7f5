/**
 * Resources and scheduling of the calling process or any pid: prlimit(2), getrusage(2),
 * getpriority(2)/setpriority(2), sched_getaffinity(2)/sched_setaffinity(2),
 * sched_getscheduler(2)/sched_setscheduler(2). Limits use the names and values of spawn's
 * `rlimits` option; usage has the shape of the wait results' `rusage`.
 *
 * Linux keeps priorities, affinity and scheduling policy per thread: `pid` 0 is the calling thread
 * and any other pid is the main thread of that process (whose thread id is its pid). Resource
 * limits and usage are per process.
 */
import { invalidArgType, invalidArgValue, outOfRange } from './errors';
import { binding } from './native';
import { rlimitLimits, type RlimitName, type RlimitValue } from './spawn/options';
import { isOptionsObject, isOwnKey, validateArray, validateBoolean, validateInteger, validating } from './validate';
import { rusageFromRecord, type Rusage } from './wait';

const C = binding.resourceConstants;
const rlimitResources = binding.spawnOptionConstants.rlimits;
const PID_MAX = 2 ** 31 - 1;
const UID_MAX = 2 ** 32 - 2; // (uid_t)-1 means "no user" to the kernel
/** Highest CPU number accepted: the kernel's CONFIG_NR_CPUS is at most 8192, far below this. */
const CPU_MAX = 65535;
const RLIM_INFINITY = 2n ** 64n - 1n;

/** A process's limits of one resource, as `prlimit` reads them. */
export interface Rlimit {
  /**
   * The soft limit, the one the kernel enforces: a number, `Infinity` for RLIM_INFINITY, or a
   * bigint for a finite limit above `Number.MAX_SAFE_INTEGER`.
   */
  readonly soft: number | bigint;
  /** The hard limit, the ceiling of the soft one (same representation). */
  readonly hard: number | bigint;
}

/** Whose resource usage `getrusage` reports. */
export type RusageWho = 'self' | 'children' | 'thread';

/** What `getpriority` and `setpriority` apply to (PRIO_PROCESS, PRIO_PGRP, PRIO_USER). */
export type PriorityWhich = 'process' | 'group' | 'user';

/**
 * A scheduling policy of sched(7): 'other' (SCHED_OTHER, the default time sharing), 'batch'
 * (SCHED_BATCH), 'idle' (SCHED_IDLE), the real-time 'fifo' (SCHED_FIFO) and 'rr' (SCHED_RR),
 * 'ext' (SCHED_EXT, Linux 6.12+: a BPF scheduler if one is loaded, else as 'other'), and
 * 'deadline' (SCHED_DEADLINE), which `schedGetScheduler` reports but `schedSetScheduler` refuses
 * (it needs runtime, deadline and period through sched_setattr(2)).
 */
export type SchedPolicy = 'other' | 'batch' | 'idle' | 'fifo' | 'rr' | 'ext' | 'deadline';

/** A thread's scheduling policy, as `schedSetScheduler` takes it. */
export interface Scheduler {
  /** The policy. */
  readonly policy: SchedPolicy;
  /** The static priority: 1..99 for 'fifo' and 'rr', 0 for the others (default 0). */
  readonly priority?: number;
  /** SCHED_RESET_ON_FORK: children start with 'other' and a nice value not below 0 (default false). */
  readonly resetOnFork?: boolean;
}

/** A thread's scheduling policy, as `schedGetScheduler` reports it. */
export interface SchedulerState {
  /** The policy; 'unknown' for a policy newer than this library (see `policyNumber`). */
  readonly policy: SchedPolicy | 'unknown';
  /** The policy's number (SCHED_* of sched.h). */
  readonly policyNumber: number;
  /** The static priority: 1..99 for 'fifo' and 'rr', 0 for the others. */
  readonly priority: number;
  /** Whether SCHED_RESET_ON_FORK is set. */
  readonly resetOnFork: boolean;
}

const priorityWhich: Readonly<Record<PriorityWhich, number>> = { process: C.PRIO_PROCESS, group: C.PRIO_PGRP, user: C.PRIO_USER };
const rusageWho: Readonly<Record<RusageWho, number>> = { self: C.RUSAGE_SELF, children: C.RUSAGE_CHILDREN, thread: C.RUSAGE_THREAD };
const policies: Readonly<Record<SchedPolicy, number>> = {
  other: C.SCHED_OTHER,
  batch: C.SCHED_BATCH,
  idle: C.SCHED_IDLE,
  fifo: C.SCHED_FIFO,
  rr: C.SCHED_RR,
  ext: C.SCHED_EXT,
  deadline: C.SCHED_DEADLINE,
};
const policyNames = new Map<number, SchedPolicy>(Object.entries(policies).map(([name, value]) => [value, name as SchedPolicy]));

/** A target pid: 0 for the caller, else a process id. */
function validateTarget(pid: unknown): number {
  return validateInteger(pid, 'pid', 0, PID_MAX);
}

function lookup<T extends string>(table: Readonly<Record<T, number>>, value: unknown, name: string): number {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  if (!isOwnKey(table, value)) throw invalidArgValue(name, `must be one of ${Object.keys(table).map((key) => `'${key}'`).join(', ')}`, value);
  return table[value as T];
}

/** A limit from the kernel: a number when it is exact, Infinity for RLIM_INFINITY, else a bigint. */
function limitFromKernel(value: bigint): number | bigint {
  if (value === RLIM_INFINITY) return Infinity;
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

function limitToKernel(value: number | bigint): bigint {
  return value === Infinity ? RLIM_INFINITY : BigInt(value);
}

/**
 * Reads, and with `value` sets, a resource limit of a process. See prlimit(2).
 *
 * Raising a hard limit needs CAP_SYS_RESOURCE; setting another process's limits needs the same
 * real, effective and saved ids as its own, or CAP_SYS_RESOURCE (reading does too).
 *
 * @param pid - the process, 0 for the calling one
 * @param resource - the limit, by the names of spawn's `rlimits` option: 'nofile', 'core', ...
 * @param value - the new limits: one value for soft and hard, or `[soft, hard]`; a number, a bigint,
 *   or `Infinity` for RLIM_INFINITY (as in spawn's `rlimits`). Left out: only read.
 * @returns the limits as they were before the call
 * @throws SyscallError `ESRCH` (no such process), `EPERM` (another user's process, raising a
 *   hard limit without CAP_SYS_RESOURCE, or 'nofile' above /proc/sys/fs/nr_open)
 * @throws TypeError / RangeError (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`,
 *   `ERR_OUT_OF_RANGE`) for a bad pid, resource or value, a soft limit above the hard one, before
 *   any system call
 * @see prlimit(2), getrlimit(2)
 * @example
 * const { soft, hard } = prlimit(0, 'nofile');
 * prlimit(child.pid, 'core', Infinity); // returns the limits it replaced
 */
export function prlimit(pid: number, resource: RlimitName, value?: RlimitValue): Rlimit {
  const [target, number, limits] = validating('prlimit', () => {
    const target = validateTarget(pid);
    const number = lookup(rlimitResources as Record<RlimitName, number>, resource, 'resource');
    return [target, number, value === undefined ? undefined : rlimitLimits(value, 'value')] as const;
  });
  const [soft, hard] = limits === undefined ? binding.prlimit(target, number) : binding.prlimit(target, number, limitToKernel(limits.soft), limitToKernel(limits.hard));
  return { soft: limitFromKernel(soft), hard: limitFromKernel(hard) };
}

/**
 * Resource usage of the calling process, of its reaped children, or of the calling thread. See
 * getrusage(2). 'children' counts every descendant that was waited for (by this process, or by
 * a waited-for child for its own children); `maxRSS` is then the largest of them.
 *
 * @param who - 'self' (RUSAGE_SELF, every thread), 'children' (RUSAGE_CHILDREN) or 'thread'
 *   (RUSAGE_THREAD, the calling thread)
 * @returns the usage, in the units of the wait results' `rusage` (seconds, bytes, counts)
 * @throws TypeError `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE` for a bad `who`
 * @see getrusage(2)
 * @example
 * const { userTime, maxRSS } = getrusage('self');
 */
export function getrusage(who: RusageWho = 'self'): Rusage {
  const number = validating('getrusage', () => lookup(rusageWho, who, 'who'));
  binding.getrusage(number);
  return rusageFromRecord();
}

/** `who` as the binding takes it: an int32, so a uid above 2**31-1 goes as its negative twin (the same id_t bits). */
function validateWho(which: number, who: unknown): number {
  return which === C.PRIO_USER ? validateInteger(who, 'who', 0, UID_MAX) | 0 : validateInteger(who, 'who', 0, PID_MAX);
}

/**
 * The nice value (-20, highest priority, to 19) of a process, of a process group (the highest
 * priority of its members) or of a user (the highest of their processes). See getpriority(2).
 *
 * @param which - 'process' (a thread, see the module notes), 'group' or 'user'
 * @param who - a pid, a process group id or a uid; 0 for the caller's own
 * @returns the nice value
 * @throws SyscallError `ESRCH` (nothing matches `which` and `who`)
 * @throws TypeError / RangeError (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`,
 *   `ERR_OUT_OF_RANGE`) for a bad `which` or `who`, before any system call
 * @see getpriority(2)
 * @example
 * getpriority('process', 0); // 0 unless someone reniced this thread
 */
export function getpriority(which: PriorityWhich, who: number): number {
  const [number, target] = validating('getpriority', () => {
    const number = lookup(priorityWhich, which, 'which');
    return [number, validateWho(number, who)] as const;
  });
  return binding.getpriority(number, target);
}

/**
 * Sets the nice value of a process, of every member of a process group, or of every process of
 * a user. See setpriority(2). Lowering it (a higher priority) needs CAP_SYS_NICE or room under
 * RLIMIT_NICE; changing another user's processes needs CAP_SYS_NICE.
 *
 * @param which - 'process' (a thread, see the module notes), 'group' or 'user'
 * @param who - a pid, a process group id or a uid; 0 for the caller's own
 * @param nice - the new nice value, -20..19
 * @throws SyscallError `ESRCH` (nothing matches), `EPERM` (another user's process), `EACCES`
 *   (lowering the nice value without the privilege)
 * @throws TypeError / RangeError (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`,
 *   `ERR_OUT_OF_RANGE`) for a bad argument, before any system call
 * @see setpriority(2)
 * @example
 * setpriority('process', child.pid, 10);
 */
export function setpriority(which: PriorityWhich, who: number, nice: number): void {
  const [number, target, value] = validating('setpriority', () => {
    const number = lookup(priorityWhich, which, 'which');
    return [number, validateWho(number, who), validateInteger(nice, 'nice', -20, 19)] as const;
  });
  binding.setpriority(number, target, value);
}

/**
 * The CPUs a thread may run on. See sched_getaffinity(2).
 *
 * @param pid - a process (its main thread), 0 for the calling thread
 * @returns the CPU numbers, ascending
 * @throws SyscallError `ESRCH` (no such process)
 * @throws TypeError / RangeError (`ERR_INVALID_ARG_TYPE`, `ERR_OUT_OF_RANGE`) for a bad pid
 * @see sched_getaffinity(2)
 * @example
 * schedGetAffinity(0); // [0, 1, 2, 3] on a 4-CPU machine
 */
export function schedGetAffinity(pid: number): number[] {
  const target = validating('schedGetAffinity', () => validateTarget(pid));
  return binding.schedGetAffinity(target);
}

/**
 * Restricts a thread to some CPUs. See sched_setaffinity(2). The kernel keeps those of `cpus` that
 * exist and are allowed (by the cpuset cgroup); none at all is `EINVAL`. Threads started later by
 * that thread inherit the mask, threads that exist already keep theirs.
 *
 * @param pid - a process (its main thread), 0 for the calling thread
 * @param cpus - CPU numbers (0..65535), at least one; duplicates are allowed
 * @throws SyscallError `ESRCH` (no such process), `EPERM` (another user's process without
 *   CAP_SYS_NICE), `EINVAL` (no CPU of `cpus` is usable)
 * @throws TypeError / RangeError (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`,
 *   `ERR_OUT_OF_RANGE`) for a bad pid, a bad or empty list, before any system call
 * @see sched_setaffinity(2), CPU_SET(3)
 * @example
 * schedSetAffinity(child.pid, [0]);
 */
export function schedSetAffinity(pid: number, cpus: readonly number[]): void {
  const [target, list] = validating('schedSetAffinity', () => {
    const target = validateTarget(pid);
    const list = validateArray(cpus, 'cpus', CPU_MAX + 1, (entry, name, i) => validateInteger(entry, `${name}[${i}]`, 0, CPU_MAX));
    if (list.length === 0) throw outOfRange('cpus.length', '>= 1', 0);
    return [target, list] as const;
  });
  binding.schedSetAffinity(target, list);
}

/**
 * The scheduling policy and static priority of a thread. See sched_getscheduler(2) and
 * sched_getparam(2). (The nice value of 'other' and 'batch' is `getpriority`'s.)
 *
 * @param pid - a process (its main thread), 0 for the calling thread
 * @returns the policy (by name and number), its priority and whether SCHED_RESET_ON_FORK is set
 * @throws SyscallError `ESRCH` (no such process)
 * @throws TypeError / RangeError (`ERR_INVALID_ARG_TYPE`, `ERR_OUT_OF_RANGE`) for a bad pid
 * @see sched_getscheduler(2), sched(7)
 * @example
 * schedGetScheduler(0); // { policy: 'other', policyNumber: 0, priority: 0, resetOnFork: false }
 */
export function schedGetScheduler(pid: number): SchedulerState {
  const target = validating('schedGetScheduler', () => validateTarget(pid));
  const { policy, priority, resetOnFork } = binding.schedGetScheduler(target);
  return { policy: policyNames.get(policy) ?? 'unknown', policyNumber: policy, priority, resetOnFork };
}

/**
 * Sets the scheduling policy and static priority of a thread. See sched_setscheduler(2).
 * The real-time policies ('fifo', 'rr') need CAP_SYS_NICE or room under RLIMIT_RTPRIO; a
 * real-time thread that never blocks keeps a CPU to itself (up to the kernel's RT throttling).
 *
 * @param pid - a process (its main thread), 0 for the calling thread
 * @param scheduler - the policy ('deadline' is refused: it needs sched_setattr(2)), its priority
 *   (1..99 for 'fifo' and 'rr', 0 for the others) and `resetOnFork`
 * @throws SyscallError `ESRCH` (no such process), `EPERM` (a real-time policy without the
 *   privilege, another user's process, leaving 'idle' without it), `EINVAL` ('ext' before Linux
 *   6.12)
 * @throws TypeError / RangeError (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`,
 *   `ERR_OUT_OF_RANGE`) for a bad pid, policy or priority, before any system call
 * @see sched_setscheduler(2), sched(7)
 * @example
 * schedSetScheduler(child.pid, { policy: 'fifo', priority: 10 });
 * schedSetScheduler(0, { policy: 'idle' });
 */
export function schedSetScheduler(pid: number, scheduler: Scheduler): void {
  const [target, policy, priority, resetOnFork] = validating('schedSetScheduler', () => {
    const target = validateTarget(pid);
    if (!isOptionsObject(scheduler)) throw invalidArgType('scheduler', 'an object', scheduler);
    const { policy: name, priority = 0, resetOnFork = false } = scheduler;
    if (name === 'deadline') throw invalidArgValue('scheduler.policy', "'deadline' is not supported (it needs sched_setattr(2) parameters)", name);
    const policy = lookup(policies, name, 'scheduler.policy');
    const realtime = name === 'fifo' || name === 'rr';
    const value = realtime ? validateInteger(priority, 'scheduler.priority', 1, 99) : validateInteger(priority, 'scheduler.priority', 0, 0);
    return [target, policy, value, validateBoolean(resetOnFork, 'scheduler.resetOnFork')] as const;
  });
  binding.schedSetScheduler(target, policy, priority, resetOnFork);
}
