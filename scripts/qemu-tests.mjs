// `npm run test:qemu`: the test files of scripts/qemu-arm64-tests.txt, for the arm64 prebuild run
// by qemu-user (.ci/run). Not under scripts/contain.mjs: qemu-user does not implement
// PR_SET_CHILD_SUBREAPER, which it needs. Extra arguments go to vitest.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const files = readFileSync(new URL('qemu-arm64-tests.txt', import.meta.url), 'utf8')
  .split('\n')
  .map((line) => line.replace(/#.*/, '').trim())
  .filter((line) => line !== '')
  .map((name) => `test/${name}.test.ts`);
const vitest = require.resolve('vitest/vitest.mjs');
const result = spawnSync(process.execPath, [vitest, 'run', ...files, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exitCode = result.status ?? 1;
