/**
 * Bad input is refused with a coded TypeError or RangeError before any system call: the holes a
 * fuzzer found (issue 12, item 11), each with the exact reproduction from the issue. No test here
 * starts a process, except the two that check a list at its limit (reaped).
 */
/* eslint-disable no-sparse-arrays -- sparse arrays are what these tests pass */
import { describe, expect, it } from 'vitest';
import {
  closeRange,
  daemon,
  dup3,
  execve,
  ignoreSignal,
  kill,
  pipeline,
  posixSpawn,
  registerAtFork,
  schedSetScheduler,
  startReaper,
  wait4,
  waitAsync,
  run,
  runSync,
  signalName,
  signalNumber,
  spawn,
  SyscallError,
  waitid,
  waitpid,
  waitStatusToExitCode,
  type FileAction,
  type PosixSpawnOptions,
  type SpawnOptions,
} from '../lib/index';

// A program that does not exist: should validation ever let a call through, nothing runs.
const NOWHERE = '/nonexistent/posix-process-validation-test';

/** An empty array that claims 2**31 entries: iterating it took 30 to 70 s before the fix. */
function hugeArray<T>(): T[] {
  const array: T[] = [];
  array.length = 2 ** 31;
  return array;
}

function revokedProxy<T extends object>(target: T): T {
  const { proxy, revoke } = Proxy.revocable(target, {});
  revoke();
  return proxy;
}

/** What `fn` threw (synchronously, or as the rejection of what it returned). */
async function failure(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

const coded = (type: typeof TypeError | typeof RangeError, code: string): unknown => expect.objectContaining({ name: type.name, code }) as unknown;

describe('sparse arrays are refused, not read as undefined', () => {
  it.each<[string, () => unknown]>([
    ["spawn sigmask: [, 'SIGUSR1'] (blocked signal 33)", () => spawn(NOWHERE, [], { sigmask: [, 'SIGUSR1'] as never })],
    ['spawn args', () => spawn(NOWHERE, [, 'a'] as never)],
    ['spawn groups', () => spawn(NOWHERE, [], { groups: [, 1] as never })],
    ['spawn env list', () => spawn(NOWHERE, [], { env: [, 'A=1'] as never })],
    ['posixSpawn argv', () => posixSpawn(NOWHERE, ['x', , 'y'] as never)],
    ['posixSpawn fileActions', () => posixSpawn(NOWHERE, ['x'], { fileActions: [, { action: 'close', fd: 3 }] as FileAction[] })],
    ['posixSpawn setsigmask', () => posixSpawn(NOWHERE, ['x'], { setsigmask: [, 'SIGUSR1'] as never })],
    ['execve argv', () => execve(NOWHERE, ['x', , 'y'] as never)],
  ])('%s: ERR_INVALID_ARG_VALUE', async (_, fn) => {
    expect(await failure(fn)).toEqual(coded(TypeError, 'ERR_INVALID_ARG_VALUE'));
  });
});

describe('huge array lengths are refused before anything iterates them', () => {
  it.each<[string, () => unknown]>([
    ['spawn args', () => spawn(NOWHERE, hugeArray())],
    ['spawn sigmask', () => spawn(NOWHERE, [], { sigmask: hugeArray() })],
    ['spawn groups', () => spawn(NOWHERE, [], { groups: hugeArray() })],
    ['spawn env list', () => spawn(NOWHERE, [], { env: hugeArray<string>() })],
    ['posixSpawn argv', () => posixSpawn(NOWHERE, hugeArray())],
    ['posixSpawn fileActions', () => posixSpawn(NOWHERE, ['x'], { fileActions: hugeArray() })],
    ['posixSpawn setsigdef', () => posixSpawn(NOWHERE, ['x'], { setsigdef: hugeArray() })],
    ['execve argv', () => execve(NOWHERE, hugeArray())],
    ['pipeline stage args', () => pipeline([[NOWHERE, hugeArray()]])],
    ['execve env', () => execve(NOWHERE, ['x'], hugeArray<string>())],
    ['spawn sigmask of 65 entries', () => spawn(NOWHERE, [], { sigmask: new Array<'SIGUSR2'>(65).fill('SIGUSR2') })],
    ['spawn groups of 65537 entries', () => spawn(NOWHERE, [], { groups: new Array<number>(65537).fill(0) })],
  ])('%s: ERR_OUT_OF_RANGE', async (_, fn) => {
    expect(await failure(fn)).toEqual(coded(RangeError, 'ERR_OUT_OF_RANGE'));
  });

  it('a list of signals at its limit (64 entries) is taken', async () => {
    const child = await spawn('/bin/true', [], { sigmask: new Array<'SIGUSR2'>(64).fill('SIGUSR2') });
    expect((await child.wait()).status).toEqual({ kind: 'exited', code: 0 });
    const pid = posixSpawn('/bin/true', ['true'], { setsigmask: new Array<'SIGUSR2'>(64).fill('SIGUSR2') });
    expect(waitpid(pid)?.status).toEqual({ kind: 'exited', code: 0 });
  });
});

describe('a huge value is cut in the error message, as Node cuts it', () => {
  const huge = 'x'.repeat(4_000_000);
  it.each<[string, () => unknown, typeof TypeError | typeof RangeError, string]>([
    ['an unknown signal name', () => signalNumber(huge), TypeError, 'ERR_UNKNOWN_SIGNAL'],
    ['an invalid option value', () => spawn(NOWHERE, [], { contain: huge as 'cgroup' }), TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['a value of the wrong type', () => spawn(NOWHERE, [], { uid: huge as unknown as number }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['a key out of range', () => spawn(NOWHERE, [], { fds: { [huge]: 1 } }), RangeError, 'ERR_OUT_OF_RANGE'],
  ])('%s', async (_, fn, type, code) => {
    const error = await failure(fn);
    expect(error).toEqual(coded(type, code));
    const { message } = error as Error;
    expect(message.length).toBeLessThan(400);
    expect(message).toMatch(/x{128}\.\.\./u);
  });
});

describe('names are looked up as own keys, never on Object.prototype', () => {
  it.each<[string, () => unknown, string]>([
    ['spawn rlimits: { toString: 1 }', () => spawn(NOWHERE, [], { rlimits: { toString: 1 } as never }), 'ERR_INVALID_ARG_VALUE'],
    ['spawn rlimits: { constructor: 1 }', () => spawn(NOWHERE, [], { rlimits: { constructor: 1 } as never }), 'ERR_INVALID_ARG_VALUE'],
    ["spawn stdio flags: 'toString'", () => spawn(NOWHERE, [], { stdio: [{ path: '/dev/null', flags: 'toString' as never }] }), 'ERR_INVALID_ARG_VALUE'],
    ["posixSpawn open flags: 'toString'", () => posixSpawn(NOWHERE, ['x'], { fileActions: [{ action: 'open', fd: 3, path: '/dev/null', flags: 'toString' as never }] }), 'ERR_INVALID_ARG_VALUE'],
    ["posixSpawn scheduler: { policy: 'toString' }", () => posixSpawn(NOWHERE, ['x'], { scheduler: { policy: 'toString' as never } }), 'ERR_INVALID_ARG_VALUE'],
    ["posixSpawn fileActions action: 'toString'", () => posixSpawn(NOWHERE, ['x'], { fileActions: [{ action: 'toString' } as never] }), 'ERR_INVALID_ARG_VALUE'],
    ["waitid idtype 'toString'", () => waitid('toString' as never, 1, { exited: true }), 'ERR_INVALID_ARG_VALUE'],
    ['waitpid options { toString: true }', () => waitpid(process.pid, { toString: true } as never), 'ERR_INVALID_ARG_VALUE'],
    ["signalNumber('constructor')", () => signalNumber('constructor'), 'ERR_UNKNOWN_SIGNAL'],
  ])('%s: %s', async (_, fn, code) => {
    expect(await failure(fn)).toEqual(coded(TypeError, code));
  });
});

describe('options of the wrong type get ERR_INVALID_ARG_TYPE, not a destructuring error', () => {
  it.each<[string, () => unknown]>([
    ['spawn sigmask: 34', () => spawn(NOWHERE, [], { sigmask: 34 as never })],
    ["spawn sigmask: 'SIGTERM'", () => spawn(NOWHERE, [], { sigmask: 'SIGTERM' as never })],
    ['spawn sigmask: null', () => spawn(NOWHERE, [], { sigmask: null as never })],
    ['spawn groups: {}', () => spawn(NOWHERE, [], { groups: {} as never })],
    ['run(file, args, null)', () => run(NOWHERE, [], null as never)],
    ['spawn(file, args, null)', () => spawn(NOWHERE, [], null as never)],
    ['daemon(file, args, null)', () => daemon(NOWHERE, [], null as never)],
    ['posixSpawn(file, argv, null)', () => posixSpawn(NOWHERE, ['x'], null as never)],
    ['posixSpawn scheduler: null', () => posixSpawn(NOWHERE, ['x'], { scheduler: null as never })],
    ['posixSpawn fileActions: {}', () => posixSpawn(NOWHERE, ['x'], { fileActions: {} as never })],
    ['kill(pid, revoked proxy)', () => kill(process.pid, revokedProxy({}) as never)],
    ["signalName('x')", () => signalName('x' as never)],
    ['new SyscallError(1, 2)', () => new SyscallError(1 as never, 2)],
  ])('%s', async (_, fn) => {
    expect(await failure(fn)).toEqual(coded(TypeError, 'ERR_INVALID_ARG_TYPE'));
  });

  it("spawn fds: { 3: 'ignore' } names both things an fds entry can be (the message said only 'of type number')", async () => {
    const error = await failure(() => spawn(NOWHERE, [], { fds: { 3: 'ignore' as never } }));
    expect(error).toEqual(coded(TypeError, 'ERR_INVALID_ARG_TYPE'));
    expect((error as Error).message).toBe('The "options.fds[3]" argument must be a parent fd or \'pipe\'. Received type string ("ignore")');
  });

  it('run refuses stdin: pipe (nothing would ever write or close it)', async () => {
    expect(await failure(() => run(NOWHERE, [], { stdin: 'pipe' as never }))).toEqual(coded(TypeError, 'ERR_INVALID_ARG_VALUE'));
  });

  it('a status object with a kind that is not a string is refused', () => {
    expect(() => waitStatusToExitCode({ kind: Symbol('k') } as never)).toThrow(coded(TypeError, 'ERR_INVALID_ARG_VALUE'));
    expect(() => waitStatusToExitCode({ kind: 'exited', code: 'x' } as never)).toThrow(coded(TypeError, 'ERR_INVALID_ARG_TYPE'));
  });

  it('new SyscallError refuses an errno that is not an integer', () => {
    expect(() => new SyscallError('kill', NaN)).toThrow(coded(RangeError, 'ERR_OUT_OF_RANGE'));
  });
});

describe('an array where an options object belongs is refused, as Node refuses it, not read as no options', () => {
  const unused = 2 ** 31 - 2; // an fd and a pid that nothing has
  it.each<[string, string, () => unknown]>([
    // The file action in the array was ignored and the program ran without it.
    ['posixSpawn(file, argv, [fileAction])', 'options', () => posixSpawn(NOWHERE, ['x'], [{ action: 'close', fd: 3 }] as never)],
    ['posixSpawn scheduler: []', 'options.scheduler', () => posixSpawn(NOWHERE, ['x'], { scheduler: [] as never })],
    ['dup3(oldfd, newfd, [])', 'options', () => dup3(unused, unused + 1, [] as never)],
    ['closeRange(first, last, [])', 'options', () => closeRange(unused, unused + 1, [] as never)],
    ['ignoreSignal(SIGCHLD, [{ breaksChildProcess: true }])', 'options', () => ignoreSignal('SIGCHLD', [{ breaksChildProcess: true }] as never)],
    ['waitpid(pid, [])', 'options', () => waitpid(unused, [] as never)],
    ['wait4(pid, [])', 'options', () => wait4(unused, [] as never)],
    ['waitid(pid, id, [])', 'options', () => waitid('pid', unused, [] as never)],
    ['waitAsync(pid, [])', 'options', () => waitAsync(unused, [] as never)],
    ['registerAtFork([])', 'hooks', () => registerAtFork([] as never)],
    ['schedSetScheduler(pid, [])', 'scheduler', () => schedSetScheduler(unused, [] as never)],
    ['startReaper([])', 'options', () => startReaper([] as never)],
    // The stdio in the array was ignored and the program ran with the default one.
    ['spawn(file, args, [])', 'options', () => spawn(NOWHERE, [], [{ stdio: 'pipe' }] as never)],
    ['run(file, args, [])', 'options', () => run(NOWHERE, [], [] as never)],
    ['runSync(file, args, [])', 'options', () => runSync(NOWHERE, [], [] as never)],
  ])('%s', async (_, name, fn) => {
    const error = await failure(() => {
      const result = fn();
      // Only before the fix: what an array let start is undone.
      if (typeof result === 'function') (result as () => void)();
      if (typeof result === 'object' && result !== null && 'stop' in result) (result as { stop(): void }).stop();
      return result;
    });
    expect(error).toEqual(coded(TypeError, 'ERR_INVALID_ARG_TYPE'));
    expect((error as Error).message).toMatch(new RegExp(`^The "${name.replace('.', '\\.')}" argument must be`));
  });
});

describe('throwing getters and revoked proxies', () => {
  it.each<[string, () => unknown]>([
    ['spawn options', () => spawn(NOWHERE, [], revokedProxy({}))],
    ['spawn env', () => spawn(NOWHERE, [], { env: revokedProxy({}) })],
    ['spawn args', () => spawn(NOWHERE, revokedProxy([]))],
    ['run options', () => run(NOWHERE, [], revokedProxy({}))],
    ['run input', () => run(NOWHERE, [], { input: revokedProxy({}) as never })],
    ['daemon options', () => daemon(NOWHERE, [], revokedProxy({}))],
    ['posixSpawn options', () => posixSpawn(NOWHERE, ['x'], revokedProxy({}))],
    ['posixSpawn fileActions entry', () => posixSpawn(NOWHERE, ['x'], { fileActions: [revokedProxy({}) as never] })],
    ['execve env', () => execve(NOWHERE, ['x'], revokedProxy({}))],
    ['waitpid options', () => waitpid(process.pid, revokedProxy({}))],
  ])('a revoked proxy as %s: ERR_INVALID_ARG_VALUE, with the engine error as cause', async (_, fn) => {
    const error = await failure(fn);
    expect(error).toEqual(coded(TypeError, 'ERR_INVALID_ARG_VALUE'));
    expect((error as Error).cause).toBeInstanceOf(TypeError);
  });

  it("a getter's error becomes the cause of ERR_INVALID_ARG_VALUE", async () => {
    const thrown = new Error('boom');
    const options = Object.defineProperty({}, 'cwd', {
      get() {
        throw thrown;
      },
    });
    const error = await failure(() => spawn(NOWHERE, [], options));
    expect(error).toEqual(coded(TypeError, 'ERR_INVALID_ARG_VALUE'));
    expect((error as Error).cause).toBe(thrown);
    const envGetter = Object.defineProperty({}, 'env', {
      get() {
        throw thrown;
      },
    });
    expect(await failure(() => posixSpawn(NOWHERE, ['x'], envGetter))).toHaveProperty('cause', thrown);
  });

  it('a getter error with a code of its own is wrapped too: only coded TypeErrors, RangeErrors and SyscallErrors come out', async () => {
    const thrown = Object.assign(new Error('not mine'), { code: 'EUSER' });
    const options = Object.defineProperty({}, 'env', {
      get() {
        throw thrown;
      },
    });
    const error = await failure(() => spawn(NOWHERE, [], options));
    expect(error).toEqual(coded(TypeError, 'ERR_INVALID_ARG_VALUE'));
    expect((error as Error).cause).toBe(thrown);
  });

  it('an aborted signal still rejects with its AbortError', async () => {
    const error = await failure(() => spawn(NOWHERE, [], { signal: AbortSignal.abort() }));
    expect(error).toMatchObject({ name: 'AbortError' });
  });

  it('an array whose length is not a count (a Proxy) is refused: its entries were never read, and sigmask blocked signal 33', async () => {
    const withLength = <T extends object>(target: T, length: unknown): T => new Proxy(target, { get: (object, key) => (key === 'length' ? length : Reflect.get(object, key)) });
    for (const length of ['x', -1, 1.5, NaN]) {
      for (const [what, call] of [
        ['sigmask', () => spawn(NOWHERE, [], { sigmask: withLength(['SIGINT'], length) as never })],
        ['groups', () => spawn(NOWHERE, [], { groups: withLength([1], length) as never })],
        ['env', () => spawn(NOWHERE, [], { env: withLength(['no equals'], length) as never })],
        ['args', () => spawn(NOWHERE, withLength(['a'], length) as never)],
      ] as const) {
        const error = await failure(call);
        expect(error, `${what} ${String(length)}`).toEqual(coded(TypeError, 'ERR_INVALID_ARG_VALUE'));
        expect((error as Error).message, what).toContain('.length');
      }
    }
  });

  it('a hole in an array is refused even when Array.prototype has that index', async () => {
    Object.defineProperty(Array.prototype, 1, { value: 'SIGUSR1', configurable: true, writable: true });
    try {
      const error = await failure(() => spawn(NOWHERE, [], { sigmask: ['SIGUSR2', , 'SIGUSR2'] as never }));
      expect(error).toEqual(coded(TypeError, 'ERR_INVALID_ARG_VALUE'));
    } finally {
      delete (Array.prototype as unknown as Record<number, unknown>)[1];
    }
  });
});

/** A proxy for an empty options object that counts the reads of each key. */
function countingOptions(): { options: object; reads: Map<PropertyKey, number> } {
  const reads = new Map<PropertyKey, number>();
  const options = new Proxy(
    {},
    {
      get(target, key, receiver) {
        reads.set(key, (reads.get(key) ?? 0) + 1);
        return Reflect.get(target, key, receiver) as unknown;
      },
    },
  );
  return { options, reads };
}

describe('each option is read once: what was checked is what is used', () => {
  it('spawn', async () => {
    const { options, reads } = countingOptions();
    await expect(spawn(NOWHERE, [], options as SpawnOptions)).rejects.toBeInstanceOf(SyscallError);
    expect([...reads].filter(([, count]) => count > 1)).toEqual([]);
    expect(reads.get('signal')).toBe(1);
  });

  it('posixSpawn', () => {
    const { options, reads } = countingOptions();
    expect(() => posixSpawn(NOWHERE, ['x'], options as PosixSpawnOptions)).toThrow(SyscallError);
    expect([...reads].filter(([, count]) => count > 1)).toEqual([]);
    expect(reads.get('fileActions')).toBe(1);
  });

  it('posixSpawn file actions: each field of an action is read once', async () => {
    for (const [first, second] of [
      ['close', 'open'],
      ['fchdir', 'dup2'],
      ['closefrom', 'bogus'],
    ]) {
      let reads = 0;
      const action = {
        get action() {
          reads++;
          return reads === 1 ? first : second;
        },
        fd: 900,
      };
      // Checked as a close (or fchdir, closefrom) of fd 900: what runs is that, not the second answer.
      const error = await failure(() => posixSpawn(NOWHERE, ['x'], { fileActions: [action as FileAction] }));
      expect(error).toBeInstanceOf(SyscallError);
      expect(reads).toBe(1);
    }
  });

  it('a getter that answers an array, then anything else, cannot smuggle the second answer in', async () => {
    let calls = 0;
    const options = {
      get groups() {
        calls++;
        return calls === 1 ? [0] : { map: () => ['not a group'] };
      },
    };
    // Validated as [0]: the spawn gets as far as setgroups (EPERM unprivileged) or exec (ENOENT).
    await expect(spawn(NOWHERE, [], options as SpawnOptions)).rejects.toBeInstanceOf(SyscallError);
    expect(calls).toBe(1);
  });
});
