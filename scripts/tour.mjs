// `npm run tour`: compiles the TypeScript examples and runs each in order, as a learner would run
// the classic C programs one after another. Examples import 'posix-process' by its package name
// (resolved to this package's own dist/ build).
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = new URL('..', import.meta.url).pathname;
const only = process.argv[2];

execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.examples.json'], {
  cwd: root,
  stdio: 'inherit',
});

const examples = readdirSync(new URL('../examples', import.meta.url))
  .filter((name) => name.endsWith('.ts') && (only === undefined || name.includes(only)))
  .sort();
let failed = 0;
for (const name of examples) {
  const compiled = `examples-dist/${name.replace(/\.ts$/, '.js')}`;
  console.log(`\n=== ${name} ===`);
  // --single-threaded --v8-pool-size=1: the fork examples need them (see README, "fork, execve,
  // exit"); they are harmless for the others. Running an example directly uses the same flags
  // through its shebang.
  const result = spawnSync(process.execPath, ['--single-threaded', '--v8-pool-size=1', compiled], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    console.log(`(${name} ended with status ${result.status ?? result.signal})`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;
