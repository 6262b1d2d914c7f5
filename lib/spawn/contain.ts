/**
 * Containment of a spawned tree (`contain` option): the three mechanisms that let the library
 * find and end every process a child ever starts, however it detaches.
 *
 * - 'cgroup': the child is cloned straight into a fresh cgroup v2 leaf (clone3 with
 *   CLONE_INTO_CGROUP); members are `cgroup.procs` (of its sub-cgroups too), the kill is `cgroup.kill`, the end is
 *   `populated 0` in `cgroup.events` (inotify, from the event loop).
 * - 'pid-namespace': the child is PID 1 of a new PID namespace; when it dies the kernel kills
 *   every process in it.
 * - 'subreaper': this process is a child subreaper; members are found by walking /proc from the
 *   leader and from the orphans reparented here, and the kill stops each one before killing it.
 *
 * See docs/containment.md for what each guarantees and needs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as worker_threads from 'node:worker_threads';
import { binding, type RawSpawnRequest } from '../native';
import { invalidArgType, invalidArgValue, SyscallError } from '../errors';
import { childrenOf as listChildren, isProcessGone, pidfdPids, taskChildren } from '../procfs';
import { checkMapped, checkNoOuterGroup, NAMESPACE_FLAGS } from './sandbox';

/** A containment mechanism, as `child.containment` reports it. */
export type Containment = 'cgroup' | 'pid-namespace' | 'subreaper';

/** The `contain` option: `true` picks the best mechanism available, a name asks for that one. */
export type ContainOption = boolean | Containment;

/** What the mechanism measured of the whole tree (only the cgroup mechanism measures). */
export interface TreeAccounting {
  /** CPU time of every process that was in the tree, in seconds (`cpu.stat` usage_usec). */
  readonly cpuSeconds: number;
  /** User CPU time in seconds (`cpu.stat` user_usec). */
  readonly userCpuSeconds: number;
  /** System CPU time in seconds (`cpu.stat` system_usec). */
  readonly systemCpuSeconds: number;
  /** Peak memory in bytes (`memory.peak`), when the memory controller is enabled there. */
  readonly memoryPeakBytes?: number;
  /** Most processes at once (`pids.peak`), when the pids controller is enabled there. */
  readonly pidsPeak?: number;
}

/** @internal One contained tree, whatever its mechanism. */
export interface Container {
  readonly kind: Containment;
  /** The leaf cgroup's fd for CLONE_INTO_CGROUP, or -1. */
  readonly cgroupFd: number;
  /** Adds what the mechanism needs to the spawn's request. */
  request?(request: RawSpawnRequest): void;
  /** The spawn succeeded: `pid` leads the tree. */
  adopt(pid: number): void;
  /** The spawn failed: undo what was made for it. */
  abandon(): void;
  /** The leader has been reaped. */
  leaderReaped(): void;
  /** The live processes of the tree now. */
  members(): number[];
  /** Sends `signo` to every process of the tree; SIGKILL is the mechanism's kill of everything. */
  signal(signo: number): void;
  /** Resolves once no process of the tree is left; `keepAlive` false: without keeping the event loop alive meanwhile. */
  empty(keepAlive?: boolean): Promise<void>;
  /** What the mechanism measured, or null. */
  accounting(): TreeAccounting | null;
}

const SIGSTOP = 19;
const SIGKILL = 9;
const SIGCONT = 18;

/** The error for a mechanism that this machine or build does not offer. */
function unavailable(kind: Containment, why: string): Error {
  return Object.assign(new Error(`containment '${kind}' is not available here: ${why}`), { code: 'ERR_CONTAINMENT_UNAVAILABLE', containment: kind });
}

/**
 * Signals one member; false once it is gone (ESRCH). A member this process may not signal (EPERM:
 * its ids changed, as sudo's command) is passed over, as systemd does: the rest of the tree still
 * gets the signal, and a throw from a background look would end the program.
 */
function tryKill(pid: number, signo: number): boolean {
  try {
    binding.kill(pid, signo);
    return true;
  } catch (error) {
    if (error instanceof SyscallError && error.code === 'ESRCH') return false;
    if (error instanceof SyscallError && error.code === 'EPERM') return true;
    throw error;
  }
}

/**
 * Sends `signo` to every member, then to those that appeared meanwhile (forked by a member
 * before its own signal came), until a listing finds none new: one listing misses them, and
 * they would run on.
 */
function signalEveryMember(members: () => number[], signo: number): void {
  const signalled = new Set<number>();
  // Bounded: a member that ignores the signal and forks without end would never let it stop.
  for (let round = 0; round < 10; round++) {
    const fresh = members().filter((pid) => !signalled.has(pid));
    if (fresh.length === 0) return;
    for (const pid of fresh) {
      signalled.add(pid);
      tryKill(pid, signo);
    }
  }
}

/** What a tree walk tells its caller (see walkTree). */
interface WalkHooks {
  found?: (pid: number, start: number) => void;
  visit?: ((pid: number) => boolean) | undefined;
}

/**
 * The live members of a tree, from `roots(pass, walked)` down through /proc children lists (the
 * roots may leave out the pids already walked). `found` sees every process met (with its start
 * time), `visit` each live one before its children are read (and may leave it out). A member that exits hands its children to the tree's reaper (this process, or
 * a namespace's init), and a walk that read the reaper's children before that finds them in neither
 * list (its parent may even have reaped it before the walk came to it): so the roots are read again
 * after each pass, until they hold none the walk has not seen (10 passes at most). A member that
 * died before that read has handed its children over; one that dies after it was seen alive, with
 * its children listed. Missed, they did not get killTree's signal (a fork storm left 343 running).
 */
function walkTree(roots: (pass: number, walked: ReadonlySet<number>) => number[], hooks: WalkHooks = {}): number[] {
  const members: number[] = [];
  const done = new Set<number>();
  for (let pass = 0; pass < 10; pass++) {
    const stack = roots(pass, done).filter((pid) => !done.has(pid));
    if (stack.length === 0) break;
    while (stack.length > 0) {
      const pid = stack.pop()!;
      if (done.has(pid)) continue;
      done.add(pid);
      const stat = statOf(pid);
      if (stat !== null) hooks.found?.(pid, stat.start);
      if (stat === null || stat.state === 'Z' || stat.state === 'X') continue;
      if (hooks.visit !== undefined && !hooks.visit(pid)) continue;
      members.push(pid);
      // Read after `visit`: once SIGSTOP is sent, a fork under way is restarted after the stop,
      // so every child the process can have is already listed.
      for (const child of childrenOf(pid)) stack.push(child);
    }
  }
  return members;
}

/**
 * The children of one thread of this process (`tid`), or [] when they cannot be listed: a thread
 * that has exited (its children went to the main thread) or, setting `unreadable`, EMFILE.
 */
function threadChildren(tid: number): number[] {
  try {
    return taskChildren(process.pid, tid);
  } catch {
    unreadable = true;
    return [];
  }
}

/** The thread of this process whose children list holds `pid` (the thread that cloned it), or 0. */
function threadOfChild(pid: number): number {
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${process.pid}/task`);
  } catch {
    return 0;
  }
  for (const task of tasks) if (threadChildren(Number(task)).includes(pid)) return Number(task);
  return 0;
}

// --- /proc reading, without the validation of the public procfs functions (hot in the walk) ---

// Set when a read of /proc failed otherwise than for a process that is gone (EMFILE): a walk made
// meanwhile may have missed members, and its "empty" is not an answer.
let unreadable = false;

/** @internal State letter, ppid and start time (clock ticks after boot) of a process, or null if gone. */
export function statOf(pid: number): { state: string; ppid: number; start: number } | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch (error) {
    if (!isProcessGone(error)) unreadable = true;
    return null;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, ppid: Number(fields[1]), start: Number(fields[19]) };
}

/**
 * The direct children of `pid`, or [] when they cannot be listed (and `unreadable` is set): the
 * tree walks run in timers and signal handlers, where a throw would end the program.
 */
function childrenOf(pid: number): number[] {
  try {
    return listChildren(pid);
  } catch {
    unreadable = true;
    return [];
  }
}

// --- subreaper ---

// This thread's trees of the subreaper mechanism still alive. The flag is the process's: the
// count of the trees holding it, of every thread, is native (native/subreaper_holds.cc).
const subreaperTrees = new Set<SubreaperTree>();

/** Of `pids` (children of this process), those that no handle waits for: adopted orphans. */
function notOwned(pids: readonly number[]): number[] {
  if (pids.length === 0) return [];
  const owned = new Set<number>(binding.libuvChildPids());
  for (const tree of subreaperTrees) if (!tree.leaderGone) owned.add(tree.leader);
  try {
    for (const pid of pidfdPids()) owned.add(pid);
  } catch {
    unreadable = true;
    return []; // not known (EMFILE): none is taken for an orphan this time; a later look asks again
  }
  return pids.filter((pid) => !owned.has(pid));
}

/**
 * @internal `setChildSubreaper` called by the program: from then on the flag is the program's
 * (the end of the last subreaper tree no longer drops it), but it is dropped only once no
 * subreaper tree lives, whose orphans would otherwise escape to init. Orphans adopted under the
 * program's flag are the program's to reap, as its own children are.
 */
export function setChildSubreaperForProgram(on: boolean): void {
  if (!binding.subreaperForProgram(on, null)) binding.subreaperForProgram(on, childrenWithStarts());
}

/**
 * This process's children, pid and start time in turn, before it becomes a subreaper; thrown
 * (EMFILE) rather than taken for none, which would let the last tree's end reap them.
 */
function childrenWithStarts(): number[] {
  return listChildren(process.pid).flatMap((pid) => [pid, statOf(pid)?.start ?? -1]);
}

/**
 * Once this process is no longer a subreaper (no orphan comes to it any more): the orphans the
 * flag brought that no tree reaped (older than every tree's leader, or still running) are reaped
 * when they end, instead of staying zombies for the life of the process. `before` are the
 * children it had when the flag was set (pid and start time in turn): their owners' to reap.
 */
function reapAdoptedOrphans(before: readonly number[]): void {
  const owners = new Map<number, number>();
  for (let i = 0; i + 1 < before.length; i += 2) owners.set(before[i]!, before[i + 1]!);
  for (const pid of notOwned(threadChildren(process.pid))) {
    const start = statOf(pid)?.start;
    if (start === undefined || owners.get(pid) === start) continue;
    try {
      binding.reapInBackground(pid);
    } catch {
      // Reaped meanwhile (ESRCH).
    }
  }
}

/**
 * The subreaper mechanism. Orphans of the tree come back to this process; an orphan that no
 * walk saw before it was orphaned is counted in every subreaper tree whose leader started no
 * later than it (docs/containment.md says why and what that costs).
 */
class SubreaperTree implements Container {
  readonly kind = 'subreaper';
  readonly cgroupFd = -1;
  leader = 0;
  leaderGone = false;
  private leaderStart = 0;
  // Every process a walk found in this tree, with its start time (a recycled pid is not a member).
  private readonly seen = new Map<number, number>();
  private emptyWaiters: (() => void)[] = [];
  // How many of the waiters keep the event loop alive.
  private keepers = 0;
  private polling: ReturnType<typeof setTimeout> | undefined;
  // SIGKILL was asked: every later look at the tree kills what it still finds.
  private killing = false;
  // This tree's hold on the process's subreaper flag (native/subreaper_holds.cc).
  private readonly hold: number;
  // The thread that cloned the leader: a member's clone(CLONE_PARENT) child is that thread's child.
  private leaderThread = 0;

  constructor() {
    // The children before the flag are read only when it is to be set.
    this.hold = binding.subreaperHold(null);
    if (this.hold < 0) this.hold = binding.subreaperHold(childrenWithStarts());
    subreaperTrees.add(this);
  }

  adopt(pid: number): void {
    this.leader = pid;
    this.leaderStart = statOf(pid)?.start ?? 0;
    this.seen.set(pid, this.leaderStart);
    this.leaderThread = threadOfChild(pid);
    // In a worker, killed natively if the worker ends first (terminated).
    binding.subreaperTreeAdopted(pid);
  }

  abandon(): void {
    this.leaderGone = true;
    this.finish();
  }

  /** A fork() child's copy: stops looking, releases nothing (its hold is void there), and lets its waiters go. */
  forget(): void {
    subreaperTrees.delete(this);
    this.finish();
  }

  leaderReaped(): void {
    this.leaderGone = true;
    // Polled (unreferenced) until the tree is gone, even with nobody waiting: its orphans are
    // this process's children to reap, and the last tree's end drops the subreaper flag.
    this.check();
  }

  private ours(pid: number, start: number): boolean {
    const known = this.seen.get(pid);
    if (known !== undefined) return known === start;
    for (const tree of subreaperTrees) if (tree !== this && tree.seen.get(pid) === start) return false;
    return start >= this.leaderStart;
  }

  /**
   * The roots of a walk: the leader while it lives, and this tree's adopted orphans, less those in
   * `walked` (a later pass of the same walk asks no /proc or fdinfo about them again).
   */
  private roots(walked: ReadonlySet<number>): number[] {
    const roots: number[] = [];
    if (!this.leaderGone) roots.push(this.leader);
    // This process's children that may be orphans of the tree; which of them a handle owns is
    // costlier to learn (every fd's fdinfo), so asked only about these.
    const candidates: number[] = [];
    const zombies = new Set<number>();
    for (const pid of this.adoptable()) {
      if (pid === this.leader || walked.has(pid)) continue;
      const stat = statOf(pid);
      if (stat === null || !this.ours(pid, stat.start)) continue;
      candidates.push(pid);
      if (stat.state === 'Z') zombies.add(pid);
    }
    for (const pid of notOwned(candidates)) {
      if (zombies.has(pid)) this.reap(pid); // an orphan of the tree that ended: ours to reap
      else roots.push(pid);
    }
    return roots;
  }

  /**
   * This process's children that may belong to the tree without a handle: its orphans, which the
   * kernel gives to the first live thread (the main one), and its members' clone(CLONE_PARENT)
   * children, which go to the thread that cloned the leader. Other threads' children (a worker's
   * `child_process` children, which only that worker's libuv knows) are never looked at.
   */
  private adoptable(): number[] {
    const pids = threadChildren(process.pid);
    if (this.leaderThread !== 0 && this.leaderThread !== process.pid) pids.push(...threadChildren(this.leaderThread));
    return pids;
  }

  private reap(pid: number): void {
    try {
      binding.waitpid(pid, binding.waitConstants.WNOHANG);
    } catch {
      // reaped meanwhile
    }
  }

  /** Walks the tree from its roots (see walkTree); `visit` runs on each live member before its children are read. */
  private walk(visit?: (pid: number) => boolean): number[] {
    const found: number[] = []; // pid, start, ... of the members this walk saw first
    const members = walkTree((_, walked) => this.roots(walked), {
      found: (pid, start) => {
        if (this.seen.has(pid)) return;
        this.seen.set(pid, start);
        found.push(pid, start);
      },
      visit,
    });
    // A worker's end kills what its trees' walks found (native/subreaper_trees.cc).
    if (found.length > 0 && !worker_threads.isMainThread && this.leader !== 0) binding.subreaperTreeMembers(this.leader, found);
    return members;
  }

  members(): number[] {
    return this.walk();
  }

  signal(signo: number): void {
    if (signo !== SIGKILL) {
      // Listed first, signalled after: a parent that dies of the signal would otherwise take
      // the list of its children with it. Then again for what a death orphaned meanwhile.
      signalEveryMember(() => this.walk(), signo);
      return;
    }
    this.killing = true;
    this.killRound();
  }

  /**
   * Stops every member first (each before its children are listed), then kills them all: a
   * stopped process cannot fork away during the walk. What a round misses (an orphan reparented
   * meanwhile) the next one finds: empty() repeats rounds until a walk finds nothing.
   */
  private killRound(): number {
    const stopped = this.walk((pid) => tryKill(pid, SIGSTOP));
    for (const pid of stopped) tryKill(pid, SIGKILL);
    return stopped.length;
  }

  empty(keepAlive = true): Promise<void> {
    if (!subreaperTrees.has(this)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.emptyWaiters.push(resolve);
      if (keepAlive) this.keepers++;
      // Someone waits: look now, and poll at the waiters' pace (keeping the loop alive if asked).
      clearTimeout(this.polling);
      this.polling = undefined;
      this.check();
    });
  }

  // The walk finds no end event to wait for: look again every few ms while someone waits (up to
  // every 50 ms), and up to every second while orphans outlive the leader with nobody waiting.
  // The tree is gone after two empty walks in a row, a poll apart: a child being reparented from
  // an exiting parent to this process can be in neither's /proc children list for a moment.
  private emptyWalks = 0;

  private check(delay = 2): void {
    if (this.polling !== undefined || !subreaperTrees.has(this)) return;
    unreadable = false;
    const left = this.killing ? this.killRound() : this.members().length;
    this.emptyWalks = this.leaderGone && left === 0 && !unreadable ? this.emptyWalks + 1 : 0;
    if (this.emptyWalks >= 2) {
      this.finish();
      return;
    }
    this.polling = setTimeout(() => {
      this.polling = undefined;
      if (this.emptyWaiters.length > 0 || this.leaderGone) this.check(Math.min(delay * 2, this.emptyWaiters.length > 0 ? 50 : 1000));
    }, delay);
    if (this.keepers === 0) this.polling.unref();
  }

  private finish(): void {
    clearTimeout(this.polling);
    this.polling = undefined;
    if (subreaperTrees.delete(this)) {
      if (this.leader !== 0) binding.subreaperTreeEnded(this.leader);
      const before = binding.subreaperRelease(this.hold);
      if (before !== null) reapAdoptedOrphans(before);
    }
    const waiters = this.emptyWaiters;
    this.emptyWaiters = [];
    this.keepers = 0;
    for (const resolve of waiters) resolve();
  }

  accounting(): null {
    return null;
  }
}

// --- cgroup v2 ---

/** The cgroup v2 mount point, from /proc/self/mountinfo, or null. */
function unifiedMount(): string | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const [mountPart, fsPart] = line.split(' - ');
    if (fsPart?.startsWith('cgroup2 ') === true) return mountPart!.split(' ')[4]!.replace(/\\040/g, ' ');
  }
  return null;
}

/** This process's own cgroup v2 directory (its `0::` line), or null. */
function ownCgroupDir(): string | null {
  const mount = unifiedMount();
  if (mount === null) return null;
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return null;
  }
  const line = text.split('\n').find((entry) => entry.startsWith('0::'));
  return line === undefined ? null : path.join(mount, line.slice(3));
}

// <linux/magic.h>: the f_type of statfs(2) on a cgroup v2 file system.
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** Whether `dir` is a cgroup v2 directory in which this process can make a sub-cgroup. */
function writableCgroup(dir: string): string | null {
  if (!hasCgroupKill()) return `cgroup.kill needs Linux 5.14 (this is ${os.release()})`;
  if (!fs.existsSync(path.join(dir, 'cgroup.procs'))) return `${dir} is not a cgroup v2 directory`;
  // A cgroup v1 hierarchy has cgroup.procs too, but clone3 refuses its fd (EBADF) only after the
  // leaf and the watchdog are made: its file system type says it first.
  if (fs.statfsSync(dir).type !== CGROUP2_SUPER_MAGIC) return `${dir} is not a cgroup v2 directory (its file system is not cgroup2)`;
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    return `${dir} is not writable by this process (delegate a subtree, or name one with the cgroup option)`;
  }
  return null;
}

/** Whether the kernel has `cgroup.kill` (5.14), which the root cgroup lacks whatever the kernel. */
function hasCgroupKill(): boolean {
  const [major = 0, minor = 0] = os.release().split('.').map((part) => parseInt(part, 10));
  return major > 5 || (major === 5 && minor >= 14);
}

let processCgroup: string | undefined;
let watchdog: number | undefined;
// Each thread cgroup made so far, with its watchdog's pid: spawns that alternate between `cgroup`
// parents reuse them (a watchdog and an exit listener per switch were never released).
const watchdogs = new Map<string, number>();
let leafCount = 0;

// The watchdog: waits for end-of-file on stdin, kills the cgroup, waits for it to empty (up to
// 10 s; at once if it was already removed at a clean exit), removes it depth first (through any
// sub-cgroups a tree made in its leaf).
const WATCHDOG_SCRIPT =
  'read _; echo 1 > "$1/cgroup.kill"; i=0; while [ -e "$1/cgroup.events" ] && ! grep -q "populated 0" "$1/cgroup.events" && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; rm_cgroup() { for d in "$1"/*/; do [ -d "$d" ] && rm_cgroup "$d"; done; rmdir "$1" 2>/dev/null; }; rm_cgroup "$1"; exit 0';

/**
 * The cgroup of this thread's leaves, `<parent>/posix-process-<pid>` (`-t<threadId>` in a worker:
 * each worker has its own module state, leaf numbers and watchdog, whose end must not kill the
 * trees of another thread), made on first use, and the watchdog that kills it when this process
 * (or worker) dies: a shell outside the tree, whose stdin is a pipe that only this thread's
 * environment holds, so that end-of-file means it is gone (even by SIGKILL). Made, started and
 * handed to the background reaper in one native call (native/watchdog.cc): a worker terminated
 * meanwhile leaves no cgroup and no zombie behind.
 */
function processCgroupUnder(parent: string): string {
  const dir = path.join(parent, `posix-process-${process.pid}${worker_threads.isMainThread ? '' : `-t${worker_threads.threadId}`}`);
  if (processCgroup === dir) return dir;
  const made = watchdogs.get(dir);
  if (made !== undefined) {
    processCgroup = dir;
    watchdog = made;
    return dir;
  }
  watchdog = binding.startCgroupWatchdog(dir, WATCHDOG_SCRIPT);
  watchdogs.set(dir, watchdog);
  processCgroup = dir;
  enableAccounting(dir);
  const owner = process.pid;
  process.once('exit', () => {
    // A fork() child inherits the listener (and a process.pid of its own): the cgroup is not its to remove.
    if (process.pid !== owner) return;
    try {
      fs.rmdirSync(dir);
    } catch {
      // still has leaves: the watchdog removes them once it sees this process gone
    }
  });
  return dir;
}

// The controllers enabled for this process's leaves.
const leafControllers: string[] = [];

/** Enables the memory and pids controllers for the leaves where the hierarchy offers them (memory.peak, pids.peak). */
function enableAccounting(dir: string): void {
  let offered: string[];
  try {
    offered = fs.readFileSync(path.join(dir, 'cgroup.controllers'), 'latin1').trim().split(' ');
  } catch {
    return;
  }
  for (const controller of ['memory', 'pids']) {
    if (!offered.includes(controller)) continue;
    try {
      fs.writeFileSync(path.join(dir, 'cgroup.subtree_control'), `+${controller}`);
      leafControllers.push(controller);
    } catch {
      // not delegated to us: the leaves go without it
    }
  }
}

/** The process cgroup `dir` is gone: the next spawn makes it again. */
function forgetProcessCgroup(dir: string): void {
  watchdogs.delete(dir);
  if (processCgroup === dir) processCgroup = watchdog = undefined;
}

/**
 * @internal In a fork() child (lib/fork.ts): the copied containment state is the parent's. Its
 * process cgroup and watchdog are forgotten (the child makes its own on its first cgroup spawn),
 * and its copies of the parent's subreaper trees stop: they would take the child's own children,
 * started after their leaders, for orphans and reap them.
 */
export function containAfterForkInChild(): void {
  processCgroup = undefined;
  watchdog = undefined;
  watchdogs.clear();
  for (const tree of subreaperTrees) tree.forget(); // each leaves the set
}

/** @internal For tests: the watchdog's pid and the process cgroup, once made. */
export function cgroupWatchdogForTest(): { pid: number | undefined; dir: string | undefined } {
  return { pid: watchdog, dir: processCgroup };
}

// The parents already found usable (each spawn would otherwise read mountinfo again).
const usableParents = new Map<string | undefined, string>();

/** Where leaves go: the `cgroup` option, else this process's own cgroup, else the v2 mount. */
function cgroupParent(requested: string | undefined): string {
  let parent = usableParents.get(requested);
  if (parent === undefined) {
    parent = findCgroupParent(requested);
    usableParents.set(requested, parent);
  }
  return parent;
}

function findCgroupParent(requested: string | undefined): string {
  if (requested !== undefined) {
    const why = writableCgroup(requested);
    if (why !== null) throw unavailable('cgroup', why);
    return requested;
  }
  const reasons: string[] = [];
  for (const candidate of [ownCgroupDir(), unifiedMount()]) {
    if (candidate === null) continue;
    const why = writableCgroup(candidate);
    if (why === null) return candidate;
    reasons.push(why);
  }
  throw unavailable('cgroup', reasons.length === 0 ? 'no cgroup v2 hierarchy is mounted' : reasons.join('; '));
}

/** The stand-in of an inotify watch that could not be made: `onTick` every 50 ms, unreferenced until ref(). */
class PollingWatch {
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(onTick: () => void) {
    this.timer = setInterval(onTick, 50).unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  ref(): this {
    this.timer.ref();
    return this;
  }

  unref(): this {
    this.timer.unref();
    return this;
  }
}

// How soon a cgroup.events that could not be read is read again.
const RECHECK_MS = 50;

/** A cgroup leaf holding one tree. */
class CgroupTree implements Container {
  readonly kind = 'cgroup';
  cgroupFd: number;
  private readonly leaf: string;
  private watcher: { close(): void; ref(): unknown; unref(): unknown } | undefined;
  private emptyWaiters: (() => void)[] = [];
  // How many of the waiters keep the event loop alive.
  private keepers = 0;
  private leaderGone = false;
  private removed = false;
  private finalAccounting: TreeAccounting | null = null;
  // A look at cgroup.events that failed (EMFILE), to be made again.
  private recheck: ReturnType<typeof setTimeout> | undefined;

  constructor(parent: string) {
    let dir = processCgroupUnder(parent);
    for (let remade = false; ; ) {
      this.leaf = path.join(dir, String(++leafCount));
      try {
        fs.mkdirSync(this.leaf);
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // The process cgroup was removed from outside while empty: made again, once, with a
        // watchdog of its own (the old one finds nothing to kill).
        if (code === 'ENOENT' && !remade) {
          remade = true;
          forgetProcessCgroup(dir);
          dir = processCgroupUnder(parent);
          continue;
        }
        // A leaf left by an earlier process that had this pid (it and its watchdog killed at
        // once): its number is skipped, and the watchdog removes it with ours at the end.
        if (code !== 'EEXIST') throw error;
      }
    }
    try {
      this.cgroupFd = fs.openSync(this.leaf, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    } catch (error) {
      fs.rmdirSync(this.leaf);
      throw error;
    }
  }

  private closeFd(): void {
    if (this.cgroupFd >= 0) fs.closeSync(this.cgroupFd);
    this.cgroupFd = -1;
  }

  adopt(): void {
    this.closeFd();
  }

  abandon(): void {
    this.closeFd();
    this.leaderGone = true;
    this.remove();
  }

  leaderReaped(): void {
    this.leaderGone = true;
    // rmdir fails with EBUSY while the cgroup is populated: one call says whether the tree is
    // gone and removes it if so (docs/containment.md, cost).
    const snapshot = this.accounting();
    try {
      fs.rmdirSync(this.leaf);
    } catch (error) {
      // ENOENT: removed from outside while empty; else orphans are left: watch, unreferenced, to
      // remove the leaf once they end on their own.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.watch();
        this.check();
        return;
      }
    }
    this.finalAccounting = snapshot;
    this.removed = true;
    this.check();
  }

  /**
   * inotify on cgroup.events (the kernel notifies each change of `populated`), made only when a
   * tree outlives its leader or someone waits: a spawn whose tree ends with its leader needs none.
   */
  private watch(): void {
    if (this.watcher !== undefined || this.removed) return;
    try {
      const watcher = fs.watch(path.join(this.leaf, 'cgroup.events'), { persistent: false }, () => this.check());
      watcher.on('error', () => this.check());
      this.watcher = watcher;
    } catch {
      // The leaf is gone (check() then finds it so), or inotify refuses a watch (ENOSPC, at
      // fs.inotify.max_user_watches): cgroup.events is read every 50 ms instead.
      this.watcher = new PollingWatch(() => this.check());
    }
  }

  /** Whether the tree is gone (`populated 0`); settles the waiters, and removes the leaf once the leader is reaped too. */
  private check(): boolean {
    let text = 'populated 0';
    if (!this.removed) {
      try {
        text = fs.readFileSync(path.join(this.leaf, 'cgroup.events'), 'latin1');
      } catch (error) {
        // Removed (ENOENT, or ENODEV while it goes); another failure (EMFILE) is no answer, and
        // the change it missed may send no other event: looked at again shortly.
        if (!['ENOENT', 'ENODEV'].includes((error as NodeJS.ErrnoException).code ?? '')) {
          if (this.recheck === undefined) {
            this.recheck = setTimeout(() => {
              this.recheck = undefined;
              this.check();
            }, RECHECK_MS);
            if (this.keepers === 0) this.recheck.unref(); // as the watcher: kept alive by a waiter only
          }
          return false;
        }
      }
    }
    if (!text.startsWith('populated 0')) return false;
    const waiters = this.emptyWaiters;
    this.emptyWaiters = [];
    for (const resolve of waiters) resolve();
    if (this.leaderGone) this.remove();
    return true;
  }

  private remove(): void {
    if (this.removed) return;
    this.finalAccounting = this.accounting();
    this.removed = true;
    this.watcher?.close();
    clearTimeout(this.recheck);
    // Deepest first: a cgroup is removed only once it has no sub-cgroups.
    for (const dir of this.cgroups().reverse()) {
      try {
        fs.rmdirSync(dir);
      } catch {
        // Populated again (a process moved in from outside): left for the watchdog.
      }
    }
  }

  /**
   * The leaf and every cgroup a process of the tree made inside it (a container runtime, a
   * systemd), parents before their sub-cgroups: the tree is all of them, not the leaf alone.
   */
  private cgroups(): string[] {
    const dirs = [this.leaf];
    for (let i = 0; i < dirs.length; i++) {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dirs[i]!, { withFileTypes: true });
      } catch {
        continue; // removed meanwhile
      }
      for (const entry of entries) if (entry.isDirectory()) dirs.push(path.join(dirs[i]!, entry.name));
    }
    return dirs;
  }

  members(): number[] {
    if (this.removed) return [];
    const pids: number[] = [];
    for (const dir of this.cgroups()) {
      let text: string;
      try {
        text = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'latin1');
      } catch {
        continue; // removed meanwhile
      }
      for (const line of text.split('\n')) if (line !== '') pids.push(Number(line));
    }
    return pids;
  }

  signal(signo: number): void {
    if (this.removed) return;
    if (signo === SIGKILL) {
      try {
        fs.writeFileSync(path.join(this.leaf, 'cgroup.kill'), '1');
      } catch (error) {
        // Removed from outside, which the kernel allows only once it is empty: nothing to kill.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      return;
    }
    signalEveryMember(() => this.members(), signo);
    if (signo === SIGCONT) this.thaw();
  }

  /**
   * Thaws the cgroups of the tree frozen from outside (`cgroup.freeze`), as systemd does before a
   * stop: SIGCONT resumes a stopped process, not a frozen one, which would keep a handled signal
   * pending for ever.
   */
  private thaw(): void {
    for (const dir of this.cgroups()) {
      const freeze = path.join(dir, 'cgroup.freeze');
      try {
        if (fs.readFileSync(freeze, 'latin1').startsWith('1')) fs.writeFileSync(freeze, '0');
      } catch {
        // Removed meanwhile, or a kernel without the cgroup v2 freezer (before 5.2).
      }
    }
  }

  empty(keepAlive = true): Promise<void> {
    if (this.check()) return Promise.resolve();
    this.watch();
    if (keepAlive && this.keepers++ === 0) this.watcher?.ref();
    return new Promise<void>((resolve) => {
      this.emptyWaiters.push(resolve);
      this.check(); // a change between the first look and the watch
    }).finally(() => {
      if (keepAlive && --this.keepers === 0) this.watcher?.unref();
    });
  }

  accounting(): TreeAccounting | null {
    if (this.removed) return this.finalAccounting;
    const read = (file: string): string | undefined => {
      try {
        return fs.readFileSync(path.join(this.leaf, file), 'latin1');
      } catch {
        return undefined;
      }
    };
    const cpu = read('cpu.stat');
    if (cpu === undefined) return null;
    const field = (key: string): number => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(cpu)?.[1] ?? 0) / 1e6;
    const result: { -readonly [K in keyof TreeAccounting]: TreeAccounting[K] } = {
      cpuSeconds: field('usage_usec'),
      userCpuSeconds: field('user_usec'),
      systemCpuSeconds: field('system_usec'),
    };
    // Only where enableAccounting could enable the controllers: a failed open costs an exception.
    if (leafControllers.includes('memory')) {
      const peak = read('memory.peak');
      if (peak !== undefined) result.memoryPeakBytes = Number(peak.trim());
    }
    if (leafControllers.includes('pids')) {
      const peak = read('pids.peak');
      if (peak !== undefined) result.pidsPeak = Number(peak.trim());
    }
    return result;
  }
}

// --- PID namespace ---

/**
 * The child is PID 1 of a new PID namespace: every orphan of the tree is reparented to it, and
 * when it dies the kernel kills every other process of the namespace before its own exit is
 * reported, so the leader's reaping is the end of the tree.
 */
class PidNamespaceTree implements Container {
  readonly kind = 'pid-namespace';
  readonly request = pidNamespaceRequest;
  readonly cgroupFd = -1;
  private leader = 0;
  private leaderGone = false;
  private emptyWaiters: (() => void)[] = [];

  adopt(pid: number): void {
    this.leader = pid;
  }

  abandon(): void {
    this.leaderReaped();
  }

  leaderReaped(): void {
    this.leaderGone = true;
    const waiters = this.emptyWaiters;
    this.emptyWaiters = [];
    for (const resolve of waiters) resolve();
  }

  members(): number[] {
    if (this.leaderGone) return [];
    // The leader is the namespace's init: the reaper whose children a later pass reads again.
    return walkTree((pass) => (pass === 0 ? [this.leader] : childrenOf(this.leader)));
  }

  signal(signo: number): void {
    if (this.leaderGone) return;
    // PID 1 of a namespace gets only the signals it has a handler for, SIGKILL aside: the other
    // members are signalled one by one, and SIGKILL to the leader ends them all.
    if (signo === SIGKILL) {
      tryKill(this.leader, SIGKILL);
      return;
    }
    signalEveryMember(() => this.members(), signo);
  }

  empty(): Promise<void> {
    if (this.leaderGone) return Promise.resolve();
    return new Promise<void>((resolve) => this.emptyWaiters.push(resolve));
  }

  accounting(): null {
    return null;
  }
}

// --- choice ---

/** Why a mechanism cannot be used by spawn here, or null when it can. */
function missing(kind: Containment, cgroup: string | undefined): string | null {
  switch (kind) {
    case 'cgroup':
      try {
        cgroupParent(cgroup);
      } catch (error) {
        return (error as Error).message;
      }
      return null;
    case 'pid-namespace':
      return pidNamespaceMissing();
    case 'subreaper':
      return null;
  }
}

/** Why this process cannot start a child in a new PID namespace, or null. */
function pidNamespaceMissing(): string | null {
  // CLONE_NEWPID needs CAP_SYS_ADMIN, which a new user namespace gives an unprivileged caller.
  if (process.geteuid?.() === 0) return null;
  return userNamespacesMissing();
}

/** Why this process cannot make an unprivileged user namespace, or null. */
function userNamespacesMissing(): string | null {
  const read = (file: string): string | null => {
    try {
      return fs.readFileSync(file, 'latin1').trim();
    } catch {
      return null;
    }
  };
  if (read('/proc/sys/user/max_user_namespaces') === '0') return 'a new PID namespace needs root, or user namespaces (user.max_user_namespaces is 0)';
  if (read('/proc/sys/kernel/unprivileged_userns_clone') === '0') return 'a new PID namespace needs root, or unprivileged user namespaces (kernel.unprivileged_userns_clone is 0)';
  return null;
}

/**
 * @internal The request changes of the 'pid-namespace' mechanism: CLONE_NEWPID, and for a
 * caller without root a new user namespace too, mapping its own uid and gid to themselves
 * (unless the caller's `namespaces` already has 'user', whose maps are its own).
 */
export function pidNamespaceRequest(request: RawSpawnRequest): void {
  const flags = request.namespaceFlags ?? 0;
  request.namespaceFlags = flags | NAMESPACE_FLAGS.pid;
  checkNoOuterGroup(request, "contain: 'pid-namespace'");
  if (process.geteuid?.() === 0 || (flags & NAMESPACE_FLAGS.user) !== 0) return;
  const [uid, gid] = [process.geteuid!(), process.getegid!()];
  // The user namespace made here maps only these: any other would be EINVAL in the child.
  const why = "contain: 'pid-namespace' without root maps only this process's own";
  checkMapped(request.uid, [{ inside: uid, outside: uid, count: 1 }], 'options.uid', why);
  checkMapped(request.gid, [{ inside: gid, outside: gid, count: 1 }], 'options.gid', why);
  request.namespaceFlags |= NAMESPACE_FLAGS.user;
  request.uidMap = `${uid} ${uid} 1\n`;
  request.gidMap = `${gid} ${gid} 1\n`;
}

/** @internal Refuses an empty `cgroup` path (which would be the cwd) and one with a null byte, as Node's fs does. */
export function checkCgroupPath(cgroup: string | undefined, name: string): void {
  if (cgroup === '' || cgroup?.includes('\0') === true) throw invalidArgValue(name, 'must be a non-empty path without null bytes', cgroup);
}

/**
 * The containment mechanisms `spawn` can use on this machine, with this build and privileges,
 * best first: `contain: true` takes the first. A mechanism missing here is refused when named
 * (`ERR_CONTAINMENT_UNAVAILABLE`, whose message says what it needs).
 *
 * @param cgroup - the cgroup v2 directory the 'cgroup' mechanism would use (default: found)
 * @returns e.g. `['cgroup', 'subreaper']`; 'subreaper' is always there
 * @throws TypeError `ERR_INVALID_ARG_TYPE` for a `cgroup` that is not a string,
 *   `ERR_INVALID_ARG_VALUE` for an empty one or one with a null byte
 * @see docs/containment.md; cgroups(7), pid_namespaces(7), prctl(2) PR_SET_CHILD_SUBREAPER
 * @example
 * ```ts
 * if (availableContainments().includes('cgroup')) console.log('trees are killed with cgroup.kill');
 * ```
 */
export function availableContainments(cgroup?: string): Containment[] {
  if (cgroup !== undefined && typeof cgroup !== 'string') throw invalidArgType('cgroup', 'a string', cgroup);
  checkCgroupPath(cgroup, 'cgroup');
  const parent = cgroup === undefined ? undefined : path.resolve(cgroup); // as spawn takes it
  return (['cgroup', 'pid-namespace', 'subreaper'] as const).filter((kind) => missing(kind, parent) === null);
}

/**
 * @internal Makes the container of one spawn: the named mechanism, or (true) the best one
 * available ('cgroup' when `cgroup` is given). Throws `ERR_CONTAINMENT_UNAVAILABLE` for a named
 * mechanism that is not.
 */
export function openContainer(option: ContainOption, cgroup: string | undefined): Container {
  // A `cgroup` option asks for the cgroup mechanism: one it cannot use is an error, not a fallback.
  const kind = option === true ? (cgroup !== undefined ? 'cgroup' : availableContainments()[0]!) : (option as Containment);
  if (kind === 'cgroup') return new CgroupTree(cgroupParent(cgroup)); // cgroupParent throws why it cannot
  if (kind === 'subreaper') return new SubreaperTree();
  const why = pidNamespaceMissing();
  if (why !== null) throw unavailable(kind, why);
  return new PidNamespaceTree();
}
