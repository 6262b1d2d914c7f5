import { describe, expect, it } from 'vitest';
import { ChildProcess, spawn } from '../lib/index';
import { runNode } from './helpers';

describe('ChildProcess: only spawn() makes one', () => {
  it('new ChildProcess(...) throws ERR_ILLEGAL_CONSTRUCTOR and adopts no fd', () => {
    // In a child process: before the fix the constructor took the fd as a pidfd and closed it.
    const result = runNode(`
      const fs = require('node:fs');
      const { ChildProcess } = require('./dist/index.js');
      const fd = fs.openSync('/dev/null', 'r');
      const attempts = [
        [],
        [process.pid, fd, [null, null, null], false],
        [Symbol('ChildProcess'), process.pid, fd, [null, null, null], false],
      ];
      const outcomes = attempts.map((args) => {
        try { new ChildProcess(...args); return 'constructed'; } catch (e) { return e.name + ' ' + e.code; }
      });
      class Sub extends ChildProcess { constructor() { super(process.pid, fd, [], false); } }
      try { new Sub(); outcomes.push('constructed'); } catch (e) { outcomes.push(e.name + ' ' + e.code); }
      setTimeout(() => {
        console.log(JSON.stringify(outcomes));
        console.log(fs.readlinkSync('/proc/self/fd/' + fd));
      }, 200);
    `);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const [outcomes, target] = result.stdout.trim().split('\n');
    expect(JSON.parse(outcomes!)).toEqual(Array(4).fill('TypeError ERR_ILLEGAL_CONSTRUCTOR'));
    expect(target).toBe('/dev/null');
  });

  it('a child from spawn() is still an instanceof ChildProcess', async () => {
    await using child = await spawn('/bin/true');
    expect(child).toBeInstanceOf(ChildProcess);
    expect(await child.wait()).toMatchObject({ status: { kind: 'exited', code: 0 } });
  });
});

describe('an exception thrown by a job that runs right after spawn() resolves', () => {
  it('is reported as uncaught once, and the next native callback (the wait) still arrives', () => {
    // The nextTick runs inside the callback that delivered the spawn: its exception, left pending
    // there, made the wait's callback fail, so that wait() never resolved.
    const result = runNode(`
      const { spawn } = require('./dist/index.js');
      const uncaught = [];
      process.on('uncaughtException', (error) => uncaught.push(error.message));
      spawn('true').then((child) => {
        process.nextTick(() => { throw new Error('tick'); });
        child.wait().then((waited) => console.log(JSON.stringify({ status: waited.status, uncaught })));
      });
    `);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ status: { kind: 'exited', code: 0 }, uncaught: ['tick'] });
  });
});

describe('child.stdin once the child has ended', () => {
  it('is destroyed when the child is reaped, as child_process does: a late write fails through its callback instead of an uncaught EPIPE', () => {
    const result = runNode(`
      const { spawn } = require('./dist/index.js');
      const fs = require('fs');
      (async () => {
        const child = await spawn('true', [], { stdio: ['pipe', 'ignore', 'ignore'] });
        const fd = child.stdin._handle.fd;
        const before = fs.readlinkSync('/proc/self/fd/' + fd);
        await child.wait();
        await new Promise((resolve) => setImmediate(resolve));
        let after = null;
        try { after = fs.readlinkSync('/proc/self/fd/' + fd); } catch {}
        const open = after === before;
        child.stdin.write('late', (error) => console.log(JSON.stringify({ destroyed: child.stdin.destroyed, open, code: error && error.code })));
      })();
    `);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ destroyed: true, open: false, code: 'ERR_STREAM_DESTROYED' });
  });
});
