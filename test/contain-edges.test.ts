// Containment at its edges: a `cgroup` option that only looks like a cgroup, contained spawns in
// worker threads, a subreaper tree whose orphans end on their own, and an unref()'d contained
// child with a timeout whose leader exits before its orphans.
import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { availableContainments, isChildSubreaper, spawn } from '../lib/index';
import { killMarked, markedAlive, markedAliveAfterWatchdog, newMark } from './contain-helpers';
import { openFds, repoRoot, runNode, until, zombieChildren } from './helpers';

const available = availableContainments();
const isRoot = process.geteuid?.() === 0;
let tmp = '';
const marks: string[] = [];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'contain-edges-'));
  return () => fs.rmSync(tmp, { recursive: true, force: true });
});

afterEach(() => {
  for (const mark of marks.splice(0)) killMarked(mark);
});

describe('contain: a cgroup option that is not on a cgroup v2 file system', () => {
  it('is refused with ERR_CONTAINMENT_UNAVAILABLE before anything is made in it', async () => {
    // A directory with a cgroup.procs file, as a cgroup v1 hierarchy has: not a v2 cgroup.
    const fake = path.join(tmp, 'fake-cgroup');
    fs.mkdirSync(fake);
    fs.writeFileSync(path.join(fake, 'cgroup.procs'), '');
    const fds = openFds();
    expect(availableContainments(fake)).not.toContain('cgroup');
    const error = (await spawn('true', [], { contain: 'cgroup', cgroup: fake }).catch((e: unknown) => e)) as Error & Record<string, unknown>;
    expect(error).toMatchObject({ code: 'ERR_CONTAINMENT_UNAVAILABLE', containment: 'cgroup' });
    expect(error.message).toContain('cgroup v2');
    expect(fs.readdirSync(fake)).toEqual(['cgroup.procs']);
    expect(openFds()).toEqual(fds);
    expect(zombieChildren()).toEqual([]);
  });
});

describe('contain: true with a cgroup option', () => {
  it('uses that cgroup or refuses: a cgroup it cannot use is not silently replaced by another mechanism', async () => {
    const fds = openFds();
    const error = (await spawn('true', [], { contain: true, cgroup: tmp }).catch((e: unknown) => e)) as Error & Record<string, unknown>;
    expect(error).toMatchObject({ code: 'ERR_CONTAINMENT_UNAVAILABLE', containment: 'cgroup' });
    expect(error.message).toContain(tmp);
    expect(openFds()).toEqual(fds);
    expect(zombieChildren()).toEqual([]);
    if (!available.includes('cgroup')) return;
    const child = await spawn('true', [], { contain: true, cgroup: '/sys/fs/cgroup/unified' });
    expect(child.containment).toBe('cgroup');
    await child.killTree('SIGKILL');
  });
});

describe('contain: cgroup, a leaf removed behind the library', () => {
  // The leader is killed and seen a zombie before this process reaps it (the loop is blocked), and
  // its leaf, empty then, is removed from outside (another process, an administrator, a watchdog).
  const script = `
    const { spawn } = require('./dist/index.js');
    const { cgroupWatchdogForTest } = require('./dist/spawn/contain.js');
    const fs = require('fs');
    const path = require('path');
    const state = (pid) => { const s = fs.readFileSync('/proc/' + pid + '/stat', 'latin1'); return s.slice(s.lastIndexOf(')') + 2)[0]; };
    (async () => {
      const child = await spawn('sleep', ['1000'], { contain: 'cgroup' });
      const line = fs.readFileSync('/proc/' + child.pid + '/cgroup', 'utf8').split('\\n').find((entry) => entry.startsWith('0::'));
      const leaf = path.join(cgroupWatchdogForTest().dir, path.basename(line.slice(3)));
      process.kill(child.pid, 'SIGKILL');
      while (state(child.pid) !== 'Z');
      fs.rmdirSync(leaf);
      const { status } = await child.wait();
      await child.killTree('SIGKILL');
      console.log(JSON.stringify({ status: status.kind, members: child.descendants(), accounting: child.treeAccounting() }));
    })();`;

  it("the leader's reaping neither throws nor crashes the process; killTree and descendants see an empty tree", () => {
    if (isRoot) expect(available).toContain('cgroup');
    const result = runNode(script, { timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'signaled', members: [] });
  });
});

describe('contain: cgroup in worker threads', () => {
  // The main thread runs a contained child; a worker runs its own contained child, then exits.
  const script = `
    const { Worker } = require('worker_threads');
    const { spawn } = require('./dist/index.js');
    const fs = require('fs');
    const state = (pid) => { try { const s = fs.readFileSync('/proc/' + pid + '/stat', 'latin1'); return s.slice(s.lastIndexOf(')') + 2)[0]; } catch { return undefined; } };
    const worker = \`
      const { parentPort } = require('worker_threads');
      const { spawn } = require('./dist/index.js');
      const { cgroupWatchdogForTest } = require('./dist/spawn/contain.js');
      spawn('sleep', ['0.1'], { contain: 'cgroup' })
        .then(async (child) => ({ status: (await child.wait()).status.kind, watchdog: cgroupWatchdogForTest().pid }), (error) => ({ error: error.code }))
        .then((out) => parentPort.postMessage(out));\`;
    (async () => {
      const main = await spawn('sleep', ['1000'], { contain: 'cgroup' });
      const w = new Worker(worker, { eval: true });
      // Both listened to at once: a worker that ends at once emits 'exit' right after its last 'message'.
      const exited = new Promise((resolve) => w.once('exit', resolve));
      const fromWorker = await new Promise((resolve) => w.once('message', resolve));
      await exited;
      // The worker's watchdog (if it made one) has done its work once it has exited.
      while (fromWorker.watchdog !== undefined && !['Z', undefined].includes(state(fromWorker.watchdog))) await new Promise((r) => setTimeout(r, 20));
      const mainAlive = main.exitResult === null && state(main.pid) !== 'Z' && state(main.pid) !== undefined;
      await main.killTree('SIGKILL');
      console.log(JSON.stringify({ fromWorker, mainAlive }));
    })();`;

  it("a worker's contained spawn gets a leaf of its own, and its exit leaves the main thread's tree running", () => {
    if (isRoot) expect(available).toContain('cgroup');
    const result = runNode(script, { timeout: 60_000 });
    expect(result.stderr).toBe('');
    const out = JSON.parse(result.stdout) as { fromWorker: Record<string, unknown>; mainAlive: boolean };
    expect(out.fromWorker).toMatchObject({ status: 'exited' });
    expect(out.mainAlive).toBe(true);
  });
});

describe('contain: subreaper, a tree that outlives its leader and ends on its own', () => {
  it('its orphans are reaped and this process stops being a subreaper, with nobody waiting', async () => {
    expect(isChildSubreaper()).toBe(false);
    const mark = newMark();
    marks.push(mark);
    const child = await spawn('/bin/sh', ['-c', 'sleep 0.3 & exit 0'], { contain: 'subreaper', env: { ...process.env, [mark]: '1' } });
    expect((await child.wait()).status).toEqual({ kind: 'exited', code: 0 });
    await until(() => markedAlive(mark).length === 0, 20_000);
    await until(() => !isChildSubreaper() && zombieChildren().length === 0, 20_000);
    expect(zombieChildren()).toEqual([]);
    expect(isChildSubreaper()).toBe(false);
  });
});

describe('contain: subreaper, and setChildSubreaper called by the program while a tree lives', () => {
  // The program asks for the flag itself (to adopt orphans of its own) while a subreaper tree
  // lives, or gives it up; the tree's orphans are made after that.
  const script = `
    const { spawn, setChildSubreaper, isChildSubreaper } = require('./dist/index.js');
    (async () => {
      const tree = await spawn('sh', ['-c', process.argv[2]], { contain: 'subreaper', stdio: ['pipe', 'pipe', 'inherit'] });
      setChildSubreaper(process.argv[1] === 'on');
      tree.stdin.end('\\n');
      const orphan = Number(await new Promise((resolve) => tree.stdout.once('data', (data) => resolve(String(data)))));
      // The leader has reaped the orphan's parent once it runs sleep: the orphan has moved on.
      const cmdline = () => { try { return require('fs').readFileSync('/proc/' + tree.pid + '/cmdline', 'latin1'); } catch { return ''; } };
      while (cmdline() !== 'sleep\\u00001000\\u0000') await new Promise((resolve) => setTimeout(resolve, 5));
      const members = tree.descendants().includes(orphan);
      await tree.killTree('SIGKILL');
      await tree.wait();
      // killTree has settled: the tree has ended, and with it what the library does with the flag.
      let orphanAlive = true;
      try { orphanAlive = !/\\) [ZX]/.test(require('fs').readFileSync('/proc/' + orphan + '/stat', 'latin1')); } catch { orphanAlive = false; }
      console.log(JSON.stringify({ members, orphanAlive, subreaper: isChildSubreaper() }));
      process.exit(0);
    })();`;

  it.each([
    ['on', true],
    ['off', false],
  ])('setChildSubreaper(%s): the orphan is the tree\'s and dies with it, and the flag is the program\'s once the tree has ended', (on, flag) => {
    const mark = newMark();
    marks.push(mark);
    const tree = `read x; sh -c 'sleep 1000 & echo $!'; exec sleep 1000`;
    const result = runNode(script, { args: [on, tree], env: { ...process.env, [mark]: '1' }, timeout: 30_000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ members: true, orphanAlive: false, subreaper: flag });
    expect(result.status).toBe(0);
  });
});

describe('contain: subreaper, an orphan older than every tree', () => {
  it('is reaped once the last tree has ended and it exits (not a zombie for ever); a child this process had before is left to its owner', () => {
    // The orphan's shell started before the tree and ends while the tree lives, so the orphan
    // comes to this process (the subreaper) but belongs to no tree (it is older than the leader).
    const script = `
      const fs = require('fs');
      const { spawn, posixSpawn, waitpid, isChildSubreaper } = require('./dist/index.js');
      const state = (pid) => { try { const s = fs.readFileSync('/proc/' + pid + '/stat', 'latin1'); return s[s.lastIndexOf(')') + 2]; } catch { return 'gone'; } };
      const parentOf = (pid) => { try { const s = fs.readFileSync('/proc/' + pid + '/stat', 'latin1'); return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]); } catch { return 0; } };
      const until = async (predicate) => { for (let i = 0; i < 2000 && !predicate(); i++) await new Promise((r) => setTimeout(r, 5)); return predicate(); };
      (async () => {
        const own = posixSpawn('/bin/sleep', ['sleep', '0.4']);
        // The orphan outlives its shell, and the tree lives until the orphan is adopted: each ends
        // when told, not after a time that a loaded machine can overrun.
        const shell = await spawn('sh', ['-c', 'sleep 2 & echo $!; read x'], { stdio: ['pipe', 'pipe', 'inherit'] });
        const orphan = Number(await new Promise((resolve) => shell.stdout.once('data', (data) => resolve(String(data)))));
        // Start times are in clock ticks (10 ms): the tree's leader must be seen as younger.
        await new Promise((resolve) => setTimeout(resolve, 50));
        const tree = await spawn('sh', ['-c', 'read x'], { contain: 'subreaper', stdio: ['pipe', 'ignore', 'inherit'] });
        shell.stdin.end('\\n');
        await shell.wait();
        const adopted = await until(() => parentOf(orphan) === process.pid);
        tree.stdin.end('\\n');
        await tree.wait();
        const dropped = await until(() => !isChildSubreaper());
        const reaped = await until(() => state(orphan) === 'gone');
        const ownStatus = waitpid(own).status;
        console.log(JSON.stringify({ adopted, dropped, reaped, orphanState: state(orphan), ownStatus }));
      })();`;
    const result = runNode(script, { timeout: 30_000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ adopted: true, dropped: true, reaped: true, orphanState: 'gone', ownStatus: { kind: 'exited', code: 0 } });
  });
});

describe.each(['cgroup', 'subreaper'].filter((kind) => available.includes(kind as never)))('contain: %s, unref() with a timeout', (kind) => {
  it('a tree that outlives its leader does not keep the event loop alive', () => {
    const mark = newMark();
    marks.push(mark);
    const script = `
      const { spawn } = require('./dist/index.js');
      (async () => {
        const child = await spawn('/bin/sh', ['-c', 'sleep 1000 & exit 0'], { contain: process.argv[1], timeout: 600000, env: { ...process.env, [process.argv[2]]: '1' }, stdio: 'ignore' });
        child.unref();
        const poll = setInterval(() => { if (child.exitResult !== null) { clearInterval(poll); console.log(child.exitResult.status.kind); } }, 10);
      })();`;
    // The orphan has no fd of this test's pipes: spawnSync waits for the script's exit alone.
    const result = runNode(script, { args: [kind, mark], timeout: 20_000 });
    expect(result.stderr).toBe('');
    expect(result.signal).toBe(null);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('exited\n');
  });

  it('nor does the stop its timeout started, whose grace period a member outlives', () => {
    // The stop's grace timer, and wait()'s wait for the tree, held the program for forceKillAfter.
    const mark = newMark();
    marks.push(mark);
    const script = `
      const { spawn } = require('./dist/index.js');
      const started = Date.now();
      (async () => {
        const child = await spawn('/bin/sh', ['-c', "sh -c \\"trap '' TERM; sleep 1000\\" & exec sleep 1000"], { contain: process.argv[1], timeout: 100, forceKillAfter: 600000, env: { ...process.env, [process.argv[2]]: '1' }, stdio: 'ignore' });
        child.unref();
        setTimeout(() => {}, 500);
        process.on('exit', () => console.log(Date.now() - started < 60000 ? 'ended' : 'held'));
      })();`;
    const result = runNode(script, { args: [kind, mark], timeout: 120_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('ended\n');
  });
});

describe.each(['cgroup', 'pid-namespace', 'subreaper'].filter((kind) => available.includes(kind as never)))('contain: %s, a stopped tree', (kind) => {
  it('killTree with SIGTERM (no forceAfter) continues the stopped processes so that they get it', async () => {
    const mark = newMark();
    marks.push(mark);
    // The leader has a TERM handler: PID 1 of a namespace gets only the signals it handles.
    const child = await spawn('/bin/sh', ['-c', "trap 'exit 7' TERM; sleep 1000 & echo ready; wait"], { contain: kind as never, env: { ...process.env, [mark]: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => child.stdout.once('data', resolve));
    // The background child must have exec'd sleep: a shell between fork and exec still runs the
    // parent's TERM trap (which only sets a flag), and its exec then loses the signal.
    const isSleep = (pid: number): boolean => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1') === 'sleep\u00001000\u0000';
      } catch {
        return false;
      }
    };
    await until(() => markedAlive(mark).length === 2 && markedAlive(mark).some(isSleep), 10_000);
    for (const pid of child.descendants()) process.kill(pid, 'SIGSTOP');
    await until(() => child.descendants().every((pid) => fs.readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.startsWith('T')), 10_000);
    await child.killTree('SIGTERM');
    expect((await child.wait()).status).toEqual({ kind: 'exited', code: 7 });
    expect(markedAlive(mark)).toEqual([]);
    child.stdout.destroy();
    expect(zombieChildren()).toEqual([]);
  });
});

// A member this process may not signal: a process of uid 0 without CAP_KILL (setpriv) contains a
// tree with a member running as nobody. cgroup.kill still ends it; a subreaper cannot, and waits.
describe.each(
  [
    { kind: 'cgroup', member: 'sleep 100', ends: 'by the forced SIGKILL (cgroup.kill)' },
    { kind: 'subreaper', member: 'sleep 2', ends: 'on its own' },
  ].filter(({ kind }) => isRoot && available.includes(kind as never)),
)('contain: $kind, a member this process may not signal (EPERM)', ({ kind, member, ends }) => {
  it(`is passed over: the rest get the signal, nothing throws, and killTree resolves once it has ended ${ends}`, async () => {
    const mark = newMark();
    marks.push(mark);
    const script = `
      const { spawn } = require('./dist/index.js');
      const fs = require('node:fs');
      const uncaught = [];
      process.on('uncaughtException', (e) => uncaught.push(String(e.code ?? e.message)));
      const comm = (pid) => { try { return fs.readFileSync('/proc/' + pid + '/comm', 'latin1').trim(); } catch { return 'gone'; } };
      // Ended: gone, or a zombie its new parent (init) has not reaped yet.
      const alive = (pid) => { try { return !/\\) [ZX] /.test(fs.readFileSync('/proc/' + pid + '/stat', 'latin1')); } catch { return false; } };
      const uid = (pid) => fs.readFileSync('/proc/' + pid + '/status', 'latin1').match(/^Uid:\\s+(\\d+)/m)[1];
      (async () => {
        const script = 'setpriv --reuid=65534 --regid=65534 --clear-groups ${member} & sleep 100 & echo ready; wait';
        const child = await spawn('/bin/sh', ['-c', script], { contain: '${kind}', stdio: ['ignore', 'pipe', 'inherit'] });
        await new Promise((resolve) => child.stdout.once('data', resolve));
        let sleeps = [];
        while (sleeps.length < 2) {
          sleeps = child.descendants().filter((pid) => comm(pid) === 'sleep');
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        const uids = sleeps.map(uid).sort();
        let outcome;
        try { await child.killTree('SIGTERM', { forceAfter: 300 }); outcome = 'ended'; } catch (e) { outcome = e.code; }
        const { status } = await child.wait();
        console.log(JSON.stringify({ uids, outcome, status, left: sleeps.filter(alive), uncaught }));
      })();`;
    const result = child_process.spawnSync('setpriv', ['--inh-caps=-kill', '--bounding-set=-kill', process.execPath, '-e', script], {
      cwd: repoRoot,
      env: { ...process.env, [mark]: '1' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ uids: ['0', '65534'], outcome: 'ended', status: { kind: 'signaled', signal: 'SIGTERM', signo: 15, coreDumped: false }, left: [], uncaught: [] });
    expect(await markedAliveAfterWatchdog(mark)).toEqual([]);
  });
});

describe('contain: with this process out of file descriptors (EMFILE)', () => {
  // Each script fills its fd table for a while, then frees it; what the library could not read
  // or write meanwhile it does once it can, and nothing is thrown from a timer.
  const prelude = `
    const { isChildSubreaper, spawn } = require('./dist/index.js');
    const fs = require('node:fs');
    const uncaught = [];
    process.on('uncaughtException', (e) => uncaught.push(String(e.code ?? e.message)));
    const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const alive = (pid) => { try { return !/\\) [ZX] /.test(fs.readFileSync('/proc/' + pid + '/stat', 'latin1')); } catch { return false; } };
    const fillers = [];
    const fill = () => { try { for (;;) fillers.push(fs.openSync('/dev/null', 'r')); } catch {} };
    const free = () => { for (const fd of fillers.splice(0)) fs.closeSync(fd); };`;

  it.runIf(available.includes('cgroup'))("cgroup: the forced SIGKILL that cannot open cgroup.kill is tried again, and killTree resolves once it could", async () => {
    const mark = newMark();
    marks.push(mark);
    const script = `${prelude}
      (async () => {
        const child = await spawn('/bin/sh', ['-c', "trap '' TERM; echo ready; while :; do sleep 0.05; done"], { contain: 'cgroup', stdio: ['ignore', 'pipe', 'inherit'] });
        await new Promise((resolve) => child.stdout.once('data', resolve));
        let reaped = false;
        void child.wait().then(() => (reaped = true));
        const ended = child.killTree('SIGTERM', { forceAfter: 100 }).then(() => 'ended', (e) => e.code);
        fill();
        await pause(600);
        const during = !reaped; // not read from /proc, which needs an fd
        free();
        const outcome = await ended;
        const { status, forced } = await child.wait();
        console.log(JSON.stringify({ during, outcome, status: status.signal, forced, uncaught }));
      })();`;
    const result = runNode(script, { env: { ...process.env, [mark]: '1' } });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ during: true, outcome: 'ended', status: 'SIGKILL', forced: true, uncaught: [] });
    expect(await markedAliveAfterWatchdog(mark)).toEqual([]);
  });

  it.each(['cgroup', 'subreaper'].filter((kind) => available.includes(kind as never)))('%s: a tree it cannot read when the leader is reaped is not taken for an empty one: the members left stay its own', async (kind) => {
    const mark = newMark();
    marks.push(mark);
    const script = `${prelude}
      (async () => {
        const child = await spawn('/bin/sh', ['-c', 'sleep 100 & echo $!; sleep 0.3'], { contain: '${kind}', stdio: ['ignore', 'pipe', 'inherit'] });
        const member = Number(await new Promise((resolve) => child.stdout.once('data', resolve)));
        fill();
        await child.wait(); // the leader is reaped while no fd can be opened
        fill(); // and the fd its pidfd was
        await pause(200);
        free();
        await pause(200);
        const kept = child.descendants().includes(member);
        // A subreaper tree taken for ended would have dropped the flag: the next orphans escape.
        const subreaper = isChildSubreaper();
        await child.killTree('SIGKILL');
        console.log(JSON.stringify({ kept, subreaper, alive: alive(member), uncaught }));
      })();`;
    const result = runNode(script, { env: { ...process.env, [mark]: '1' } });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ kept: true, subreaper: kind === 'subreaper', alive: false, uncaught: [] });
    expect(await markedAliveAfterWatchdog(mark)).toEqual([]);
  });
});

describe('contain: cgroup, a leaf removed behind the library before the leader is reaped', () => {
  // As above, but killTree('SIGKILL') comes before the leader's reaping, with the leaf already gone.
  const script = `
    const { spawn } = require('./dist/index.js');
    const { cgroupWatchdogForTest } = require('./dist/spawn/contain.js');
    const fs = require('fs');
    const path = require('path');
    const state = (pid) => { const s = fs.readFileSync('/proc/' + pid + '/stat', 'latin1'); return s.slice(s.lastIndexOf(')') + 2)[0]; };
    process.on('unhandledRejection', (error) => { console.log(JSON.stringify({ unhandled: String(error) })); process.exit(3); });
    (async () => {
      const child = await spawn('sleep', ['1000'], { contain: 'cgroup' });
      const line = fs.readFileSync('/proc/' + child.pid + '/cgroup', 'utf8').split('\\n').find((entry) => entry.startsWith('0::'));
      const leaf = path.join(cgroupWatchdogForTest().dir, path.basename(line.slice(3)));
      process.kill(child.pid, 'SIGKILL');
      while (state(child.pid) !== 'Z');
      fs.rmdirSync(leaf);
      const killed = await child.killTree('SIGKILL').then(() => 'resolved', (error) => String(error));
      const { status } = await child.wait();
      console.log(JSON.stringify({ killed, status: status.kind, members: child.descendants() }));
    })();`;

  it('killTree resolves (the tree is empty) instead of failing on the missing cgroup.kill', () => {
    if (isRoot) expect(available).toContain('cgroup');
    const result = runNode(script, { timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ killed: 'resolved', status: 'signaled', members: [] });
    expect(result.status).toBe(0);
  });
});

describe.runIf(available.includes('pid-namespace'))('contain: pid-namespace, options the new namespace cannot honour', () => {
  it('a pgid to join is ERR_INVALID_ARG_VALUE before anything runs (its group is not visible there); pgid 0 works', async () => {
    const leader = await spawn('sleep', ['30'], { pgid: 0 });
    try {
      const fds = openFds();
      await expect(spawn('true', [], { contain: 'pid-namespace', pgid: leader.pid })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      expect(openFds()).toEqual(fds);
      const own = await spawn('true', [], { contain: 'pid-namespace', pgid: 0 });
      expect((await own.wait()).status).toEqual({ kind: 'exited', code: 0 });
    } finally {
      leader.kill('SIGKILL');
      await leader.wait();
    }
    expect(zombieChildren()).toEqual([]);
  });

  it('without root, a uid or gid other than its own is ERR_INVALID_ARG_VALUE (the user namespace made for it maps only those); its own works', () => {
    const script = `
      const { spawn } = require('./dist/index.js');
      (async () => {
        const out = {};
        for (const [name, options] of [['uid', { uid: 0 }], ['gid', { gid: 0 }], ['own', { uid: 65534, gid: 65534 }]]) {
          try {
            const child = await spawn('id', ['-u'], { contain: 'pid-namespace', ...options, stdio: ['ignore', 'pipe', 'inherit'] });
            let text = '';
            child.stdout.on('data', (d) => (text += d));
            await child.finished();
            out[name] = text.trim();
          } catch (e) {
            out[name] = e.name + ' ' + e.code;
          }
        }
        console.log(JSON.stringify(out));
      })();`;
    const result = runNode(script, { uid: 65534, gid: 65534 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ uid: 'TypeError ERR_INVALID_ARG_VALUE', gid: 'TypeError ERR_INVALID_ARG_VALUE', own: '65534' });
  });
});

describe.runIf(available.includes('cgroup'))('contain: cgroup, a cgroup option given as a relative path', () => {
  // The parent is named relative to the cwd at the spawn; the program changes its cwd after.
  const script = `
    const { spawn } = require(process.argv[1] + '/dist/index.js');
    const fs = require('fs');
    (async () => {
      const child = await spawn('sleep', ['1000'], { contain: 'cgroup', cgroup: process.argv[2] });
      process.chdir('/');
      // A generous bound: a kill that never ends the tree would otherwise hold the script.
      const killed = await Promise.race([child.killTree('SIGKILL').then(() => 'ended'), new Promise((resolve) => setTimeout(resolve, 20000, 'still running'))]);
      if (killed !== 'ended') child.kill('SIGKILL');
      const { status } = await child.wait();
      console.log(JSON.stringify({ killed, status: status.kind, members: child.descendants() }));
      process.exit(0); // not held by the bound's timer
    })();`;

  it('is taken against the cwd of the spawn: killTree still ends the tree after a chdir', () => {
    // The cgroup v2 mount, as a directory name below the cwd.
    const mount = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((line) => line.split(' - ')[1]?.startsWith('cgroup2 '))!
      .split(' ')[4]!;
    const result = runNode(script, { cwd: path.dirname(mount), args: [path.join(__dirname, '..'), path.basename(mount)], timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ killed: 'ended', status: 'signaled', members: [] });
    expect(result.status).toBe(0);
  });
});

describe.runIf(available.includes('cgroup'))('contain: cgroup, a leaf left by an earlier process that had this pid', () => {
  // Both that process and its watchdog were killed (a whole container or service at once): its
  // cgroups stay, and a pid is reused.
  const script = `
    const fs = require('fs');
    const { spawn } = require('./dist/index.js');
    const { cgroupWatchdogForTest } = require('./dist/spawn/contain.js');
    // Under this process's own cgroup, where its leaves go (root may write there).
    const own = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\\n').find((line) => line.startsWith('0::')).slice(3);
    const dir = require('path').join(process.argv[1], own, 'posix-process-' + process.pid);
    fs.mkdirSync(dir + '/1', { recursive: true });
    (async () => {
      const out = {};
      try {
        const child = await spawn('true', [], { contain: 'cgroup' });
        out.status = (await child.wait()).status.kind;
      } catch (error) {
        out.error = error.code;
      }
      out.same = cgroupWatchdogForTest().dir === dir;
      out.dir = dir;
      console.log(JSON.stringify(out));
    })();`;

  it('does not fail the spawn: the child gets a leaf of its own, and the watchdog removes the old one', async () => {
    const mount = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((line) => line.split(' - ')[1]?.startsWith('cgroup2 '))!
      .split(' ')[4]!;
    const result = runNode(script, { args: [mount], timeout: 60_000 });
    expect(result.stderr).toBe('');
    const out = JSON.parse(result.stdout) as { dir: string };
    try {
      expect(out).toEqual({ status: 'exited', same: true, dir: out.dir });
      expect(result.status).toBe(0);
      await until(() => !fs.existsSync(out.dir), 20_000);
    } finally {
      // Empty cgroups: what a failed run left.
      for (const leftover of [path.join(out.dir, '1'), out.dir]) if (fs.existsSync(leftover)) fs.rmdirSync(leftover);
    }
  });
});

describe.runIf(available.includes('cgroup'))('contain: cgroup, the process cgroup removed behind the library while empty', () => {
  // Every later contained spawn failed with ENOENT from the leaf's mkdir: the library kept the
  // removed directory. It is made again, with a watchdog of its own.
  const script = `
    const fs = require('fs');
    const { spawn } = require('./dist/index.js');
    const { cgroupWatchdogForTest } = require('./dist/spawn/contain.js');
    (async () => {
      await (await spawn('true', [], { contain: 'cgroup' })).wait();
      const { dir, pid: firstWatchdog } = cgroupWatchdogForTest();
      fs.rmdirSync(dir); // its leaf went with the leader: empty
      const out = {};
      try {
        const child = await spawn('true', [], { contain: 'cgroup' });
        out.status = (await child.wait()).status.kind;
      } catch (error) {
        out.error = error.code + ' ' + error.message;
      }
      out.remade = fs.existsSync(dir);
      out.newWatchdog = cgroupWatchdogForTest().pid !== firstWatchdog;
      console.log(JSON.stringify(out));
    })();`;

  it('is made again for the next spawn, which works', () => {
    const result = runNode(script, { timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ status: 'exited', remade: true, newWatchdog: true });
    expect(result.status).toBe(0);
  });
});
