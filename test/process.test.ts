import * as child_process from 'node:child_process';
import * as os from 'node:os';
import { describe, expect, it } from 'vitest';
import { getpid, getppid, kill, SyscallError } from '../lib/index';
import { exitOf, reapedPid, runNode, zombieChildren } from './helpers';

describe('getpid / getppid', () => {
  it('match Node and the kernel', () => {
    expect(getpid()).toBe(process.pid);
    expect(getppid()).toBe(process.ppid);
  });

  it('report the parent as seen by a real child', () => {
    const result = runNode("const p = require('./dist/index.js'); console.log(p.getpid(), p.getppid())", {});
    expect(result.status, result.stderr).toBe(0);
    const [pid, ppid] = result.stdout.trim().split(' ').map(Number);
    expect(pid).toBe(result.pid);
    expect(ppid).toBe(process.pid);
  });
});

describe('kill', () => {
  it('sends SIGTERM by default and the child dies of it', async () => {
    const child = child_process.spawn('sleep', ['30']);
    await new Promise((resolve) => child.once('spawn', resolve));
    kill(child.pid!);
    expect(await exitOf(child)).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('accepts signal numbers and names', async () => {
    for (const signal of [9, 'SIGKILL', 'SIGUSR2', os.constants.signals.SIGINT] as const) {
      const child = child_process.spawn('sleep', ['30']);
      await new Promise((resolve) => child.once('spawn', resolve));
      kill(child.pid!, signal);
      const { signal: received } = await exitOf(child);
      expect(os.constants.signals[received!]).toBe(typeof signal === 'number' ? signal : os.constants.signals[signal]);
    }
  });

  it('delivers a real-time signal given as SIGRTMIN+n, with its exact number', async () => {
    // Python reports the number its handler received; sleep would only show "killed by 35".
    const child = child_process.spawn('python3', [
      '-c',
      "import signal, sys\nsignal.signal(35, lambda n, f: (print('got', n), sys.exit(0)))\nprint('ready', flush=True)\nsignal.pause()",
    ]);
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    while (!output.includes('ready')) await new Promise((resolve) => setTimeout(resolve, 10));
    kill(child.pid!, 'SIGRTMIN+1');
    expect(await exitOf(child)).toEqual({ code: 0, signal: null });
    expect(output).toContain('got 35');
  });

  it('probes with signal 0 without sending anything', async () => {
    const child = child_process.spawn('sleep', ['30']);
    await new Promise((resolve) => child.once('spawn', resolve));
    kill(child.pid!, 0);
    expect(child.exitCode).toBeNull();
    kill(child.pid!, 'SIGKILL');
    await exitOf(child);
  });

  it('signals a whole process group with a negative pid', async () => {
    const leader = child_process.spawn('sh', ['-c', 'sleep 30 & sleep 30 & wait'], { detached: true });
    await new Promise((resolve) => leader.once('spawn', resolve));
    kill(-leader.pid!, 'SIGKILL');
    expect((await exitOf(leader)).signal).toBe('SIGKILL');
    // The grandchildren were in the group too: the group is empty once they are reaped, by
    // whoever adopted them (scripts/contain.mjs reaps its orphans once a second).
    let error: unknown;
    for (const end = Date.now() + 20_000; Date.now() < end; ) {
      try {
        kill(-leader.pid!, 0);
      } catch (e) {
        error = e;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(error).toMatchObject({ code: 'ESRCH', syscall: 'kill' });
  });

  it('throws ESRCH, errno -3, syscall kill for the pid of a reaped child', () => {
    const pid = reapedPid();
    let error: unknown;
    try {
      kill(pid, 0);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SyscallError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'ESRCH', errno: -3, syscall: 'kill', message: 'kill ESRCH: No such process' });
    expect((error as SyscallError).path).toBeUndefined();
    expect(zombieChildren()).toEqual([]);
  });

  it('throws EPERM when signalling a process it may not signal', () => {
    // Run as nobody (we are root in CI) and probe init, which nobody may not signal.
    const script = "const p = require('./dist/index.js'); try { p.kill(1, 0); console.log('sent') } catch (e) { console.log(e.code, e.errno, e.syscall) }";
    const result = runNode(script, { uid: 65534, gid: 65534 });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('EPERM -1 kill');
  });

  it.each([
    [Number.NaN, RangeError, 'ERR_OUT_OF_RANGE'],
    [1.5, RangeError, 'ERR_OUT_OF_RANGE'],
    [Infinity, RangeError, 'ERR_OUT_OF_RANGE'],
    [2 ** 31, RangeError, 'ERR_OUT_OF_RANGE'],
    ['123', TypeError, 'ERR_INVALID_ARG_TYPE'],
    [undefined, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [10n, TypeError, 'ERR_INVALID_ARG_TYPE'],
  ])('rejects pid %s before any system call', (pid, type, code) => {
    expect(() => kill(pid as number, 0)).toThrow(type);
    expect(() => kill(pid as number, 0)).toThrow(expect.objectContaining({ code }));
  });

  it.each([
    ['SIGFOO', TypeError, 'ERR_UNKNOWN_SIGNAL'],
    ['sigterm', TypeError, 'ERR_UNKNOWN_SIGNAL'],
    ['SIGRTMIN+99', TypeError, 'ERR_UNKNOWN_SIGNAL'],
    ['', TypeError, 'ERR_UNKNOWN_SIGNAL'],
    [65, RangeError, 'ERR_OUT_OF_RANGE'],
    [-1, RangeError, 'ERR_OUT_OF_RANGE'],
    [Number.NaN, RangeError, 'ERR_OUT_OF_RANGE'],
    [2.5, RangeError, 'ERR_OUT_OF_RANGE'],
    [Infinity, RangeError, 'ERR_OUT_OF_RANGE'],
    [null, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{}, TypeError, 'ERR_INVALID_ARG_TYPE'],
  ])('rejects signal %s before any system call', (signal, type, code) => {
    // Our own pid: if validation let anything through, this test process would receive it.
    expect(() => kill(process.pid, signal as number)).toThrow(type);
    expect(() => kill(process.pid, signal as number)).toThrow(expect.objectContaining({ code }));
  });
});
