// killTree with a signal other than SIGKILL while a process of a large tree forks without end:
// the children it made between the listing of the members and its own signal must get the signal
// too, or they run on and killTree (without forceAfter) never settles.
import { afterEach, describe, expect, it } from 'vitest';
import { availableContainments, spawn, type Containment } from '../lib/index';
import { killMarked, markedAlive, newMark } from './contain-helpers';
import { until, zombieChildren } from './helpers';

const available = availableContainments();
const marks: string[] = [];

afterEach(() => {
  for (const mark of marks.splice(0)) killMarked(mark);
});

// A thousand sleeping members listed before the forker, whose signal therefore comes last: it
// forks a sleep after another until SIGTERM ends it. The leader catches SIGTERM (PID 1 of a
// namespace gets only the signals it handles) and waits for the rest.
const storm = [
  "trap 'exit 0' TERM",
  'i=0; while [ $i -lt 1000 ]; do sleep 1000 & i=$((i+1)); done',
  `sh -c 'while :; do sleep 1000 & done' &`,
  'echo ready; wait',
].join('\n');

describe.each(available)('contain: %s, killTree with SIGTERM during a fork storm', (kind: Containment) => {
  it('reaches the children forked while the signal was being sent, and settles', async () => {
    // Three trees: one alone may list its members after the last fork by chance.
    for (let attempt = 0; attempt < 3; attempt++) {
      const mark = newMark();
      marks.push(mark);
      const child = await spawn('/bin/sh', ['-c', storm], { contain: kind, env: { ...process.env, [mark]: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise((resolve) => child.stdout.once('data', resolve));
      await until(() => child.descendants().length > 1010, 60_000);
      // A generous bound: a tree that never ends would hold the test until its timeout.
      const ended = await Promise.race([child.killTree('SIGTERM').then(() => 'ended'), new Promise((resolve) => setTimeout(resolve, 20_000, 'still running'))]);
      const left = child.descendants().length;
      if (ended !== 'ended') await child.killTree('SIGKILL');
      expect({ ended, left: ended === 'ended' ? 0 : left }).toEqual({ ended: 'ended', left: 0 });
      await child.wait();
      expect(markedAlive(mark)).toEqual([]);
      child.stdout.destroy();
    }
    expect(zombieChildren()).toEqual([]);
  }, 240_000);
});
