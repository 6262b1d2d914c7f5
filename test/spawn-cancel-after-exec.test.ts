// A timeout or an abort that fires after the child has exec'd, before this process has read its
// exec notice: the program has run (here it has started a process of its own), so the spawn is
// not cancelled; it resolves, and the child is stopped as a running one is, its whole tree when
// contained. Cancelling it instead killed only the leader: its tree escaped the containment, and
// a subreaper was left with a zombie nobody reaped.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { availableContainments, spawn, type Containment } from '../lib/index';
import { killMarked, markedAlive, newMark } from './contain-helpers';
import { until, zombieChildren } from './helpers';

let tmp = '';
const marks: string[] = [];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cancel-after-exec-'));
  return () => fs.rmSync(tmp, { recursive: true, force: true });
});

afterEach(() => {
  for (const mark of marks.splice(0)) killMarked(mark);
});

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Blocks this thread (so that no exec notice is read) until `file` holds a whole line. */
function blockUntilWritten(file: string): void {
  for (let waited = 0; waited < 20_000; waited += 5) {
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8').endsWith('\n')) return;
    Atomics.wait(pause, 0, 0, 5);
  }
  throw new Error(`${file} was not written in time`);
}

describe('spawn: a timeout or an abort after the exec, before its notice is read', () => {
  it.each(['subreaper', 'cgroup', 'pid-namespace'] as const)('contain %s: spawn resolves, and the whole tree is stopped (killedBy abort)', async (kind: Containment) => {
    expect(availableContainments()).toContain(kind); // root, as CI runs the suite
    const mark = newMark();
    marks.push(mark);
    const pidFile = path.join(tmp, mark);
    const controller = new AbortController();
    const env = { ...process.env, [mark]: '1' };
    const spawned = spawn('sh', ['-c', `sleep 1000 & echo $! > ${pidFile}; wait`], { contain: kind, signal: controller.signal, forceKillAfter: 200, env });
    blockUntilWritten(pidFile); // the program runs, and so does its own child
    expect(markedAlive(mark)).toHaveLength(2);
    controller.abort();
    const child = await spawned;
    const result = await child.wait();
    expect(result.killedBy).toBe('abort'); // its status is the leader's: pid 1 of a namespace may exit on its own (sh's wait)
    await until(() => markedAlive(mark).length === 0);
    await until(() => zombieChildren().length === 0);
  });

  it('uncontained: spawn resolves with the program running, which timeout then stops', async () => {
    const mark = newMark();
    marks.push(mark);
    const pidFile = path.join(tmp, mark);
    const spawned = spawn('sh', ['-c', `echo $$ > ${pidFile}; exec sleep 1000`], { timeout: 1, env: { ...process.env, [mark]: '1' } });
    blockUntilWritten(pidFile); // the timer is long due, and the exec notice is unread
    const child = await spawned;
    expect(child.pid).toBe(Number(fs.readFileSync(pidFile, 'utf8')));
    expect(await child.wait()).toMatchObject({ killedBy: 'timeout', timedOut: true, status: { kind: 'signaled', signal: 'SIGTERM' } });
    expect(zombieChildren()).toEqual([]);
  });
});
