// killTree and the library's own stop on a tree whose leader is PID 1 of a new PID namespace:
// the kernel drops a signal sent from outside to a namespace's init that has no handler for it
// (SIGKILL and SIGSTOP aside), so such a signal cannot end the leader, and the stop must not wait
// for an end that never comes.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { availableContainments, spawn, type ChildProcess } from '../lib/index';
import { killMarked, markedAlive, newMark } from './contain-helpers';
import { until, zombieChildren } from './helpers';

const available = availableContainments();
const isRoot = process.geteuid?.() === 0;
const children: ChildProcess[] = [];
const marks: string[] = [];
let tmp = '';

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kill-tree-namespace-'));
  return () => fs.rmSync(tmp, { recursive: true, force: true });
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    await child.killTree('SIGKILL');
    await child.wait();
  }
  for (const mark of marks.splice(0)) killMarked(mark);
});

/** The state letter of `pid` in /proc, or 'gone'. */
function state(pid: number): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0]!;
  } catch {
    return 'gone';
  }
}

/** `promise`, or 'hung' if it has not settled after 20 s. */
async function settled<T>(promise: Promise<T>): Promise<T | 'hung'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 20_000)));
  try {
    return await Promise.race([promise, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** A contained tree in a new PID namespace whose leader has no handler for SIGTERM, with `mark` in its environment. */
async function namespaceTree(command: string, mark: string, ready: (pids: number[]) => boolean): Promise<ChildProcess> {
  const child = await spawn('/bin/sh', ['-c', command], { contain: 'pid-namespace', env: { ...process.env, [mark]: '1' }, stdio: 'ignore' });
  children.push(child);
  await until(() => ready(markedAlive(mark)), 10_000);
  return child;
}

describe.runIf(available.includes('pid-namespace'))('killTree on a PID namespace whose leader (PID 1) has no SIGTERM handler', () => {
  it("SIGTERM without forceAfter settles: the namespace is ended with SIGKILL to its init, and the result says so (forced)", async () => {
    if (isRoot) expect(available).toContain('pid-namespace');
    const mark = newMark();
    marks.push(mark);
    // exec: the leader is sleep itself, with no handler for anything.
    const child = await namespaceTree('exec sleep 600', mark, (pids) => pids.length === 1 && fs.readFileSync(`/proc/${pids[0]}/cmdline`, 'latin1').startsWith('sleep'));
    expect(await settled(child.killTree('SIGTERM'))).toBeUndefined();
    const result = await child.wait();
    expect(result.status).toMatchObject({ kind: 'signaled', signal: 'SIGKILL' });
    expect(result.forced).toBe(true);
    expect(result.killedBy).toBe(null);
    expect(markedAlive(mark)).toEqual([]);
    expect(zombieChildren()).toEqual([]);
  });

  it('a member that handles SIGTERM finishes its handler before the namespace is ended, and then every process is gone', async () => {
    const mark = newMark();
    marks.push(mark);
    const done = path.join(tmp, `${mark}.done`);
    // The member's handler takes 300 ms (a process of its own): SIGKILL to the init at once would cut it off.
    const member = `trap 'sleep 0.3; echo done > ${done}; exit 0' TERM; while :; do sleep 0.05; done`;
    const child = await namespaceTree(`sh -c "${member}" & wait`, mark, (pids) => pids.length >= 3);
    expect(await settled(child.killTree('SIGTERM'))).toBeUndefined();
    // The init (sh in its wait) either ended on its own once its child had, or was killed.
    expect(['exited', 'signaled']).toContain((await child.wait()).status.kind);
    expect(fs.readFileSync(done, 'utf8')).toBe('done\n');
    expect(markedAlive(mark)).toEqual([]);
    expect(zombieChildren()).toEqual([]);
  });

  it('a stopped leader (SIGSTOP first: killTree then also sends SIGCONT) settles too', async () => {
    const mark = newMark();
    marks.push(mark);
    const child = await namespaceTree('exec sleep 600', mark, (pids) => pids.length === 1 && fs.readFileSync(`/proc/${pids[0]}/cmdline`, 'latin1').startsWith('sleep'));
    process.kill(child.pid, 'SIGSTOP');
    await until(() => state(child.pid) === 'T', 10_000);
    expect(await settled(child.killTree('SIGTERM'))).toBeUndefined();
    const result = await child.wait();
    expect(result.status).toMatchObject({ kind: 'signaled', signal: 'SIGKILL' });
    expect(result.forced).toBe(true);
    expect(markedAlive(mark)).toEqual([]);
    expect(zombieChildren()).toEqual([]);
  });

  it("the library's own stop (timeout) with forceKillAfter false settles as well", async () => {
    const mark = newMark();
    marks.push(mark);
    const child = await spawn('sleep', ['600'], { contain: 'pid-namespace', timeout: 1000, forceKillAfter: false, env: { ...process.env, [mark]: '1' }, stdio: 'ignore' });
    children.push(child);
    const result = await settled(child.wait());
    expect(result).not.toBe('hung');
    expect(result).toMatchObject({ timedOut: true, killedBy: 'timeout', forced: true, status: { kind: 'signaled', signal: 'SIGKILL' } });
    expect(markedAlive(mark)).toEqual([]);
  });

  it("an uncontained child in a new PID namespace (the namespaces option): the library's stop settles too", async () => {
    const mark = newMark();
    marks.push(mark);
    const child = await spawn('sleep', ['600'], { namespaces: isRoot ? ['pid'] : ['user', 'pid'], timeout: 1000, forceKillAfter: false, env: { ...process.env, [mark]: '1' }, stdio: 'ignore' });
    const result = await settled(child.wait());
    if (result === 'hung') {
      child.kill('SIGKILL');
      await child.wait();
    }
    expect(result).toMatchObject({ timedOut: true, killedBy: 'timeout', forced: true, status: { kind: 'signaled', signal: 'SIGKILL' } });
    expect(markedAlive(mark)).toEqual([]);
    expect(zombieChildren()).toEqual([]);
  });

  it('a leader that handles SIGTERM gets it: no SIGKILL in its place', async () => {
    const mark = newMark();
    marks.push(mark);
    const child = await spawn('/bin/sh', ['-c', "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done"], { contain: 'pid-namespace', env: { ...process.env, [mark]: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    await new Promise((resolve) => child.stdout.once('data', resolve));
    expect(await settled(child.killTree('SIGTERM'))).toBeUndefined();
    const result = await child.wait();
    expect(result.status).toEqual({ kind: 'exited', code: 7 });
    expect(result.forced).toBe(false);
    child.stdout.destroy();
    expect(markedAlive(mark)).toEqual([]);
  });

  it('a leader that ignores SIGTERM (SIG_IGN) is treated as any process that ignores it: forceAfter ends it', async () => {
    const mark = newMark();
    marks.push(mark);
    const child = await namespaceTree("trap '' TERM; sleep 600 & wait", mark, (pids) => pids.length === 2);
    expect(await settled(child.killTree('SIGTERM', { forceAfter: 300 }))).toBeUndefined();
    const result = await child.wait();
    expect(result.status).toMatchObject({ kind: 'signaled', signal: 'SIGKILL' });
    expect(result.forced).toBe(true);
    expect(markedAlive(mark)).toEqual([]);
  });
});
