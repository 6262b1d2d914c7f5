// runSync's poll loop (native/fd_calls.cc collectSync) and the end of its child: what a child the
// library stopped writes while it ends, its timeout once it has closed its outputs, and input
// that a process it left behind holds open.
import { describe, expect, it } from 'vitest';
import { runSync } from '../lib/index';
import { leftover, openFds, zombieChildren } from './helpers';

// A shell that answers SIGTERM with last words on both outputs and exit code 7; `sleep` is its
// own process, with outputs of its own, so that nothing else holds the pipes.
const LAST_WORDS = 'sleep 30 >/dev/null 2>&1 & pid=$!; trap \'kill $pid; echo got TERM; echo bye >&2; exit 7\' TERM; echo start; wait';

describe('runSync: a child the library stops', () => {
  it('its output until it has exited is kept, and its status is its own (the pipes were closed at the kill: SIGPIPE)', () => {
    const before = openFds();
    const result = runSync('sh', ['-c', LAST_WORDS], { timeout: 2000 });
    expect(result).toMatchObject({ stdout: 'start\ngot TERM\n', stderr: 'bye\n', status: { kind: 'exited', code: 7 }, timedOut: true, killedBy: 'timeout', forced: false });
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('past maxBuffer: the error carries the status the child ended with, not a SIGPIPE of its last write', () => {
    const script = "sleep 30 >/dev/null 2>&1 & pid=$!; trap 'kill $pid; echo got TERM >&2; exit 7' TERM; head -c 100000 /dev/zero; wait";
    expect(() => runSync('sh', ['-c', script], { maxBuffer: 1000 })).toThrow(
      expect.objectContaining({ code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', killedBy: 'maxBuffer', forced: false, status: { kind: 'exited', code: 7 } }),
    );
    expect(zombieChildren()).toEqual([]);
  });

  it('past maxBuffer: the error names the output that passed it (it said "stdout or stderr")', () => {
    expect(() => runSync('sh', ['-c', 'head -c 5000 /dev/zero >&2'], { maxBuffer: 1000 })).toThrow(expect.objectContaining({ code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', message: 'stderr maxBuffer length exceeded' }));
    expect(() => runSync('head', ['-c', '5000', '/dev/zero'], { maxBuffer: 1000 })).toThrow(expect.objectContaining({ message: 'stdout maxBuffer length exceeded' }));
    expect(zombieChildren()).toEqual([]);
  });

  it('a child that has closed its outputs is still bound by its timeout (runSync waited for its exit)', () => {
    const before = openFds();
    const result = runSync('sh', ['-c', 'exec >&- 2>&-; exec sleep 30'], { timeout: 300 });
    expect(result).toMatchObject({ status: { kind: 'signaled', signal: 'SIGTERM' }, timedOut: true, killedBy: 'timeout' });
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  }, 20_000);

  it('a child that closed its outputs and reads its input still gets all of it', () => {
    const input = Buffer.alloc(1024 * 1024, 'abc');
    const result = runSync('sh', ['-c', 'exec >&- 2>&-; exec wc -c <&0 >/dev/null'], { input, timeout: 20_000 });
    expect(result).toMatchObject({ status: { kind: 'exited', code: 0 }, timedOut: false });
  });
});

describe('runSync: input held by a leftover', () => {
  it('ends once the child has exited and its outputs have ended, though a process it left behind holds stdin (it waited for that process)', async () => {
    const before = openFds();
    const left = leftover('sync-stdin');
    // Larger than a pipe: the rest of it can only go to the leftover, which never reads.
    const input = Buffer.alloc(1024 * 1024, 'x');
    const result = runSync('sh', ['-c', `exec 3<&0; sleep 30 <&3 >/dev/null 2>&1 & echo $! > ${left.file}; echo started`], { input, timeout: 10_000 });
    expect(result).toMatchObject({ stdout: 'started\n', status: { kind: 'exited', code: 0 }, timedOut: false, killedBy: null });
    await left.kill();
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  }, 20_000);
});
