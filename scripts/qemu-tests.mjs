// `npm run test:qemu`: the tests of scripts/qemu-arm64-tests.txt (its `file` lines, less the tests
// named by its `skip` lines, each with the reason there), for the arm64 prebuild run by qemu-user
// (.ci/run). Not under scripts/contain.mjs: qemu-user does not implement
// PR_SET_CHILD_SUBREAPER, which it needs. Extra arguments go to vitest.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const lines = readFileSync(new URL('qemu-arm64-tests.txt', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => !line.startsWith('#'))
  .map((line) => line.trim());
const valued = (kind) => lines.filter((line) => line.startsWith(`${kind} `)).map((line) => line.slice(kind.length + 1));
const files = valued('file').map((name) => `test/${name}.test.ts`);
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// A test runs unless its full name (suites and title) contains one of the skipped phrases.
const pattern = `^(?!.*(?:${valued('skip').map(escape).join('|')}))`;
const vitest = path.join(path.dirname(require.resolve('vitest/package.json')), 'vitest.mjs');
// Emulated, a test runs 5 to 10 times slower: the config's 30 s per test becomes 120 s (tests
// that set their own timeout keep it). The slowest of those without one took 21 s (2026-12-02).
const timeouts = ['--testTimeout', '120000', '--hookTimeout', '120000'];
const result = spawnSync(process.execPath, [vitest, 'run', ...files, '--testNamePattern', pattern, ...timeouts, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exitCode = result.status ?? 1;
