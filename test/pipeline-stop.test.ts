import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pipeline } from '../lib/index';
import { childPids, until, zombieChildren } from './helpers';

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
