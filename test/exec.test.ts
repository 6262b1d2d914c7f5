import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execve, execvp } from '../lib/index';
import { exitOf, repoRoot, runNode } from './helpers';

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'exec-test-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A file in the scratch directory with the given content and mode. */
function scratchFile(name: string, content: string, mode: number): string {
  const file = path.join(scratch, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
  return file;
}

// Helpers for child scripts: the open-file flags of fds 0..2 and the signal state, from /proc.
const stateProbe = `
  const fs = require('node:fs');
  const flags = (fd) => parseInt(/flags:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8'))[1], 8);
  const signalState = () => fs.readFileSync('/proc/self/status', 'utf8').split('\\n').filter((l) => /^Sig(Ign|Cgt|Blk)/.test(l)).join(' ');
  const state = () => JSON.stringify({ fds: [0, 1, 2].map(flags), signals: signalState() });
`;

describe('execve', () => {
  it('replaces the process: same pid, output on the original stdout, no exit event', () => {
    const result = runNode(`
      ${stateProbe}
      const { execve } = require('./dist/index.js');
      process.on('exit', () => console.log('exit event'));
      process.stdout;
      console.log(process.pid, flags(1) & ${O_NONBLOCK}, flags(1) & ${O_CLOEXEC});
      execve('/bin/sh', ['sh', '-c', 'echo ok; echo $$; grep flags /proc/self/fdinfo/1']);
    `);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const [before, ok, pidAfter, flagsLine] = result.stdout.trim().split('\n');
    // Node really had made its stdout pipe non-blocking and close-on-exec, so the test means something.
    expect(before).toBe(`${result.pid} ${O_NONBLOCK} ${O_CLOEXEC}`);
    expect(ok).toBe('ok');
    expect(Number(pidAfter)).toBe(result.pid);
    expect(Number.parseInt(/flags:\s+(\d+)/.exec(flagsLine!)![1]!, 8) & O_NONBLOCK).toBe(0);
  });

  it('resets SIGPIPE: an exec\'d program dies of it when its reader goes away', () => {
    // Node ignores SIGPIPE. Without the reset, `yes` would get EPIPE, complain and exit 1.
    const script = "require('./dist/index.js').execve('/usr/bin/yes', ['yes'])";
    const result = child_process.spawnSync(
      'bash',
      ['-c', `"${process.execPath}" -e "$SCRIPT" | head -n 1; echo "status=\${PIPESTATUS[0]}"`],
      { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, SCRIPT: script }, timeout: 20_000 },
    );
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('y\nstatus=141\n');
  });

  it('resets every handled or ignored signal and empties the mask for the new program', () => {
    const result = runNode(`
      process.on('SIGUSR2', () => {});
      process.on('SIGINT', () => {});
      require('./dist/index.js').execve('/bin/cat', ['cat', '/proc/self/status']);
    `);
    expect(result.stdout.split('\n').filter((line) => /^Sig(Blk|Ign|Cgt)/.test(line)).join('\n') + '\n').toBe('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\n');
  });

  it('resets ignored real-time signals too (34..64), for execve and execvp', () => {
    // SIGRTMIN+1 is 35 and SIGRTMAX 64: bits 34 and 63 of SigIgn. Ignored signals survive exec.
    for (const exec of ['execve', 'execvp']) {
      const result = runNode(`
        const posix = require('./dist/index.js');
        posix.ignoreSignal('SIGRTMIN+1');
        posix.ignoreSignal('SIGRTMAX');
        const ignored = BigInt('0x' + /SigIgn:\\s+(\\w+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]);
        console.log(((ignored >> 34n) & 1n) + ' ' + ((ignored >> 63n) & 1n));
        posix.${exec}('${exec === 'execve' ? '/bin/sh' : 'sh'}', ['sh', '-c', 'grep SigIgn /proc/self/status']);
      `);
      expect(result.stderr).toBe('');
      const [before, after] = result.stdout.trim().split('\n');
      expect(before).toBe('1 1');
      expect(after).toBe('SigIgn:\t0000000000000000');
    }
  });

  it('puts ignored real-time signals back when exec fails', () => {
    const result = runNode(`
      const posix = require('./dist/index.js');
      posix.ignoreSignal('SIGRTMIN+1');
      const sigIgn = () => /SigIgn:\\s+(\\w+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1];
      const before = sigIgn();
      try { posix.execve('/nonexistent', ['x']); } catch (e) { console.log(e.code); }
      console.log(before === sigIgn(), String((BigInt('0x' + before) >> 34n) & 1n));
    `);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('ENOENT\ntrue 1\n');
  });

  it('lets cat read a stdin pipe that Node had made non-blocking', async () => {
    const child = child_process.spawn(
      process.execPath,
      ['-e', "process.stdin; require('./dist/index.js').execve('/bin/cat', ['cat'])"],
      { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // Write only once cat runs, so that it finds the pipe empty and must block in read(). Node
    // starts first: seconds under qemu-user with both cores busy.
    for (const end = Date.now() + 20_000; Date.now() < end; ) {
      if (fs.readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim() === 'cat') break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(fs.readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim()).toBe('cat');
    await new Promise((resolve) => setTimeout(resolve, 100));
    child.stdin.end('hello cat\n');
    expect(await exitOf(child)).toEqual({ code: 0, signal: null });
    expect(stderr).toBe('');
    expect(stdout).toBe('hello cat\n');
  });

  it('passes argv and env byte for byte, including non-UTF-8 Buffers', () => {
    const probe =
      "import sys; out = sys.stdout.buffer; out.write(open('/proc/self/cmdline', 'rb').read()); out.write(b'|'); out.write(open('/proc/self/environ', 'rb').read())";
    const script = `
      const { execve } = require('./dist/index.js');
      execve(Buffer.from('/usr/bin/python3'), ['python3', '-c', ${JSON.stringify(probe)}, Buffer.from([0xff, 0xfe, 0x80]), 'é ü', ''],
        [Buffer.from([0x41, 0x3d, 0xc3, 0x28]), 'B=ü', 'C=']);
    `;
    const result = child_process.spawnSync(process.execPath, ['-e', script], { cwd: repoRoot, timeout: 20_000 });
    expect(result.stderr.toString()).toBe('');
    const expected = Buffer.concat([
      Buffer.from(`python3\0-c\0${probe}\0`),
      Buffer.from([0xff, 0xfe, 0x80, 0]),
      Buffer.from('é ü\0\0|A='),
      Buffer.from([0xc3, 0x28, 0]),
      Buffer.from('B=ü\0C=\0'),
    ]);
    expect(result.stdout.toString('hex')).toBe(expected.toString('hex'));
  });

  it('takes an object for env, and by default passes this process\'s environment with process.env changes', () => {
    const result = runNode(`
      process.env.POSIX_PROCESS_ADDED = 'yes';
      delete process.env.POSIX_PROCESS_REMOVED;
      const { execve } = require('./dist/index.js');
      if (process.argv[1] === 'object') execve('/usr/bin/env', ['env'], { ONE: '1', SKIPPED: undefined, TWO: Buffer.from('2') });
      execve('/usr/bin/env', ['env']);
    `, { args: ['default'], env: { ...process.env, POSIX_PROCESS_REMOVED: 'x' } });
    expect(result.stdout).toContain('POSIX_PROCESS_ADDED=yes\n');
    expect(result.stdout).not.toContain('POSIX_PROCESS_REMOVED');
    const object = runNode(`
      const { execve } = require('./dist/index.js');
      execve('/usr/bin/env', ['env'], { ONE: '1', SKIPPED: undefined, TWO: Buffer.from('2') });
    `);
    expect(object.stdout).toBe('ONE=1\nTWO=2\n');
  });

  it('when exec fails, throws and the process carries on with flags, signals and mask as they were', () => {
    const noExecBit = scratchFile('not-executable', '#!/bin/sh\necho no\n', 0o644);
    const notABinary = scratchFile('not-a-binary', 'this is neither ELF nor #!\n', 0o755);
    const result = runNode(`
      ${stateProbe}
      const { execve } = require('./dist/index.js');
      let handled = 0;
      process.on('SIGUSR2', () => handled++);
      process.stdin;
      console.log('start');
      const before = state();
      const attempts = [
        [${JSON.stringify(path.join(scratch, 'missing'))}, ['x']],
        [${JSON.stringify(noExecBit)}, ['x']],
        [${JSON.stringify(notABinary)}, ['x']],
        ['/bin/true', ['true', 'x'.repeat(200000)]],
        ['/etc', ['etc']],
      ];
      const errors = [];
      for (const [file, argv] of attempts) {
        try { execve(file, argv); } catch (e) { errors.push([e.name, e.code, e.syscall, e.path === file]); }
        if (state() !== before) throw new Error('state changed: ' + before + ' -> ' + state());
      }
      console.log(JSON.stringify(errors));
      console.log((parseInt(/SigIgn:\\s+(\\w+)/.exec(JSON.parse(before).signals)[1], 16) & 0x1001000) === 0x1001000);
      process.kill(process.pid, 'SIGUSR2');
      // Handled on a later turn of the loop: looked at until then (or 10 s), not after a fixed time.
      const end = Date.now() + 10000;
      const report = () => (handled > 0 || Date.now() > end ? console.log('handled', handled) : setTimeout(report, 10));
      setTimeout(report, 10);
    `);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toBe('start');
    expect(JSON.parse(lines[1]!)).toEqual([
      ['SyscallError', 'ENOENT', 'execve', true],
      ['SyscallError', 'EACCES', 'execve', true],
      ['SyscallError', 'ENOEXEC', 'execve', true],
      ['SyscallError', 'E2BIG', 'execve', true],
      ['SyscallError', 'EACCES', 'execve', true],
    ]);
    expect(lines[2]).toBe('true'); // SIGPIPE and SIGXFSZ are still ignored
    expect(lines[3]).toBe('handled 1');
  });

  it('after a failed exec, libuv still sees its children exit (no SIGCHLD lost)', () => {
    const result = runNode(`
      const { execve } = require('./dist/index.js');
      const child = require('node:child_process').spawn('/bin/true');
      child.on('exit', (code) => console.log('child exit', code));
      const until = Date.now() + 300;
      // Fail exec in a loop while the child exits, so SIGCHLD is likely to land inside the window.
      while (Date.now() < until) { try { execve('/nonexistent', ['x']); } catch {} }
    `);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('child exit 0\n');
  });

  it('rejects bad arguments with TypeError before anything happens', () => {
    const missing = path.join(scratch, 'missing');
    const bad: [() => never, string][] = [
      [() => execve(`${missing}\0x`, ['x']), 'ERR_INVALID_ARG_VALUE'],
      [() => execve(Buffer.from(`${missing}\0`), ['x']), 'ERR_INVALID_ARG_VALUE'],
      [() => execve(missing, ['x', 'a\0b']), 'ERR_INVALID_ARG_VALUE'],
      [() => execve(missing, ['x', Buffer.from([1, 0, 2])]), 'ERR_INVALID_ARG_VALUE'],
      [() => execve(missing, []), 'ERR_INVALID_ARG_VALUE'],
      [() => execve(missing, 'x' as never), 'ERR_INVALID_ARG_TYPE'],
      [() => execve(missing, [1 as never]), 'ERR_INVALID_ARG_TYPE'],
      [() => execve(42 as never, ['x']), 'ERR_INVALID_ARG_TYPE'],
      [() => execve(missing, ['x'], { 'A=B': 'c' }), 'ERR_INVALID_ARG_VALUE'],
      [() => execve(missing, ['x'], { '': 'c' }), 'ERR_INVALID_ARG_VALUE'],
      [() => execve(missing, ['x'], { A: 'c\0' }), 'ERR_INVALID_ARG_VALUE'],
      [() => execve(missing, ['x'], { A: 1 as never }), 'ERR_INVALID_ARG_TYPE'],
      [() => execve(missing, ['x'], ['NOEQUALS']), 'ERR_INVALID_ARG_VALUE'],
      [() => execve(missing, ['x'], ['=value']), 'ERR_INVALID_ARG_VALUE'],
      [() => execvp('sh\0', ['sh']), 'ERR_INVALID_ARG_VALUE'],
      [() => execvp('sh', ['sh'], 'PATH=/bin' as never), 'ERR_INVALID_ARG_TYPE'],
    ];
    for (const [call, code] of bad) {
      expect(call).toThrow(expect.objectContaining({ name: 'TypeError', code }));
    }
  });

  it('refuses to run in a worker thread', () => {
    // The worker stays alive and the main thread ends with exit(): the point here is the refusal,
    // not worker teardown.
    const result = runNode(`
      const { Worker } = require('node:worker_threads');
      const worker = new Worker("try { require('./dist/index.js').execve('/bin/true', ['true']) } catch (e) { require('node:worker_threads').parentPort.postMessage(e.code) }; setInterval(() => {}, 1000)", { eval: true });
      worker.on('message', (code) => { console.log(code); require('./dist/index.js').exit(0); });
    `);
    expect(result.stdout).toBe('ERR_MAIN_THREAD_ONLY\n');
    expect(result.status).toBe(0);
  });
});

describe('execvp', () => {
  it('searches the PATH of the given environment, or of this process', () => {
    const bin = path.dirname(scratchFile('bin/hello-posix', '#!/bin/sh\necho "hello $1 $GREETING"\n', 0o755));
    const given = runNode(
      `require('./dist/index.js').execvp('hello-posix', ['hello-posix', 'given'], ['PATH=/nowhere:${bin}', 'GREETING=hi'])`,
    );
    expect(given.stderr).toBe('');
    expect(given.stdout).toBe('hello given hi\n');
    const inherited = runNode(`require('./dist/index.js').execvp('hello-posix', ['hello-posix', 'inherited'])`, {
      env: { ...process.env, PATH: `/nowhere:${bin}:/usr/bin:/bin`, GREETING: 'from process.env' },
    });
    expect(inherited.stdout).toBe('hello inherited from process.env\n');
  });

  it('skips a match it may not execute, and reports EACCES if nothing else is found', () => {
    const denied = path.dirname(scratchFile('denied/prog-x', '#!/bin/sh\necho denied\n', 0o644));
    const good = path.dirname(scratchFile('good/prog-x', '#!/bin/sh\necho good\n', 0o755));
    const skipped = runNode(`require('./dist/index.js').execvp('prog-x', ['prog-x'], ['PATH=${denied}:${good}'])`);
    expect(skipped.stdout).toBe('good\n');
    const failed = runNode(`
      try { require('./dist/index.js').execvp('prog-x', ['prog-x'], ['PATH=${denied}:/nowhere']) }
      catch (e) { console.log(e.code, e.syscall, e.path) }
    `);
    expect(failed.stdout).toBe('EACCES execvp prog-x\n');
  });

  it('stops at ENOEXEC (no /bin/sh fallback), and reports ENOENT when nothing is found', () => {
    const plain = path.dirname(scratchFile('plain/prog-y', 'echo from a shell\n', 0o755));
    const good = path.dirname(scratchFile('good/prog-y', '#!/bin/sh\necho good\n', 0o755));
    const result = runNode(`
      const { execvp } = require('./dist/index.js');
      for (const [file, env] of [['prog-y', ['PATH=${plain}:${good}']], ['prog-none', ['PATH=/nowhere:${good}']], ['', []]]) {
        try { execvp(file, ['x'], env) } catch (e) { console.log(e.code, e.syscall, JSON.stringify(e.path)) }
      }
    `);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('ENOEXEC execvp "prog-y"\nENOENT execvp "prog-none"\nENOENT execvp ""\n');
  });
});
