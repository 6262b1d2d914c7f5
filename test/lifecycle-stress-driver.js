'use strict';
/**
 * The lifecycle stress of test/lifecycle-stress.test.ts, run as its own Node process:
 * `node test/lifecycle-stress-driver.js <seed> <operations>`. Four at a time, it runs random
 * mixes of spawn (waited, finished, disposed, its lines read, its tree killed, extra fds),
 * run, runSync, pipeline and pty spawns, with every containment, timeouts and aborts that fire
 * before, during and after the exec, inputs larger than a pipe, and programs that fail to exec,
 * leave processes behind or ignore SIGTERM. Then it prints one JSON report: errors without a code,
 * unhandled rejections, fds it did not have after a warm-up of every kind, and its zombie
 * children once everything has settled. The operations are listed on stderr as they start.
 */
const fs = require('node:fs');
const path = require('node:path');
const { seededRandom } = require('./seeded-random');

const lib = require(path.join(__dirname, '..', 'dist', 'index.js'));
const seed = Number(process.argv[2] ?? 1);
const operations = Number(process.argv[3] ?? 120);

// The same choices on every Node version (the timing differs).
const random = seededRandom(seed);
const pick = (list) => list[Math.floor(random() * list.length)];

const PROGRAMS = [
  ['true', []],
  ['sh', ['-c', 'echo a; sleep 0.05; echo b >&2']],
  ['sh', ['-c', 'sleep 3 & echo x']], // leaves a process behind
  ['cat', []],
  ['head', ['-c', '300000', '/dev/zero']],
  ['no-such-program-here', []],
  ['sh', ['-c', 'trap "" TERM; sleep 0.3']],
];
const KINDS = ['spawn', 'spawnWait', 'run', 'runSync', 'pipeline', 'pty', 'lines', 'tree', 'fds', 'dispose'];
const CONTAINMENTS = [undefined, undefined, true, 'subreaper', 'pid-namespace', 'cgroup'];

const uncoded = [];
const unhandled = [];
process.on('unhandledRejection', (error) => unhandled.push(String(error?.stack ?? error)));
const outcomes = {};

async function operate(kind, contain, timeout, abortAfter, program, input) {
  const controller = new AbortController();
  const timer = abortAfter === undefined ? undefined : setTimeout(() => controller.abort(), abortAfter);
  const options = { contain, timeout, signal: controller.signal, forceKillAfter: 100 };
  const [file, args] = program;
  try {
    switch (kind) {
      case 'spawn':
      case 'spawnWait': {
        const child = await lib.spawn(file, args, { ...options, stdio: [input === undefined ? 'ignore' : 'pipe', pick(['pipe', 'ignore']), 'ignore'] });
        child.stdin?.on('error', () => {}).end(input);
        child.stdout?.resume();
        if (random() < 0.3) child.kill(pick(['SIGTERM', 'SIGKILL']));
        await (kind === 'spawn' ? child.finished() : child.wait());
        break;
      }
      case 'run':
        await lib.run(file, args, { ...options, input, check: random() < 0.5, maxBuffer: pick([undefined, 100, 1e6]) });
        break;
      case 'runSync':
        lib.runSync(file, args, { timeout: timeout || 2000, input: typeof input === 'string' ? input : undefined, maxBuffer: pick([undefined, 100]) });
        break;
      case 'pipeline':
        await lib.pipeline([program, ['cat'], pick([['wc', ['-c']], ['head', ['-c', '10']]])], { timeout, signal: controller.signal, input, check: random() < 0.5 });
        break;
      case 'pty': {
        const child = await lib.spawn(file, args, { ...options, pty: true });
        // Or never read, when the program writes little: the master must still be closed at the
        // terminal's end (a large output nobody reads is kept, and holds the master, for a late reader).
        if (file === 'head' || pick([true, false])) child.pty.on('data', () => {});
        child.pty.write('x\n\x04');
        if (random() < 0.3) child.kill('SIGHUP');
        await child.wait();
        break;
      }
      case 'lines': {
        const child = await lib.spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
        const [read, other] = pick([['stdout', 'stderr'], ['stderr', 'stdout']]);
        child[other].resume(); // unread, a full pipe would hold the child (and this loop) for ever
        let count = 0;
        for await (const line of child.lines(read)) if (line !== undefined && ++count > 3 && random() < 0.5) break;
        await child.wait();
        break;
      }
      case 'tree': {
        const child = await lib.spawn('sh', ['-c', 'sleep 3 & sleep 3 & (sleep 3 &); echo x; wait'], { ...options, contain: contain ?? 'subreaper', stdio: ['ignore', 'pipe', 'ignore'] });
        child.stdout.resume();
        if (random() < 0.5) await new Promise((resolve) => setTimeout(resolve, random() * 20));
        await child.killTree(pick(['SIGTERM', 'SIGKILL', 'SIGINT']), { forceAfter: pick([undefined, 50, 0]) });
        await child.wait();
        break;
      }
      case 'fds': {
        const child = await lib.spawn('sh', ['-c', 'echo three >&3; cat <&4 >/dev/null; echo done'], { ...options, stdio: ['ignore', 'pipe', 'ignore'], fds: { 3: 'pipe', 4: 'pipe' } });
        child.stdout.resume();
        child.stdio[4].on('error', () => {}).end(input ?? '');
        // Read to its end, or never read (its fd must still be let go once the child ends).
        if (pick([true, false])) {
          child.stdio[3].resume();
          await child.finished();
        } else {
          await child.wait();
        }
        break;
      }
      case 'dispose': {
        const child = await lib.spawn(file, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
        child.stdin.on('error', () => {});
        if (random() < 0.5) child.stdin.write('abc');
        await child[Symbol.asyncDispose]();
        break;
      }
    }
    outcomes[`${kind} ok`] = (outcomes[`${kind} ok`] ?? 0) + 1;
  } catch (error) {
    const label = error?.code ?? error?.name;
    outcomes[`${kind} ${label}`] = (outcomes[`${kind} ${label}`] ?? 0) + 1;
    if (typeof error?.code !== 'string' && !(error instanceof lib.ExitError)) uncoded.push(`${kind}: ${String(error?.stack ?? error)}`);
  } finally {
    clearTimeout(timer);
  }
}

function randomOperation(index) {
  const kind = KINDS[index < KINDS.length ? index : Math.floor(random() * KINDS.length)];
  const contain = pick(CONTAINMENTS);
  const timeout = pick([undefined, 0, 1, 5, 20, 200]);
  const abortAfter = pick([undefined, 0, 1, 3, 10]);
  const program = pick(PROGRAMS);
  const input = pick([undefined, 'hello\n', Buffer.alloc(200000, 97)]);
  process.stderr.write(`${index} ${kind} contain=${contain} timeout=${timeout} abortAfter=${abortAfter} ${program.flat().join(' ')} input=${input?.length}\n`);
  return operate(kind, contain, timeout, abortAfter, program, input);
}

// Each open fd as "number target"; the fd of readdir itself, closed by then, is left out.
const openFds = () =>
  fs.readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      return [`${fd} ${fs.readlinkSync(`/proc/self/fd/${fd}`)}`];
    } catch {
      return [];
    }
  });
const children = () => fs.readdirSync('/proc/self/task').flatMap((task) => fs.readFileSync(`/proc/self/task/${task}/children`, 'utf8').split(' ').filter((word) => word.trim() !== '').map(Number));
const stateOf = (pid) => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat[stat.lastIndexOf(')') + 2];
  } catch {
    return 'gone';
  }
};
const commOf = (pid) => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
};
// Opened once for the life of the process, whenever first needed: libuv's inotify fd (the first
// fs.watch, a cgroup tree's cgroup.events) and the background reaper's epoll set.
const SINGLETONS = ['anon_inode:inotify', 'anon_inode:[eventpoll]'];
const withoutSingletons = (fds) => fds.filter((fd, i) => !SINGLETONS.some((kind) => fd.endsWith(` ${kind}`) && !fds.slice(0, i).some((earlier) => earlier.endsWith(` ${kind}`))));
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

(async () => {
  // Every kind once, containment included, so that what the library keeps for the process
  // (the background reaper's epoll set, a cgroup watchdog, libuv's inotify) is open before the count.
  await Promise.all(KINDS.map((kind) => operate(kind, kind === 'tree' ? 'cgroup' : undefined, undefined, undefined, PROGRAMS[1], 'hello\n')));
  const fdsBefore = openFds();
  for (let i = 0; i < operations; i += 4) await Promise.all([0, 1, 2, 3].map((j) => randomOperation(i + j)));
  // Trees stopped by the library are polled up to once a second, processes left behind end
  // within 3 s: wait for the zombies to be reaped, and for the fds to come back.
  const zombies = () => children().filter((pid) => stateOf(pid) === 'Z');
  const closedAgain = () => openFds().every((fd) => fdsBefore.includes(fd));
  for (let waited = 0; waited < 10_000 && (zombies().length > 0 || !closedAgain()); waited += 50) await pause(50);
  const report = {
    seed,
    operations,
    outcomes,
    uncoded,
    unhandled,
    newFds: withoutSingletons(openFds().filter((fd) => !fdsBefore.includes(fd))),
    zombies: zombies().map((pid) => `${pid} ${commOf(pid)}`),
  };
  // What uncontained programs left behind (sleep 3) is not the library's to end: ended here.
  for (const pid of children()) if (commOf(pid) === 'sleep') process.kill(pid, 'SIGKILL');
  console.log(JSON.stringify(report));
  // The cgroup watchdog and the pipes of processes left behind must not hold the exit.
  process.exit(0);
})();
