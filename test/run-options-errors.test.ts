// The error paths of run's and runSync's own options that no other test takes: each refused
// with its code and name before anything starts (no child, no fd left).
import * as fs from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { run, runSync } from '../lib/index';
import { childPids, openFds } from './helpers';

describe("run's and runSync's options refused", () => {
  it('all and check that are not booleans, input of a bad type, a stream input for runSync, and spawn options posix_spawn cannot apply', async () => {
    const before = openFds();
    const children = childPids();
    const cases: [string, unknown, string, string][] = [
      ['all', { all: 1 }, 'ERR_INVALID_ARG_TYPE', 'options.all'],
      ['check', { check: 'yes' }, 'ERR_INVALID_ARG_TYPE', 'options.check'],
      ['input', { input: 42 }, 'ERR_INVALID_ARG_TYPE', 'options.input'],
      ['stdin with input', { input: 'x', stdin: 'inherit' }, 'ERR_INVALID_ARG_VALUE', 'options.stdin'],
      ['maxBuffer', { maxBuffer: -1 }, 'ERR_OUT_OF_RANGE', 'options.maxBuffer'],
      ['encoding', { encoding: 'klingon' }, 'ERR_INVALID_ARG_VALUE', 'options.encoding'],
    ];
    for (const [what, options, code, name] of cases) {
      await expect(run('true', [], options as never), what).rejects.toMatchObject({ code, message: expect.stringContaining(name) as string });
      expect(() => runSync('true', [], options as never), what).toThrow(expect.objectContaining({ code, message: expect.stringContaining(name) as string }));
    }
    const stream = new PassThrough();
    expect(() => runSync('cat', [], { input: stream } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('options.input') as string }));
    stream.destroy();
    for (const key of ['signal', 'contain', 'fds']) {
      const value = key === 'signal' ? new AbortController().signal : key === 'contain' ? true : { 3: 'pipe' };
      expect(() => runSync('true', [], { [key]: value } as never), key).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining(`options.${key}`) as string }));
    }
    // run took fds: { 3: 'pipe' } and never read the socket: a child writing to it blocked, run
    // never settled, and the fd stayed open. A plain fd is still run's to pass on.
    await expect(run('true', [], { fds: { 3: 'pipe' } })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('options.fds[3]') as string });
    const devNull = fs.openSync('/dev/null', 'w');
    expect((await run('sh', ['-c', 'echo via3 >&3; echo done'], { fds: { 3: devNull } })).stdout).toBe('done\n');
    fs.closeSync(devNull);
    expect(childPids().filter((pid) => !children.includes(pid))).toEqual([]);
    expect(openFds()).toEqual(before);
  });
});

describe("runSync's spawn options named as the caller wrote them", () => {
  it('a bad pgid or cwd is refused as options.pgid and options.cwd, not as the posix_spawn attribute run passes on', () => {
    const before = openFds();
    const children = childPids();
    expect(() => runSync('true', [], { pgid: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('"options.pgid"') as string }));
    expect(() => runSync('true', [], { pgid: 'x' } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"options.pgid"') as string }));
    expect(() => runSync('true', [], { cwd: '/tmp\0x' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'options.cwd'") as string }));
    expect(() => runSync('true', [], { cwd: 5 } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"options.cwd"') as string }));
    expect(childPids().filter((pid) => !children.includes(pid))).toEqual([]);
    expect(openFds()).toEqual(before);
  });
});

describe("run's stdio and pty read once", () => {
  it('a getter read by the check and again by spawn cannot slip a pty past run', async () => {
    const before = openFds();
    const children = childPids();
    for (const key of ['pty', 'stdio']) {
      let reads = 0;
      const options = {
        get [key]() {
          reads++;
          return reads === 1 ? (key === 'pty' ? {} : 'pipe') : undefined;
        },
      };
      await expect(run('true', [], options as never), key).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining(`options.${key}`) as string });
      expect(reads, key).toBe(1);
      reads = 0;
      expect(() => runSync('true', [], options as never), key).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    }
    expect(childPids().filter((pid) => !children.includes(pid))).toEqual([]);
    expect(openFds()).toEqual(before);
  });
});

describe("runSync's failures to start named as run names them", () => {
  it('the step and syscall of a bad stdin fd, a missing stdin file, a missing cwd and a missing program are those of run', async () => {
    // runSync starts its child with posix_spawn, whose file actions it builds itself: its errors
    // said 'fileActions[0] dup2' and syscall 'posix_spawnp', names the caller never wrote.
    const cases: [string, Parameters<typeof run>[1], Parameters<typeof run>[2]][] = [
      ['true', [], { stdin: 999 }],
      ['true', [], { stdin: { path: '/no/such/input' } }],
      ['true', [], { cwd: '/no/such/folder' }],
      ['/no/such/program', [], {}],
    ];
    const shape = (error: unknown): object => {
      const { code, step, syscall, path } = error as Record<string, unknown>;
      return { code, step, syscall, path };
    };
    for (const [file, args, options] of cases) {
      const async = shape(await run(file, args, options).then(() => null, (error: unknown) => error));
      let sync: object | undefined;
      try {
        runSync(file, args, options as never);
      } catch (error) {
        sync = shape(error);
      }
      expect(sync, JSON.stringify(options)).toEqual(async);
    }
  });
});
