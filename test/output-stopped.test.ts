// The outputs of a child the library stopped (its timeout, an abort) end once it is reaped, for
// every reader: a lines() loop, not only finished(), though a process it left behind holds them.
import { describe, expect, it } from 'vitest';
import { spawn } from '../lib/index';
import { leftover, openFds, zombieChildren } from './helpers';

describe('a stopped child whose leftover holds its outputs', () => {
  it('a lines() loop ends once the library has stopped and reaped the child (it waited for the leftover)', async () => {
    const before = openFds();
    const left = leftover('lines-stopped');
    // spawn's timeout also bounds the spawn itself: long enough for it to have ended.
    const child = await spawn('sh', ['-c', left.script('echo out; echo err >&2; exec sleep 30')], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 1000 });
    const errors: string[] = [];
    const stderrDone = (async () => {
      for await (const line of child.lines('stderr')) errors.push(line);
    })();
    const lines: string[] = [];
    for await (const line of child.lines()) lines.push(line);
    await stderrDone;
    expect([lines, errors]).toEqual([['out'], ['err']]);
    expect(await child.wait()).toMatchObject({ killedBy: 'timeout', status: { kind: 'signaled', signal: 'SIGTERM' } });
    await left.kill();
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  }, 20_000);

  it('a child that exits on its own is read to the end of its outputs (nothing is cut short)', async () => {
    const child = await spawn('sh', ['-c', 'echo one; sleep 0.2; echo two'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 });
    const lines: string[] = [];
    for await (const line of child.lines()) lines.push(line);
    expect(lines).toEqual(['one', 'two']);
    expect(await child.wait()).toMatchObject({ killedBy: null, status: { kind: 'exited', code: 0 } });
  });
});
