// pipeline() (issue 15): stages joined by kernel pipes, with real programs.
import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ExitError, pipeline, spawn, SyscallError } from '../lib/index';
import { blockedInFifoOpen, childPids, leftover, openFds, processState, runNode, until, zombieChildren } from './helpers';

/**
 * Resolves once pipeline() has every stage's handle: it pipes its stream `input` then. An abort
 * before that cancels the spawns under way (the call rejects) rather than stopping the stages.
 */
function started(input: PassThrough): Promise<void> {
  return until(() => input.readableFlowing === true, 20_000);
}

describe('pipeline()', () => {
  it('yes | head -n 100000 | wc -l gives 100000, and yes ends by SIGPIPE', async () => {
    const before = openFds();
    const result = await pipeline([['yes'], ['head', ['-n', '100000']], ['wc', ['-l']]]);
    expect(result.stdout.trim()).toBe('100000');
    expect(result.statuses[0]).toMatchObject({ kind: 'signaled', signal: 'SIGPIPE' });
    expect(result.statuses.slice(1)).toEqual([
      { kind: 'exited', code: 0 },
      { kind: 'exited', code: 0 },
    ]);
    expect(result.status).toEqual({ kind: 'exited', code: 0 });
    expect(result.pids).toHaveLength(3);
    expect(result.command).toBe('yes | head -n 100000 | wc -l');
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('no byte passes through this process: each stage reads a pipe from the previous one', async () => {
    // Each stage writes where its shell's fds 0 and 1 go to a file of its own (from a command
    // substitution: a redirected last command would be exec'd by the shell in its place).
    const dir = fs.mkdtempSync('/tmp/pipeline-test-');
    try {
      const where = (i: number): { stderr: { path: string } } => ({ stderr: { path: `${dir}/${i}` } });
      const result = await pipeline(
        [
          ['sh', ['-c', 'o=$(readlink /proc/$$/fd/1); echo "$o" >&2; echo data'], where(0)],
          ['sh', ['-c', 'io=$(readlink /proc/$$/fd/0 /proc/$$/fd/1); echo "$io" >&2; cat'], where(1)],
          ['sh', ['-c', 'i=$(readlink /proc/$$/fd/0); echo "$i" >&2; cat'], where(2)],
        ],
        { lines: true },
      );
      expect(result.stdout).toEqual(['data']);
      const [out0] = fs.readFileSync(`${dir}/0`, 'utf8').split('\n');
      const [in1, out1] = fs.readFileSync(`${dir}/1`, 'utf8').split('\n');
      const [in2] = fs.readFileSync(`${dir}/2`, 'utf8').split('\n');
      expect(out0).toMatch(/^pipe:\[\d+\]$/);
      expect(in1).toBe(out0);
      expect(out1).toMatch(/^pipe:\[\d+\]$/);
      expect(out1).not.toBe(out0);
      expect(in2).toBe(out1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('input to the first stage (string and stream); lines, encoding', async () => {
    const sorted = await pipeline([['sort'], ['uniq', ['-c']], ['sort', ['-rn']]], { input: 'b\na\nb\nc\nb\na\n', lines: true });
    expect(sorted.stdout.map((line) => line.trim())).toEqual(['3 b', '2 a', '1 c']);
    const streamed = await pipeline([['cat'], ['tr', ['a-z', 'A-Z']]], { input: Readable.from(['shout ', 'this']) });
    expect(streamed.stdout).toBe('SHOUT THIS');
    const bytes = await pipeline([['printf', ['\\377']], ['cat']], { encoding: 'buffer' });
    expect(bytes.stdout).toEqual(Buffer.from([0xff]));
  });

  it('a stream input the first stage leaves unread is let go (unpiped, paused) once the call ends', async () => {
    const stream = new Readable({ read() {} });
    stream.push('unread');
    expect((await pipeline([['true'], ['cat']], { input: stream })).status).toEqual({ kind: 'exited', code: 0 });
    await until(() => stream.listenerCount('data') === 0);
    expect(stream.readableFlowing).not.toBe(true);
  });

  it('a stream input is not piped into a first stage reaped before the last stage started', async () => {
    // The last stage's stderr is a FIFO: its open blocks it before its exec until a reader comes,
    // while the first stage (true) exits and is reaped, its stdin destroyed with it.
    const dir = fs.mkdtempSync('/tmp/pipeline-test-');
    const fifo = `${dir}/stderr`;
    child_process.execFileSync('mkfifo', [fifo]);
    try {
      const before = openFds();
      const stream = new Readable({ read() {} });
      stream.push('unread');
      const earlier = new Set(childPids());
      const running = pipeline([['true'], ['cat', [], { stderr: { path: fifo } }]], { input: stream });
      // Until true is reaped (it is cloned first): the one new child left is cat's, blocked in the
      // FIFO's open before its exec.
      await until(() => {
        const fresh = childPids().filter((pid) => !earlier.has(pid));
        return fresh.length === 1 && blockedInFifoOpen(fresh[0]!);
      });
      await new Promise((resolve) => setTimeout(resolve, 50)); // the reap's callback, queued by now, runs
      const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      expect((await running).statuses).toEqual([{ kind: 'exited', code: 0 }, { kind: 'exited', code: 0 }]);
      fs.closeSync(reader);
      expect(stream.listenerCount('data')).toBe(0);
      expect(stream.readableFlowing).not.toBe(true);
      expect(openFds()).toEqual(before);
      expect(zombieChildren()).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('moves more than a pipe buffer through every stage', async () => {
    const result = await pipeline([['head', ['-c', String(32 * 1024 * 1024), '/dev/zero']], ['cat'], ['wc', ['-c']]]);
    expect(result.stdout.trim()).toBe(String(32 * 1024 * 1024));
  });

  it('pipefail: the last failing stage decides; without it the last stage does', async () => {
    const stages = [['sh', ['-c', 'echo x; exit 3']], ['cat'], ['cat']] as const;
    expect((await pipeline(stages)).status).toEqual({ kind: 'exited', code: 0 });
    expect((await pipeline(stages, { pipefail: true })).status).toEqual({ kind: 'exited', code: 3 });
  });

  it('check: an ExitError naming the whole pipeline', async () => {
    const failing = pipeline([['echo', ['hi']], ['sh', ['-c', 'cat; exit 5']]], { check: true });
    await expect(failing).rejects.toBeInstanceOf(ExitError);
    await expect(failing).rejects.toMatchObject({
      exitCode: 5,
      command: "echo hi | sh -c 'cat; exit 5'",
      stdout: 'hi\n',
      message: expect.stringMatching(/^Command failed with exit code 5 after \d+ ms: echo hi \| sh -c 'cat; exit 5'\nstdout \(end\):\nhi$/) as string,
    });
  });

  it('a middle stage that fails to exec: the error names that stage, the others are reaped, nothing leaks', async () => {
    const before = openFds();
    const error = await pipeline([['yes'], ['/no/such/stage', ['arg']], ['wc', ['-l']]]).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(SyscallError);
    expect(error).toMatchObject({ code: 'ENOENT', step: 'exec', stage: 1, stageCommand: '/no/such/stage arg' });
    expect((error as Error).message).toMatch(/^pipeline stage 1 \(\/no\/such\/stage arg\): execve ENOENT/);
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('timeout and abort kill every stage together', async () => {
    const timed = await pipeline([['sleep', ['30']], ['sleep', ['30']], ['cat']], { timeout: 1000 });
    expect(timed.statuses.slice(0, 2)).toEqual([expect.objectContaining({ signal: 'SIGTERM' }), expect.objectContaining({ signal: 'SIGTERM' })]);
    const controller = new AbortController();
    const input = new PassThrough();
    const aborted = pipeline([['sleep', ['30']], ['sleep', ['30']]], { signal: controller.signal, killSignal: 'SIGKILL', input });
    await started(input);
    controller.abort();
    expect((await aborted).statuses).toEqual([expect.objectContaining({ signal: 'SIGKILL' }), expect.objectContaining({ signal: 'SIGKILL' })]);
    expect(zombieChildren()).toEqual([]);
  });

  it('abort (as timeout): a stage that ignores killSignal gets SIGKILL after its forceKillAfter (it hung the call)', async () => {
    const ready = `/tmp/pipeline-test-ready-${process.pid}`;
    // SIGTERM stays ignored across the exec; the file says the trap is in place.
    const stubborn = ['sh', ['-c', `trap "" TERM; : > ${ready}; exec sleep 30`], { forceKillAfter: 100 }] as const;
    const controller = new AbortController();
    const input = new PassThrough();
    const running = pipeline([stubborn, ['cat']], { signal: controller.signal, input });
    await until(() => fs.existsSync(ready));
    await started(input);
    fs.rmSync(ready);
    controller.abort();
    const result = await running;
    expect(result.statuses[0]).toMatchObject({ kind: 'signaled', signal: 'SIGKILL' });
    expect(result.results[0]).toMatchObject({ killedBy: 'abort', forced: true });
    expect(zombieChildren()).toEqual([]);
  });

  it('abort of a contained stage: the call resolves once its whole tree has ended, a leftover that ignores killSignal included', async () => {
    const pidFile = `/tmp/pipeline-test-tree-${process.pid}`;
    fs.rmSync(pidFile, { force: true });
    // The leader dies of SIGTERM; its background sleep ignores it and ends only by the SIGKILL after
    // forceKillAfter. The leader ignores TERM while it forks (the child starts with it ignored, not
    // only once its own trap has run: an abort in between found it dying of SIGTERM), then takes
    // it back by its default.
    const stubborn = ['sh', ['-c', `trap "" TERM; sleep 300 >/dev/null & echo $! > ${pidFile}; trap - TERM; wait`], { contain: true, forceKillAfter: 300 }] as const;
    const controller = new AbortController();
    const input = new PassThrough();
    const running = pipeline([stubborn, ['cat']], { signal: controller.signal, input });
    let leftoverPid = 0;
    try {
      await until(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').endsWith('\n'), 20_000);
      await started(input);
      leftoverPid = Number(fs.readFileSync(pidFile, 'utf8'));
      controller.abort();
      const result = await running;
      expect(processState(leftoverPid) ?? 'gone').toMatch(/^(gone|Z)$/u); // ended before the call resolved
      expect(result.results[0]).toMatchObject({ killedBy: 'abort', forced: true });
    } finally {
      fs.rmSync(pidFile, { force: true });
      if (leftoverPid !== 0 && !/^(gone|Z)$/u.test(processState(leftoverPid) ?? 'gone')) process.kill(leftoverPid, 'SIGKILL');
    }
    expect(zombieChildren()).toEqual([]);
  });

  it('timeout and signal bound a stage that is still starting (its spawn blocked in an open): the call rejects with its ETIMEDOUT / AbortError', async () => {
    const fifo = `/tmp/pipeline-test-blocked-${process.pid}`;
    child_process.execFileSync('mkfifo', [fifo]);
    const before = openFds();
    try {
      // Stage 1's child waits in the open of its stderr, a FIFO that nobody opens for reading.
      const blocked = ['cat', [], { stderr: { path: fifo } }] as const;
      await expect(pipeline([['sleep', ['30']], blocked], { timeout: 1000 })).rejects.toMatchObject({ code: 'ETIMEDOUT', stage: 1 });
      const controller = new AbortController();
      const aborted = pipeline([['sleep', ['30']], blocked], { signal: controller.signal });
      setTimeout(() => controller.abort(), 1000);
      await expect(aborted).rejects.toMatchObject({ code: 'ABORT_ERR', stage: 1 });
    } finally {
      fs.rmSync(fifo, { force: true });
    }
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  }, 30_000);

  it('a signal shared by many stages: no listener leak warning, and none left on the signal', () => {
    const script = `
      const { pipeline } = require('./dist/index.js');
      const { getEventListeners } = require('node:events');
      const controller = new AbortController();
      pipeline(Array.from({ length: 20 }, () => ['true']), { signal: controller.signal }).then((result) => {
        console.log(result.statuses.length, getEventListeners(controller.signal, 'abort').length);
      });
    `;
    const out = runNode(script);
    expect(out.stderr).toBe('');
    expect(out.stdout.trim()).toBe('20 0');
  });

  it('an input stream that fails: every stage is stopped and reaped, the call rejects with its error', async () => {
    const before = openFds();
    // The first stage waits for the rest of its input until its stdin ends: before, for ever.
    const failing = new Readable({ read() {} });
    const running = pipeline([['cat'], ['cat']], { input: failing });
    failing.push('partial ');
    setImmediate(() => failing.destroy(new Error('input failed')));
    await expect(running).rejects.toThrow('input failed');
    const closed = new Readable({ read() {} });
    const closing = pipeline([['cat']], { input: closed });
    setImmediate(() => closed.destroy());
    await expect(closing).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  // A process left behind by a stage holds the last pipe: what the library stopped ends once
  // every stage is reaped, as run() does, instead of when the leftover closes it.
  it('stopped (abort, as timeout) while a leftover holds the last stage’s stdout: ends once the stages are reaped, with what was written', async () => {
    const before = openFds();
    const stopped = leftover('pipeline-abort');
    const controller = new AbortController();
    // The pid file is written after the echo: once it is there, the output is in the pipe.
    const input = new PassThrough();
    const running = pipeline([['sh', ['-c', `echo written; ${stopped.script('exec sleep 30')}`]]], { signal: controller.signal, input });
    await stopped.written();
    await started(input);
    controller.abort();
    const result = await running;
    expect(result.stdout).toBe('written\n');
    expect(result.statuses[0]).toMatchObject({ kind: 'signaled', signal: 'SIGTERM' });
    await stopped.kill();
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('the stage exited on its own while a leftover holds its stdout: the timeout still bounds the wait for it', async () => {
    const before = openFds();
    const exited = leftover('pipeline-exited');
    const result = await pipeline([['sh', ['-c', `echo written; ${exited.script('')}`]]], { timeout: 1000 });
    // Before the deadline, the stage has written and exited, or (a very slow machine) it is
    // stopped then: either way the call ends without waiting for the leftover.
    expect(result.stdout === 'written\n' || result.statuses[0]!.kind === 'signaled').toBe(true);
    if (fs.existsSync(exited.file)) await exited.kill();
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('past maxBuffer while a leftover holds the last stage’s stdout: rejects once the stages are reaped', async () => {
    const before = openFds();
    const left = leftover('pipeline-maxbuffer');
    const running = pipeline([['sh', ['-c', left.script('head -c 100000 /dev/zero')]]], { maxBuffer: 1000 });
    await expect(running).rejects.toMatchObject({ code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER' });
    await left.kill();
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('stdout to a file, stderr per stage', async () => {
    const file = `/tmp/pipeline-test-${process.pid}.txt`;
    try {
      const result = await pipeline([['echo', ['to the file']], ['cat']], { stdout: { path: file } });
      expect(result.stdout).toBeUndefined();
      expect(fs.readFileSync(file, 'utf8')).toBe('to the file\n');
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('rejects bad stages and options before starting anything', async () => {
    const before = openFds();
    await expect(pipeline([])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(pipeline([['cat', 'not-an-array' as never]])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(pipeline([['cat', [], { stderr: 'pipe' as never }]])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(pipeline([['cat']], { timeout: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('a bad option of a later stage is refused before any stage starts', async () => {
    const before = openFds();
    // Stage 0's child opens this file (its stderr) before its exec: the file exists only if it started.
    const started = `/tmp/pipeline-test-started-${process.pid}`;
    const error = await pipeline([
      ['true', [], { stderr: { path: started } }],
      ['cat', [], { nice: 100 }],
    ]).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toMatchObject({ code: 'ERR_OUT_OF_RANGE', stage: 1, stageCommand: 'cat' });
    expect((error as Error).message).toMatch(/^pipeline stage 1 \(cat\): .*"stages\[1\]\[2\]\.nice"/);
    const stageStarted = fs.existsSync(started);
    fs.rmSync(started, { force: true });
    expect(stageStarted).toBe(false);
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('refuses what a stage cannot have: fds 3+ as pipes (nobody reads them), the pipeline-wide timeout, signal and killSignal, a pty', async () => {
    const before = openFds();
    for (const options of [{ fds: { 3: 'pipe' } }, { timeout: 1000 }, { signal: new AbortController().signal }, { killSignal: 'SIGKILL' }, { pty: true }]) {
      await expect(pipeline([['true'], ['cat', [], options as never]])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    }
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('passes every other spawn option to its stage (noNewPrivileges, forceKillAfter...)', async () => {
    const result = await pipeline([['grep', ['NoNewPrivs', '/proc/self/status'], { noNewPrivileges: true }], ['tr', ['-d', ' \\t']]]);
    expect(result.stdout).toBe('NoNewPrivs:1\n');
  });

  it('a stage that cannot start: the started ones are killed with SIGKILL, also one that ignores killSignal', async () => {
    const before = openFds();
    // SIGTERM stays ignored across the exec; with forceKillAfter false only SIGKILL can end it.
    const stubborn = ['sh', ['-c', 'trap "" TERM; exec sleep 30'], { forceKillAfter: false }] as const;
    await expect(pipeline([stubborn, ['/no/such/stage']])).rejects.toMatchObject({ code: 'ENOENT', stage: 1 });
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('a stage that cannot start: a contained stage is ended as a tree with SIGKILL, also a leftover that ignores killSignal', async () => {
    const fifo = `/tmp/pipeline-test-fifo-${process.pid}`;
    const pidFile = `/tmp/pipeline-test-leftover-${process.pid}`;
    fs.rmSync(pidFile, { force: true });
    child_process.execFileSync('mkfifo', [fifo]);
    // The first contained spawn of a process keeps one socket open for good (lib/spawn/contain.ts): made here, before the count.
    await (await spawn('true', [], { contain: true })).wait();
    const before = openFds();
    let reader: number | undefined;
    try {
      // The leader and its background sleep ignore SIGTERM; with forceKillAfter false only SIGKILL ends the sleep.
      const stubborn = ['sh', ['-c', `trap "" TERM; sleep 300 & echo $! > ${pidFile}; wait`], { contain: true, forceKillAfter: false }] as const;
      // Stage 1's child waits in the open of its stderr (a FIFO without a reader) until the leftover exists.
      const running = pipeline([stubborn, ['/no/such/stage', [], { stderr: { path: fifo } }]]);
      await until(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').endsWith('\n'), 20_000);
      const leftoverPid = Number(fs.readFileSync(pidFile, 'utf8'));
      reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      await expect(running).rejects.toMatchObject({ code: 'ENOENT', stage: 1 });
      expect(processState(leftoverPid) ?? 'gone').toMatch(/^(gone|Z)$/u); // dead (a zombie of whoever adopted it)
    } finally {
      if (reader !== undefined) fs.closeSync(reader);
      fs.rmSync(fifo, { force: true });
      fs.rmSync(pidFile, { force: true });
    }
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  }, 30_000);
});
