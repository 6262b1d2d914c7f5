import * as child_process from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { spawn } from '../lib/index';
import { binding } from '../lib/native';
import { exitOf, processState, runNode, until, zombieChildren } from './helpers';

// A tracer that is not the child's parent: ptrace(PTRACE_SEIZE) on the pid it is given, then
// holds the child until a line comes on its stdin, then reaps it as its tracer (waitpid __WALL),
// which hands it back to its real parent. Between the child's exit and that, the child is a
// zombie only its tracer may wait for: its pidfd is readable, but waitid(P_PIDFD, WNOHANG)
// finds nothing (wait(2): "a zombie ptracee is only visible to its ptracer").
const TRACER = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
pid = int(sys.argv[1])
if libc.ptrace(0x4206, pid, None, None) != 0:  # PTRACE_SEIZE
    print("ptrace", ctypes.get_errno(), flush=True)
    sys.exit(1)
print("attached", flush=True)
sys.stdin.readline()
_, status = os.waitpid(pid, 0x40000000)  # __WALL
print("reaped", status, flush=True)
`;

/** Starts the tracer on `pid` and resolves once it is attached. */
async function traced(pid: number): Promise<{ tracer: child_process.ChildProcess; output: () => string }> {
  const tracer = child_process.spawn('python3', ['-c', TRACER, String(pid)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let output = '';
  tracer.stdout.on('data', (chunk: Buffer) => void (output += chunk.toString()));
  await until(() => output.includes('\n') || tracer.exitCode !== null);
  expect(output).toBe('attached\n');
  return { tracer, output: () => output };
}

describe('an asynchronous wait on a child whose zombie a tracer holds', () => {
  it('checks again now and then, without spinning, and resolves once the tracer lets the child go', async () => {
    const zombiesBefore = zombieChildren();
    const child = await spawn('sleep', ['1000']);
    const { tracer, output } = await traced(child.pid);
    try {
      const before = binding.testing.waitRechecks();
      const started = performance.now();
      child.kill('SIGKILL');
      // The pidfd was readable with nothing to reap: the path under test was taken.
      await until(() => binding.testing.waitRechecks() > before && processState(child.pid) === 'Z');
      // Held a while (how long does not matter): the wait is checked again at most every few
      // tens of milliseconds after a few quick checks, not in a loop that takes a core.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const rechecks = binding.testing.waitRechecks() - before;
      const elapsed = performance.now() - started;
      expect(rechecks).toBeLessThanOrEqual(12 + elapsed / 25);
      expect(child.exitResult).toBeNull();
      tracer.stdin!.end('\n');
      const result = await child.wait();
      expect(result.status).toMatchObject({ kind: 'signaled', signal: 'SIGKILL' });
      expect(result.pid).toBe(child.pid);
      expect(await exitOf(tracer)).toEqual({ code: 0, signal: null });
      expect(output()).toBe('attached\nreaped 9\n');
    } finally {
      tracer.kill('SIGKILL');
      await child[Symbol.asyncDispose]();
      await exitOf(tracer);
    }
    expect(processState(child.pid)).toBeUndefined();
    expect(zombieChildren().filter((pid) => !zombiesBefore.includes(pid))).toEqual([]);
  });

  it('is dropped cleanly when its worker ends while it is being checked again', () => {
    // The worker's environment closes its wait state (both of its libuv handles) while the
    // recheck timer runs; the child, nobody's to wait for then, goes to the background reaper,
    // which reaps it once the tracer lets it go.
    const result = runNode(`
      const cp = require('child_process');
      const { Worker } = require('worker_threads');
      const { binding } = require('./dist/native.js');
      const fs = require('fs');
      const startOf = (pid) => { try { const s = fs.readFileSync('/proc/' + pid + '/stat', 'latin1'); return s.slice(s.lastIndexOf(')') + 2).split(' ')[19]; } catch { return null; } };
      const until = async (ok) => { while (!ok()) await new Promise((resolve) => setTimeout(resolve, 10)); };
      const worker = new Worker("require('./dist/index.js').spawn('sleep', ['1000']).then((child) => require('worker_threads').parentPort.postMessage(child.pid))", { eval: true });
      worker.once('message', async (pid) => {
        const tracer = cp.spawn('python3', ['-c', ${JSON.stringify(TRACER)}, String(pid)], { stdio: ['pipe', 'pipe', 'inherit'] });
        let output = '';
        tracer.stdout.on('data', (chunk) => (output += chunk));
        await until(() => output.includes('\\n'));
        const start = startOf(pid);
        const before = binding.testing.waitRechecks();
        process.kill(pid, 'SIGKILL');
        await until(() => binding.testing.waitRechecks() > before);
        console.log('worker exit', await worker.terminate());
        tracer.stdin.end('\\n');
        await new Promise((resolve) => tracer.once('exit', resolve));
        console.log(output.trim().replace(/\\n/g, ', '));
        await until(() => startOf(pid) !== start);
        console.log('reaped in the background');
      });`);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('worker exit 1\nattached, reaped 9\nreaped in the background\n');
    expect(result.status).toBe(0);
  });
});
