// A contained tree's listing (descendants(), and the signal of killTree with a signal other than
// SIGKILL) while a member with children exits: its children go to the tree's reaper (this process
// for the subreaper mechanism, the leader for a PID namespace) after a walk may have read the
// reaper's children. A walk that met the dead member without reading the reaper again missed them
// all: killTree('SIGTERM') then left them running (CI, kill-tree-fork-storm, 343 left).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { availableContainments, spawn } from '../lib/index';
import { killMarked, markedAlive, newMark } from './contain-helpers';
import { until, zombieChildren } from './helpers';

const available = availableContainments();
const marks: string[] = [];
let tmp = '';

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'contain-walk-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  for (const mark of marks.splice(0)) killMarked(mark);
});

const SLEEPERS = 500;
const ORPHANS = 20;

/**
 * The parent of the orphans-to-be is the leader's first child, so that a walk reads it last (after
 * the leader's other children); it exits once `flag` exists.
 */
function tree(flag: string): string {
  return [
    // PID 1 of a namespace gets only the signals it handles: the leader handles TERM.
    "trap 'exit 0' TERM",
    `(i=0; while [ $i -lt ${ORPHANS} ]; do sleep 1000 & i=$((i+1)); done; while [ ! -e ${flag} ]; do sleep 0.01; done) &`,
    `i=0; while [ $i -lt ${SLEEPERS} ]; do sleep 1000 & i=$((i+1)); done`,
    'echo ready; wait',
  ].join('\n');
}

describe.each(available)('contain: %s, a member that exits with children while the tree is listed', (kind) => {
  it('every listing has its children, before and after they are reparented', async () => {
    const mark = newMark();
    marks.push(mark);
    const flag = path.join(tmp, `${mark}.exit`);
    const child = await spawn('/bin/sh', ['-c', tree(flag)], { contain: kind, env: { ...process.env, [mark]: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((resolve) => child.stdout.once('data', resolve));
      // The leader, the sleepers and the orphans-to-be: always there (their parent and its
      // short sleeps come and go).
      const lasting = 1 + SLEEPERS + ORPHANS;
      await until(() => markedAlive(mark).length >= lasting + 1, 60_000);
      fs.writeFileSync(flag, '');
      // Back to back while the parent exits (within 10 ms of the flag), each a synchronous walk.
      const counts: number[] = [];
      const end = Date.now() + 1500;
      while (Date.now() < end) counts.push(child.descendants().length);
      expect(counts.filter((count) => count < lasting)).toEqual([]);
      // killTree with SIGTERM reaches the orphans too, and settles.
      await child.killTree('SIGTERM');
      expect(markedAlive(mark)).toEqual([]);
    } finally {
      await child.killTree('SIGKILL');
      await child.wait();
      child.stdout.destroy();
    }
    expect(zombieChildren()).toEqual([]);
  }, 120_000);
});
