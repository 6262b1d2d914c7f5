// contain: 'cgroup' with a tree that makes cgroups of its own inside its leaf and moves processes
// there, as a container runtime or a systemd run inside the tree does: those processes are still
// the tree's (descendants, killTree), and the cgroups they made go with the leaf.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { availableContainments, spawn } from '../lib/index';
import { cgroupWatchdogForTest } from '../lib/spawn/contain';
import { killMarked, markedAlive, newMark } from './contain-helpers';
import { runNode, until, zombieChildren } from './helpers';

const available = availableContainments();
const marks: string[] = [];
const made: string[] = [];

afterEach(() => {
  for (const mark of marks.splice(0)) killMarked(mark);
  for (const dir of made.splice(0)) removeCgroup(dir);
});

/** The cgroup v2 mount point. */
function cgroupMount(): string {
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [mountPart, fsPart] = line.split(' - ');
    if (fsPart?.startsWith('cgroup2 ') === true) return mountPart!.split(' ')[4]!;
  }
  throw new Error('no cgroup2 mount');
}

/** The cgroup v2 directory of `pid`. */
function cgroupOf(pid: number): string {
  const line = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((entry) => entry.startsWith('0::'))!;
  return path.join(cgroupMount(), line.slice(3));
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** A failed test's leftovers: kills what `dir` holds and removes it with its sub-cgroups. */
function removeCgroup(dir: string): void {
  if (!fs.existsSync(dir)) return;
  fs.writeFileSync(path.join(dir, 'cgroup.kill'), '1');
  for (let i = 0; i < 1000 && !fs.readFileSync(path.join(dir, 'cgroup.events'), 'latin1').includes('populated 0'); i++) Atomics.wait(pause, 0, 0, 10);
  const remove = (cgroup: string): void => {
    for (const entry of fs.readdirSync(cgroup, { withFileTypes: true })) if (entry.isDirectory()) remove(path.join(cgroup, entry.name));
    fs.rmdirSync(cgroup);
  };
  remove(dir);
}

// The shell makes <its leaf>/a/b, starts a sleep that moves itself there, and prints "ready".
const nesting = [
  'dir="$CGROUP_MOUNT$(sed -n "s/^0:://p" /proc/self/cgroup)/a/b"',
  'mkdir -p "$dir"',
  `sh -c 'echo $$ > "$1/cgroup.procs"; exec sleep 1000' nested "$dir" &`,
  'until [ -n "$(cat "$dir/cgroup.procs")" ]; do sleep 0.01; done',
  'echo ready; wait',
].join('\n');

describe.runIf(available.includes('cgroup'))('contain: cgroup, a tree that makes sub-cgroups of its leaf', () => {
  it('descendants lists the processes in them, killTree with SIGTERM ends them, and the leaf goes with its sub-cgroups', async () => {
    const mark = newMark();
    marks.push(mark);
    const child = await spawn('/bin/sh', ['-c', nesting], { contain: 'cgroup', env: { ...process.env, [mark]: '1', CGROUP_MOUNT: cgroupMount() }, stdio: ['ignore', 'pipe', 'inherit'] });
    const leaf = cgroupOf(child.pid);
    made.push(leaf);
    await new Promise((resolve) => child.stdout.once('data', resolve));
    const nested = fs.readFileSync(path.join(leaf, 'a', 'b', 'cgroup.procs'), 'latin1').trim().split('\n').map(Number);
    expect(nested).toHaveLength(1);
    expect(child.descendants().sort()).toEqual([child.pid, ...nested].sort());
    // A generous bound: without it a tree that never ends would hold the test until its timeout.
    const ended = await Promise.race([child.killTree('SIGTERM').then(() => 'ended'), new Promise((resolve) => setTimeout(resolve, 20_000, 'still running'))]);
    expect(ended).toBe('ended');
    expect((await child.wait()).status).toMatchObject({ kind: 'signaled', signal: 'SIGTERM' });
    expect(markedAlive(mark)).toEqual([]);
    await until(() => !fs.existsSync(leaf), 10_000);
    child.stdout.destroy();
    expect(zombieChildren()).toEqual([]);
  });

  it('a tree frozen from outside (cgroup.freeze in its leaf or a sub-cgroup) is thawed by the SIGCONT after killTree SIGTERM, and ends', async () => {
    // SIGCONT resumes a stopped process, not a frozen one: a process with a handler (the default
    // action kills even a frozen process) kept the signal pending, and killTree never settled.
    const trapping = nesting.replace('exec sleep 1000', 'trap "exit 0" TERM; sleep 1000 & wait');
    expect(trapping).not.toBe(nesting);
    for (const frozen of ['', path.join('a', 'b')]) {
      const mark = newMark();
      marks.push(mark);
      const child = await spawn('/bin/sh', ['-c', trapping], { contain: 'cgroup', env: { ...process.env, [mark]: '1', CGROUP_MOUNT: cgroupMount() }, stdio: ['ignore', 'pipe', 'inherit'] });
      const leaf = cgroupOf(child.pid);
      made.push(leaf);
      await new Promise((resolve) => child.stdout.once('data', resolve));
      // Frozen only once the trapping shell's child has exec'd sleep: a child frozen between fork
      // and exec still runs the shell's TERM handler, which records the signal and loses it at
      // exec (dash's race, not the freezer's), and the sleep would outlive the shell.
      const nestedNames = (): string[] =>
        fs.readFileSync(path.join(leaf, 'a', 'b', 'cgroup.procs'), 'latin1').trim().split('\n').map((pid) => {
          try {
            return fs.readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
          } catch {
            return 'gone';
          }
        });
      await until(() => nestedNames().sort().join() === 'sh,sleep', 10_000);
      fs.writeFileSync(path.join(leaf, frozen, 'cgroup.freeze'), '1');
      await until(() => fs.readFileSync(path.join(leaf, frozen, 'cgroup.events'), 'latin1').includes('frozen 1'), 10_000);
      const ended = await Promise.race([child.killTree('SIGTERM').then(() => 'ended'), new Promise((resolve) => setTimeout(resolve, 20_000, 'still running'))]);
      expect(ended, `frozen: '${frozen}'`).toBe('ended');
      const result = await child.wait();
      expect(result.status).toMatchObject({ kind: 'signaled', signal: 'SIGTERM' });
      expect(result.forced).toBe(false);
      expect(markedAlive(mark)).toEqual([]);
      await until(() => !fs.existsSync(leaf), 10_000);
      child.stdout.destroy();
    }
    expect(zombieChildren()).toEqual([]);
  });

  it("the watchdog removes the sub-cgroups with the leaves once this process has exited", () => {
    const mark = newMark();
    marks.push(mark);
    const script = `
      const { spawn } = require('./dist/index.js');
      const { cgroupWatchdogForTest } = require('./dist/spawn/contain.js');
      (async () => {
        const child = await spawn('/bin/sh', ['-c', process.argv[1]], { contain: 'cgroup', stdio: ['ignore', 'pipe', 'inherit'] });
        await new Promise((resolve) => child.stdout.once('data', resolve));
        console.log(JSON.stringify({ dir: cgroupWatchdogForTest().dir, watchdog: cgroupWatchdogForTest().pid }));
        process.exit(0);
      })();`;
    const result = runNode(script, { args: [nesting], env: { ...process.env, [mark]: '1', CGROUP_MOUNT: cgroupMount() }, timeout: 60_000 });
    expect(result.stderr).toBe('');
    const { dir, watchdog } = JSON.parse(result.stdout) as { dir: string; watchdog: number };
    made.push(dir);
    expect(dir).not.toBe(cgroupWatchdogForTest().dir);
    // The watchdog (an orphan now) has done its work once it is gone.
    return until(() => !fs.existsSync(`/proc/${watchdog}`) || fs.readFileSync(`/proc/${watchdog}/stat`, 'latin1').includes(') Z'), 30_000).then(() => {
      expect(markedAlive(mark)).toEqual([]);
      expect(fs.existsSync(dir)).toBe(false);
    });
  });
});
