/**
 * Random mixes of everything that starts, stops and reads children (spawn and its handle, run,
 * runSync, pipeline, ptys, killTree, disposal), with every containment, and with timeouts and
 * aborts that fire before, during and after the exec: nothing may leak an fd, leave a zombie,
 * reject without a `code`, or reject unhandled. The driver (test/lifecycle-stress-driver.js)
 * runs in a Node process of its own and reports in JSON; a failure names its seed, and stderr
 * lists the operations (`node test/lifecycle-stress-driver.js <seed> <operations>`). It found
 * the zombie of a cancel after the exec, the subreaper's unreaped orphans and the unread
 * output's fds (CHANGELOG).
 */
import * as child_process from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers';

interface StressReport {
  seed: number;
  outcomes: Record<string, number>;
  uncoded: string[];
  unhandled: string[];
  newFds: string[];
  zombies: string[];
}

const OPERATIONS = 100;
// Generous: a run takes about 10 s on an idle machine; a hang is what this catches.
const TIMEOUT_MS = 180_000;

describe('the lifecycle under random timeouts, aborts and containments', () => {
  it.each([1, 2])(
    'seed %i: no fd leaked, no zombie left, every rejection coded and handled',
    (seed) => {
      const result = child_process.spawnSync(process.execPath, [path.join(repoRoot, 'test', 'lifecycle-stress-driver.js'), String(seed), String(OPERATIONS)], {
        encoding: 'utf8',
        timeout: TIMEOUT_MS,
        killSignal: 'SIGKILL',
      });
      const lastOperations = result.stderr.trimEnd().split('\n').slice(-4).join('; ');
      const how = result.error !== undefined ? `${result.error.message} (hung?)` : `status ${result.status}, signal ${result.signal}`;
      expect(result.status, `stress seed ${seed} ended with ${how}; last operations: ${lastOperations}`).toBe(0);
      const report = JSON.parse(result.stdout) as StressReport;
      expect({ uncoded: report.uncoded, unhandled: report.unhandled, newFds: report.newFds, zombies: report.zombies }).toEqual({ uncoded: [], unhandled: [], newFds: [], zombies: [] });
      // The stops it is meant to race were reached: cancels, and children that ran.
      const outcomes = Object.keys(report.outcomes).join(' ');
      expect(outcomes).toMatch(/ABORT_ERR/);
      expect(outcomes).toMatch(/ ok/);
    },
    TIMEOUT_MS + 30_000,
  );
});
