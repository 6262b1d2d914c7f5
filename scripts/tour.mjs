// `npm run tour`: compiles the TypeScript examples and runs each in order, as a learner would run
// the classic C programs one after another. Examples import 'posix-process' by its package name
// (resolved to this package's own dist/ build).
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
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
// One line each, printed before the example's output: what it shows.
const SUMMARIES = {
  '00-identity-and-kill': 'getpid/getppid, and kill(pid, 0) probing a child that has exited and been reaped (ESRCH) and then this process',
  '01-fork': 'fork(): one process becomes two, and each prints its own pid and its parent\'s',
  '02-fork-exec': 'fork() then execve(): the shell run in the child prints its own pid ($$), the one fork() returned: exec keeps the pid',
  '03-posix-spawn': 'posix_spawn(): a program started without forking Node, then reaped with waitpid',
  '04-zombie': 'a zombie: an exited child that nobody has waited for yet shows state Z until waitpid reaps it',
  '05-orphan': 'an orphan: its parent exits first, and the child reports the new parent it was given',
  '06-wait-status': 'wait statuses decoded: an exit code, a signal, a core dump, a stop and a continue',
  '07-copy-on-write': 'copy-on-write: after fork() a change made by the child is not seen by the parent',
  '10-safe-spawn': 'the safe spawn: a child handle with pipes, a typed status, and errors that name the step that failed',
  '20-signals': 'signals in JavaScript with the sender\'s pid, an ignored signal, and SIGTERM to a whole process group',
  '21-process-tree': 'a process tree like ps --forest: running, sleeping, stopped and zombie children read from /proc',
  '22-orphan-subreaper': 'a subreaper adopts an orphaned grandchild and reaps it',
  '23-daemon': 'a daemon started the daemon(7) way: new session, not its leader, cwd /, stdio on /dev/null',
};

// The example's own first comment line, for one not in SUMMARIES.
function summaryOf(name) {
  const key = name.replace(/\.ts$/, '');
  if (SUMMARIES[key]) return SUMMARIES[key];
  const comment = readFileSync(new URL(`../examples/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .find((line) => line.startsWith('// '));
  return comment ? comment.slice(3) : '';
}

let failed = 0;
for (const name of examples) {
  const compiled = `examples-dist/${name.replace(/\.ts$/, '.js')}`;
  console.log(`\n=== ${name} ===\n${summaryOf(name)}\n`);
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
