import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  getpriority,
  getrusage,
  kill,
  prlimit,
  schedGetAffinity,
  schedGetScheduler,
  schedSetAffinity,
  schedSetScheduler,
  setpriority,
  spawn,
  SyscallError,
  wait4,
  waitpid,
  type PosixSpawnOptions,
  type RlimitName,
} from '../lib/index';
import { openFds, reapedPid, runNode, start, statField, thrown, zombieChildren } from './helpers';

// Children made by the current test, killed and reaped after it.
let sleepers: number[] = [];
afterEach(() => {
  for (const pid of sleepers) {
    kill(pid, 'SIGKILL');
    waitpid(pid, {});
  }
  sleepers = [];
  expect(zombieChildren()).toEqual([]);
});

function sleeper(options?: PosixSpawnOptions): number {
  const pid = start(['sleep', '60'], options);
  sleepers.push(pid);
  return pid;
}

// The lines of /proc/<pid>/limits, by resource name (proc(5)).
const limitLines: Record<RlimitName, string> = {
  cpu: 'Max cpu time',
  fsize: 'Max file size',
  data: 'Max data size',
  stack: 'Max stack size',
  core: 'Max core file size',
  rss: 'Max resident set',
  nproc: 'Max processes',
  nofile: 'Max open files',
  memlock: 'Max locked memory',
  as: 'Max address space',
  locks: 'Max file locks',
  sigpending: 'Max pending signals',
  msgqueue: 'Max msgqueue size',
  nice: 'Max nice priority',
  rtprio: 'Max realtime priority',
  rttime: 'Max realtime timeout',
};

/** [soft, hard] of /proc/<pid>/limits as strings ('unlimited' or digits). */
function procLimits(pid: number | 'self', resource: RlimitName): [string, string] {
  const line = fs.readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith(limitLines[resource]))!;
  const [soft, hard] = line.slice(26).trim().split(/\s+/);
  return [soft!, hard!];
}

const asProc = (value: number | bigint): string => (value === Infinity ? 'unlimited' : String(value));
const allowedList = (pid: number): string => /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
const niceOf = (pid: number): number => Number(statField(pid, 19));

function syscallError(fn: () => unknown): SyscallError {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(SyscallError);
  return error as SyscallError;
}

describe('prlimit', () => {
  it('reads every limit as /proc/<pid>/limits shows it', () => {
    const pid = sleeper();
    for (const resource of Object.keys(limitLines) as RlimitName[]) {
      const { soft, hard } = prlimit(pid, resource);
      expect([asProc(soft), asProc(hard)], resource).toEqual(procLimits(pid, resource));
    }
  });

  it('sets [soft, hard], one value, Infinity and a bigint, and returns the limits it replaced', () => {
    const pid = sleeper();
    const before = prlimit(pid, 'nofile');
    expect(prlimit(pid, 'nofile', [100, 200])).toEqual(before);
    expect(procLimits(pid, 'nofile')).toEqual(['100', '200']);
    expect(prlimit(pid, 'nofile', 150)).toEqual({ soft: 100, hard: 200 });
    expect(procLimits(pid, 'nofile')).toEqual(['150', '150']);

    // A soft limit raised to RLIM_INFINITY, under a hard limit that is already unlimited.
    const unlimited = (['core', 'cpu', 'data', 'as', 'memlock', 'rss'] as const).find((r) => prlimit(pid, r).hard === Infinity)!;
    prlimit(pid, unlimited, [0, Infinity]);
    expect(procLimits(pid, unlimited)).toEqual(['0', 'unlimited']);
    prlimit(pid, unlimited, Infinity);
    expect(procLimits(pid, unlimited)).toEqual(['unlimited', 'unlimited']);
    expect(prlimit(pid, unlimited)).toEqual({ soft: Infinity, hard: Infinity });

    // Above Number.MAX_SAFE_INTEGER: read back as a bigint, exactly. (Hard limits only go down:
    // raising one needs CAP_SYS_RESOURCE, which root may lack in a container.)
    prlimit(pid, 'fsize', [2n ** 60n, 2n ** 63n]);
    expect(procLimits(pid, 'fsize')).toEqual([String(2n ** 60n), String(2n ** 63n)]);
    expect(prlimit(pid, 'fsize')).toEqual({ soft: 2n ** 60n, hard: 2n ** 63n });
    prlimit(pid, 'fsize', [Number.MAX_SAFE_INTEGER, 2n ** 60n + 1n]);
    expect(prlimit(pid, 'fsize')).toEqual({ soft: Number.MAX_SAFE_INTEGER, hard: 2n ** 60n + 1n });
  });

  it('pid 0 is the calling process (in a child Node, read back from /proc/self/limits)', () => {
    const script = `const p = require('./dist/index.js');
      const old = p.prlimit(0, 'nofile', [64, 128]);
      const line = require('fs').readFileSync('/proc/self/limits', 'utf8').split('\\n').find((l) => l.startsWith('Max open files'));
      console.log(JSON.stringify({ old: typeof old.soft, line: line.slice(26).trim().split(/\\s+/).slice(0, 2) }));`;
    const result = runNode(script);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ old: 'number', line: ['64', '128'] });
  });

  it('ESRCH for a dead pid; EPERM above /proc/sys/fs/nr_open', () => {
    const gone = syscallError(() => prlimit(reapedPid(), 'nofile'));
    expect([gone.code, gone.errno, gone.syscall]).toEqual(['ESRCH', -3, 'prlimit']);
    const pid = sleeper();
    const nrOpen = Number(fs.readFileSync('/proc/sys/fs/nr_open', 'utf8'));
    const before = procLimits(pid, 'nofile');
    const error = syscallError(() => prlimit(pid, 'nofile', nrOpen + 1));
    expect([error.code, error.syscall]).toEqual(['EPERM', 'prlimit']);
    expect(procLimits(pid, 'nofile')).toEqual(before);
  });

  it.each([
    [[1.5, 'nofile'], RangeError, 'ERR_OUT_OF_RANGE'],
    [[-1, 'nofile'], RangeError, 'ERR_OUT_OF_RANGE'],
    [['1', 'nofile'], TypeError, 'ERR_INVALID_ARG_TYPE'],
    [[0, 'files'], TypeError, 'ERR_INVALID_ARG_VALUE'],
    [[0, 'toString'], TypeError, 'ERR_INVALID_ARG_VALUE'],
    [[0, 7], TypeError, 'ERR_INVALID_ARG_TYPE'],
    [[0, 'nofile', [20, 10]], RangeError, 'ERR_OUT_OF_RANGE'],
    [[0, 'nofile', -1], RangeError, 'ERR_OUT_OF_RANGE'],
    [[0, 'nofile', 2n ** 64n], RangeError, 'ERR_OUT_OF_RANGE'],
    [[0, 'nofile', [1, 2, 3]], TypeError, 'ERR_INVALID_ARG_VALUE'],
    [[0, 'nofile', '10'], TypeError, 'ERR_INVALID_ARG_TYPE'],
    [[0, 'nofile', NaN], RangeError, 'ERR_OUT_OF_RANGE'],
  ])('refuses %s before any system call', (args, type, code) => {
    const before = procLimits('self', 'nofile');
    const error = thrown(() => (prlimit as (...a: unknown[]) => unknown)(...args));
    expect(error).toBeInstanceOf(type);
    expect((error as { code: string }).code).toBe(code);
    expect(procLimits('self', 'nofile')).toEqual(before);
  });
});

describe('getrusage', () => {
  const fields = ['userTime', 'systemTime', 'maxRSS', 'minorFaults', 'majorFaults', 'voluntaryContextSwitches', 'involuntaryContextSwitches', 'blockInputs', 'blockOutputs'];

  it("'self' lies between two readings of Node's process.resourceUsage()", () => {
    const a = process.resourceUsage();
    const usage = getrusage('self');
    const b = process.resourceUsage();
    expect(Object.keys(usage)).toEqual(fields);
    expect(usage.userTime).toBeGreaterThanOrEqual(a.userCPUTime / 1e6);
    expect(usage.userTime).toBeLessThanOrEqual(b.userCPUTime / 1e6);
    expect(usage.systemTime).toBeGreaterThanOrEqual(a.systemCPUTime / 1e6);
    expect(usage.systemTime).toBeLessThanOrEqual(b.systemCPUTime / 1e6);
    expect(usage.maxRSS).toBeGreaterThanOrEqual(a.maxRSS * 1024);
    expect(usage.maxRSS).toBeLessThanOrEqual(b.maxRSS * 1024);
    expect(usage.minorFaults).toBeGreaterThanOrEqual(a.minorPageFault);
    expect(usage.minorFaults).toBeLessThanOrEqual(b.minorPageFault);
    expect(getrusage()).toHaveProperty('maxRSS'); // 'self' is the default
  });

  it("'self' in seconds is exactly Node's microseconds / 1e6, past 1 s of CPU time too", () => {
    // tv_sec + tv_usec / 1e6 rounds twice: from 1 s on about 1 value in 6 was one ulp off, and a
    // reading between two of Node's that saw the same microsecond fell outside them (7 % of the
    // readings of the test above, once the process had used 1 s of CPU).
    const result = runNode(
      `const { getrusage } = require('./dist/index.js');
      while (process.cpuUsage().user < 1.1e6); // CPU time, however long a loaded machine takes
      let same = 0;
      let off = 0;
      for (let i = 0; i < 20000; i++) {
        const a = process.resourceUsage();
        const usage = getrusage('self');
        const b = process.resourceUsage();
        if (a.userCPUTime !== b.userCPUTime) continue;
        same++;
        if (usage.userTime !== a.userCPUTime / 1e6) off++;
      }
      console.log(JSON.stringify({ same: same > 100, off }));`,
      { timeout: 25_000 },
    );
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ same: true, off: 0 });
  });

  it("'thread' counts the calling thread only: at most 'self'", () => {
    const self = getrusage('self');
    const thread = getrusage('thread');
    expect(Object.keys(thread)).toEqual(fields);
    expect(thread.userTime + thread.systemTime).toBeGreaterThan(0);
    expect(thread.userTime).toBeLessThanOrEqual(getrusage('self').userTime);
    expect(thread.minorFaults).toBeLessThanOrEqual(getrusage('self').minorFaults);
    expect(self.maxRSS).toBeGreaterThan(0);
  });

  it("'children' grows by a reaped child's own usage, as wait4 reports it", () => {
    const before = getrusage('children');
    const pid = start(['sh', '-c', 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done']);
    const { rusage } = wait4(pid, {})!;
    const after = getrusage('children');
    expect(rusage.userTime + rusage.systemTime).toBeGreaterThan(0);
    expect(after.userTime - before.userTime).toBeCloseTo(rusage.userTime, 5);
    expect(after.systemTime - before.systemTime).toBeCloseTo(rusage.systemTime, 5);
    expect(after.minorFaults - before.minorFaults).toBe(rusage.minorFaults);
    expect(after.maxRSS).toBeGreaterThanOrEqual(rusage.maxRSS);
  });

  it.each([
    ['process', TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['hasOwnProperty', TypeError, 'ERR_INVALID_ARG_VALUE'],
    [0, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [null, TypeError, 'ERR_INVALID_ARG_TYPE'],
  ])('refuses who %j', (who, type, code) => {
    const error = thrown(() => getrusage(who as 'self'));
    expect(error).toBeInstanceOf(type);
    expect((error as { code: string }).code).toBe(code);
  });
});

describe('getpriority / setpriority', () => {
  it("'process': sets a child's nice value, read back from /proc/<pid>/stat", () => {
    const pid = sleeper();
    expect(getpriority('process', pid)).toBe(niceOf(pid));
    setpriority('process', pid, 10);
    expect(niceOf(pid)).toBe(10);
    expect(getpriority('process', pid)).toBe(10);
    setpriority('process', pid, -20); // root may lower it
    expect(niceOf(pid)).toBe(-20);
    expect(getpriority('process', pid)).toBe(-20);
    setpriority('process', pid, 19);
    expect(getpriority('process', pid)).toBe(19);
  });

  it("'group': every member of a process group", () => {
    const leader = sleeper({ setpgroup: 0 });
    const member = sleeper({ setpgroup: leader });
    setpriority('group', leader, 7);
    expect([niceOf(leader), niceOf(member)]).toEqual([7, 7]);
    setpriority('process', member, 3);
    expect(getpriority('group', leader)).toBe(3); // the highest priority of the group
  });

  it("'user': every process of a uid (one no one else uses)", async () => {
    const uid = 64999;
    const children = await Promise.all([0, 1].map(() => spawn('sleep', ['60'], { uid, gid: uid, stdio: 'ignore' })));
    try {
      setpriority('user', uid, 6);
      expect(children.map((child) => niceOf(child.pid))).toEqual([6, 6]);
      expect(getpriority('user', uid)).toBe(6);
    } finally {
      for (const child of children) child.kill('SIGKILL');
      await Promise.all(children.map((child) => child.wait()));
    }
  });

  it('pid 0 is the calling thread (in a child Node)', () => {
    const script = `const p = require('./dist/index.js'); p.setpriority('process', 0, 4);
      const stat = require('fs').readFileSync('/proc/self/stat', 'utf8');
      console.log(p.getpriority('process', 0), stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);`;
    const result = runNode(script);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('4 4');
  });

  it('ESRCH when nothing matches', () => {
    const dead = reapedPid();
    for (const error of [syscallError(() => getpriority('process', dead)), syscallError(() => setpriority('process', dead, 1))]) {
      expect(error.code).toBe('ESRCH');
    }
    expect(syscallError(() => getpriority('process', dead)).syscall).toBe('getpriority');
    expect(syscallError(() => setpriority('group', dead, 1)).syscall).toBe('setpriority');
    expect(syscallError(() => getpriority('user', 64998)).code).toBe('ESRCH');
    expect(syscallError(() => getpriority('user', 2 ** 32 - 2)).code).toBe('ESRCH'); // above int32: still a uid
    expect(syscallError(() => setpriority('user', 3_000_000_000, 1)).code).toBe('ESRCH');
  });

  it.each([
    [['thread', 0], TypeError, 'ERR_INVALID_ARG_VALUE'],
    [[1, 0], TypeError, 'ERR_INVALID_ARG_TYPE'],
    [['process', -1], RangeError, 'ERR_OUT_OF_RANGE'],
    [['process', 2 ** 31], RangeError, 'ERR_OUT_OF_RANGE'],
    [['user', 2 ** 32 - 1], RangeError, 'ERR_OUT_OF_RANGE'],
    [['process', '0'], TypeError, 'ERR_INVALID_ARG_TYPE'],
  ])('getpriority refuses %j', (args, type, code) => {
    const error = thrown(() => (getpriority as (...a: unknown[]) => unknown)(...args));
    expect(error).toBeInstanceOf(type);
    expect((error as { code: string }).code).toBe(code);
  });

  it.each([
    [['process', 0, 20], RangeError, 'ERR_OUT_OF_RANGE'],
    [['process', 0, -21], RangeError, 'ERR_OUT_OF_RANGE'],
    [['process', 0, 1.5], RangeError, 'ERR_OUT_OF_RANGE'],
    [['process', 0, '5'], TypeError, 'ERR_INVALID_ARG_TYPE'],
    [['group', -5, 5], RangeError, 'ERR_OUT_OF_RANGE'],
  ])('setpriority refuses %j before any system call', (args, type, code) => {
    const before = niceOf(process.pid);
    const error = thrown(() => (setpriority as (...a: unknown[]) => unknown)(...args));
    expect(error).toBeInstanceOf(type);
    expect((error as { code: string }).code).toBe(code);
    expect(niceOf(process.pid)).toBe(before);
  });
});

describe('schedGetAffinity / schedSetAffinity', () => {
  const cpuList = (cpus: number[]): string => cpus.join(',');
  const online = (): number[] => schedGetAffinity(process.pid);

  it('reads and sets a child mask as /proc/<pid>/status shows it', () => {
    const pid = sleeper();
    const all = schedGetAffinity(pid);
    expect(all.length).toBeGreaterThan(0);
    expect(all).toEqual([...all].sort((a, b) => a - b));
    const last = all[all.length - 1]!;
    schedSetAffinity(pid, [last, last]); // duplicates are one CPU
    expect(schedGetAffinity(pid)).toEqual([last]);
    expect(allowedList(pid)).toBe(String(last));
    schedSetAffinity(pid, all);
    expect(schedGetAffinity(pid)).toEqual(all);
  });

  it('keeps the CPUs that exist; none at all is EINVAL', () => {
    const pid = sleeper();
    const all = schedGetAffinity(pid);
    schedSetAffinity(pid, [all[0]!, 4000]);
    expect(allowedList(pid)).toBe(String(all[0]));
    const error = syscallError(() => schedSetAffinity(pid, [4000]));
    expect([error.code, error.syscall]).toEqual(['EINVAL', 'sched_setaffinity']);
    expect(allowedList(pid)).toBe(String(all[0]));
  });

  it('pid 0 is the calling thread (in a child Node)', () => {
    const cpu = online()[0]!;
    const script = `const p = require('./dist/index.js'); p.schedSetAffinity(0, [${cpu}]);
      const status = require('fs').readFileSync('/proc/thread-self/status', 'utf8');
      console.log(JSON.stringify(p.schedGetAffinity(0)), /Cpus_allowed_list:\\s*(\\S+)/.exec(status)[1]);`;
    const result = runNode(script);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe(`${JSON.stringify([cpu])} ${cpu}`);
  });

  it('ESRCH for a dead pid', () => {
    const dead = reapedPid();
    expect(syscallError(() => schedGetAffinity(dead)).code).toBe('ESRCH');
    const error = syscallError(() => schedSetAffinity(dead, [0]));
    expect([error.code, error.syscall]).toEqual(['ESRCH', 'sched_setaffinity']);
  });

  it.each([
    [[0, []], RangeError, 'ERR_OUT_OF_RANGE'],
    [[0, [65536]], RangeError, 'ERR_OUT_OF_RANGE'],
    [[0, [-1]], RangeError, 'ERR_OUT_OF_RANGE'],
    [[0, [0.5]], RangeError, 'ERR_OUT_OF_RANGE'],
    [[0, ['0']], TypeError, 'ERR_INVALID_ARG_TYPE'],
    [[0, 0], TypeError, 'ERR_INVALID_ARG_TYPE'],
    // eslint-disable-next-line no-sparse-arrays
    [[0, [0, , 1]], TypeError, 'ERR_INVALID_ARG_VALUE'],
    [[-1, [0]], RangeError, 'ERR_OUT_OF_RANGE'],
  ])('schedSetAffinity refuses %j before any system call', (args, type, code) => {
    const before = allowedList(process.pid);
    const error = thrown(() => (schedSetAffinity as (...a: unknown[]) => unknown)(...args));
    expect(error).toBeInstanceOf(type);
    expect((error as { code: string }).code).toBe(code);
    expect(allowedList(process.pid)).toBe(before);
    expect(cpuList(online())).not.toBe('');
  });
});

describe('schedGetScheduler / schedSetScheduler', () => {
  // proc(5): field 40 is rt_priority, 41 the policy.
  const procScheduler = (pid: number): [number, number] => [Number(statField(pid, 41)), Number(statField(pid, 40))];

  it('reports and sets each policy, read back from /proc/<pid>/stat', () => {
    const pid = sleeper();
    expect(schedGetScheduler(pid)).toEqual({ policy: 'other', policyNumber: 0, priority: 0, resetOnFork: false });
    const cases = [
      [{ policy: 'fifo', priority: 10 }, 1, 10],
      [{ policy: 'rr', priority: 99 }, 2, 99],
      [{ policy: 'batch' }, 3, 0],
      [{ policy: 'idle' }, 5, 0],
      [{ policy: 'other', priority: 0 }, 0, 0],
      [{ policy: 'rr', priority: 1 }, 2, 1],
    ] as const;
    for (const [scheduler, number, priority] of cases) {
      schedSetScheduler(pid, scheduler);
      expect(procScheduler(pid), scheduler.policy).toEqual([number, priority]);
      expect(schedGetScheduler(pid)).toEqual({ policy: scheduler.policy, policyNumber: number, priority, resetOnFork: false });
    }
  });

  it('resetOnFork: reported, and a fork of the process starts as other', () => {
    const pid = sleeper();
    schedSetScheduler(pid, { policy: 'fifo', priority: 5, resetOnFork: true });
    expect(schedGetScheduler(pid)).toEqual({ policy: 'fifo', policyNumber: 1, priority: 5, resetOnFork: true });
    const script = `const p = require('./dist/index.js'); p.schedSetScheduler(0, { policy: 'rr', priority: 3, resetOnFork: true });
      const r = require('child_process').spawnSync('sh', ['-c', 'cut -d" " -f40,41 /proc/self/stat'], { encoding: 'utf8' });
      console.log(JSON.stringify(p.schedGetScheduler(0)), r.stdout.trim());`;
    const result = runNode(script);
    expect(result.stderr).toBe('');
    // The child is 'other' (0) with priority 0. (sh's own name has no space: fields by position are right.)
    expect(result.stdout.trim()).toBe(`${JSON.stringify({ policy: 'rr', policyNumber: 2, priority: 3, resetOnFork: true })} 0 0`);
  });

  it("'ext' is SCHED_EXT where the kernel has it, else EINVAL", () => {
    const pid = sleeper();
    if (fs.existsSync('/sys/kernel/sched_ext')) {
      schedSetScheduler(pid, { policy: 'ext' });
      expect(schedGetScheduler(pid).policy).toBe('ext');
    } else {
      const error = syscallError(() => schedSetScheduler(pid, { policy: 'ext' }));
      expect([error.code, error.syscall]).toEqual(['EINVAL', 'sched_setscheduler']);
      expect(schedGetScheduler(pid).policy).toBe('other');
    }
  });

  it('ESRCH for a dead pid', () => {
    const dead = reapedPid();
    expect(syscallError(() => schedGetScheduler(dead)).code).toBe('ESRCH');
    const error = syscallError(() => schedSetScheduler(dead, { policy: 'batch' }));
    expect([error.code, error.syscall]).toEqual(['ESRCH', 'sched_setscheduler']);
  });

  it.each([
    [[0, { policy: 'deadline' }], TypeError, 'ERR_INVALID_ARG_VALUE'],
    [[0, { policy: 'SCHED_FIFO', priority: 1 }], TypeError, 'ERR_INVALID_ARG_VALUE'],
    [[0, { policy: 'constructor' }], TypeError, 'ERR_INVALID_ARG_VALUE'],
    [[0, { policy: 1 }], TypeError, 'ERR_INVALID_ARG_TYPE'],
    [[0, { policy: 'fifo' }], RangeError, 'ERR_OUT_OF_RANGE'],
    [[0, { policy: 'fifo', priority: 100 }], RangeError, 'ERR_OUT_OF_RANGE'],
    [[0, { policy: 'other', priority: 1 }], RangeError, 'ERR_OUT_OF_RANGE'],
    [[0, { policy: 'rr', priority: '5' }], TypeError, 'ERR_INVALID_ARG_TYPE'],
    [[0, { policy: 'batch', resetOnFork: 1 }], TypeError, 'ERR_INVALID_ARG_TYPE'],
    [[0, 'fifo'], TypeError, 'ERR_INVALID_ARG_TYPE'],
    [[0, null], TypeError, 'ERR_INVALID_ARG_TYPE'],
    [[0.5, { policy: 'batch' }], RangeError, 'ERR_OUT_OF_RANGE'],
  ])('schedSetScheduler refuses %j before any system call', (args, type, code) => {
    const before = procScheduler(process.pid);
    const error = thrown(() => (schedSetScheduler as (...a: unknown[]) => unknown)(...args));
    expect(error).toBeInstanceOf(type);
    expect((error as { code: string }).code).toBe(code);
    expect(procScheduler(process.pid)).toEqual(before);
  });

  it("turns a throwing getter into ERR_INVALID_ARG_VALUE with the thrown error as cause", () => {
    const boom = new Error('boom');
    const error = thrown(() => schedSetScheduler(0, { get policy(): 'batch' { throw boom; } }));
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', cause: boom });
  });

  it('getters refuse a bad pid', () => {
    for (const fn of [schedGetScheduler, schedGetAffinity] as ((pid: unknown) => unknown)[]) {
      for (const [pid, code] of [[-1, 'ERR_OUT_OF_RANGE'], ['1', 'ERR_INVALID_ARG_TYPE'], [1n, 'ERR_INVALID_ARG_TYPE']] as const) {
        expect((thrown(() => fn(pid)) as { code: string }).code).toBe(code);
      }
    }
  });
});

describe('as nobody', () => {
  // Each call on a root-owned process (argv[1]) and on the caller itself, as error codes or values.
  const script = `const p = require('./dist/index.js'); const pid = Number(process.argv[1]);
    const tryIt = (fn) => { try { return fn() ?? 'ok' } catch (e) { return [e.code, e.syscall] } };
    console.log(JSON.stringify({
      prlimitGet: tryIt(() => p.prlimit(pid, 'nofile')),
      prlimitSet: tryIt(() => p.prlimit(pid, 'nofile', 100)),
      getpriority: tryIt(() => p.getpriority('process', pid)),
      setpriority: tryIt(() => p.setpriority('process', pid, 5)),
      getAffinity: tryIt(() => p.schedGetAffinity(pid).length > 0),
      setAffinity: tryIt(() => p.schedSetAffinity(pid, [0])),
      getScheduler: tryIt(() => p.schedGetScheduler(pid).policy),
      setScheduler: tryIt(() => p.schedSetScheduler(pid, { policy: 'batch' })),
      selfRaiseHard: tryIt(() => { const { hard } = p.prlimit(0, 'nofile'); p.prlimit(0, 'nofile', hard + 1) }),
      selfLowerHard: tryIt(() => { const { soft } = p.prlimit(0, 'nofile'); p.prlimit(0, 'nofile', soft); return p.prlimit(0, 'nofile').hard === soft }),
      selfLowerNice: tryIt(() => p.setpriority('process', 0, -5)),
      selfRaiseNice: tryIt(() => p.setpriority('process', 0, 5)),
      selfFifo: tryIt(() => p.schedSetScheduler(0, { policy: 'fifo', priority: 1 })),
      selfBatch: tryIt(() => p.schedSetScheduler(0, { policy: 'batch' })),
    }));`;

  it("gets EPERM on another user's process, EACCES/EPERM for privileges it lacks; reads work", () => {
    const pid = sleeper();
    const fdsBefore = openFds();
    const niceBefore = niceOf(pid);
    const limitsBefore = procLimits(pid, 'nofile');
    const result = runNode(script, { uid: 65534, gid: 65534, args: [String(pid)] });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({
      prlimitGet: ['EPERM', 'prlimit'],
      prlimitSet: ['EPERM', 'prlimit'],
      getpriority: niceBefore,
      setpriority: ['EPERM', 'setpriority'],
      getAffinity: true,
      setAffinity: ['EPERM', 'sched_setaffinity'],
      getScheduler: 'other',
      setScheduler: ['EPERM', 'sched_setscheduler'],
      selfRaiseHard: ['EPERM', 'prlimit'],
      selfLowerNice: ['EACCES', 'setpriority'],
      selfRaiseNice: 'ok',
      selfFifo: ['EPERM', 'sched_setscheduler'],
      selfBatch: 'ok',
      selfLowerHard: true,
    });
    expect(niceOf(pid)).toBe(niceBefore);
    expect(procLimits(pid, 'nofile')).toEqual(limitsBefore);
    expect(openFds()).toEqual(fdsBefore);
  });
});
