// Runs once before the test files: compiles the TypeScript that tests run as separate programs,
// so that `npm test` always tests the current sources.
// - dist/: child Node processes in the tests `require('./dist/index.js')`;
// - examples-dist/: the tour's examples, whose output the example tests check.
import * as child_process from 'node:child_process';
import * as path from 'node:path';

export default function setup(): void {
  const root = path.join(__dirname, '..');
  const tsc = require.resolve('typescript/bin/tsc');
  for (const project of ['tsconfig.build.json', 'tsconfig.examples.json']) {
    child_process.execFileSync(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });
  }
  child_process.execFileSync(process.execPath, ['scripts/write-esm-entry.mjs'], { cwd: root, stdio: 'inherit' });
}
