import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  defaultSignal,
  droppedSignalCount,
  ignoreSignal,
  kill,
  killpg,
  onSignal,
  sigqueue,
  type SignalEvent,
} from '../lib/index';
import { exitOf, reapedPid, runNode, thrown } from './helpers';

/** The signal numbers whose bit is set in a /proc/self/status mask line (SigCgt, SigIgn). */
function statusMask(field: 'SigCgt' | 'SigIgn'): (signo: number) => boolean {
  const line = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]!;
  const mask = BigInt(`0x${line}`);
  return (signo) => ((mask >> BigInt(signo - 1)) & 1n) === 1n;
}
const caught = (signo: number): boolean => statusMask('SigCgt')(signo);
const ignored = (signo: number): boolean => statusMask('SigIgn')(signo);

// Generous: a wait that holds costs only its own time, and qemu-user is slow.
async function until(test: () => boolean, ms = 20_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!test() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 5));
  return test();
}

/** Lets the event loop turn a few times, so that anything pending in the pipe is delivered. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 10));
}


/** Runs a Node script in a child and returns what it printed as JSON on its last line. */
function runJson(script: string): Record<string, unknown> {
  // whenThen(test, then): calls then() once test() holds, or after 10 s (the check that follows fails).
  const whenThen = 'const whenThen = (test, then) => { const end = Date.now() + 10000; const check = () => (test() || Date.now() > end ? then() : setTimeout(check, 10)); check(); };';
  const result = runNode(`const p = require('./dist/index.js'); const out = {}; ${whenThen} ${script}`);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

describe('onSignal', () => {
  it('runs the handler on the event loop with the sender pid, uid and si_code', async () => {
    const events: SignalEvent[] = [];
    let insideCall = true;
    const remove = onSignal('SIGUSR2', (event) => {
      expect(insideCall).toBe(false);
      events.push(event);
    });
    kill(process.pid, 'SIGUSR2');
    insideCall = false;
    expect(await until(() => events.length === 1)).toBe(true);
    expect(events[0]).toEqual({ signal: 'SIGUSR2', signo: 12, pid: process.pid, uid: process.getuid!(), code: 0, codeName: 'SI_USER' });
    remove();
    expect(caught(12)).toBe(false);
  });

  it('reports another process as the sender', async () => {
    const events: SignalEvent[] = [];
    const remove = onSignal('SIGHUP', (event) => events.push(event));
    const sender = child_process.spawn('kill', ['-HUP', String(process.pid)]);
    await exitOf(sender);
    expect(await until(() => events.length === 1)).toBe(true);
    expect(events[0]).toMatchObject({ signal: 'SIGHUP', pid: sender.pid, code: 0 });
    remove();
  });

  it('supports several handlers, and a remover removes only its own, once', async () => {
    const a: number[] = [];
    const b: number[] = [];
    const handler = (event: SignalEvent): number => a.push(event.signo);
    const removeA1 = onSignal('SIGUSR2', handler);
    const removeA2 = onSignal('SIGUSR2', handler);
    const removeB = onSignal('SIGUSR2', (event) => b.push(event.signo));
    kill(process.pid, 'SIGUSR2');
    expect(await until(() => b.length === 1)).toBe(true);
    expect(a).toEqual([12, 12]);
    removeA1();
    removeA1();
    kill(process.pid, 'SIGUSR2');
    expect(await until(() => b.length === 2)).toBe(true);
    expect(a).toEqual([12, 12, 12]);
    removeA2();
    removeB();
    expect(caught(12)).toBe(false);
  });

  it('delivers the value of sigqueue with code SI_QUEUE', async () => {
    const events: SignalEvent[] = [];
    const remove = onSignal('SIGRTMIN+1', (event) => events.push(event));
    sigqueue(process.pid, 'SIGRTMIN+1', 42);
    sigqueue(process.pid, 'SIGRTMIN+1', -7);
    expect(await until(() => events.length === 2)).toBe(true);
    expect(events.map((e) => [e.signal, e.signo, e.value, e.codeName, e.code])).toEqual([
      ['SIGRTMIN+1', 35, 42, 'SI_QUEUE', -1],
      ['SIGRTMIN+1', 35, -7, 'SI_QUEUE', -1],
    ]);
    remove();
  });

  it('receives sigqueue values from another process', () => {
    // The child handles, the test process sends: the sender pid must be ours.
    const script = `
      const p = require('./dist/index.js');
      p.onSignal('SIGRTMIN+3', (e) => { console.log(JSON.stringify(e)); process.exit(0); });
      console.log('ready');
      setTimeout(() => process.exit(3), 10000);`;
    const child = child_process.spawn(process.execPath, ['-e', script], { cwd: `${__dirname}/..`, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (output === 'ready\n') sigqueue(child.pid!, 'SIGRTMIN+3', 123456);
    });
    return exitOf(child).then((status) => {
      expect(status).toEqual({ code: 0, signal: null });
      const event = JSON.parse(output.split('\n')[1]!) as SignalEvent;
      expect(event).toMatchObject({ signal: 'SIGRTMIN+3', pid: process.pid, value: 123456, codeName: 'SI_QUEUE' });
    });
  });

  it('coexists with process.on: both fire, whichever came first, and each survives the other', async () => {
    const ours: number[] = [];
    const node: number[] = [];
    const nodeListener = (): number => node.push(1);
    // Ours first, then Node's (libuv replaces our handler; we chain to it).
    const remove = onSignal('SIGINT', () => ours.push(1));
    process.on('SIGINT', nodeListener);
    kill(process.pid, 'SIGINT');
    expect(await until(() => ours.length === 1 && node.length === 1)).toBe(true);
    // Node's listener goes (libuv sets SIG_DFL): ours stays and the process does not die.
    process.removeListener('SIGINT', nodeListener);
    expect(caught(2)).toBe(true);
    kill(process.pid, 'SIGINT');
    expect(await until(() => ours.length === 2)).toBe(true);
    expect(node).toHaveLength(1);
    // Node's again, then ours goes: Node's keeps working.
    process.on('SIGINT', nodeListener);
    remove();
    kill(process.pid, 'SIGINT');
    expect(await until(() => node.length === 2)).toBe(true);
    await settle();
    expect(ours).toHaveLength(2);
    process.removeListener('SIGINT', nodeListener);
    expect(caught(2)).toBe(false);
  });

  it('chains SIGCHLD to child_process, whose exit events still fire, and reports the child', async () => {
    const events: SignalEvent[] = [];
    const remove = onSignal('SIGCHLD', (event) => events.push(event));
    const child = child_process.spawn('sh', ['-c', 'sleep 0.2; exit 7']);
    expect(await exitOf(child)).toEqual({ code: 7, signal: null });
    expect(await until(() => events.some((e) => e.pid === child.pid))).toBe(true);
    expect(events.find((e) => e.pid === child.pid)).toMatchObject({ signal: 'SIGCHLD', codeName: 'CLD_EXITED', status: 7 });
    remove();
  });

  it('delivers nothing to a handler removed while its signals were in flight', async () => {
    const removed: number[] = [];
    const kept: number[] = [];
    const removeKept = onSignal('SIGRTMIN+2', (e) => kept.push(e.value!));
    const remove = onSignal('SIGRTMIN+2', (e) => removed.push(e.value!));
    // Delivered to the pipe at once; JavaScript reads it only on the next loop turn.
    for (let i = 0; i < 100; i++) sigqueue(process.pid, 'SIGRTMIN+2', i);
    remove();
    expect(await until(() => kept.length === 100)).toBe(true);
    expect(removed).toEqual([]);
    removeKept();
  });

  it('survives a storm: every queued real-time signal arrives once, in order', async () => {
    const values: number[] = [];
    const remove = onSignal('SIGRTMIN+4', (e) => values.push(e.value!));
    const count = 5000;
    for (let i = 0; i < count; i++) sigqueue(process.pid, 'SIGRTMIN+4', i);
    expect(await until(() => values.length === count)).toBe(true);
    await settle();
    expect(values).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(droppedSignalCount()).toBe(0);
    remove();
  });

  it('survives a storm from other processes: standard signals coalesce, real-time ones all arrive', async () => {
    const usr2: SignalEvent[] = [];
    const rt: number[] = [];
    const removeUsr2 = onSignal('SIGUSR2', (e) => usr2.push(e));
    const removeRt = onSignal('SIGRTMIN+5', (e) => rt.push(e.value!));
    // Two senders at once, 2000 signals each, while this loop is also busy receiving.
    const sender = (signal: string, queue: boolean): child_process.ChildProcess =>
      child_process.spawn(process.execPath, ['-e', `
        const p = require('./dist/index.js');
        for (let i = 0; i < 2000; i++) ${queue ? `p.sigqueue(${process.pid}, '${signal}', i)` : `p.kill(${process.pid}, '${signal}')`};`], { cwd: `${__dirname}/..`, stdio: 'inherit' });
    const senders = [sender('SIGUSR2', false), sender('SIGRTMIN+5', true)];
    const statuses = await Promise.all(senders.map(exitOf));
    expect(statuses).toEqual([{ code: 0, signal: null }, { code: 0, signal: null }]);
    expect(await until(() => rt.length === 2000)).toBe(true);
    await settle();
    // Each value exactly once. Not necessarily in order: the kernel hands signals to whichever of
    // Node's threads is free, and two threads can run the handler at the same time.
    expect(rt).toHaveLength(2000);
    expect([...rt].sort((x, y) => x - y)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    // Standard signals: at least one, at most one per send.
    expect(usr2.length).toBeGreaterThanOrEqual(1);
    expect(usr2.length).toBeLessThanOrEqual(2000);
    expect(new Set(usr2.map((e) => e.pid))).toEqual(new Set([senders[0]!.pid]));
    removeUsr2();
    removeRt();
    // None after removal: with a second handler still there, the removed one gets nothing.
    const after: number[] = [];
    const keep: number[] = [];
    const removeKeep = onSignal('SIGRTMIN+5', (e) => keep.push(e.value!));
    const removeAfter = onSignal('SIGRTMIN+5', (e) => after.push(e.value!));
    removeAfter();
    for (let i = 0; i < 1000; i++) sigqueue(process.pid, 'SIGRTMIN+5', i);
    expect(await until(() => keep.length === 1000)).toBe(true);
    expect(after).toEqual([]);
    removeKeep();
  });

  it('reports a handler exception as uncaught without losing other deliveries', () => {
    const out = runJson(`
      out.events = [];
      process.on('uncaughtException', (e) => { out.uncaught = e.message; });
      p.onSignal('SIGUSR2', () => { throw new Error('boom'); });
      p.onSignal('SIGUSR2', (e) => out.events.push(e.signal));
      process.kill(process.pid, 'SIGUSR2');
      whenThen(() => out.events.length === 1 && out.uncaught !== undefined, () => console.log(JSON.stringify(out)));`);
    expect(out).toEqual({ events: ['SIGUSR2'], uncaught: 'boom' });
  });

  it('works in worker threads, and a terminated worker leaves the process healthy', () => {
    const out = runJson(`
      const { Worker } = require('worker_threads');
      const worker = new Worker(\`
        const p = require(\${JSON.stringify(process.cwd() + '/dist/index.js')});
        const { parentPort } = require('worker_threads');
        p.onSignal('SIGUSR2', (e) => parentPort.postMessage('worker got ' + e.signal));
        parentPort.postMessage('ready');
        setInterval(() => {}, 1000); // signal handlers do not keep a thread alive\`, { eval: true });
      out.main = [];
      p.onSignal('SIGUSR2', (e) => out.main.push(e.signal));
      worker.on('message', async (message) => {
        if (message === 'ready') return process.kill(process.pid, 'SIGUSR2');
        out.worker = message;
        await worker.terminate();
        process.kill(process.pid, 'SIGUSR2');
        whenThen(() => out.main.length === 2, () => console.log(JSON.stringify(out)));
      });`);
    expect(out).toEqual({ worker: 'worker got SIGUSR2', main: ['SIGUSR2', 'SIGUSR2'] });
  });

  it('keeps a process alive through SIGINT and SIGTERM that Node would die of', () => {
    // Node installs a one-shot handler for these at start-up (reset the terminal, then die):
    // it must not be chained to.
    const out = runJson(`
      out.got = [];
      p.onSignal('SIGTERM', (e) => out.got.push(e.signal));
      p.onSignal('SIGINT', (e) => out.got.push(e.signal));
      process.kill(process.pid, 'SIGTERM');
      process.kill(process.pid, 'SIGINT');
      whenThen(() => out.got.length === 2, () => console.log(JSON.stringify(out)));`);
    expect(out).toEqual({ got: ['SIGTERM', 'SIGINT'] });
  });

  it('gives SIGTERM back to Node when the last handler goes: the process dies of it again', () => {
    const result = runNode(`
      const remove = require('./dist/index.js').onSignal('SIGTERM', () => {});
      remove();
      process.kill(process.pid, 'SIGTERM');
      setTimeout(() => console.log('survived'), 500);`);
    expect(result.signal).toBe('SIGTERM');
    expect(result.stdout).toBe('');
  });

  it('does not keep the process alive', () => {
    const result = runNode("require('./dist/index.js').onSignal('SIGTERM', () => {}); console.log('done')", { timeout: 10_000 });
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('done\n');
  });

  it('refuses SIGKILL and SIGSTOP up front with ERR_INVALID_ARG_VALUE, as sigprocmask does', () => {
    for (const signal of ['SIGKILL', 'SIGSTOP', 9, 19] as const) {
      const error = thrown(() => onSignal(signal, () => {}));
      expect(error).toBeInstanceOf(TypeError);
      expect(error).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      expect((error as Error).message).toMatch(/SIGKILL|SIGSTOP/);
    }
  });

  it.each([
    ['SIGUSR1', 'inspector'],
    ['SIGPROF', 'profiler'],
    ['SIGSEGV', 'crash'],
    ['SIGBUS', 'crash'],
    ['SIGFPE', 'crash'],
    ['SIGILL', 'crash'],
    [32, 'glibc'],
    [33, 'glibc'],
  ])('refuses %s, naming its owner', (signal, owner) => {
    for (const take of [() => onSignal(signal as 'SIGUSR1', () => {}), () => ignoreSignal(signal as 'SIGUSR1'), () => defaultSignal(signal as 'SIGUSR1')]) {
      const error = thrown(take) as Error & { code: string; owner: string };
      expect(error.code).toBe('ERR_SIGNAL_RESERVED');
      expect(error.message).toContain(owner);
      expect(error.owner).toContain(owner);
    }
  });

  it('rejects bad arguments before touching anything', () => {
    expect(thrown(() => onSignal('SIGFOO' as 'SIGINT', () => {}))).toMatchObject({ code: 'ERR_UNKNOWN_SIGNAL' });
    expect(thrown(() => onSignal('SIGUSR2', 'not a function' as unknown as () => void))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => onSignal(0, () => {}))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(caught(12)).toBe(false);
  });
});

describe('ignoreSignal / defaultSignal', () => {
  it('ignore a signal, let a Node listener take it while present, and ignore it again after', () => {
    const out = runJson(`
      const status = () => require('fs').readFileSync('/proc/self/status', 'utf8');
      const bit = (field, signo) => (BigInt('0x' + new RegExp('^' + field + ':\\\\s*(\\\\w+)', 'm').exec(status())[1]) >> BigInt(signo - 1)) & 1n ? 1 : 0;
      p.ignoreSignal('SIGTERM');
      out.ignored = bit('SigIgn', 15);
      process.kill(process.pid, 'SIGTERM');
      out.node = 0;
      const listener = () => out.node++;
      process.on('SIGTERM', listener);
      out.caughtWithListener = bit('SigCgt', 15);
      process.kill(process.pid, 'SIGTERM');
      whenThen(() => out.node === 1, () => {
        process.removeListener('SIGTERM', listener);
        // libuv just set SIG_DFL; it is ignored again, so this does not end the process.
        out.ignoredAgain = bit('SigIgn', 15);
        process.kill(process.pid, 'SIGTERM');
        setTimeout(() => {
          p.defaultSignal('SIGPIPE');
          out.pipeDefault = bit('SigIgn', 13) === 0;
          console.log(JSON.stringify(out));
        }, 100);
      });`);
    expect(out).toEqual({ ignored: 1, node: 1, caughtWithListener: 1, ignoredAgain: 1, pipeDefault: true });
  });

  it('default stays default after Node listeners come and go, and ends the process', () => {
    const result = runNode(`
      const p = require('./dist/index.js');
      p.ignoreSignal('SIGUSR2');
      p.defaultSignal('SIGUSR2');
      const listener = () => {};
      process.on('SIGUSR2', listener);
      process.removeListener('SIGUSR2', listener);
      process.kill(process.pid, 'SIGUSR2');
      setTimeout(() => console.log('survived'), 500);`);
    expect(result.signal).toBe('SIGUSR2');
    expect(result.stdout).toBe('');
  });

  it('are re-applied after our own last handler goes', async () => {
    ignoreSignal('SIGWINCH');
    expect(ignored(28)).toBe(true);
    const events: SignalEvent[] = [];
    const remove = onSignal('SIGWINCH', (e) => events.push(e));
    expect(ignored(28)).toBe(false);
    kill(process.pid, 'SIGWINCH');
    expect(await until(() => events.length === 1)).toBe(true);
    remove();
    expect(ignored(28)).toBe(true);
    defaultSignal('SIGWINCH');
    expect(ignored(28)).toBe(false);
    expect(caught(28)).toBe(false);
  });

  it('refuse to ignore SIGCHLD without the acknowledgement, and do it with it', () => {
    expect(thrown(() => ignoreSignal('SIGCHLD'))).toMatchObject({ code: 'ERR_SIGNAL_IGNORE_SIGCHLD' });
    expect(ignored(17)).toBe(false);
    const out = runJson(`
      p.ignoreSignal('SIGCHLD', { breaksChildProcess: true });
      out.ignored = /^SigIgn:\\s*(\\w+)/m.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1];
      console.log(JSON.stringify(out));`);
    expect((BigInt(`0x${out.ignored as string}`) >> 16n) & 1n).toBe(1n);
  });

  it('breaksChildProcess that is not a boolean is ERR_INVALID_ARG_TYPE, for any signal, and nothing is ignored', () => {
    // Before: for SIGCHLD a wrong type was ERR_SIGNAL_IGNORE_SIGCHLD, and for another signal the
    // option was not looked at and the signal was ignored.
    expect(thrown(() => ignoreSignal('SIGCHLD', { breaksChildProcess: 'yes' as never }))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(ignored(17)).toBe(false);
    expect(thrown(() => ignoreSignal('SIGWINCH', { breaksChildProcess: 1 as never }))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(ignored(28)).toBe(false);
  });

  it('refuse SIGKILL and SIGSTOP up front with ERR_INVALID_ARG_VALUE, as sigprocmask does', () => {
    for (const signal of ['SIGKILL', 'SIGSTOP', 9, 19] as const) {
      expect(thrown(() => ignoreSignal(signal))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      expect(thrown(() => defaultSignal(signal))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    }
  });
});

describe('killpg', () => {
  it('signals every process of a group', async () => {
    const leader = child_process.spawn('sh', ['-c', 'sleep 30 & sleep 30 & wait'], { detached: true, stdio: 'ignore' });
    await new Promise((resolve) => leader.once('spawn', resolve));
    await until(() => fs.readFileSync(`/proc/${leader.pid}/task/${leader.pid}/children`, 'utf8').trim().split(' ').length === 2);
    killpg(leader.pid!, 'SIGTERM');
    expect(await exitOf(leader)).toEqual({ code: null, signal: 'SIGTERM' });
    let error: unknown;
    await until(() => {
      try {
        killpg(leader.pid!, 0);
        return false;
      } catch (e) {
        error = e;
        return true;
      }
    });
    expect(error).toMatchObject({ code: 'ESRCH', errno: -3, syscall: 'killpg' });
  });

  it('probes its own group with 0 and fails with ESRCH for a gone group', () => {
    killpg(0, 0);
    expect(thrown(() => killpg(reapedPid(), 0))).toMatchObject({ code: 'ESRCH', syscall: 'killpg' });
  });

  it('fails with EPERM for a group it may not signal', async () => {
    // A group of root's processes, probed by nobody.
    const leader = child_process.spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    await new Promise((resolve) => leader.once('spawn', resolve));
    const result = runNode(`try { require('./dist/index.js').killpg(${leader.pid}, 0) } catch (e) { console.log(e.code, e.syscall) }`, { uid: 65534, gid: 65534 });
    expect(result.stdout.trim()).toBe('EPERM killpg');
    leader.kill('SIGKILL');
    await exitOf(leader);
  });

  it('refuses group 1, which killpg(3) turns into kill(-1) (every process), before anything is sent', () => {
    // It signalled every process this one may signal (as root, the whole machine).
    expect(thrown(() => killpg(1, 0))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('kill(-1') as string });
  });

  it.each([[-1], [1.5], ['1']])('rejects group %s', (pgrp) => {
    expect(thrown(() => killpg(pgrp as number, 0))).toMatchObject({ code: expect.stringMatching(/^ERR_/) as string });
  });
});

describe('sigqueue', () => {
  it('fails with ESRCH for a gone process and EPERM for one it may not signal', () => {
    expect(thrown(() => sigqueue(reapedPid(), 'SIGRTMIN', 1))).toMatchObject({ code: 'ESRCH', errno: -3, syscall: 'sigqueue' });
    const result = runNode("try { require('./dist/index.js').sigqueue(1, 'SIGRTMIN', 1) } catch (e) { console.log(e.code, e.syscall) }", { uid: 65534, gid: 65534 });
    expect(result.stdout.trim()).toBe('EPERM sigqueue');
  });

  it.each([
    [0, 'SIGRTMIN', 1, 'ERR_OUT_OF_RANGE'],
    [1, 'SIGNOPE', 1, 'ERR_UNKNOWN_SIGNAL'],
    [1, 'SIGRTMIN', 2 ** 31, 'ERR_OUT_OF_RANGE'],
    [1, 'SIGRTMIN', 1.5, 'ERR_OUT_OF_RANGE'],
    [1, 'SIGRTMIN', '1', 'ERR_INVALID_ARG_TYPE'],
  ])('rejects (%s, %s, %s)', (pid, signal, value, code) => {
    expect(thrown(() => sigqueue(pid, signal as 'SIGRTMIN', value as number))).toMatchObject({ code });
  });
});

describe("the addon's own fds", () => {
  it('never take fds 0..2 when the program has closed them (they would pass for stdio)', () => {
    // The wait epoll set is made when the addon loads, the signal self-pipe on the first onSignal.
    const script = `
      const fs = require('fs');
      fs.closeSync(0);
      fs.closeSync(2);
      const p = require('./dist/index.js');
      const stop = p.onSignal('SIGUSR2', () => {});
      const open = [0, 2].filter((fd) => { try { fs.fstatSync(fd); return true; } catch { return false; } });
      stop();
      fs.writeSync(1, JSON.stringify(open));`;
    const result = runNode(script);
    expect(result.stdout).toBe('[]');
  });
});

describe('onSignal across fork()', () => {
  it("keeps each process's signals its own: the child neither takes the parent's deliveries nor gives it its own", () => {
    // The parent blocks in waitpid while the child runs, so that any record the two could share
    // is read by the child. The child's exit code is 0 only if it saw exactly its own signal.
    const script = `
      const p = require('./dist/index.js');
      const got = [];
      p.onSignal('SIGUSR2', (event) => got.push(event.pid));
      const parent = process.pid;
      // Runs \`then\` \`ms\` after the first signal has come (10 s at most), the time for a second one
      // that would not be this process's own.
      const afterFirstSignal = (ms, then) => {
        const deadline = Date.now() + 10000;
        const check = () => {
          if (got.length === 0 && Date.now() < deadline) return void setTimeout(check, 10);
          setTimeout(then, ms);
        };
        check();
      };
      const pid = p.fork();
      if (pid === 0) {
        process.kill(process.pid, 'SIGUSR2'); // the child's own
        process.kill(parent, 'SIGUSR2'); // the parent's, sent by the child
        afterFirstSignal(200, () => {
          console.log('child ' + JSON.stringify(got));
          process.exit(got.length === 1 && got[0] === process.pid ? 0 : 1);
        });
      } else {
        const { status } = p.waitpid(pid);
        afterFirstSignal(100, () => console.log(JSON.stringify({ child: status, parent: got, childPid: pid })));
      }`;
    const result = runNode(script, { nodeArgs: ['--single-threaded', '--v8-pool-size=1'], timeout: 30_000, killSignal: 'SIGKILL' });
    expect(result.stderr).toBe('');
    const out = JSON.parse(result.stdout.trim().split('\n').pop()!) as { child: unknown; parent: number[]; childPid: number };
    expect(out.child, result.stdout).toEqual({ kind: 'exited', code: 0 });
    expect(out.parent).toEqual([out.childPid]);
  });
});

describe('onSignal across a fork() whose child has no fd to spare', () => {
  it('the child takes none of the parent\'s signals even without an fd for a pipe of its own (its handlers get nothing)', () => {
    // binding.testing makes the child's pipe2 for its new self-pipe fail, as EMFILE would.
    const script = `
      const p = require('./dist/index.js');
      const { binding } = require('./dist/native.js');
      const got = [];
      p.onSignal('SIGUSR2', (event) => got.push(event.pid));
      binding.testing.failNextSignalForkPipe();
      const parent = process.pid;
      const pid = p.fork();
      if (pid === 0) {
        process.kill(parent, 'SIGUSR2');
        setTimeout(() => process.exit(got.length === 0 ? 0 : 1), 1000);
      } else {
        const { status } = p.waitpid(pid);
        const deadline = Date.now() + 10000;
        const check = () => {
          if (got.length === 0 && Date.now() < deadline) return void setTimeout(check, 10);
          console.log(JSON.stringify({ child: status, parent: got, childPid: pid }));
        };
        check();
      }`;
    const result = runNode(script, { nodeArgs: ['--single-threaded', '--v8-pool-size=1'], timeout: 30_000, killSignal: 'SIGKILL' });
    expect(result.stderr).toBe('');
    const out = JSON.parse(result.stdout.trim().split('\n').pop()!) as { child: unknown; parent: number[]; childPid: number };
    expect(out).toEqual({ child: { kind: 'exited', code: 0 }, parent: [out.childPid], childPid: out.childPid });
  });
});

describe('onSignal when the self-pipe cannot be watched', () => {
  it('throws SyscallError (uv_poll_init ENOSPC, as from fs.epoll.max_user_watches), leaks nothing, and works on the next call', () => {
    const script = `
      const { binding } = require('./dist/native.js');
      const fs = require('fs');
      const fds = () => fs.readdirSync('/proc/self/fd').length;
      const before = fds();
      binding.testing.failNextSignalPollInit(28);
      let error;
      try {
        p.onSignal('SIGUSR2', () => {});
      } catch (e) {
        error = { name: e.name, code: e.code, syscall: e.syscall };
      }
      out.error = error;
      out.leaked = fds() - before;
      const keepAlive = setTimeout(() => {}, 10000); // signal handlers do not keep the process alive
      const remove = p.onSignal('SIGUSR2', (event) => {
        remove();
        clearTimeout(keepAlive);
        out.got = event.signal;
        console.log(JSON.stringify(out));
      });
      process.kill(process.pid, 'SIGUSR2');`;
    expect(runJson(script)).toEqual({ error: { name: 'SyscallError', code: 'ENOSPC', syscall: 'uv_poll_init' }, leaked: 0, got: 'SIGUSR2' });
  });
});

describe('onSignal in more environments at once than it has self-pipes for', () => {
  it('the 65th environment gets ERR_SIGNAL_ENVIRONMENTS, leaks nothing, and gets a slot once another environment has ended', () => {
    // The main thread and 63 workers take the 64 slots; a 65th worker is refused until one ends.
    const script = `
      const { Worker } = require('worker_threads');
      const fs = require('fs');
      const p = require('./dist/index.js');
      p.onSignal('SIGUSR2', () => {});
      const body = \`
        const { parentPort } = require('worker_threads');
        const p = require(\${JSON.stringify(require.resolve('./dist/index.js'))});
        try {
          p.onSignal('SIGUSR2', () => {});
          parentPort.postMessage({ ok: true });
        } catch (e) {
          parentPort.postMessage({ name: e.name, code: e.code, message: e.message });
        }
        parentPort.on('message', () => process.exit(0));\`;
      const start = () => new Promise((resolve) => {
        const worker = new Worker(body, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 16 } });
        worker.once('message', (result) => resolve({ worker, result }));
      });
      (async () => {
        const workers = [];
        for (let i = 0; i < 63; i++) {
          const { worker, result } = await start();
          if (!result.ok) throw new Error('worker ' + i + ': ' + JSON.stringify(result));
          workers.push(worker);
        }
        const fdsBefore = fs.readdirSync('/proc/self/fd').length;
        const refused = await start();
        await new Promise((resolve) => { refused.worker.once('exit', resolve); refused.worker.postMessage('end'); });
        const leaked = fs.readdirSync('/proc/self/fd').length - fdsBefore;
        await new Promise((resolve) => { workers[0].once('exit', resolve); workers[0].postMessage('end'); });
        const again = await start();
        for (const worker of [...workers.slice(1), again.worker]) worker.postMessage('end');
        console.log(JSON.stringify({ refused: refused.result, leaked, again: again.result }));
      })();`;
    const result = runNode(script, { timeout: 120_000 });
    expect(result.stderr).toBe('');
    const out = JSON.parse(result.stdout.trim().split('\n').pop()!) as { refused: { message: string } };
    expect(out).toMatchObject({ refused: { name: 'Error', code: 'ERR_SIGNAL_ENVIRONMENTS' }, leaked: 0, again: { ok: true } });
    expect(out.refused.message).toMatch(/64/);
  }, 150_000);
});
