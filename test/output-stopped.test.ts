// The streams of a spawned child at its end: the outputs of a child the library stopped (its
// timeout, an abort) end once it is reaped, for every reader (a lines() loop, not only
// finished()), though a process it left behind holds them; stdin's EPIPE is not fatal.
import { describe, expect, it } from 'vitest';
import { spawn } from '../lib/index';
import { leftover, openFds, runNode, zombieChildren } from './helpers';

describe('a stopped child whose leftover holds its outputs', () => {
  it('a lines() loop ends once the library has stopped and reaped the child (it waited for the leftover)', async () => {
    const before = openFds();
    const left = leftover('lines-stopped');
    // spawn's timeout also bounds the spawn itself: long enough for it to have ended.
    const child = await spawn('sh', ['-c', `echo out; echo err >&2; ${left.script('exec sleep 30')}`], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 1000 });
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

  it("an fds: {N: 'pipe'} socket ends too, with what it held, and finished() resolves", async () => {
    const before = openFds();
    const left = leftover('fd3-stopped');
    const child = await spawn('sh', ['-c', `echo three >&3; ${left.script('exec sleep 30')}`], { fds: { 3: 'pipe' }, timeout: 1000 });
    const text = child.stdio[3].toArray();
    expect((await child.finished()).killedBy).toBe('timeout');
    expect(Buffer.concat((await text) as Buffer[]).toString()).toBe('three\n');
    await left.kill();
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  }, 20_000);

  it.each([false, true])('finished() resolves though a write to its fd 3 (corked: %s) waits for room that the leftover never makes', async (corked) => {
    const before = openFds();
    const left = leftover(`fd3-write-stopped-${corked}`);
    const child = await spawn('sh', ['-c', `echo out >&3; ${left.script('exec sleep 30')}`], { stdio: ['ignore', 'ignore', 'ignore'], fds: { 3: 'pipe' }, timeout: 1000 });
    const fd3 = child.stdio[3];
    const chunks: Buffer[] = [];
    fd3.on('data', (chunk: Buffer) => chunks.push(chunk));
    if (corked) fd3.cork(); // written only at the end() that the child's end brings
    // Larger than the socket's buffers: nobody reads it, so the write is still under way at the stop.
    const written = new Promise<unknown>((resolve) => fd3.write(Buffer.alloc(4 * 1024 * 1024), resolve));
    expect(await child.finished()).toMatchObject({ killedBy: 'timeout' });
    expect(Buffer.concat(chunks).toString()).toBe('out\n');
    expect(await written).toMatchObject({ code: 'EPIPE' });
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

describe('child.stdin of a child that closed its input', () => {
  it('a write fails with EPIPE through its callback and does not end this program (an EPIPE "error" nobody listened to did)', async () => {
    const before = openFds();
    const child = await spawn('sh', ['-c', 'exec 0<&-; echo closed; exec sleep 30'], { stdio: ['pipe', 'pipe', 'ignore'] });
    for await (const line of child.lines()) if (line === 'closed') break;
    // Larger than a pipe: the write is still under way when EPIPE comes.
    const written = await new Promise<unknown>((resolve) => child.stdin.write(Buffer.alloc(1024 * 1024), resolve));
    expect(written).toMatchObject({ code: 'EPIPE' });
    child.kill('SIGKILL');
    await child.finished();
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('the same for an fds: {N: "pipe"} socket whose child end was closed', async () => {
    const before = openFds();
    const child = await spawn('sh', ['-c', 'exec 3>&-; echo closed; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'], fds: { 3: 'pipe' } });
    for await (const line of child.lines()) if (line === 'closed') break;
    const written = await new Promise<unknown>((resolve) => child.stdio[3].write(Buffer.alloc(1024 * 1024), resolve));
    expect(written).toMatchObject({ code: 'EPIPE' });
    child.kill('SIGKILL');
    await child.finished();
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('another error of child.stdin that nobody listens to still ends the program, as any stream error', () => {
    const result = runNode(`
      require('./dist/index.js').spawn('sleep', ['30'], { stdio: ['pipe', 'ignore', 'ignore'] }).then((child) => {
        process.on('exit', () => child.kill('SIGKILL'));
        child.stdin.destroy(Object.assign(new Error('not a broken pipe'), { code: 'EOTHER' }));
      });
    `);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('not a broken pipe');
  });
});
