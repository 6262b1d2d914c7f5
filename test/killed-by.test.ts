// killedBy / timedOut / forced name a stop of the library only when its signal found the child
// still running: a timeout, abort or dispose that comes between the child's own exit and its reap
// (the child a zombie) leaves them null / false. The race is made deterministic by holding the
// event loop (which reaps) in a synchronous wait until /proc says the child is a zombie.
import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { run, spawn, type ChildProcess } from '../lib/index';
import { childPids, openFds, processState, until, zombieChildren } from './helpers';

/** Blocks the event loop (so that nothing reaps the child) until the child is a zombie. */
function holdUntilZombie(pid: number): void {
  const deadline = Date.now() + 20_000;
  while (processState(pid) !== 'Z') {
    if (Date.now() > deadline) throw new Error(`child ${pid} did not exit`);
  }
}

/** The command line of a process, '' once it is gone. */
function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return '';
  }
}

/** Blocks the event loop for at least `ms` (so that a timer of `ms` is due when it returns). */
function holdFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // the loop is held: timers and the reap wait
  }
}

const exitedByItself = { status: { kind: 'exited', code: 3 }, killedBy: null, timedOut: false, forced: false };

describe('killedBy when the stop comes after the child has exited on its own', () => {
  it('dispose of a zombie: killedBy null, the exit code is the child’s', async () => {
    const before = openFds();
    const child: ChildProcess = await spawn('sh', ['-c', 'exit 3']);
    holdUntilZombie(child.pid);
    await child[Symbol.asyncDispose]();
    expect(await child.wait()).toMatchObject(exitedByItself);
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('abort of a zombie: killedBy null', async () => {
    const controller = new AbortController();
    const child = await spawn('sh', ['-c', 'exit 3'], { signal: controller.signal });
    holdUntilZombie(child.pid);
    controller.abort(); // the listener runs now, before the loop can reap
    expect(await child.wait()).toMatchObject(exitedByItself);
    expect(zombieChildren()).toEqual([]);
  });

  it('timeout due while the child is a zombie: killedBy null, timedOut false', async () => {
    const child = await spawn('sh', ['-c', 'exit 3'], { timeout: 1000 });
    holdUntilZombie(child.pid);
    // libuv runs due timers before it polls again for the reap.
    holdFor(1100); // past the timeout, which is long enough for the spawn to resolve first under load
    expect(await child.wait()).toMatchObject(exitedByItself);
    expect(zombieChildren()).toEqual([]);
  });

  it('a running child the timeout ends: killedBy timeout, timedOut true', async () => {
    const child = await spawn('sleep', ['30'], { timeout: 1000 });
    expect(await child.wait()).toMatchObject({ status: { kind: 'signaled', signal: 'SIGTERM' }, killedBy: 'timeout', timedOut: true, forced: false });
  });

  it('a running child that catches killSignal and exits 0: killedBy abort (the library ended it)', async () => {
    const controller = new AbortController();
    const child = await spawn('sh', ['-c', 'trap "exit 0" TERM; echo ready; while :; do sleep 0.05; done'], { signal: controller.signal, stdio: ['ignore', 'pipe', 'inherit'] });
    const ready = new Promise((resolve) => child.stdout.once('data', resolve));
    await ready;
    controller.abort();
    expect(await child.wait()).toMatchObject({ status: { kind: 'exited', code: 0 }, killedBy: 'abort', timedOut: false, forced: false });
    await child[Symbol.asyncDispose]();
  });

  it('dispose of a running child that ignores SIGTERM: SIGKILL after forceKillAfter, forced', async () => {
    const child = await spawn('sh', ['-c', 'trap "" TERM; echo ready; exec sleep 30'], { forceKillAfter: 50, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => child.stdout.once('data', resolve));
    await child[Symbol.asyncDispose]();
    expect(await child.wait()).toMatchObject({ status: { kind: 'signaled', signal: 'SIGKILL' }, killedBy: 'dispose', forced: true });
  });

  it('a child that ignored killSignal and then exits on its own within the grace: no SIGKILL, forced false', async () => {
    const child = await spawn('sh', ['-c', 'trap "" TERM; echo ready; read line; exit 3'], { forceKillAfter: 20, stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((resolve) => child.stdout.once('data', resolve));
    const disposing = child[Symbol.asyncDispose](); // SIGTERM, ignored: the child runs on
    child.stdin.end('go\n');
    holdUntilZombie(child.pid);
    holdFor(100); // the grace runs out while the child is a zombie
    await disposing;
    expect(await child.wait()).toMatchObject({ status: { kind: 'exited', code: 3 }, killedBy: 'dispose', forced: false });
  });

  it('run(): an abort between the exit and the reap: killedBy null, the whole output, the exit code', async () => {
    const before = openFds();
    const fifo = `/tmp/killed-by-fifo-${process.pid}`;
    child_process.execFileSync('mkfifo', [fifo]);
    try {
      const controller = new AbortController();
      // run() pipes its input once its spawn has resolved: then an abort is a stop, not a cancel.
      const input = new PassThrough();
      const running = run('sh', ['-c', `read line < ${fifo}; echo "got $line"; exit 3`], { signal: controller.signal, input });
      let pid = 0;
      await until(() => {
        pid = childPids().find((child) => cmdline(child).includes(fifo)) ?? 0;
        return pid !== 0 && input.readableFlowing === true;
      }, 20_000);
      fs.writeFileSync(fifo, 'go\n'); // blocks until the child opens its end, then lets it exit
      holdUntilZombie(pid);
      controller.abort();
      expect(await running).toMatchObject({ status: { kind: 'exited', code: 3 }, stdout: 'got go\n', killedBy: null, timedOut: false, forced: false });
    } finally {
      fs.rmSync(fifo, { force: true });
    }
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });
});
