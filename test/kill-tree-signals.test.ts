// killTree with a signal that does not end a process (SIGSTOP, SIGCONT, SIGWINCH...): the tree goes
// on existing, so the promise resolves once the signal is sent instead of waiting for an end that
// never comes; forceAfter, which only makes sense for an end, is refused before anything is sent.
import { afterEach, describe, expect, it } from 'vitest';
import { availableContainments, spawn, type ChildProcess } from '../lib/index';
import { killMarked, markedAlive, newMark } from './contain-helpers';
import { processState as state, until, zombieChildren } from './helpers';

const available = availableContainments();
const children: ChildProcess[] = [];
const marks: string[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    await child.killTree('SIGKILL');
    await child.wait();
  }
  for (const mark of marks.splice(0)) killMarked(mark);
});

describe.each(['cgroup', 'pid-namespace', 'subreaper'].filter((kind) => available.includes(kind as never)))('contain: %s, killTree with a signal that does not end processes', (kind) => {
  it('SIGSTOP freezes the whole tree and resolves; SIGCONT resumes it and resolves; SIGKILL then ends it', async () => {
    const mark = newMark();
    marks.push(mark);
    const child = await spawn('/bin/sh', ['-c', 'sleep 1000 & sleep 1000 & echo ready; wait'], { contain: kind as never, env: { ...process.env, [mark]: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    await new Promise((resolve) => child.stdout.once('data', resolve));
    await until(() => markedAlive(mark).length === 3, 10_000);
    const members = markedAlive(mark);
    await child.killTree('SIGSTOP');
    await until(() => members.every((pid) => state(pid) === 'T'), 10_000);
    await child.killTree('SIGCONT');
    await until(() => members.every((pid) => state(pid) === 'S' || state(pid) === 'R'), 10_000);
    // SIGWINCH: ignored by default, the tree lives on; the call does not wait for its end.
    await child.killTree('SIGWINCH');
    expect(markedAlive(mark).sort()).toEqual([...members].sort());
    children.splice(children.indexOf(child), 1);
    await child.killTree('SIGKILL');
    expect((await child.wait()).status).toMatchObject({ kind: 'signaled', signal: 'SIGKILL' });
    expect(markedAlive(mark)).toEqual([]);
    child.stdout.destroy();
    expect(zombieChildren()).toEqual([]);
  });

  it('signal 0 (as documented among those that do not end processes) resolves at once and leaves the tree running', async () => {
    const mark = newMark();
    marks.push(mark);
    const child = await spawn('sleep', ['1000'], { contain: kind as never, env: { ...process.env, [mark]: '1' } });
    children.push(child);
    await until(() => markedAlive(mark).length === 1, 10_000);
    await child.killTree(0);
    expect(markedAlive(mark)).toEqual([child.pid]);
    expect(child.exitResult).toBeNull();
  });

  it('forceAfter with such a signal is ERR_INVALID_ARG_VALUE, and nothing is sent', async () => {
    const mark = newMark();
    marks.push(mark);
    const child = await spawn('sleep', ['1000'], { contain: kind as never, env: { ...process.env, [mark]: '1' } });
    children.push(child);
    await until(() => markedAlive(mark).length === 1, 10_000);
    await expect(child.killTree('SIGSTOP', { forceAfter: 100 })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    // Had SIGSTOP been sent, the sleep would stop within moments (kill(2) returns before the
    // target acts on it): it is looked at for 200 ms.
    for (let look = 0; look < 20; look++) {
      expect(state(child.pid)).not.toBe('T');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
});
