/**
 * Every export, called a few thousand times with random bad arguments (wrong types, NaN,
 * ±Infinity, huge numbers, -0, NUL bytes, sparse and huge arrays, prototype keys, throwing
 * getters, revoked proxies, null options), returns, throws a TypeError or RangeError with a
 * `code`, or a SyscallError: never a crash, a hang, or an error without a code (issue 12, item 11).
 *
 * The fuzzer (test/fuzz-driver.js) runs in a child Node process, so that a crash or an abort is
 * seen as its exit status and a hang as its timeout; it loads dist/ (built by the global setup)
 * and reports in JSON. Seeded: a failure names its seed and the call, and is reproduced with
 * `node test/fuzz-driver.js <seed> <rounds>` (the last line on stderr is the last call made).
 */
import * as child_process from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers';

interface FuzzReport {
  seed: number;
  calls: number;
  outcomes: Record<string, number>;
  bad: { call: string; error: string }[];
  unexpectedStarts: string[];
  leftChildren: number[];
}

const ROUNDS = 2500;
// Generous: a run takes about a second on an idle machine; a hang is what this catches.
const TIMEOUT_MS = 240_000;

function fuzz(seed: number): FuzzReport {
  const result = child_process.spawnSync(process.execPath, [path.join(repoRoot, 'test', 'fuzz-driver.js'), String(seed), String(ROUNDS)], {
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
  const lastCall = result.stderr.trimEnd().split('\n').at(-1);
  const how = result.error !== undefined ? `${result.error.message} (hung?)` : `status ${result.status}, signal ${result.signal}`;
  expect(result.status, `fuzzer seed ${seed} ended with ${how}; last call: ${lastCall}; ${result.stdout.slice(0, 500)}`).toBe(0);
  return JSON.parse(result.stdout) as FuzzReport;
}

describe('fuzzing every export with bad arguments', () => {
  it.each([1, 2, 3])(
    'seed %i: each call returns, or throws a coded TypeError/RangeError or a SyscallError',
    (seed) => {
      const report = fuzz(seed);
      expect(report.bad).toEqual([]);
      // Program starters got a refused argument in every call: none may have started anything.
      expect(report.unexpectedStarts).toEqual([]);
      expect(report.leftChildren).toEqual([]);
      expect(report.calls).toBeGreaterThanOrEqual(ROUNDS);
      // Refusals of each kind were seen, so the fuzzer reached the checks it is meant to test.
      expect(Object.keys(report.outcomes)).toEqual(expect.arrayContaining(['TypeError ERR_INVALID_ARG_TYPE', 'TypeError ERR_INVALID_ARG_VALUE', 'RangeError ERR_OUT_OF_RANGE', 'SyscallError']));
    },
    TIMEOUT_MS + 30_000,
  );
});
