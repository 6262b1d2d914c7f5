// fd primitives (issue 15): pipe, dup2, dup3, close, closeRange, against /proc/self/fdinfo.
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { close, closeRange, dup2, dup3, openpty, pipe, SyscallError } from '../lib/index';
import { binding } from '../lib/native';
import { openFds, runNode, thrown } from './helpers';

const O_CLOEXEC = 0o2000000;
function flagsOf(fd: number): number {
  return parseInt(/^flags:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
}

describe('fd primitives', () => {
  it('pipe(): two close-on-exec ends, bytes go from the write end to the read end', () => {
    const before = openFds();
    const [readFd, writeFd] = pipe();
    expect(fs.readlinkSync(`/proc/self/fd/${readFd}`)).toMatch(/^pipe:\[\d+\]$/);
    expect(fs.readlinkSync(`/proc/self/fd/${writeFd}`)).toBe(fs.readlinkSync(`/proc/self/fd/${readFd}`));
    expect(flagsOf(readFd) & O_CLOEXEC).toBe(O_CLOEXEC);
    expect(flagsOf(writeFd) & O_CLOEXEC).toBe(O_CLOEXEC);
    fs.writeSync(writeFd, 'through');
    const buffer = Buffer.alloc(16);
    expect(buffer.subarray(0, fs.readSync(readFd, buffer)).toString()).toBe('through');
    close(readFd);
    close(writeFd);
    expect(openFds()).toEqual(before);
  });

  // A worker being terminated fails the napi calls that build a call's result after its fds
  // exist; the hook fails the next one the same way.
  for (const [name, make] of [
    ['pipe()', () => pipe()],
    ["the socket pair of an fd given as 'pipe'", () => binding.fdSocketpair()],
    ['openpty()', () => openpty()],
  ] as const) {
    it(`${name}: new fds whose numbers cannot reach JavaScript are closed, not leaked`, () => {
      const before = openFds();
      binding.testing.failNextFdResult();
      expect(thrown(make)).toMatchObject({ message: 'failNextFdResult: the result could not be made' });
      expect(openFds()).toEqual(before);
    });
  }

  it('dup2 copies onto a chosen number without close-on-exec; dup3 with it when asked', () => {
    const [readFd, writeFd] = pipe();
    const high = 900;
    expect(dup2(writeFd, high)).toBe(high);
    expect(flagsOf(high) & O_CLOEXEC).toBe(0);
    expect(fs.readlinkSync(`/proc/self/fd/${high}`)).toBe(fs.readlinkSync(`/proc/self/fd/${writeFd}`));
    expect(dup3(writeFd, high + 1, { cloexec: true })).toBe(high + 1);
    expect(flagsOf(high + 1) & O_CLOEXEC).toBe(O_CLOEXEC);
    expect(dup2(readFd, readFd)).toBe(readFd); // allowed for dup2
    expect(thrown(() => dup3(readFd, readFd))).toMatchObject({ code: 'EINVAL', syscall: 'dup3' });
    for (const fd of [readFd, writeFd, high, high + 1]) close(fd);
  });

  it('closeRange closes a range, or marks it close-on-exec', () => {
    const [readFd, writeFd] = pipe();
    const copies = [950, 951, 952].map((fd) => dup2(readFd, fd));
    closeRange(950, 951, { cloexec: true });
    expect(flagsOf(950) & O_CLOEXEC).toBe(O_CLOEXEC);
    expect(flagsOf(952) & O_CLOEXEC).toBe(0);
    closeRange(950, 952);
    for (const fd of copies) expect(fs.existsSync(`/proc/self/fd/${fd}`)).toBe(false);
    close(readFd);
    close(writeFd);
  });

  it('closeRange(first, Infinity) closes every fd from first up', () => {
    // In a child Node process: fds far above any Node itself uses.
    const result = runNode(`
      const fs = require('node:fs');
      const { closeRange, dup2, pipe } = require('./dist/index.js');
      const [readFd] = pipe();
      for (const fd of [1000, 1001, 5000]) dup2(readFd, fd);
      closeRange(1000, Infinity);
      process.stdout.write(JSON.stringify([1000, 1001, 5000, readFd].map((fd) => fs.existsSync('/proc/self/fd/' + fd))));
    `);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual([false, false, false, true]);
  });

  it('errors: EBADF for fds that are not open, RangeError for bad numbers', () => {
    const error = thrown(() => close(999_999));
    expect(error).toBeInstanceOf(SyscallError);
    expect(error).toMatchObject({ code: 'EBADF', syscall: 'close' });
    expect(thrown(() => dup2(999_999, 900))).toMatchObject({ code: 'EBADF', syscall: 'dup2' });
    expect(thrown(() => dup2(-1, 3))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => closeRange(10, 5))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => dup3(0, 900, { cloexec: 'yes' as never }))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(fs.existsSync('/proc/self/fd/900')).toBe(false);
  });
});
