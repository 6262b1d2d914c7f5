import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { kill, pidfdOpen, SyscallError, wait4, waitAsync, waitid, waitpid, type WaitStatus } from '../lib/index';
import { exitOf, openFds, processState, reapedPid, runNode, start, threadCount, thrown, until, zombieChildren } from './helpers';

const pythonExit = (code: number): string[] => ['python3', '-c', `import os; os._exit(${code})`];


describe('waitpid', () => {
  it.each([0, 1, 42, 255])('reports exit code %i', (code) => {
    const pid = start(pythonExit(code));
    const result = waitpid(pid);
    expect(result).toEqual({ pid, status: { kind: 'exited', code }, raw: code << 8 });
  });

  it('sees exit codes masked to 8 bits by the kernel (256 gives 0, 257 gives 1)', () => {
    expect(waitpid(start(pythonExit(256)))?.status).toEqual({ kind: 'exited', code: 0 });
    expect(waitpid(start(pythonExit(257)))?.status).toEqual({ kind: 'exited', code: 1 });
  });

  it('reports death by every signal whose default action terminates', () => {
    // Signals whose default action is to ignore (CHLD, CONT, URG, WINCH) or stop cannot kill.
    const cannotKill = new Set(['SIGCHLD', 'SIGCONT', 'SIGURG', 'SIGWINCH', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU']);
    // Signals 32 and 33 belong to glibc, whose start-up code in the child installs handlers.
    const signals = Array.from({ length: 64 }, (_, i) => i + 1).filter((signo) => {
      const name = Object.entries(os.constants.signals).find(([, n]) => n === signo)?.[0];
      return signo !== 32 && signo !== 33 && (name === undefined || !cannotKill.has(name));
    });
    // Real-time signals too are reset to their default action (terminate) in the child (glibc's 32
    // and 33 cannot be in a sigset: posixSpawn refuses them).
    const everySignal = Array.from({ length: 64 }, (_, i) => i + 1).filter((s) => s !== 9 && s !== 19 && s !== 32 && s !== 33);
    const children = signals.map((signo) => ({ signo, pid: start(['sleep', '30'], { setsigdef: everySignal }) }));
    for (const { signo, pid } of children) kill(pid, signo);
    for (const { signo, pid } of children) {
      const result = waitpid(pid)!;
      expect(result.status.kind, `signal ${signo}`).toBe('signaled');
      if (result.status.kind !== 'signaled') continue;
      expect(result.status.signo).toBe(signo);
      expect(result.raw & 0x7f).toBe(signo);
    }
    expect(signals.length).toBeGreaterThan(50);
  });

  it('reports a core dump', () => {
    const pattern = fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
    // A core_pattern piping to a program decides for itself; a plain file name is needed here.
    if (pattern === '' || pattern.startsWith('|')) {
      console.warn(`core_pattern is ${JSON.stringify(pattern)}: cannot check core dumps here`);
      return;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'core-'));
    try {
      const pid = start(['sh', '-c', 'ulimit -c unlimited; kill -ABRT $$'], { fileActions: [{ action: 'chdir', path: dir }] });
      const result = waitpid(pid)!;
      expect(result.status).toEqual({ kind: 'signaled', signal: 'SIGABRT', signo: 6, coreDumped: true });
      expect(result.raw).toBe(0x86);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports stop and continue with untraced / continued, and no coreDumped leaks into them', () => {
    const pid = start(['sleep', '30']);
    kill(pid, 'SIGSTOP');
    const stopped = waitpid(pid, { untraced: true })!;
    expect(stopped.status).toEqual({ kind: 'stopped', signal: 'SIGSTOP', signo: 19 });
    kill(pid, 'SIGCONT');
    const continued = waitpid(pid, { continued: true })!;
    expect(continued.status).toEqual({ kind: 'continued' });
    expect(continued.raw).toBe(0xffff);
    expect(Object.keys(continued.status)).toEqual(['kind']);
    kill(pid, 'SIGKILL');
    expect(waitpid(pid)!.status).toMatchObject({ kind: 'signaled', signal: 'SIGKILL', coreDumped: false });
  });

  it('returns null with nohang while the child runs, and does not reap it', () => {
    const pid = start(['sleep', '30']);
    expect(waitpid(pid, { nohang: true })).toBeNull();
    expect(wait4(pid, { nohang: true })).toBeNull();
    expect(waitid('pid', pid, { exited: true, nohang: true })).toBeNull();
    // Alive and not reaped: running, asleep, or in a disk wait while its exec pages it in.
    expect(processState(pid)).toMatch(/^[SRD]$/);
    kill(pid, 'SIGKILL');
    expect(waitpid(pid)!.pid).toBe(pid);
  });

  it('throws ECHILD for a pid that is not a child, and for a reaped one', () => {
    const error = thrown(() => waitpid(reapedPid()));
    expect(error).toBeInstanceOf(SyscallError);
    expect(error).toMatchObject({ code: 'ECHILD', errno: -10, syscall: 'waitpid' });
    expect(thrown(() => waitpid(1))).toMatchObject({ code: 'ECHILD', syscall: 'waitpid' });
    expect(thrown(() => wait4(1))).toMatchObject({ code: 'ECHILD', syscall: 'wait4' });
  });

  it('throws ECHILD for waitpid(-1) in a process with no children', () => {
    const result = runNode(
      "const p = require('./dist/index.js'); try { p.waitpid(-1) } catch (e) { console.log(e.code, e.syscall) }",
    );
    expect(result.stdout.trim()).toBe('ECHILD waitpid');
  });

  it('waits for a process group with a negative pid and for its own group with 0', () => {
    // In a separate Node process: waiting for a group may reap any child in it.
    const script = `
      const p = require('./dist/index.js');
      // Under qemu-user, posix_spawn's vfork is a fork: it returns before the child's setpgid.
      const inGroup = (pid, group) => { for (const end = Date.now() + 10000; p.getpgid(pid) !== group && Date.now() < end; ) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1); };
      const leader = p.posixSpawnp('sleep', ['sleep', '0.1'], { setpgroup: 0 });
      inGroup(leader, leader);
      const member = p.posixSpawnp('sh', ['sh', '-c', 'exit 3'], { setpgroup: leader });
      inGroup(member, leader);
      const outsider = p.posixSpawnp('sh', ['sh', '-c', 'exit 4']);
      const seen = [p.waitpid(-leader), p.waitpid(-leader)].map((r) => r.pid === leader ? 'leader:' + r.status.code : 'member:' + r.status.code);
      let again; try { p.waitpid(-leader) } catch (e) { again = e.code }
      const own = p.waitpid(0);
      console.log(seen.sort().join(' '), again, own.pid === outsider, own.status.code);`;
    const result = runNode(script);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('leader:0 member:3 ECHILD true 4');
  });

  it.each([
    ['1', TypeError],
    [1.5, RangeError],
    [Number.NaN, RangeError],
  ])('rejects pid %s', (pid, type) => {
    expect(() => waitpid(pid as number)).toThrow(type);
  });

  it('rejects unknown options and non-boolean values', () => {
    expect(() => waitpid(1, { nohung: true } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => waitpid(1, { nohang: 1 } as never)).toThrow(TypeError);
  });
});

describe('wait4 and waitid rusage', () => {
  // A child that touches 64 MiB and burns 0.4 s of CPU.
  const burner = [
    'python3',
    '-c',
    'import time\nb = bytearray(64 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass',
  ];

  function checkRusage(rusage: import('../lib/index').Rusage | undefined): void {
    expect(rusage).toBeDefined();
    expect(rusage!.userTime + rusage!.systemTime).toBeGreaterThanOrEqual(0.3);
    expect(rusage!.maxRSS).toBeGreaterThanOrEqual(64 * 1024 * 1024);
    expect(rusage!.minorFaults).toBeGreaterThanOrEqual(16384);
    for (const key of ['majorFaults', 'voluntaryContextSwitches', 'involuntaryContextSwitches', 'blockInputs', 'blockOutputs'] as const) {
      expect(Number.isInteger(rusage![key]) && rusage![key] >= 0, key).toBe(true);
    }
  }

  it('wait4 reports CPU time, max RSS and faults', () => {
    const pid = start(burner);
    const result = wait4(pid)!;
    expect(result.status).toEqual({ kind: 'exited', code: 0 });
    checkRusage(result.rusage);
  });

  it('waitid reports the same, with the uid', () => {
    const pid = start(burner);
    const result = waitid('pid', pid, { exited: true })!;
    expect(result).toMatchObject({ pid, uid: process.getuid!(), status: { kind: 'exited', code: 0 }, raw: 0 });
    checkRusage(result.rusage);
  });

  it('waitAsync reports the same', async () => {
    const pid = start(burner);
    const result = await waitAsync(pid);
    expect(result.status).toEqual({ kind: 'exited', code: 0 });
    checkRusage(result.rusage);
  });
  it('waitAsync results stay right when an async hook waits synchronously before the callback', () => {
    // async_hooks 'before' runs JavaScript between the native wait and its callback; a wait4
    // there must not change what waitAsync reports. A fresh process, so that the hook sees the
    // creation of the waits' async context.
    const result = runNode(`
      const { createHook } = require('async_hooks');
      const p = require('./dist/index.js');
      const other = p.posixSpawnp('sh', ['sh', '-c', 'exit 9']);
      const contexts = new Set();
      let otherStatus;
      createHook({
        init(id, type) { if (type === 'posix-process:waitAsync') contexts.add(id); },
        before(id) { if (contexts.has(id) && otherStatus === undefined) otherStatus = p.wait4(other).status; },
      }).enable();
      const pid = p.posixSpawnp('sh', ['sh', '-c', 'exit 4']);
      p.waitAsync(pid).then((r) => console.log(JSON.stringify([r.pid === pid, r.status, otherStatus])));`);
    expect(result.stdout.trim()).toBe('[true,{"kind":"exited","code":4},{"kind":"exited","code":9}]');
  });
});

describe('waitid', () => {
  it('maps exits, signals, stops and continues onto the same union as waitpid', () => {
    const exited = start(pythonExit(7));
    expect(waitid('pid', exited, { exited: true })).toMatchObject({ status: { kind: 'exited', code: 7 }, raw: 0x700 });
    const pid = start(['sleep', '30']);
    // SIGSTOP, not SIGTSTP: the kernel discards SIGTSTP sent to an orphaned process group, which
    // is what a test run under CI (setsid, nohup) is.
    kill(pid, 'SIGSTOP');
    expect(waitid('pid', pid, { stopped: true })).toMatchObject({ pid, status: { kind: 'stopped', signal: 'SIGSTOP', signo: 19 }, raw: 0x137f });
    kill(pid, 'SIGCONT');
    expect(waitid('pid', pid, { continued: true })).toMatchObject({ pid, status: { kind: 'continued' }, raw: 0xffff });
    kill(pid, 'SIGTERM');
    expect(waitid('pid', pid, { exited: true })).toMatchObject({ status: { kind: 'signaled', signal: 'SIGTERM', coreDumped: false }, raw: 15 });
  });

  it('nowait leaves the child reapable (still a zombie)', () => {
    const pid = start(pythonExit(5));
    const peek = waitid('pid', pid, { exited: true, nowait: true })!;
    expect(peek.status).toEqual({ kind: 'exited', code: 5 });
    expect(processState(pid)).toBe('Z');
    expect(waitpid(pid)!.status).toEqual({ kind: 'exited', code: 5 });
    expect(processState(pid)).toBeUndefined();
  });

  it("waits by process group and with 'all'", () => {
    const script = `
      const p = require('./dist/index.js');
      // Under qemu-user, posix_spawn's vfork is a fork: it returns before the child's setpgid.
      const inGroup = (pid, group) => { for (const end = Date.now() + 10000; p.getpgid(pid) !== group && Date.now() < end; ) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1); };
      const leader = p.posixSpawnp('sh', ['sh', '-c', 'exit 1'], { setpgroup: 0 });
      inGroup(leader, leader);
      const first = p.waitid('pgid', leader, { exited: true });
      const other = p.posixSpawnp('sh', ['sh', '-c', 'exit 2']);
      const any = p.waitid('all', 0, { exited: true });
      let none; try { p.waitid('all', 0, { exited: true }) } catch (e) { none = e.code + ' ' + e.syscall }
      console.log(first.pid === leader, first.status.code, any.pid === other, any.status.code, none);`;
    const result = runNode(script);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('true 1 true 2 ECHILD waitid');
  });

  it('pidfdOpen: ESRCH for a pid that is gone, argument errors before the call, no fd left behind', () => {
    const before = openFds();
    expect(thrown(() => pidfdOpen(reapedPid()))).toMatchObject({ name: 'SyscallError', code: 'ESRCH', syscall: 'pidfd_open' });
    for (const pid of [0, -1, 1.5, NaN, 2 ** 31]) expect(thrown(() => pidfdOpen(pid))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    for (const pid of ['1', 1n, null]) expect(thrown(() => pidfdOpen(pid as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(openFds()).toEqual(before);
  });

  it('waits on a pidfd, and leaves the pidfd to its owner', () => {
    const pid = start(pythonExit(9));
    const pidfd = pidfdOpen(pid);
    expect(fs.readlinkSync(`/proc/self/fd/${pidfd}`)).toBe('anon_inode:[pidfd]');
    expect(waitid('pidfd', pidfd, { exited: true })).toMatchObject({ pid, status: { kind: 'exited', code: 9 } });
    expect(fs.readlinkSync(`/proc/self/fd/${pidfd}`)).toBe('anon_inode:[pidfd]');
    fs.closeSync(pidfd);
    // An fd that is not a pidfd.
    const fd = fs.openSync('/dev/null', 'r');
    expect(thrown(() => waitid('pidfd', fd, { exited: true }))).toMatchObject({ code: 'EBADF', syscall: 'waitid' });
    fs.closeSync(fd);
  });

  it('throws ECHILD with no such child, EBADF for a bad pidfd', () => {
    const pid = start(['sleep', '30']);
    expect(thrown(() => waitid('pid', reapedPid(), { exited: true }))).toMatchObject({ code: 'ECHILD', syscall: 'waitid' });
    expect(thrown(() => waitid('pidfd', 987654, { exited: true }))).toMatchObject({ code: 'EBADF', syscall: 'waitid' });
    kill(pid, 'SIGKILL');
    waitpid(pid);
  });

  it('refuses up front what waitid(2) can only answer EINVAL to: no event selected, pid 0 for idtype pid', () => {
    const pid = start(['sleep', '30']);
    try {
      for (const options of [{}, { nohang: true }, { nowait: true, exited: false }]) {
        const error = thrown(() => waitid('pid', pid, options));
        expect(error).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
        expect((error as Error).message).toContain('exited, stopped or continued');
      }
      expect(thrown(() => waitid('pid', 0, { exited: true, nohang: true }))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      // 0 is the caller's own group for 'pgid', and ignored for 'all' (nowait: nothing is reaped).
      expect(() => waitid('pgid', 0, { exited: true, nohang: true, nowait: true })).not.toThrow();
      expect(() => waitid('all', 0, { exited: true, nohang: true, nowait: true })).not.toThrow();
    } finally {
      kill(pid, 'SIGKILL');
      waitpid(pid);
    }
  });

  it('validates idtype, id and options', () => {
    expect(() => waitid('process' as never, 1, { exited: true })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => waitid('pid', -1, { exited: true })).toThrow(RangeError);
    expect(() => waitid('pid', 1, undefined as never)).toThrow(TypeError);
  });
});

describe('waitAsync', () => {
  it('resolves when the child exits, without blocking the event loop', async () => {
    const pid = start(['sleep', '0.5']);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const result = await waitAsync(pid);
    clearInterval(timer);
    expect(result).toMatchObject({ pid, status: { kind: 'exited', code: 0 }, raw: 0 });
    expect(ticks).toBeGreaterThan(2); // a blocked loop would count none (slack for qemu-user)
    expect(processState(pid)).toBeUndefined();
  });

  it('reports signals, and resolves at once for a child that is already a zombie', async () => {
    const pid = start(['sleep', '30']);
    kill(pid, 'SIGKILL');
    await until(() => processState(pid) === 'Z');
    const result = await waitAsync(pid);
    expect(result.status).toEqual({ kind: 'signaled', signal: 'SIGKILL', signo: 9, coreDumped: false });
    expect(result.raw).toBe(9);
  });

  it('waits for 1000 children at once with no extra thread and no leaked fd', async () => {
    const fdsBefore = openFds();
    const threadsBefore = threadCount();
    const pids = Array.from({ length: 1000 }, (_, i) => start(['sh', '-c', `sleep 0.3; exit ${i % 256}`]));
    const waits = pids.map((pid) => waitAsync(pid));
    expect(openFds().length).toBeGreaterThanOrEqual(fdsBefore.length + 1000); // one pidfd each
    expect(threadCount()).toBe(threadsBefore);
    const results = await Promise.all(waits);
    results.forEach((result, i) => expect(result).toMatchObject({ pid: pids[i], status: { kind: 'exited', code: i % 256 } }));
    expect(threadCount()).toBe(threadsBefore);
    await until(() => openFds().every((fd) => fdsBefore.includes(fd)));
    expect(zombieChildren()).toEqual([]);
  });

  it('is cancelled by an AbortSignal without touching the child', async () => {
    const pid = start(['sleep', '30']);
    const fdsBefore = openFds();
    const controller = new AbortController();
    const waiting = waitAsync(pid, { signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    // Alive and not reaped: running, asleep, or in a disk wait while its exec pages it in.
    expect(processState(pid)).toMatch(/^[SRD]$/);
    await until(() => openFds().every((fd) => fdsBefore.includes(fd)));
    // An already aborted signal rejects without starting.
    await expect(waitAsync(pid, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    kill(pid, 'SIGKILL');
    expect((await waitAsync(pid)).status.kind).toBe('signaled');
  });

  it('rejects with ESRCH for a reaped pid and ECHILD for a process that is not a child, leaking no fd', async () => {
    const fdsBefore = openFds();
    await expect(waitAsync(reapedPid())).rejects.toMatchObject({ code: 'ESRCH', syscall: 'pidfd_open' });
    await expect(waitAsync(1)).rejects.toMatchObject({ code: 'ECHILD', syscall: 'waitid' });
    expect(openFds().filter((fd) => !fdsBefore.includes(fd))).toEqual([]);
  });

  it('rejects with ECHILD when someone else reaps the child first', async () => {
    const pid = start(['sleep', '0.1']);
    const waiting = waitAsync(pid);
    // A blocking wait on the JS thread reaps the child before the poll callback can run.
    expect(waitpid(pid)!.status).toEqual({ kind: 'exited', code: 0 });
    await expect(waiting).rejects.toMatchObject({ code: 'ECHILD', syscall: 'waitid' });
  });

  it('rejects bad arguments', async () => {
    await expect(waitAsync(0)).rejects.toThrow(RangeError);
    await expect(waitAsync(-5)).rejects.toThrow(RangeError);
    await expect(waitAsync('12' as never)).rejects.toThrow(TypeError);
    await expect(waitAsync(1, { signal: {} as never })).rejects.toThrow(TypeError);
  });

  it('leaves child_process children alone: their exit events still fire', async () => {
    const theirs = Array.from({ length: 5 }, () => child_process.spawn('sh', ['-c', 'sleep 0.2; exit 7']));
    const ours = Array.from({ length: 5 }, () => start(['sh', '-c', 'sleep 0.1; exit 3']));
    const [ourResults, theirResults] = await Promise.all([
      Promise.all(ours.map((pid) => waitAsync(pid))),
      Promise.all(theirs.map((child) => exitOf(child))),
    ]);
    for (const result of ourResults) expect(result.status).toEqual({ kind: 'exited', code: 3 } satisfies WaitStatus);
    for (const result of theirResults) expect(result).toEqual({ code: 7, signal: null });
  });
});
