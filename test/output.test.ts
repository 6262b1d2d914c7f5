// Output and pipelines (issue 15): child.finished(), run()'s output options, runSync, fds
// {N: 'pipe'}, child.lines(), unref/ref, with real programs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitError, pipeline, run, runSync, spawn, SyscallError } from '../lib/index';
import { childPids, leftover, openFds, runNode, until, zombieChildren } from './helpers';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'output-test-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const MB = 1024 * 1024;
// Writes `count` alternating lines on stdout and stderr, each write its own system call.
const ALTERNATE = 'for i in $(seq 1 $0); do echo out$i; echo err$i >&2; done';

describe('child.finished()', () => {
  it('resolves after the exit and after every output has ended: no data after it', async () => {
    // The bug of the issue: 'end' listened for after wait() had already missed it.
    const before = openFds();
    const child = await spawn('sh', ['-c', 'head -c 300000 /dev/zero; echo tail >&2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let outBytes = 0;
    let errText = '';
    child.stdout.on('data', (chunk: Buffer) => (outBytes += chunk.length));
    child.stderr.on('data', (chunk: Buffer) => (errText += chunk.toString()));
    const result = await child.finished();
    expect(result.status).toEqual({ kind: 'exited', code: 0 });
    expect(outBytes).toBe(300000);
    expect(errText).toBe('tail\n');
    expect(child.stdout.closed).toBe(true);
    expect(child.stderr.closed).toBe(true);
    expect(await child.finished()).toBe(result); // the same result every call
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('drains an output nobody reads, so a full pipe cannot hold the child', async () => {
    const child = await spawn('head', ['-c', String(4 * MB), '/dev/zero'], { stdio: ['ignore', 'pipe', 'inherit'] });
    expect((await child.finished()).status).toEqual({ kind: 'exited', code: 0 });
  });

  it('waits for a child that closed its stdout early until it exits', async () => {
    // The child goes on until told to (not for a fixed 0.2 s, which a loaded machine can overrun).
    const child = await spawn('sh', ['-c', 'exec >&-; read line; echo late >&2'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const stdoutClosed = new Promise((resolve) => child.stdout.on('close', resolve));
    await stdoutClosed;
    expect(child.exitResult).toBeNull(); // stdout is gone, the child still runs
    child.stdin.end('go\n');
    expect((await child.finished()).status).toEqual({ kind: 'exited', code: 0 });
    expect(err).toBe('late\n');
  });

  it.each(['timeout', 'abort'] as const)('a child stopped by its %s while a leftover holds its outputs: resolves once reaped, with what was written', async (reason) => {
    const before = openFds();
    const left = leftover(`finished-${reason}`);
    const controller = new AbortController();
    const options = reason === 'timeout' ? { timeout: 1000 } : { signal: controller.signal };
    // The background sleep keeps both output pipes open after sh is killed. Its pid file is
    // written after the echoes: once it is there, what the test expects is in the pipes.
    const child = await spawn('sh', ['-c', `echo out; echo err >&2; ${left.script('exec sleep 30')}`], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    await left.written();
    if (reason === 'abort') controller.abort();
    const result = await child.finished();
    expect(result).toMatchObject({ killedBy: reason, status: { kind: 'signaled', signal: 'SIGTERM' } });
    expect({ out, err }).toEqual({ out: 'out\n', err: 'err\n' });
    expect([child.stdout.readableEnded, child.stdout.closed, child.stderr.readableEnded, child.stderr.closed]).toEqual([true, true, true, true]);
    await left.kill();
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('a stopped child whose output is paused: what its pipe held stays readable, then the stream ends', async () => {
    const before = openFds();
    const child = await spawn('sh', ['-c', 'head -c 50000 /dev/zero; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 1000 });
    child.stdout.pause();
    expect((await child.wait()).killedBy).toBe('timeout');
    const finished = child.finished(); // ends the paused output with what its pipe holds
    let bytes = 0;
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) bytes += chunk.length;
    expect(bytes).toBe(50000);
    expect((await finished).killedBy).toBe('timeout');
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('stdout comes in chunks of what the pipe holds: six writes made while JavaScript is busy are one chunk', async () => {
    const marker = path.join(tmp, 'wrote-six');
    const child = await spawn('sh', ['-c', `dd if=/dev/zero bs=10000 count=6 status=none; touch ${marker}; exec sleep 30`], { stdio: ['ignore', 'pipe', 'ignore'] });
    // Nothing is read until this synchronous wait is over (the reader runs on the event loop).
    const deadline = Date.now() + 10_000;
    while (!fs.existsSync(marker) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    const chunks: number[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk.length));
    await until(() => chunks.reduce((sum, length) => sum + length, 0) === 60000);
    expect(chunks).toEqual([60000]);
    child.kill('SIGKILL');
    await child.finished();
  });

  it('chunks read from several outputs at once are Buffers that keep their bytes while megabytes more are read', async () => {
    // The pipes of a thread are read into shared slabs (native/util/read_slab.cc): a chunk kept must
    // never see another output's bytes, nor later bytes of its own.
    const before = openFds();
    const writers = ['A', 'B', 'C'].map((letter) => spawn('sh', ['-c', `yes ${letter} | head -c 3000000; yes ${letter.toLowerCase()} | head -c 1000000 >&2`], { stdio: ['ignore', 'pipe', 'pipe'] }));
    const children = await Promise.all(writers);
    const kept = children.map((child) => ({ out: [] as Buffer[], err: [] as Buffer[], child }));
    for (const entry of kept) {
      entry.child.stdout.on('data', (chunk: Buffer) => entry.out.push(chunk));
      entry.child.stderr.on('data', (chunk: Buffer) => entry.err.push(chunk));
    }
    await Promise.all(children.map((child) => child.finished()));
    for (const [index, entry] of kept.entries()) {
      const letter = 'ABC'[index]!;
      expect(entry.out.every((chunk) => Buffer.isBuffer(chunk))).toBe(true);
      expect(Buffer.concat(entry.out).equals(Buffer.from(`${letter}\n`.repeat(1500000)))).toBe(true);
      expect(Buffer.concat(entry.err).equals(Buffer.from(`${letter.toLowerCase()}\n`.repeat(500000)))).toBe(true);
    }
    expect(openFds()).toEqual(before);
  });

  it('destroying stdout mid-stream closes its fd: the writer dies of SIGPIPE, and ref/unref after it do nothing', async () => {
    const before = openFds();
    const child = await spawn('yes', [], { stdio: ['ignore', 'pipe', 'ignore'] });
    const first = await new Promise<Buffer>((resolve) => child.stdout.once('data', resolve));
    expect(first.toString('latin1', 0, 2)).toBe('y\n');
    const pipe = fs.readlinkSync(`/proc/${child.pid}/fd/1`);
    const ours = (): string[] => fs.readdirSync('/proc/self/fd').map((fd) => { try { return fs.readlinkSync(`/proc/self/fd/${fd}`); } catch { return ''; } });
    expect(ours()).toContain(pipe);
    child.stdout.destroy();
    expect(ours()).not.toContain(pipe); // the read end is closed at once
    expect((await child.finished()).status).toMatchObject({ kind: 'signaled', signal: 'SIGPIPE' });
    expect(openFds()).toEqual(before);
    child.unref();
    child.ref();
    expect(zombieChildren()).toEqual([]);
  });

  it('the status type has exactly two cases, exited and signaled', async () => {
    const child = await spawn('sh', ['-c', 'kill -USR1 $$']);
    const { status } = await child.finished();
    expect(status).toMatchObject({ kind: 'signaled', signal: 'SIGUSR1' });
  });
});

describe('run(): encoding and lines', () => {
  it('returns strings by default (UTF-8), Buffers with encoding "buffer", another encoding when asked', async () => {
    const script = "printf 'caf\\303\\251\\n'; printf 'x\\377' >&2";
    const text = await run('sh', ['-c', script]);
    expect(text.stdout).toBe('café\n');
    expect(text.stderr).toBe('x\uFFFD');
    const bytes = await run('sh', ['-c', script], { encoding: 'buffer' });
    expect(bytes.stdout).toEqual(Buffer.from('café\n'));
    expect(bytes.stderr).toEqual(Buffer.from([0x78, 0xff]));
    expect((await run('sh', ['-c', script], { encoding: 'hex' })).stderr).toBe('78ff');
    expect(text.command).toBe("sh -c 'printf '\\''caf\\303\\251\\n'\\''; printf '\\''x\\377'\\'' >&2'");
    expect(text.durationMs).toBeGreaterThan(0);
  });

  it('lines: arrays of lines, CRLF and a missing final newline handled, empty output is []', async () => {
    const result = await run('sh', ['-c', "printf 'a\\r\\nb\\n\\nc'; printf '' >&2"], { lines: true });
    expect(result.stdout).toEqual(['a', 'b', '', 'c']);
    expect(result.stderr).toEqual([]);
  });

  it("encoding 'buffer': a one-chunk output is its own Buffer, not a view that holds the read slab", async () => {
    const { stdout } = await run('echo', ['hi'], { encoding: 'buffer' });
    expect(stdout.toString()).toBe('hi\n');
    expect(stdout.buffer.byteLength).toBeLessThanOrEqual(Buffer.poolSize); // a 256 KiB slab without the copy
  });

  it('rejects a bad encoding and a non-boolean lines before spawning', async () => {
    await expect(run('true', [], { encoding: 'klingon' as BufferEncoding })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    await expect(run('true', [], { lines: 1 as unknown as boolean })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(zombieChildren()).toEqual([]);
  });

  it('child.lines(): the lines of a running child as they come', async () => {
    const child = await spawn('sh', ['-c', 'echo one; sleep 0.1; printf "two\\nthree"'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const seen: string[] = [];
    for await (const line of child.lines()) seen.push(line);
    expect(seen).toEqual(['one', 'two', 'three']);
    await child.finished();
    const quiet = await spawn('true');
    expect(() => quiet.lines()).toThrow(expect.objectContaining({ code: 'ERR_NOT_PIPED' }));
    await quiet.wait();
  });

  it('child.lines(): leaving the loop at a ready line leaves the child running and the rest of its output for the next reader', async () => {
    const before = openFds();
    // The child writes on after its ready line: a destroyed stdout would kill it with SIGPIPE.
    const script = 'echo starting; echo ready; echo one; sleep 0.3; for i in $(seq 2 2000); do echo line$i; done';
    const child = await spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    for await (const line of child.lines()) if (line === 'ready') break;
    expect(child.stdout.destroyed).toBe(false);
    const rest: string[] = [];
    for await (const line of child.lines()) rest.push(line);
    expect(rest).toEqual(['one', ...Array.from({ length: 1999 }, (_, i) => `line${i + 2}`)]);
    expect((await child.finished()).status).toEqual({ kind: 'exited', code: 0 });
    // Left early and never read again: finished() reads the rest, and the child ends normally.
    const again = await spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    for await (const line of again.lines()) if (line === 'ready') break;
    expect((await again.finished()).status).toEqual({ kind: 'exited', code: 0 });
    expect(openFds()).toEqual(before);
  });

  it('child.lines() joins a line whose bytes and characters arrive in several writes, and decodes other encodings', async () => {
    // 'é' is c3 a9 in UTF-8: its two bytes come in two writes, as does a line's '\r\n'.
    const split = await spawn('sh', ['-c', "printf 'caf\\303'; sleep 0.1; printf '\\251 au lait\\r'; sleep 0.1; printf '\\nend'"], { stdio: ['ignore', 'pipe', 'inherit'] });
    const seen: string[] = [];
    for await (const line of split.lines()) seen.push(line);
    expect(seen).toEqual(['café au lait', 'end']);
    await split.finished();
    const wide = await spawn('printf', ['a\\000\\n\\000b\\000'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const wideLines: string[] = [];
    for await (const line of wide.lines('stdout', 'utf16le')) wideLines.push(line);
    expect(wideLines).toEqual(['a', 'b']);
    await wide.finished();
    // Many chunks: 100 000 short lines (some ending in \r\n), then one line of 2 MiB, in UTF-16
    // (each line was appended to the pending text and all of it searched again: quadratic).
    const make = "const lines = Array.from({ length: 100000 }, (_, i) => 'line' + i + (i % 3 ? '' : '\\r')); process.stdout.write(Buffer.from(lines.join('\\n') + '\\n' + 'x'.repeat(2 ** 21), 'utf16le'))";
    const many = await spawn(process.execPath, ['-e', make], { stdio: ['ignore', 'pipe', 'inherit'] });
    const manyLines: string[] = [];
    for await (const line of many.lines('stdout', 'utf16le')) manyLines.push(line);
    expect(manyLines.length).toBe(100001);
    expect(manyLines.slice(0, 100000)).toEqual(Array.from({ length: 100000 }, (_, i) => `line${i}`));
    expect(manyLines[100000]).toBe('x'.repeat(2 ** 21));
    expect((await many.finished()).status).toEqual({ kind: 'exited', code: 0 });
  });

  it('child.lines() refuses an output other than stdout or stderr (it read stdout), and an unknown encoding', async () => {
    const child = await spawn('echo', ['out'], { stdio: ['ignore', 'pipe', 'pipe'] });
    expect(() => child.lines('stdrr' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('from') as string }));
    expect(() => child.lines('stdout', 'bogus' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('encoding') as string }));
    await child.finished();
  });
});

describe('run(): all', () => {
  it('interleaves stdout and stderr in the order the child wrote them, through one pipe', async () => {
    const result = await run('sh', ['-c', ALTERNATE, '200'], { all: true, lines: true });
    const expected = Array.from({ length: 200 }, (_, i) => [`out${i + 1}`, `err${i + 1}`]).flat();
    expect(result.all).toEqual(expected);
    expect(result.stdout).toEqual([]);
    expect(result.stderr).toEqual([]);
    expect(zombieChildren()).toEqual([]);
  });

  it('closes its pipe when the spawn fails', async () => {
    const before = openFds();
    await expect(run('/no/such/program', [], { all: true })).rejects.toMatchObject({ code: 'ENOENT', step: 'exec' });
    expect(openFds()).toEqual(before);
  });
});

describe('run(): input', () => {
  it('from a string, a Buffer, a stream and a file', async () => {
    expect((await run('cat', [], { input: 'from a string' })).stdout).toBe('from a string');
    expect((await run('cat', [], { input: Buffer.from([0x00, 0xff]), encoding: 'buffer' })).stdout).toEqual(Buffer.from([0x00, 0xff]));
    expect((await run('cat', [], { input: Readable.from(['from ', 'a ', 'stream']) })).stdout).toBe('from a stream');
    const file = path.join(tmp, 'input.txt');
    fs.writeFileSync(file, 'from a file');
    expect((await run('cat', [], { stdin: { path: file } })).stdout).toBe('from a file');
  });

  it('input larger than the pipe buffer, while the child writes as much back', async () => {
    const input = Buffer.alloc(8 * MB, 'abcdefgh');
    const result = await run('cat', [], { input, encoding: 'buffer' });
    expect(result.stdout.equals(input)).toBe(true);
  });

  it('a child that does not read its input: no EPIPE error, the status is returned', async () => {
    const result = await run('true', [], { input: Buffer.alloc(4 * MB) });
    expect(result.status).toEqual({ kind: 'exited', code: 0 });
    // A stream the child left unread is let go (unpiped, paused), as Readable.pipe does.
    const stream = new Readable({ read() {} });
    stream.push('unread');
    expect((await run('true', [], { input: stream })).status).toEqual({ kind: 'exited', code: 0 });
    await until(() => stream.listenerCount('data') === 0);
    expect(stream.readableFlowing).toBe(false);
  });

  it('an input stream that fails (an error, or a close before its end): the child is stopped and reaped, the call rejects with it', async () => {
    const before = openFds();
    // `cat` waits for the rest of its input until its stdin ends: before, it waited for ever.
    const failing = new Readable({ read() {} });
    const running = run('cat', [], { input: failing });
    failing.push('partial ');
    setImmediate(() => failing.destroy(new Error('input failed')));
    await expect(running).rejects.toThrow('input failed');
    const closed = new Readable({ read() {} });
    const closing = run('cat', [], { input: closed });
    setImmediate(() => closed.destroy());
    await expect(closing).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
    // One that had failed before the call.
    const failed = new Readable({ read() {} });
    failed.on('error', () => {});
    failed.destroy(new Error('failed already'));
    await expect(run('cat', [], { input: failed })).rejects.toThrow('failed already');
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('an object-mode input stream with a chunk that is not bytes: the call rejects with a TypeError (it was thrown as uncaught)', async () => {
    const before = openFds();
    // Strings and bytes from an object-mode stream are fine; a number cannot go to a pipe.
    expect((await run('cat', [], { input: Readable.from(['a', Buffer.from('b')]) })).stdout).toBe('ab');
    await expect(run('cat', [], { input: Readable.from(['a', 1]) })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('refuses input together with stdin, and a non-bytes input', async () => {
    await expect(run('cat', [], { input: 'x', stdin: 'inherit' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(run('cat', [], { input: 42 as unknown as string })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('refuses stdio and pty (run wires fds 0 to 2 itself) instead of dropping them, before spawning', async () => {
    const before = openFds();
    const children = childPids();
    await expect(run('true', [], { stdio: 'pipe' } as never)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'options.stdio' is set by run itself") as string });
    await expect(run('true', [], { pty: true } as never)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("'options.pty' is not supported by run") as string });
    expect(() => runSync('true', [], { stdio: 'inherit' } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect((await run('true', [], { pty: false } as never)).status).toEqual({ kind: 'exited', code: 0 });
    expect(childPids().filter((pid) => !children.includes(pid))).toEqual([]);
    expect(openFds()).toEqual(before);
  });
});

describe('run(): large outputs', () => {
  it('100 MB on stdout and on stderr at once: no deadlock, every byte', async () => {
    const size = 100_000_000;
    const result = await run('sh', ['-c', `head -c ${size} /dev/zero & head -c ${size} /dev/zero >&2; wait`], { encoding: 'buffer', maxBuffer: 2 * size });
    expect(result.status).toEqual({ kind: 'exited', code: 0 });
    expect(result.stdout.length).toBe(size);
    expect(result.stderr.length).toBe(size);
  }, 60_000);

  it('maxBuffer: the child is killed and the call rejects', async () => {
    await expect(run('yes', [], { maxBuffer: MB })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER' });
    expect(zombieChildren()).toEqual([]);
  });
});

describe('run(): check and ExitError', () => {
  it('rejects a non-zero exit with the command, the status, the end of stderr and stdout, and the duration', async () => {
    const error = await run('sh', ['-c', 'for i in $(seq 1 30); do echo line$i; done; echo "it broke" >&2; exit 7'], { check: true }).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ExitError);
    const exit = error as ExitError;
    expect(exit.code).toBe('ERR_CHILD_EXIT');
    expect(exit.exitCode).toBe(7);
    expect(exit.signal).toBeNull();
    expect(exit.status).toEqual({ kind: 'exited', code: 7 });
    expect(exit.command).toBe("sh -c 'for i in $(seq 1 30); do echo line$i; done; echo \"it broke\" >&2; exit 7'");
    expect(exit.stderr).toBe('it broke\n');
    expect(exit.stdout).toMatch(/^line1\n[\s\S]*line30\n$/);
    expect(exit.durationMs).toBeGreaterThan(0);
    const lines = exit.message.split('\n');
    expect(lines[0]).toMatch(/^Command failed with exit code 7 after \d+ ms: sh -c 'for i in/);
    expect(lines.slice(1, 3)).toEqual(['stderr (end):', 'it broke']);
    // Only the last 20 lines of stdout.
    expect(lines.slice(3)).toEqual(['stdout (end):', ...Array.from({ length: 20 }, (_, i) => `line${i + 11}`)]);
  });

  it('rejects a signal; resolves exit code 0; without check a failure is a result', async () => {
    await expect(run('sh', ['-c', 'kill -TERM $$'], { check: true })).rejects.toMatchObject({
      name: 'ExitError',
      signal: 'SIGTERM',
      exitCode: null,
      message: expect.stringMatching(/^Command failed with signal SIGTERM after \d+ ms: sh -c 'kill -TERM \$\$'$/) as string,
    });
    expect((await run('true', [], { check: true })).status).toEqual({ kind: 'exited', code: 0 });
    expect((await run('false')).status).toEqual({ kind: 'exited', code: 1 });
  });

  it('timeout: 0 is no timeout; a timeout kills the child with killSignal', async () => {
    expect((await run('sh', ['-c', 'sleep 0.2; echo done'], { timeout: 0 })).stdout).toBe('done\n');
    const killed = await run('sleep', ['30'], { timeout: 1000, killSignal: 'SIGINT' });
    expect(killed.status).toMatchObject({ kind: 'signaled', signal: 'SIGINT' });
  });
});

describe('runSync()', () => {
  it('returns what run returns: status, rusage, string outputs, command, duration', () => {
    const before = openFds();
    const result = runSync('sh', ['-c', 'cat; echo to-stderr >&2; exit 4'], { input: 'to-stdout\n' });
    expect(result.status).toEqual({ kind: 'exited', code: 4 });
    expect(result.stdout).toBe('to-stdout\n');
    expect(result.stderr).toBe('to-stderr\n');
    expect(result.rusage.userTime).toBeGreaterThanOrEqual(0);
    expect(result.command).toBe("sh -c 'cat; echo to-stderr >&2; exit 4'");
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('100 MB on stdout and stderr at once, and input larger than a pipe: no deadlock', () => {
    const size = 100_000_000;
    const both = runSync('sh', ['-c', `head -c ${size} /dev/zero & head -c ${size} /dev/zero >&2; wait`], { encoding: 'buffer', maxBuffer: 2 * size });
    expect([both.stdout.length, both.stderr.length]).toEqual([size, size]);
    const input = Buffer.alloc(8 * MB, 'xyz');
    expect(runSync('cat', [], { input, encoding: 'buffer' }).stdout.equals(input)).toBe(true);
  }, 60_000);

  it('all, lines, cwd, env, argv0, stdin from a file', () => {
    expect(runSync('sh', ['-c', ALTERNATE, '50'], { all: true, lines: true }).all).toEqual(Array.from({ length: 50 }, (_, i) => [`out${i + 1}`, `err${i + 1}`]).flat());
    expect(runSync('pwd', [], { cwd: tmp }).stdout).toBe(`${tmp}\n`);
    expect(runSync('/usr/bin/env', [], { env: { ONLY: 'this' } }).stdout).toBe('ONLY=this\n');
    expect(runSync('sh', ['-c', 'echo $0'], { argv0: 'renamed' }).stdout).toBe('renamed\n');
    const file = path.join(tmp, 'sync-input.txt');
    fs.writeFileSync(file, 'file input');
    expect(runSync('cat', [], { stdin: { path: file } }).stdout).toBe('file input');
    expect(runSync('readlink', ['/proc/self/fd/0']).stdout).toBe('/dev/null\n');
  });

  it('check, timeout and maxBuffer', () => {
    expect(() => runSync('sh', ['-c', 'echo bad >&2; exit 3'], { check: true })).toThrow(
      expect.objectContaining({ name: 'ExitError', exitCode: 3, stderr: 'bad\n', message: expect.stringMatching(/^Command failed with exit code 3 after \d+ ms: sh -c/) as string }),
    );
    expect(runSync('sleep', ['30'], { timeout: 1000 })).toMatchObject({ status: { kind: 'signaled', signal: 'SIGTERM' }, timedOut: true, killedBy: 'timeout', forced: false });
    expect(() => runSync('yes', [], { maxBuffer: MB })).toThrow(expect.objectContaining({ code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', killedBy: 'maxBuffer', status: { kind: 'signaled', signal: 'SIGTERM', signo: 15, coreDumped: false } }));
    expect(runSync('true')).toMatchObject({ timedOut: false, killedBy: null, forced: false });
    expect(zombieChildren()).toEqual([]);
  });

  it('maxBuffer: Infinity keeps everything (as child_process takes it); anything but an integer from 0 is refused before a spawn', async () => {
    const before = openFds();
    const big = 3 * MB;
    expect((await run('head', ['-c', String(big), '/dev/zero'], { maxBuffer: Infinity, encoding: 'buffer' })).stdout.length).toBe(big);
    expect(runSync('head', ['-c', String(big), '/dev/zero'], { maxBuffer: Infinity, encoding: 'buffer' }).stdout.length).toBe(big);
    expect((await pipeline([['head', ['-c', String(big), '/dev/zero']], ['cat']], { maxBuffer: Infinity, encoding: 'buffer' })).stdout.length).toBe(big);
    const marker = path.join(tmp, 'max-buffer-refused');
    for (const [maxBuffer, code] of [[-1, 'ERR_OUT_OF_RANGE'], [1.5, 'ERR_OUT_OF_RANGE'], [-Infinity, 'ERR_OUT_OF_RANGE'], [NaN, 'ERR_OUT_OF_RANGE'], ['1', 'ERR_INVALID_ARG_TYPE']] as const) {
      const options = { maxBuffer: maxBuffer as number };
      await expect(run('touch', [marker], options)).rejects.toMatchObject({ code, message: expect.stringContaining('options.maxBuffer') as string });
      expect(() => runSync('touch', [marker], options)).toThrow(expect.objectContaining({ code }));
      await expect(pipeline([['touch', [marker]]], options)).rejects.toMatchObject({ code });
    }
    expect(fs.existsSync(marker)).toBe(false);
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  }, 60_000);

  it('a timed-out child that ignores killSignal gets SIGKILL after forceKillAfter (it cannot block runSync)', () => {
    const before = openFds();
    const result = runSync('sh', ['-c', "trap '' TERM; echo ready; while :; do sleep 0.05; done"], { timeout: 1000, forceKillAfter: 200 });
    expect(result).toMatchObject({ stdout: 'ready\n', status: { kind: 'signaled', signal: 'SIGKILL' }, timedOut: true, killedBy: 'timeout', forced: true });
    expect(result.durationMs).toBeGreaterThanOrEqual(1190);
    expect(() => runSync('true', [], { forceKillAfter: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('a child that exited while a leftover holds its outputs: the timeout bounds runSync, nothing is killed', async () => {
    const before = openFds();
    const left = leftover('sync-exited');
    const result = runSync('sh', ['-c', `echo written; ${left.script('')}`], { timeout: 1000 });
    expect(result).toMatchObject({ stdout: 'written\n', status: { kind: 'exited', code: 0 }, timedOut: true, killedBy: null, forced: false });
    await left.kill();
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('errors: an exec failure is a SyscallError, options posix_spawn cannot apply are refused; nothing leaks', () => {
    const before = openFds();
    const error = (() => {
      try {
        runSync('/no/such/program');
      } catch (thrown) {
        return thrown;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(SyscallError);
    expect(error).toMatchObject({ code: 'ENOENT' });
    expect(() => runSync('true', [], { uid: 0 } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('options.uid') as string }));
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('refuses a bad stdin by its name before anything starts (it inherited fd 0 for an unknown word, and threw an uncoded TypeError for null)', () => {
    const before = openFds();
    const cases: [unknown, string, string][] = [
      ['bogus', 'ERR_INVALID_ARG_VALUE', 'options.stdin'],
      [null, 'ERR_INVALID_ARG_VALUE', 'options.stdin'],
      [-1, 'ERR_OUT_OF_RANGE', 'options.stdin'],
      [1.5, 'ERR_OUT_OF_RANGE', 'options.stdin'],
      [{ path: 5 }, 'ERR_INVALID_ARG_TYPE', 'options.stdin.path'],
      [{ path: '/dev/null', flags: 'bogus' }, 'ERR_INVALID_ARG_VALUE', 'options.stdin.flags'],
      [{ path: '/dev/null', mode: -1 }, 'ERR_OUT_OF_RANGE', 'options.stdin.mode'],
    ];
    for (const [stdin, code, name] of cases) {
      expect(() => runSync('true', [], { stdin } as never)).toThrow(expect.objectContaining({ code, message: expect.stringContaining(name) as string }));
    }
    expect(runSync('readlink', ['/proc/self/fd/0'], { stdin: 'ignore' }).stdout).toBe('/dev/null\n');
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });
});

describe("fds: { N: 'pipe' } and child.stdio", () => {
  it('gives a Duplex for the child\'s fd 3, both ways, as child.stdio[3]', async () => {
    const before = openFds();
    const child = await spawn('sh', ['-c', 'read word <&3; echo "got $word" >&3'], { stdio: ['ignore', 'pipe', 'inherit'], fds: { 3: 'pipe' } });
    expect(child.stdio).toHaveLength(4);
    expect(child.stdio[1]).toBe(child.stdout);
    expect(child.stdio[0]).toBeNull();
    const fd3 = child.stdio[3];
    let reply = '';
    fd3.on('data', (chunk: Buffer) => (reply += chunk.toString()));
    (fd3 as NodeJS.WritableStream).write('hello\n');
    await child.finished();
    expect(reply).toBe('got hello\n');
    expect(openFds()).toEqual(before);
  });

  it('a spawn that fails closes both ends of the socket pair', async () => {
    const before = openFds();
    await expect(spawn('/no/such/program', [], { fds: { 3: 'pipe', 4: 'pipe' } })).rejects.toMatchObject({ code: 'ENOENT' });
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('fd 5 alone: stdio has nulls up to it; the child sees a socket there', async () => {
    const child = await spawn('sh', ['-c', 'readlink /proc/self/fd/5 >&5'], { fds: { 5: 'pipe' } });
    expect(child.stdio.slice(0, 5)).toEqual([null, null, null, null, null]);
    let text = '';
    child.stdio[5].on('data', (chunk: Buffer) => (text += chunk.toString()));
    await child.finished();
    expect(text).toMatch(/^socket:\[\d+\]\n$/);
  });

  it('an fd 3 that nobody reads lets go of its socket when the child ends, and keeps what it read for a late reader', async () => {
    // A net.Socket there held its fd until its data was consumed: one fd per spawn, for ever.
    const before = openFds();
    const children = [];
    for (let i = 0; i < 5; i++) children.push(await spawn('sh', ['-c', `echo late$0 >&3`, String(i)], { fds: { 3: 'pipe' } }));
    for (const child of children) await child.wait();
    await until(() => openFds().length === before.length, 10_000);
    expect(openFds()).toEqual(before);
    const texts = await Promise.all(children.map(async (child) => (await child.stdio[3].toArray()).join('')));
    expect(texts).toEqual(['late0\n', 'late1\n', 'late2\n', 'late3\n', 'late4\n']);
    expect(zombieChildren()).toEqual([]);
  });

  it('a child that ends its side of fd 3 but goes on reading gets every write made before', async () => {
    const before = openFds();
    // shutdown(SHUT_WR) on fd 3, a pause (our end-of-file comes while a write waits), then count what arrives until our end.
    const script = 'open(S, "+<&=3") or die; shutdown(S, 1) or die; select(undef, undef, undef, 0.2); $n = 0; while ($r = sysread(S, $b, 65536)) { $n += $r } print $n';
    const child = await spawn('perl', ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'], fds: { 3: 'pipe' } });
    const fd3 = child.stdio[3];
    const results: unknown[] = [];
    // Larger than the socket's buffers: the first write is under way, the others queued, at the child's end.
    for (let i = 0; i < 4; i++) fd3.write(Buffer.alloc(MB), (error) => results.push(error ?? 'ok'));
    const [counted, { status }] = await Promise.all([child.stdout.toArray(), child.finished()]);
    expect({ results, counted: String(Buffer.concat(counted)) }).toEqual({ results: ['ok', 'ok', 'ok', 'ok'], counted: String(4 * MB) });
    expect(status).toEqual({ kind: 'exited', code: 0 });
    expect(openFds()).toEqual(before);
  });

  it('end() half-closes: the child reads end-of-file and its answer still arrives', async () => {
    const before = openFds();
    const child = await spawn('sh', ['-c', 'tr a-z A-Z <&3 >&3'], { fds: { 3: 'pipe' } });
    const fd3 = child.stdio[3];
    const answer = fd3.toArray();
    // Larger than the socket's buffers both ways: written while the answer is read.
    const input = Buffer.alloc(3 * 1024 * 1024, 'abc\n');
    fd3.end(input);
    const bytes = Buffer.concat((await answer) as Buffer[]);
    expect(bytes.equals(Buffer.alloc(input.length, 'ABC\n'))).toBe(true);
    expect((await child.finished()).status).toEqual({ kind: 'exited', code: 0 });
    expect(fd3.closed).toBe(true);
    expect(openFds()).toEqual(before);
  });

  it('what the child wrote arrives though it ended without reading ours (ECONNRESET is its end, not an error)', async () => {
    const before = openFds();
    const child = await spawn('sh', ['-c', 'read word <&3; echo "first $word" >&3; exit 3'], { fds: { 3: 'pipe' } });
    const fd3 = child.stdio[3];
    const errors: unknown[] = [];
    fd3.on('error', (error) => errors.push(error));
    fd3.write('one\ntwo\nthree\n'); // `read` takes one line of it; the rest is left unread
    expect((await child.wait()).status).toEqual({ kind: 'exited', code: 3 });
    await until(() => openFds().length === before.length, 10_000); // the end is read: the fd is closed
    expect(String(fd3.read())).toBe('first one\n');
    // Writing to the ended child fails with EPIPE, to the write's callback, and ends nothing else.
    const written = await new Promise<unknown>((resolve) => fd3.write('late', resolve));
    expect(written).toMatchObject({ code: 'EPIPE', syscall: 'write' });
    expect(errors).toEqual([written]);
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('unref() on an fd 3 stream lets Node exit while the child holds it open', () => {
    const result = runNode(`
      const { spawn } = require('./dist/index.js');
      spawn('sleep', ['30'], { fds: { 3: 'pipe' }, pdeathsig: 'SIGKILL' }).then((child) => {
        child.unref();
        console.log('unrefed', child.pid, typeof child.stdio[3].unref);
      });
    `, { timeout: 20_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/unrefed \d+ function/);
    const sleeper = Number(/unrefed (\d+)/.exec(result.stdout)![1]);
    return until(() => !fs.existsSync(`/proc/${sleeper}`) || fs.readFileSync(`/proc/${sleeper}/stat`, 'utf8').includes(') Z'), 10_000);
  });
});

describe('child.unref() and ref()', () => {
  it('unref lets Node exit while the child runs; ref keeps it waiting', () => {
    const result = runNode(`
      const { spawn } = require('./dist/index.js');
      (async () => {
        const sleeper = await spawn('sleep', ['30'], { stdio: ['ignore', 'pipe', 'inherit'], pdeathsig: 'SIGKILL' });
        sleeper.unref();
        const waited = await spawn('sh', ['-c', 'sleep 0.3'], { stdio: ['ignore', 'pipe', 'inherit'] });
        waited.unref();
        waited.ref();
        waited.wait().then(() => console.log('waited for the ref()ed child; sleeper', sleeper.pid));
      })();
    `, { timeout: 20_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const sleeper = Number(/sleeper (\d+)/.exec(result.stdout)![1]);
    // pdeathsig killed the sleeper when that Node exited: it is not left running.
    return until(() => !fs.existsSync(`/proc/${sleeper}`) || fs.readFileSync(`/proc/${sleeper}/stat`, 'utf8').includes(') Z'), 10_000);
  });
});
