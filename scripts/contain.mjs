// Runs a command (the test suite) as a child subreaper, and fails if any process it started is
// still alive once it has ended: a library about reaping must leave nothing behind.
//
//   node scripts/contain.mjs vitest run [args...]
//
// Every process the command orphans (a test's grandchild, a daemon, a leaked `sleep`) is adopted
// by this process instead of init (PR_SET_CHILD_SUBREAPER), so once the command has exited, the
// processes still alive among this process's children are exactly what the suite leaked. They
// are listed, killed and reaped, and the exit status is 1. Zombies (adopted processes that ended
// on their own) are only reaped.
//
// Where the library's 'cgroup' containment is available (root, cgroup v2), the command also runs
// in a cgroup leaf of its own (docs/containment.md): what it left alive is then every process of
// that cgroup as well, even one that went to another subreaper, and all of it dies with this
// process, even if this process is SIGKILLed.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { constants } from 'node:os';

const require = createRequire(import.meta.url);
const { setChildSubreaper, waitpid, processInfo, children, kill, spawn: spawnContained, availableContainments } = require('../dist/index.js');

// Time the command's own helpers (vitest's pool workers) get to end after it has.
const GRACE_MS = 5000;

const { cgroupWatchdogForTest } = require('../dist/spawn/contain.js');

// This process's children, but the library's cgroup watchdog (it ends when this process does).
function childrenOfThisProcess() {
  const watchdog = cgroupWatchdogForTest().pid;
  return children(process.pid).filter((pid) => pid !== watchdog);
}

function alive(pid) {
  try {
    return processInfo(pid).state !== 'Z';
  } catch {
    return false;
  }
}

function describe(pid) {
  try {
    return `${pid} ${processInfo(pid).argv.join(' ')}`;
  } catch {
    return `${pid} (gone)`;
  }
}

// Reaps every adopted child that has ended (never the command: child_process reaps that one).
function reapEnded(command) {
  for (const pid of childrenOfThisProcess()) {
    if (pid === command || alive(pid)) continue;
    try {
      waitpid(pid, { nohang: true });
    } catch {
      // reaped meanwhile
    }
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const [file, ...args] = process.argv.slice(2);
  if (file === undefined) throw new Error('usage: node scripts/contain.mjs <command> [args...]');
  setChildSubreaper(true);
  const { command, exited } = await start(file, args);
  const reaping = setInterval(() => reapEnded(command.pid), 1000);
  const status = await exited;
  clearInterval(reaping);

  // What is left: adopted orphans, and (contained) every process of the command's cgroup.
  const leftAlive = () => [...new Set([...childrenOfThisProcess().filter(alive), ...(command.descendants?.() ?? [])])];
  const deadline = Date.now() + GRACE_MS;
  let left = leftAlive();
  while (left.length > 0 && Date.now() < deadline) {
    reapEnded(-1);
    await sleep(50);
    left = leftAlive();
  }
  let leaked = 0;
  // Killing a leaked process can orphan its own children to us: repeat until none is left.
  while (left.length > 0) {
    for (const pid of left) {
      console.error(`leaked process: ${describe(pid)}`);
      leaked++;
      try {
        kill(pid, 'SIGKILL');
      } catch {
        // ended on its own
      }
    }
    await sleep(50);
    reapEnded(-1);
    left = leftAlive();
  }
  await command.killTree?.('SIGKILL'); // removes the cgroup leaf
  reapEnded(-1);
  if (leaked > 0) {
    console.error(`${leaked} process(es) started by the suite were still alive after it`);
    process.exitCode = status === 0 ? 1 : status;
    return;
  }
  process.exitCode = status;
}

/** Starts the command, in a cgroup leaf where the library can make one; resolves its exit status. */
async function start(file, args) {
  if (availableContainments().includes('cgroup')) {
    const command = await spawnContained(file, args, { contain: 'cgroup', stdio: 'inherit' });
    const exited = command.wait().then(({ status }) => (status.kind === 'exited' ? status.code : 128 + status.signo));
    return { command, exited };
  }
  const command = spawn(file, args, { stdio: 'inherit' });
  const exited = new Promise((resolve, reject) => {
    command.once('error', reject);
    command.once('exit', (code, signal) => resolve(code ?? 128 + constants.signals[signal]));
  });
  return { command, exited };
}

await main();
