import { describe, expect, it } from 'vitest';
import { exit } from '../lib/index';
import { runNode } from './helpers';

describe('exit', () => {
  it('ends the process with the code, without the exit event, beforeExit or pending timers', () => {
    const result = runNode(`
      const { exit } = require('./dist/index.js');
      process.on('exit', () => console.log('exit event'));
      process.on('beforeExit', () => console.log('beforeExit event'));
      setTimeout(() => console.log('timer'), 0);
      console.log('before');
      exit(42);
      console.log('after');
    `);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('before\n');
    expect(result.status).toBe(42);
    expect(result.signal).toBeNull();
  });

  it('ends every thread at once, even while a worker thread is running', () => {
    const result = runNode(`
      const { Worker } = require('node:worker_threads');
      const worker = new Worker('for (;;) {}', { eval: true });
      worker.on('online', () => require('./dist/index.js').exit(3));
    `);
    expect(result.status, result.stderr).toBe(3);
  });

  // Seven Node processes: about five seconds each under qemu-user with both cores busy.
  it('masks the code to 8 bits like the kernel', () => {
    for (const [code, status] of [
      [0, 0],
      [255, 255],
      [256, 0],
      [257, 1],
      [-1, 255],
      [-256, 0],
      [2 ** 40 + 7, 7],
    ]) {
      const result = runNode(`require('./dist/index.js').exit(${code})`);
      expect(result.status, `exit(${code})`).toBe(status);
    }
  }, 120_000);

  it('rejects non-integers with RangeError and non-numbers with TypeError, without exiting', () => {
    for (const bad of [1.5, NaN, Infinity, -Infinity, 2 ** 53]) {
      expect(() => exit(bad), String(bad)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    }
    for (const bad of ['1', null, {}, 1n]) {
      expect(() => exit(bad as never), typeof bad).toThrow(
        expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }),
      );
    }
  });
});
