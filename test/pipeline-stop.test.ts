import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { close, pipeline } from '../lib/index';
import { childPids, childSnapshot, openFds, rejection, until, zombieChildren } from './helpers';

/** The timers of this process that are due (setTimeout), as Node counts its active resources. */
const timeouts = (): number => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;

function commandOf(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

describe("a pipeline's timeout and signal", () => {
  it('take one timer for the whole pipeline, while its stages start and once they run, and stop each stage once', async () => {
    const base = timeouts();
    const controller = new AbortController();
    const before = new Set(childPids());
    const running = pipeline([['sleep', ['30']], ['sleep', ['30']], ['sleep', ['30']]], { timeout: 60_000, signal: controller.signal, stdout: 'ignore' });
    try {
      // The stages' spawns are under way: only the pipeline's timer bounds them.
      expect(timeouts() - base).toBe(1);
      await until(() => childPids().filter((pid) => !before.has(pid) && commandOf(pid) === 'sleep').length === 3);
      // A while more for their results to arrive: still that one timer (no timer of a stage's own).
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(timeouts() - base).toBe(1);
    } finally {
      controller.abort();
    }
    const result = await running;
    for (const stage of result.results) {
      expect(stage).toMatchObject({ status: { kind: 'signaled', signal: 'SIGTERM' }, killedBy: 'abort', timedOut: false, forced: false });
    }
    // The stages' grace timers (SIGKILL after forceKillAfter) end with them.
    await until(() => timeouts() === base);
    expect(zombieChildren()).toEqual([]);
  });

  it('timeout: every stage stopped with killedBy timeout, its timer the only one', async () => {
    const base = timeouts();
    const running = pipeline([['sleep', ['30']], ['sleep', ['30']]], { timeout: 300, stdout: 'ignore' });
    const timers = timeouts() - base;
    const result = await running;
    expect(timers).toBe(1);
    for (const stage of result.results) {
      expect(stage).toMatchObject({ status: { kind: 'signaled', signal: 'SIGTERM' }, killedBy: 'timeout', timedOut: true, forced: false });
    }
    await until(() => timeouts() === base);
  });
});

/** The pipes of which this process holds both ends, by name (`pipe:[inode]`), with their fds. */
function pipesWithBothEnds(): Map<string, number[]> {
  const byPipe = new Map<string, number[]>();
  for (const fd of openFds()) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    if (target.startsWith('pipe:')) byPipe.set(target, [...(byPipe.get(target) ?? []), fd]);
  }
  return new Map([...byPipe].filter(([, ends]) => ends.length === 2));
}

describe("a pipe closed behind the pipeline's back", () => {
  it('rejects with the close error (EBADF) once every stage is killed and reaped, nothing left open', async () => {
    const fifo = `/tmp/pipeline-close-test-${process.pid}`;
    child_process.execFileSync('mkfifo', [fifo]);
    // The spawn machinery's own pipes (made by the first spawns of the process) exist before.
    await pipeline([['true'], ['true']]);
    const fdsBefore = openFds();
    const childrenBefore = childSnapshot();
    const pipesBefore = pipesWithBothEnds();
    let reader: number | undefined;
    try {
      // Both stages wait in the open of their stderr, the FIFO, until it has a reader: they are
      // cloned then, each with its copy of the pipe between them.
      const stage = ['sleep', ['30'], { stderr: { path: fifo } }] as const;
      const running = pipeline([stage, stage], { stdout: 'ignore' });
      await until(() => childPids().filter((pid) => !childrenBefore.has(pid)).length === 2);
      // The pipe between the stages: once they are cloned, the only pipe of which this process
      // holds both ends (a spawn keeps the read end of its exec report alone).
      let between: number[][] = [];
      await until(() => (between = [...pipesWithBothEnds()].filter(([name]) => !pipesBefore.has(name)).map(([, fds]) => fds)).length === 1);
      // In one turn: the stages' results cannot come before the close, and the reader does not
      // take the number closed.
      reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      close(between[0]![0]!);
      expect(await rejection(running)).toMatchObject({ code: 'EBADF', syscall: 'close' });
      // Killed and reaped by then: no child of this test is left, running or not.
      expect(childPids().filter((pid) => !childrenBefore.has(pid))).toEqual([]);
    } finally {
      if (reader !== undefined) fs.closeSync(reader);
      fs.rmSync(fifo, { force: true });
    }
    await until(() => openFds().length === fdsBefore.length);
    expect(openFds()).toEqual(fdsBefore);
  });
});
