// run()'s native collection of its outputs (native/collect.cc, issue 15's speed): every byte of
// large and interleaved outputs, maxBuffer, early and late ends of the pipes, and nothing leaked
// (fds, zombies), with real programs.
import * as child_process from 'node:child_process';
import * as crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { run, runSync } from '../lib/index';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { PassThrough } from 'node:stream';
import { binding } from '../lib/native';
import { childPids, exitOf, leftover, openFds, processState, rejection, runNode, until, zombieChildren } from './helpers';

const MB = 1024 * 1024;

/** /proc/self/fdinfo/<fd> or the target of /proc/self/fd/<fd>; '' for an fd closed meanwhile. */
function fdFile(kind: 'fd' | 'fdinfo', fd: number): string {
  try {
    return kind === 'fd' ? fs.readlinkSync(`/proc/self/fd/${fd}`) : fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1');
  } catch {
    return '';
  }
}

describe('run(): outputs read natively', () => {
  it('100 MB on stdout and 100 MB on stderr at once: every byte of each, no fd left, no zombie', async () => {
    const before = openFds();
    const size = 100_000_000;
    const script = `head -c ${size} /dev/zero | tr '\\0' o & head -c ${size} /dev/zero | tr '\\0' e >&2; wait`;
    const result = await run('sh', ['-c', script], { encoding: 'buffer', maxBuffer: size });
    expect(result.status).toEqual({ kind: 'exited', code: 0 });
    expect(result.stdout.length).toBe(size);
    expect(result.stderr.length).toBe(size);
    // Each output holds only its own byte: nothing crossed over or was lost.
    expect(result.stdout.indexOf('e')).toBe(-1);
    expect(result.stderr.indexOf('o')).toBe(-1);
    expect(result.stdout[size - 1]).toBe('o'.charCodeAt(0));
    expect(result.stderr[0]).toBe('e'.charCodeAt(0));
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  }, 120_000);

  it('all: alternating writes on fds 1 and 2 keep their order, also past the pipe size', async () => {
    const before = openFds();
    // 2 x 60000 lines of 12+ bytes: more than the 1 MiB pipe, read while the child writes.
    const result = await run('sh', ['-c', 'i=0; while [ $i -lt 60000 ]; do i=$((i+1)); echo out$i; echo err$i >&2; done'], { all: true, lines: true });
    expect(result.all.length).toBe(120000);
    for (let i = 0; i < 60000; i++) {
      if (result.all[2 * i] !== `out${i + 1}` || result.all[2 * i + 1] !== `err${i + 1}`) throw new Error(`out of order at line ${2 * i}: ${result.all[2 * i]}`);
    }
    expect(openFds()).toEqual(before);
  }, 120_000);

  it('a collector that cannot start (uv_poll_init ENOSPC) fails the call with the child killed and reaped, nothing leaked', async () => {
    const before = openFds();
    const children = new Set(childPids());
    const marker = `run-collect-fails-${process.pid}`;
    binding.testing.failNextCollectStart(28); // ENOSPC, as from fs.epoll.max_user_watches
    // The child (no shell between: SIGKILL must reach the sleep itself) would sleep a long time:
    // the call must not return while it runs. argv0 marks it in /proc/<pid>/cmdline.
    await expect(run('sleep', ['600'], { argv0: marker })).rejects.toMatchObject({ name: 'SyscallError', code: 'ENOSPC' });
    const mine = childPids().filter((pid) => !children.has(pid));
    expect(mine.filter((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(marker))).toEqual([]);
    expect(zombieChildren()).toEqual([]);
    expect(openFds()).toEqual(before);
  });

  it("a wait that cannot start (epoll_ctl ENOSPC) rejects the call with that error, its output pipes closed though a leftover holds them", async () => {
    await run('true'); // the spawn machinery's own fds exist before
    const before = new Set(openFds());
    binding.testing.failNextEpollCtl(28); // ENOSPC: the child's wait cannot start, it is killed
    const running = rejection(run('true'));
    // run made its output pipes before its first await: a process of ours takes copies of their
    // write ends, so that they never reach end-of-file.
    const writeEnds = openFds().filter((fd) => !before.has(fd) && /^flags:\s+\d*1$/m.test(fdFile('fdinfo', fd)));
    expect(writeEnds).toHaveLength(2);
    const pipes = writeEnds.map((fd) => fdFile('fd', fd));
    const holder = child_process.spawn('sleep', ['30'], { stdio: ['ignore', writeEnds[0]!, writeEnds[1]!] });
    try {
      expect(await running).toMatchObject({ code: 'ENOSPC', syscall: 'epoll_ctl' });
      // Before the fix the collector went on reading both pipes until the holder let go.
      expect(openFds().filter((fd) => pipes.includes(fdFile('fd', fd)))).toEqual([]);
    } finally {
      holder.kill('SIGKILL');
      await exitOf(holder);
    }
  });

  it('a wait that cannot start lets go of a stream input too (unpiped, not watched any more)', async () => {
    await run('true'); // the spawn machinery's own fds exist before
    const input = new PassThrough();
    const listeners = (): number[] => ['data', 'end', 'error', 'close'].map((event) => input.listenerCount(event));
    const before = listeners();
    binding.testing.failNextEpollCtl(28); // ENOSPC: the child's wait cannot start, it is killed
    expect(await rejection(run('cat', [], { input }))).toMatchObject({ code: 'ENOSPC', syscall: 'epoll_ctl' });
    // Before the fix input stayed piped into the dead child's stdin, and watched.
    await until(() => listeners().every((count, i) => count === before[i]));
    expect(input.destroyed).toBe(false); // the caller's stream, left to the caller
    expect(zombieChildren()).toEqual([]);
  });

  // Memory that cannot hold an output (maxBuffer: Infinity) is failed by a hook: a real RLIMIT_AS
  // does it too (prlimit --as=3000000000 and 4 GB of output), but not under AddressSanitizer.
  for (const [name, call] of [
    ['run', (marker: string) => run('yes', [], { argv0: marker, maxBuffer: Infinity })],
    ['runSync', (marker: string) => Promise.resolve().then(() => runSync('yes', [], { argv0: marker, maxBuffer: Infinity }))],
  ] as const) {
    it(`${name}: an output memory cannot hold fails the call (no abort) with the child killed and reaped, nothing leaked`, async () => {
      const before = openFds();
      const children = new Set(childPids());
      const marker = `${name}-out-of-memory-${process.pid}`;
      binding.testing.failNextOutputAlloc();
      const error = (await call(marker).catch((caught: unknown) => caught)) as Record<string, unknown>;
      expect(error).toBeInstanceOf(RangeError);
      expect(error).toMatchObject({ code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', message: 'stdout could not be held: memory ran out before maxBuffer', killedBy: 'maxBuffer' });
      expect(error.status).toMatchObject({ kind: 'signaled', signal: 'SIGTERM' });
      const mine = childPids().filter((pid) => !children.has(pid));
      expect(mine.filter((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(marker))).toEqual([]);
      expect(zombieChildren()).toEqual([]);
      expect(openFds()).toEqual(before);
    });
  }

  // run reads straight into an output's buffer when it has 64 KiB of room, else through the
  // thread's scratch buffer and a copy; both grow one buffer from the first read's size.
  for (const [name, call] of [
    ['run', (file: string, args: string[], maxBuffer: number) => run(file, args, { encoding: 'buffer', maxBuffer })],
    ['runSync', (file: string, args: string[], maxBuffer: number) => Promise.resolve().then(() => runSync(file, args, { encoding: 'buffer', maxBuffer }))],
  ] as const) {
    it(`${name}: random bytes of every size around the read size arrive in order, byte for byte, on both outputs`, async () => {
      // Random bytes show any byte misplaced where a read or a buffer's growth switches.
      const before = openFds();
      const dir = fs.mkdtempSync(`${os.tmpdir()}/run-collect-`);
      try {
        for (const size of [1, 4095, 65535, 65536, 65537, 131071, 131073, 3 * MB + 7]) {
          const file = `${dir}/bytes-${size}`;
          const bytes = crypto.randomBytes(size);
          fs.writeFileSync(file, bytes);
          const result = await call('sh', ['-c', 'cat "$1"; cat "$1" >&2', 'sh', file], size);
          expect(result.status).toEqual({ kind: 'exited', code: 0 });
          expect(result.stdout.equals(bytes), `stdout of ${size} bytes`).toBe(true);
          expect(result.stderr.equals(bytes), `stderr of ${size} bytes`).toBe(true);
          if (size > 1) {
            const error = await call('cat', [file], size - 1).catch((caught: unknown) => caught);
            // cat may have written everything and exited before the overflow was read: then
            // nothing was killed (killedBy null), and the call fails all the same.
            expect(error).toMatchObject({ code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', message: 'stdout maxBuffer length exceeded' });
          }
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      expect(openFds()).toEqual(before);
      expect(zombieChildren()).toEqual([]);
    }, 60_000);
  }

  it('empty outputs, and output exactly maxBuffer long, are results', async () => {
    const before = openFds();
    expect(await run('true', [], { encoding: 'buffer' })).toMatchObject({ stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) });
    const exact = await run('head', ['-c', String(MB), '/dev/zero'], { encoding: 'buffer', maxBuffer: MB });
    expect(exact.stdout.length).toBe(MB);
    expect((await run('true', [], { maxBuffer: 0 })).stdout).toBe('');
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('maxBuffer passed on stdout, on stderr or on all: the child is killed and reaped, the call rejects naming the output', async () => {
    const before = openFds();
    for (const [args, options, stream] of [
      [['-c', 'exec yes'], {}, 'stdout'],
      [['-c', 'exec yes >&2'], {}, 'stderr'],
      [['-c', 'exec yes'], { all: true }, 'all'],
    ] as const) {
      const error = (await run('sh', [...args], { ...options, maxBuffer: MB }).catch((caught: unknown) => caught)) as Record<string, unknown>;
      expect(error).toBeInstanceOf(RangeError);
      expect(error).toMatchObject({ code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', message: `${stream} maxBuffer length exceeded`, killedBy: 'maxBuffer' });
      expect(error.status).toMatchObject({ kind: 'signaled', signal: 'SIGTERM' });
    }
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  }, 60_000);

  it('a child that closes its stdout early and lives on: run waits for its exit and its stderr', async () => {
    const before = openFds();
    const result = await run('sh', ['-c', 'echo early; exec >&-; sleep 0.3; echo late >&2; exit 3']);
    expect(result).toMatchObject({ status: { kind: 'exited', code: 3 }, stdout: 'early\n', stderr: 'late\n' });
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('a grandchild that holds the pipe open: run resolves once it has closed it too (end-of-file), with its output', async () => {
    const before = openFds();
    const result = await run('sh', ['-c', '(sleep 0.3; echo grandchild) & echo child']);
    expect(result.status).toEqual({ kind: 'exited', code: 0 });
    expect(result.stdout).toBe('child\ngrandchild\n');
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  // The child is stopped by the library, or exits, while a process it started in the background
  // holds its output pipe: run() ends once the child is reaped, not when the leftover closes it.
  it('stopped by its timeout while a leftover holds the pipe: resolves once reaped, with what was written', async () => {
    const before = openFds();
    const left = leftover('timeout');
    const result = await run('sh', ['-c', `echo written; ${left.script('exec sleep 30')}`], { timeout: 1000 });
    expect(result).toMatchObject({ stdout: 'written\n', timedOut: true, killedBy: 'timeout', status: { kind: 'signaled', signal: 'SIGTERM' } });
    await left.kill();
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('aborted while a leftover holds the pipe: ends once the child is reaped, with what was written', async () => {
    const before = openFds();
    const left = leftover('abort');
    const controller = new AbortController();
    // The pid file is written after the echo: once it is there, the output is in the pipe.
    const running = run('sh', ['-c', `echo written; ${left.script('exec sleep 30')}`], { signal: controller.signal });
    await left.written();
    controller.abort();
    const outcome = await running.catch((error: unknown) => error);
    await left.kill();
    // The child has exec'd, but its spawn's result may not have reached JavaScript yet: then the
    // abort fails the spawn (documented); either way run() ends without waiting for the leftover.
    if (outcome instanceof Error) expect(outcome).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    else expect(outcome).toMatchObject({ stdout: 'written\n', killedBy: 'abort', status: { kind: 'signaled', signal: 'SIGTERM' } });
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('exited on its own while a leftover holds the pipe: the timeout still bounds the run (timedOut, nothing killed)', async () => {
    const before = openFds();
    const left = leftover('exited');
    const result = await run('sh', ['-c', `echo written; ${left.script('')}`], { timeout: 1000 });
    expect(result).toMatchObject({ stdout: 'written\n', status: { kind: 'exited', code: 0 }, timedOut: true, killedBy: null });
    expect(result.durationMs).toBeGreaterThanOrEqual(990);
    await left.kill();
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('exited on its own while a leftover holds the pipe: an abort ends the wait for the output', async () => {
    const before = openFds();
    const left = leftover('exited-abort');
    const controller = new AbortController();
    const shFile = `${left.file}.sh`;
    const running = run('sh', ['-c', left.script(`echo $$ > ${shFile}; echo written`)], { signal: controller.signal });
    // Aborted once the child has exited (and been reaped): only the wait for the output is left.
    await until(() => fs.existsSync(shFile) && fs.readFileSync(shFile, 'utf8').endsWith('\n'));
    const sh = Number(fs.readFileSync(shFile, 'utf8'));
    await until(() => processState(sh) === undefined);
    fs.rmSync(shFile);
    controller.abort();
    expect(await running).toMatchObject({ stdout: 'written\n', status: { kind: 'exited', code: 0 }, timedOut: false, killedBy: null });
    await left.kill();
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('past maxBuffer while a leftover holds the pipe and writes on: rejects once the child is reaped', async () => {
    const before = openFds();
    const left = leftover('maxbuffer');
    // The leftover writes too: the collection ends with what the pipe held when the child was reaped.
    const script = left.script('(while :; do echo more; sleep 0.01; done) & exec yes');
    await expect(run('sh', ['-c', script], { maxBuffer: 100_000 })).rejects.toMatchObject({ code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', killedBy: 'maxBuffer' });
    await left.kill();
    // The writing loop is a leftover too: found by its parent being gone, it dies with EPIPE now
    // that run() has closed the pipe.
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('past maxBuffer only after the child was reaped (a leftover wrote it): rejects at once, nothing killed', async () => {
    const before = openFds();
    const left = leftover('maxbuffer-exited');
    // The writer waits until the shell is gone (reaped), then writes past maxBuffer; the leftover
    // holds the pipe on. Before, run() waited for the leftover although it could only fail.
    const script = left.script('(while kill -0 $$ 2>/dev/null; do sleep 0.01; done; head -c 100000 /dev/zero) &');
    await expect(run('sh', ['-c', script], { maxBuffer: 1000 })).rejects.toMatchObject({
      code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER',
      killedBy: null,
      status: { kind: 'exited', code: 0 },
    });
    await left.kill();
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('input larger than the pipe, echoed back on stdout and stderr', async () => {
    const before = openFds();
    const input = Buffer.alloc(4 * MB, 'input bytes\n');
    const result = await run('sh', ['-c', 'tee /dev/stderr'], { input, encoding: 'buffer' });
    expect(result.stdout.equals(input)).toBe(true);
    expect(result.stderr.equals(input)).toBe(true);
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  }, 60_000);

  it('a spawn that fails closes both output pipes', async () => {
    const before = openFds();
    await expect(run('/no/such/program')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(run('true', [], { cwd: '/no/such/dir' })).rejects.toMatchObject({ code: 'ENOENT' });
    expect(openFds()).toEqual(before);
  });

  it('many runs at once each get their own output', async () => {
    const before = openFds();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => run('sh', ['-c', `echo out${i}; echo err${i} >&2`])));
    results.forEach((result, i) => expect(result).toMatchObject({ stdout: `out${i}\n`, stderr: `err${i}\n` }));
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });
});

describe('run(): a worker that ends while its run collects', () => {
  it('closes the output pipes at the worker teardown (no pipe left open), and the child is reaped once it ends', () => {
    const pidFile = `/tmp/run-collect-worker-${process.pid}`;
    const result = runNode(`
      const fs = require('node:fs');
      const { Worker } = require('node:worker_threads');
      const startOf = (pid) => { try { const s = fs.readFileSync('/proc/' + pid + '/stat', 'latin1'); return s.slice(s.lastIndexOf(')') + 2).split(' ')[19]; } catch { return null; } };
      const pipes = () => fs.readdirSync('/proc/self/fd').filter((fd) => { try { return fs.readlinkSync('/proc/self/fd/' + fd).startsWith('pipe:'); } catch { return false; } }).join(',');
      const pidFile = ${JSON.stringify(pidFile)};
      const before = pipes();
      const worker = new Worker("require('./dist/index.js').run('sh', ['-c', 'echo $$ > ' + require('node:worker_threads').workerData + '; exec sleep 30'])", { eval: true, workerData: pidFile });
      const poll = setInterval(async () => {
        let pid = 0;
        try { pid = Number(fs.readFileSync(pidFile, 'utf8')); } catch {}
        if (!pid) return;
        clearInterval(poll);
        const during = pipes();
        const start = startOf(pid);
        await worker.terminate();
        process.kill(pid, 'SIGKILL');
        // Nobody's to wait for now: the background reaper reaps it (its /proc entry goes).
        const deadline = Date.now() + 10000;
        while (startOf(pid) === start && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
        fs.rmSync(pidFile);
        console.log(JSON.stringify({ opened: during !== before, closed: pipes() === before, reaped: startOf(pid) !== start }));
      }, 20);
    `);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ opened: true, closed: true, reaped: true });
  });
});

describe("runSync's stdin taken from this process", () => {
  // Node sets O_NONBLOCK on a pipe it reads as process.stdin: runSync's child inherited it and
  // cat failed with EAGAIN ("Resource temporarily unavailable") before the data came, where run's
  // and child_process's children clear it. runSync sets it back after the child.
  const script = `
    const { runSync } = require('./dist/index.js');
    process.stdin.pause(); // Node's handle on fd 0: O_NONBLOCK set on the shared pipe
    const nonblocking = (fs = require('fs')) => (parseInt(fs.readFileSync('/proc/self/fdinfo/0', 'latin1').match(/flags:\\s+(\\d+)/)[1], 8) & 0o4000) !== 0;
    const before = nonblocking();
    const result = runSync('cat', [], { stdin: process.argv[1] === 'fd' ? 0 : 'inherit' });
    // Set back once the child is reaped: Node's own reads of fd 0 must not block its loop.
    console.log(JSON.stringify({ before, status: result.status, stdout: result.stdout, stderr: result.stderr, after: nonblocking() }));
    process.exit(0);`;

  for (const stdin of ['inherit', 'fd']) {
    it(`reads a pipe that Node made non-blocking (${stdin})`, () => {
      const [readEnd, writeEnd] = binding.pipe();
      const writer = child_process.spawn('/bin/sh', ['-c', 'sleep 0.3; echo hello'], { stdio: ['ignore', writeEnd, 'ignore'] });
      fs.closeSync(writeEnd);
      try {
        const result = runNode(script, { stdio: [readEnd, 'pipe', 'pipe'], args: [stdin], timeout: 30_000 });
        expect(result.stderr).toBe('');
        expect(JSON.parse(result.stdout)).toEqual({ before: true, status: { kind: 'exited', code: 0 }, stdout: 'hello\n', stderr: '', after: true });
      } finally {
        fs.closeSync(readEnd);
        writer.kill('SIGKILL');
      }
    });
  }
});
