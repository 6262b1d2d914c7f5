// Containment (`contain`): a tree that tries every way out (setsid, double fork, a new process
// group, a burst of forks) is found and ended by each mechanism available here, as root and as
// nobody, also when the Node parent is SIGKILLed; the graceful stop and why a child ended.
import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { availableContainments, isChildSubreaper, run, spawn, type ChildProcess, type Containment } from '../lib/index';
import { cgroupWatchdogForTest } from '../lib/spawn/contain';
import { escapingTree, killMarked, markedAlive, newMark, recordedPids } from './contain-helpers';
import { openFds, repoRoot, runNode, until, zombieChildren } from './helpers';

const ALL: readonly Containment[] = ['cgroup', 'pid-namespace', 'subreaper'];
const available = availableContainments();
const isRoot = process.geteuid?.() === 0;
let tmp = '';
const marks: string[] = [];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'contain-test-'));
  fs.chmodSync(tmp, 0o1777);
  return () => fs.rmSync(tmp, { recursive: true, force: true });
});

// The first cgroup spawn starts this process's watchdog (its stdin pipe is an fd for the life of
// the process) and libuv's inotify fd: made here, before any test counts fds.
beforeAll(async () => {
  if (available.includes('cgroup')) await (await spawn('true', [], { contain: 'cgroup' })).wait();
});

// Whatever a failed test left behind is killed (and the test has failed already).
afterEach(() => {
  for (const mark of marks.splice(0)) killMarked(mark);
});

/** Starts the escaping tree, contained by `kind`, and waits until all of it runs. */
async function startTree(kind: Containment | true, ignoreTerm = false): Promise<{ child: ChildProcess; mark: string; pidFile: string }> {
  const mark = newMark();
  marks.push(mark);
  const pidFile = path.join(tmp, `${mark}.pids`);
  const child = await spawn('/bin/sh', ['-c', escapingTree(pidFile, ignoreTerm)], { contain: kind, env: { ...process.env, [mark]: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.stdout.resume();
  return { child, mark, pidFile };
}

function readCmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return '';
  }
}

/** This process's fds, but libuv's inotify fd, which fs.watch opens once and the loop keeps. */
function fdsButInotify(): number[] {
  return openFds().filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) !== 'anon_inode:inotify';
    } catch {
      return false;
    }
  });
}

/** Every pid the tree recorded is gone (or now belongs to a process without the mark). */
function expectTreeGone(mark: string, pidFile: string): void {
  expect(markedAlive(mark)).toEqual([]);
  const alive = new Set(markedAlive(mark));
  expect(recordedPids(pidFile).filter((pid) => alive.has(pid))).toEqual([]);
}

describe('availableContainments', () => {
  it('lists the mechanisms of this machine, best first, subreaper always', () => {
    expect(available.at(-1)).toBe('subreaper');
    expect([...available].sort((a, b) => ALL.indexOf(a) - ALL.indexOf(b))).toEqual(available);
    // The suite runs as root on machines with cgroup v2 mounted (docs/containment.md).
    if (isRoot) expect(available).toEqual(['cgroup', 'pid-namespace', 'subreaper']);
  });
});

describe.each(ALL.filter((kind) => available.includes(kind)))('contain: %s', (kind) => {
  it('killTree ends every process of a tree that escapes its group, its session and its parent', async () => {
    const fds = fdsButInotify();
    const { child, mark, pidFile } = await startTree(kind);
    expect(child.containment).toBe(kind);
    const members = child.descendants();
    expect(members).toContain(child.pid);
    // The setsid'd, double-forked and regrouped sleeps at least, each found by the mechanism
    // (each has written its pid; its exec of sleep may still be under way on a loaded machine).
    const sleepsOf = (): number[] => markedAlive(mark).filter((pid) => readCmdline(pid) === 'sleep\u00001000\u0000');
    await until(() => sleepsOf().length >= 3);
    const sleeps = sleepsOf();
    expect(sleeps.length).toBeGreaterThanOrEqual(3);
    for (const pid of sleeps) expect(child.descendants()).toContain(pid);
    expect(recordedPids(pidFile).length).toBeGreaterThanOrEqual(5);
    await child.killTree('SIGKILL');
    expectTreeGone(mark, pidFile);
    const result = await child.wait();
    expect(result.status).toMatchObject({ kind: 'signaled', signal: 'SIGKILL' });
    expect(result.killedBy).toBe(null);
    expect(child.descendants()).toEqual([]);
    expect(zombieChildren()).toEqual([]);
    child.stdout!.destroy();
    expect(fdsButInotify()).toEqual(fds);
  });

  it('killTree with SIGTERM, and a burst of forks under way, leaves nothing', async () => {
    const { child, mark, pidFile } = await startTree(kind);
    await child.killTree('SIGTERM', { forceAfter: 10_000 });
    expectTreeGone(mark, pidFile);
    expect((await child.wait()).forced).toBe(false);
  });

  it('finds and ends the orphans once the leader itself has exited', async () => {
    const mark = newMark();
    marks.push(mark);
    const pidFile = path.join(tmp, `${mark}.pids`);
    // The leader starts its escapees and exits; for pid-namespace its exit ends them (PID 1).
    const script = `setsid sh -c 'echo $$ >> ${pidFile}; exec sleep 1000' & (sh -c 'echo $$ >> ${pidFile}; exec sleep 1000' &); sleep 0.2; exit 0`;
    const child = await spawn('/bin/sh', ['-c', script], { contain: kind, env: { ...process.env, [mark]: '1' } });
    expect((await child.wait()).status).toEqual({ kind: 'exited', code: 0 });
    if (kind !== 'pid-namespace') {
      // The double fork's middle process may outlive the leader for a moment on a loaded machine.
      await until(() => markedAlive(mark).length === 2 && recordedPids(pidFile).length === 2);
      expect(markedAlive(mark).length).toBe(2);
      expect(child.descendants().sort()).toEqual(markedAlive(mark).sort());
    }
    await child.killTree();
    expectTreeGone(mark, pidFile);
    expect(child.descendants()).toEqual([]);
    expect(zombieChildren()).toEqual([]);
  });

  it('forceAfter: members that ignore SIGTERM get SIGKILL after the grace period; the result says forced', async () => {
    const { child, mark, pidFile } = await startTree(kind, true);
    const started = Date.now();
    await child.killTree('SIGTERM', { forceAfter: 300 });
    const elapsed = Date.now() - started;
    expectTreeGone(mark, pidFile);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(300 + 10_000); // generous: both cores may be busy
    const result = await child.wait();
    expect(result.forced).toBe(true);
    expect(result.status).toMatchObject({ kind: 'signaled', signal: 'SIGKILL' });
  });

  it('await using stops the whole tree', async () => {
    let mark = '';
    let pidFile = '';
    {
      const tree = await startTree(kind);
      ({ mark, pidFile } = tree);
      await using child = tree.child;
      expect(child.descendants().length).toBeGreaterThan(3);
    }
    expectTreeGone(mark, pidFile);
    expect(zombieChildren()).toEqual([]);
  });

  it('timeout stops the tree and says timedOut', async () => {
    const mark = newMark();
    marks.push(mark);
    const pidFile = path.join(tmp, `${mark}.pids`);
    const result = await run('/bin/sh', ['-c', escapingTree(pidFile)], { contain: kind, timeout: 1000, env: { ...process.env, [mark]: '1' } });
    expect(result).toMatchObject({ timedOut: true, killedBy: 'timeout', forced: false });
    await until(() => markedAlive(mark).length === 0, 10_000);
    expectTreeGone(mark, pidFile);
  });
});

describe.each(ALL.filter((kind) => kind !== 'pid-namespace' && available.includes(kind)))('contain: %s, a tree that outlives its leader', (kind) => {
  it('timeout still stops the orphans once the leader has exited', async () => {
    const mark = newMark();
    marks.push(mark);
    // The leader exits at once; its setsid'd orphan holds stdout open, so run() goes on waiting.
    const result = await run('/bin/sh', ['-c', 'setsid sleep 100 & exit 0'], { contain: kind, timeout: 1000, env: { ...process.env, [mark]: '1' } });
    expect(result.status).toEqual({ kind: 'exited', code: 0 });
    expect(result).toMatchObject({ timedOut: true, killedBy: 'timeout', forced: false });
    expect(markedAlive(mark)).toEqual([]);
  });
});

describe.each(ALL.filter((kind) => kind !== 'pid-namespace' && available.includes(kind)))('contain: %s, a member that outlives the timeout\'s signal', (kind) => {
  it("wait() resolves with the tree and says forced, as run() does, when the grace period's SIGKILL ended it", async () => {
    // wait() resolved at the leader's death by SIGTERM and said forced: false, though the member
    // that ignored it got SIGKILL later.
    const mark = newMark();
    marks.push(mark);
    const env = { ...process.env, [mark]: '1' };
    const script = "sh -c \"trap '' TERM; sleep 30\" & exec sleep 30";
    const child = await spawn('/bin/sh', ['-c', script], { contain: kind, timeout: 300, forceKillAfter: 300, env });
    const result = await child.wait();
    expect(result).toMatchObject({ timedOut: true, killedBy: 'timeout', forced: true, status: { kind: 'signaled', signal: 'SIGTERM' } });
    expect(child.exitResult).toBe(result);
    expect(markedAlive(mark)).toEqual([]);
    const ran = await run('/bin/sh', ['-c', script], { contain: kind, timeout: 300, forceKillAfter: 300, env });
    expect(ran).toMatchObject({ timedOut: true, killedBy: 'timeout', forced: true });
  });
});

describe('contain as root, the Node parent SIGKILLed from outside', () => {
  // The parent is a Node process of its own, which the test (outside it) kills with SIGKILL.
  async function killParent(kind: Containment): Promise<{ mark: string; leader: number }> {
    const mark = newMark();
    marks.push(mark);
    const pidFile = path.join(tmp, `${mark}.pids`);
    const script = `
      const { spawn } = require('./dist/index.js');
      spawn('/bin/sh', ['-c', process.argv[1]], { contain: process.argv[2], env: { ...process.env, [process.argv[3]]: '1' }, stdio: ['ignore', 'pipe', 'inherit'] })
        .then((child) => child.stdout.once('data', () => console.log(child.pid)));
      setInterval(() => {}, 1000);`;
    const parent = child_process.spawn(process.execPath, ['-e', script, escapingTree(pidFile), kind, mark], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    const leader = await new Promise<number>((resolve, reject) => {
      parent.stdout.once('data', (data: Buffer) => resolve(Number(data.toString())));
      parent.once('exit', () => reject(new Error('the parent exited early')));
    });
    parent.removeAllListeners('exit');
    expect(markedAlive(mark).length).toBeGreaterThanOrEqual(5);
    parent.kill('SIGKILL');
    await new Promise((resolve) => parent.once('exit', resolve));
    return { mark, leader };
  }

  it.each(ALL.filter((kind) => kind !== 'subreaper' && available.includes(kind)))('%s: nothing of the tree survives', async (kind) => {
    const { mark } = await killParent(kind);
    await until(() => markedAlive(mark).length === 0, 10_000);
    expect(markedAlive(mark)).toEqual([]);
  });

  it('subreaper: the leader dies with it (PR_SET_PDEATHSIG); what escaped it survives, as documented', async () => {
    expect(isChildSubreaper()).toBe(false); // orphans must not come back to this test process
    const { mark, leader } = await killParent('subreaper');
    await until(() => !markedAlive(mark).includes(leader), 10_000);
    // docs/containment.md: the subreaper mechanism cannot reach the rest once its parent is gone.
    expect(killMarked(mark).length).toBeGreaterThan(0);
  });
});

describe('contain as nobody', () => {
  const script = `
    const { spawn, availableContainments } = require('./dist/index.js');
    const fs = require('fs');
    const [tree, mark] = process.argv.slice(1);
    // As markedAlive (contain-helpers.ts): a process inside execve reads as an empty environ for
    // microseconds, so an empty read is tried again.
    const pause = new Int32Array(new SharedArrayBuffer(4));
    const environOf = (d) => {
      for (let attempt = 0; ; attempt++) {
        const environ = fs.readFileSync('/proc/' + d + '/environ', 'latin1');
        if (environ !== '' || attempt === 20) return environ.split('\\0');
        Atomics.wait(pause, 0, 0, 1);
      }
    };
    const alive = () => fs.readdirSync('/proc').filter((d) => /^\\d+$/.test(d)).filter((d) => {
      try {
        const stat = fs.readFileSync('/proc/' + d + '/stat', 'latin1');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if ('ZX'.includes(fields[0]) || (Number(fields[6]) & 0x00200000) !== 0) return false; // zombies, kernel threads
        return environOf(d).includes(mark + '=1');
      } catch { return false; }
    }).length;
    (async () => {
      const out = { available: availableContainments(), runs: {}, refused: {} };
      for (const kind of ['cgroup', 'pid-namespace', 'subreaper']) {
        if (!out.available.includes(kind)) {
          out.refused[kind] = await spawn('/bin/true', [], { contain: kind }).then(() => 'spawned', (error) => error.code);
          continue;
        }
        const child = await spawn('/bin/sh', ['-c', tree], { contain: kind, env: { ...process.env, [mark]: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
        await new Promise((resolve) => child.stdout.once('data', resolve));
        child.stdout.resume();
        const before = alive();
        await child.killTree('SIGKILL');
        out.runs[kind] = { containment: child.containment, before, after: alive() };
      }
      console.log(JSON.stringify(out));
    })();`;

  it('runs the tree contained and kills all of it with each mechanism a user may use; refuses the others by name', () => {
    const mark = newMark();
    marks.push(mark);
    const pidFile = path.join(tmp, `${mark}.pids`);
    const result = runNode(script, { uid: 65534, gid: 65534, args: [escapingTree(pidFile), mark], timeout: 60_000 });
    expect(result.stderr).toBe('');
    const out = JSON.parse(result.stdout) as { available: string[]; runs: Record<string, { containment: string; before: number; after: number }>; refused: Record<string, string> };
    // User namespaces work for nobody on these machines: the PID namespace is made in one.
    expect(out.available).toEqual(['pid-namespace', 'subreaper']);
    for (const [kind, run] of Object.entries(out.runs)) {
      expect(run.containment).toBe(kind);
      expect(run.before).toBeGreaterThanOrEqual(5);
      expect(run.after).toBe(0);
    }
    for (const code of Object.values(out.refused)) expect(code).toBe('ERR_CONTAINMENT_UNAVAILABLE');
    expect(markedAlive(mark)).toEqual([]);
  });
});

describe('why a child ended', () => {
  it('timeout: timedOut true and killedBy timeout; a plain exit: neither', async () => {
    const timed = await run('sleep', ['100'], { timeout: 1000 });
    expect(timed).toMatchObject({ timedOut: true, killedBy: 'timeout', forced: false, status: { kind: 'signaled', signal: 'SIGTERM' } });
    const plain = await run('true', [], { timeout: 10_000 });
    expect(plain).toMatchObject({ timedOut: false, killedBy: null, forced: false });
  });

  it('an abort is told apart from a timeout and from a signal sent by someone else', async () => {
    const controller = new AbortController();
    const child = await spawn('sleep', ['100'], { signal: controller.signal, timeout: 60_000 });
    controller.abort();
    expect(await child.wait()).toMatchObject({ timedOut: false, killedBy: 'abort', forced: false });
    const other = await spawn('sleep', ['100']);
    other.kill('SIGTERM');
    expect(await other.wait()).toMatchObject({ timedOut: false, killedBy: null });
  });

  it('maxBuffer: the error says killedBy maxBuffer', async () => {
    const error = (await run('sh', ['-c', 'head -c 100000 /dev/zero; exec sleep 100'], { maxBuffer: 1000 }).catch((e: unknown) => e)) as Record<string, unknown>;
    expect(error).toMatchObject({ code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', killedBy: 'maxBuffer' });
  });

  it('forceKillAfter: a child that ignores killSignal gets SIGKILL after it, and the result says forced', async () => {
    const result = await run('sh', ['-c', "trap '' TERM; while :; do sleep 0.01; done"], { timeout: 1000, forceKillAfter: 200 });
    expect(result).toMatchObject({ timedOut: true, killedBy: 'timeout', forced: true, status: { kind: 'signaled', signal: 'SIGKILL' } });
  });

  it('forceKillAfter: false never escalates (the child is killed here by the test)', async () => {
    const child = await spawn('sh', ['-c', "trap '' TERM; while :; do sleep 0.01; done"], { timeout: 1000, forceKillAfter: false });
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(child.exitResult).toBe(null);
    child.kill('SIGKILL');
    expect(await child.wait()).toMatchObject({ timedOut: true, forced: false });
  });
});

describe('contain: errors', () => {
  it('refuses bad values before anything is made', async () => {
    const fds = fdsButInotify();
    await expect(spawn('true', [], { contain: 'jail' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(spawn('true', [], { contain: 1 as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: /options\.contain/ });
    await expect(spawn('true', [], { contain: null as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(spawn('true', [], { cgroup: '/sys/fs/cgroup' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(spawn('true', [], { contain: true, cgroup: 42 as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(spawn('true', [], { forceKillAfter: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(fdsButInotify()).toEqual(fds);
  });

  it('an empty cgroup path, or one with a null byte, is ERR_INVALID_ARG_VALUE before anything is made', async () => {
    const fds = fdsButInotify();
    // An empty path would be the cwd; the cwd a cgroup v2 directory, to tell it apart.
    const cwd = process.cwd();
    process.chdir('/sys/fs/cgroup/unified');
    try {
      for (const cgroup of ['', '/sys/fs/cgroup/unified\0']) {
        await expect(spawn('true', [], { contain: 'cgroup', cgroup })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /options\.cgroup/ });
        expect(() => availableContainments(cgroup)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }));
      }
    } finally {
      process.chdir(cwd);
    }
    expect(fdsButInotify()).toEqual(fds);
    expect(zombieChildren()).toEqual([]);
  });

  it('a cgroup that is not a cgroup v2 directory is a clear error, with nothing leaked', async () => {
    const fds = fdsButInotify();
    await expect(spawn('true', [], { contain: 'cgroup', cgroup: tmp })).rejects.toMatchObject({ code: 'ERR_CONTAINMENT_UNAVAILABLE', containment: 'cgroup' });
    expect(fdsButInotify()).toEqual(fds);
  });

  it('killTree refuses options that are not an object with a coded TypeError, before anything is signalled', async () => {
    const child = await spawn('sleep', ['100']);
    try {
      for (const options of [null, 5, 'x']) {
        await expect(child.killTree('SIGKILL', options as never)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      }
      expect(child.exitResult).toBe(null);
    } finally {
      child.kill('SIGKILL');
      await child.wait();
    }
  });

  it('killTree and descendants need a contained child', async () => {
    const child = await spawn('sleep', ['100']);
    await expect(child.killTree()).rejects.toMatchObject({ code: 'ERR_NOT_CONTAINED' });
    expect(() => child.descendants()).toThrow(expect.objectContaining({ code: 'ERR_NOT_CONTAINED' }));
    expect(child.containment).toBe(null);
    child.kill('SIGKILL');
    await child.wait();
  });

  it('a failed contained spawn removes what it made', async () => {
    const fds = fdsButInotify();
    for (const kind of available) {
      await expect(spawn('/nonexistent/program', [], { contain: kind })).rejects.toMatchObject({ code: 'ENOENT' });
    }
    expect(fdsButInotify()).toEqual(fds);
    expect(isChildSubreaper()).toBe(false);
  });
});

describe('contain: the cgroup option', () => {
  it('makes the leaf under the cgroup v2 directory it names; the child starts there; the leaf goes with the tree', async () => {
    if (isRoot) expect(available).toContain('cgroup');
    const parent = '/sys/fs/cgroup/unified';
    const child = await spawn('sleep', ['100'], { contain: 'cgroup', cgroup: parent });
    const line = fs.readFileSync(`/proc/${child.pid}/cgroup`, 'utf8').split('\n').find((entry) => entry.startsWith('0::'))!;
    const leaf = path.join(parent, line.slice(3));
    expect(path.dirname(path.dirname(leaf))).toBe(parent);
    expect(fs.readFileSync(path.join(leaf, 'cgroup.procs'), 'utf8').trim()).toBe(String(child.pid));
    await child.killTree('SIGKILL');
    await child.wait();
    expect(fs.existsSync(leaf)).toBe(false);
  });
});

describe('contain: cgroup accounting', () => {
  it('reports the CPU time of the whole tree from cpu.stat, also after the leaf is removed', async () => {
    if (isRoot) expect(available).toContain('cgroup');
    const child = await spawn('/bin/sh', ['-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done & wait'], { contain: 'cgroup' });
    await child.wait();
    await child.killTree('SIGKILL');
    const accounting = child.treeAccounting()!;
    expect(accounting.cpuSeconds).toBeGreaterThan(0);
    expect(accounting.userCpuSeconds + accounting.systemCpuSeconds).toBeGreaterThan(0);
    // memory.peak and pids.peak only where those controllers can be enabled (not on this hybrid system).
    const controllers = fs.readFileSync(path.join(cgroupWatchdogForTest().dir!, 'cgroup.controllers'), 'utf8');
    expect('memoryPeakBytes' in accounting).toBe(controllers.includes('memory'));
    expect('pidsPeak' in accounting).toBe(controllers.includes('pids'));
  });
});
