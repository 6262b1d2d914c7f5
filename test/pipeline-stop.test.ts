import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { close, pipeline } from '../lib/index';
import { childPids, childSnapshot, openFds, rejection, runNode, until } from './helpers';

// The timers are counted in a Node process of their own: in a vitest worker, the runner keeps a
// timer of its own now and then (its task updates are throttled to one per 100 ms), which comes
// and goes while a test runs and would be counted with the pipeline's.
const timerProbe = (body: string): Record<string, unknown> => {
  const result = runNode(`
    const fs = require('fs');
    const { pipeline } = require('./dist/index.js');
    // The timers that keep this event loop alive (setTimeout), as Node counts its active resources.
    const timeouts = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
    const read = (file) => { try { return fs.readFileSync(file, 'utf8'); } catch { return ''; } };
    const children = () => fs.readdirSync('/proc/self/task').flatMap((task) => read('/proc/self/task/' + task + '/children').split(' ').filter(Boolean));
    const commandOf = (pid) => read('/proc/' + pid + '/comm').trim();
    const stateOf = (pid) => { const stat = read('/proc/' + pid + '/stat'); return stat.slice(stat.lastIndexOf(')') + 2)[0]; };
    const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    // Polls (its own timer has fired, and no longer counts, whenever the test runs).
    const until = async (test) => { for (const end = Date.now() + 20000; !test() && Date.now() < end; ) await pause(5); return test(); };
    const stage = (s) => [s.status.kind, s.status.signal, s.killedBy, s.timedOut, s.forced];
    const out = {};
    (async () => { ${body} })().then(() => console.log(JSON.stringify(out)), (error) => { console.error(error); process.exit(1); });`);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>;
};

describe("a pipeline's timeout and signal", () => {
  it('take one timer for the whole pipeline, while its stages start and once they run, and stop each stage once', () => {
    const out = timerProbe(`
      const base = timeouts();
      const controller = new AbortController();
      const running = pipeline([['sleep', ['30']], ['sleep', ['30']], ['sleep', ['30']]], { timeout: 60000, signal: controller.signal, stdout: 'ignore' });
      try {
        // The stages' spawns are under way: only the pipeline's timer bounds them.
        out.starting = timeouts() - base;
        out.started = await until(() => children().filter((pid) => commandOf(pid) === 'sleep').length === 3);
        // A while more for their results to arrive: still that one timer (no timer of a stage's own).
        await pause(50);
        out.running = timeouts() - base;
      } finally {
        controller.abort();
      }
      out.stages = (await running).results.map(stage);
      // The stages' grace timers (SIGKILL after forceKillAfter) end with them.
      out.timersEnd = await until(() => timeouts() === base);
      out.zombies = children().filter((pid) => stateOf(pid) === 'Z');`);
    const stopped = ['signaled', 'SIGTERM', 'abort', false, false];
    expect(out).toEqual({ starting: 1, started: true, running: 1, stages: [stopped, stopped, stopped], timersEnd: true, zombies: [] });
  });

  it('timeout: every stage stopped with killedBy timeout, its timer the only one', () => {
    const out = timerProbe(`
      const base = timeouts();
      const running = pipeline([['sleep', ['30']], ['sleep', ['30']]], { timeout: 1000, stdout: 'ignore' });
      out.timers = timeouts() - base;
      out.stages = (await running).results.map(stage);
      out.timersEnd = await until(() => timeouts() === base);`);
    const stopped = ['signaled', 'SIGTERM', 'timeout', true, false];
    expect(out).toEqual({ timers: 1, stages: [stopped, stopped], timersEnd: true });
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
