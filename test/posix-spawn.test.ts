import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { posixSpawn, posixSpawnp, SyscallError, waitpid, type FileAction, type PosixSpawnOptions, type WaitStatus } from '../lib/index';
import { childSnapshot, openFds, runNode, thrown, until, zombieChildren, statField } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-spawn-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let counter = 0;

/** Spawns with stdout and stderr sent to files, waits, and returns what the child wrote. */
function run(argv: string[], options: PosixSpawnOptions = {}, extraActions: FileAction[] = []): { status: WaitStatus; stdout: string; stderr: string } {
  const out = path.join(tmp, `out-${++counter}`);
  const err = path.join(tmp, `err-${counter}`);
  const fileActions: FileAction[] = [
    { action: 'open', fd: 1, path: out, flags: 'w' },
    { action: 'open', fd: 2, path: err, flags: 'w' },
    ...extraActions,
    ...(options.fileActions ?? []),
  ];
  const pid = posixSpawnp(argv[0]!, argv, { ...options, fileActions });
  const { status } = waitpid(pid)!;
  return { status, stdout: fs.readFileSync(out, 'utf8'), stderr: fs.readFileSync(err, 'utf8') };
}

function caught(fn: () => unknown): SyscallError {
  try {
    fn();
  } catch (error) {
    if (error instanceof SyscallError) return error;
    throw error;
  }
  throw new Error('did not throw');
}


const exitedOk: WaitStatus = { kind: 'exited', code: 0 };

describe('posixSpawn basics', () => {
  it('runs a program by path and returns its pid; stdio is inherited by default', () => {
    const script = `
      const p = require('./dist/index.js');
      const pid = p.posixSpawn('/bin/echo', ['echo', 'hello from', 'echo']);
      console.log(JSON.stringify(p.waitpid(pid).status));`;
    const result = runNode(script);
    expect(result.stdout).toBe('hello from echo\n{"kind":"exited","code":0}\n');
  });

  it('gives the child no stdio with inheritStdio: false, as C does under Node', () => {
    // Node marks 0..2 close-on-exec: without the dup2 actions the child has no fd 1.
    const probe = ['sh', '-c', '[ -e /proc/$$/fd/1 ] && exit 10 || exit 20'];
    expect(waitpid(posixSpawnp('sh', probe, { inheritStdio: false }))!.status).toEqual({ kind: 'exited', code: 20 });
    expect(waitpid(posixSpawnp('sh', probe))!.status).toEqual({ kind: 'exited', code: 10 });
  });

  it('resets SIGPIPE (ignored by Node) so that `yes | head -1` ends quietly', () => {
    const quiet = run(['sh', '-c', 'yes | head -1']);
    expect(quiet).toEqual({ status: exitedOk, stdout: 'y\n', stderr: '' });
    // With C's defaults the ignored SIGPIPE survives exec and yes complains.
    const noisy = run(['sh', '-c', 'yes | head -1'], { setsigdef: [] });
    expect(noisy.stdout).toBe('y\n');
    expect(noisy.stderr).toMatch(/Broken pipe/);
  });

  it('leaves the child with no blocked and no ignored standard signals by default', () => {
    const { stdout } = run(['grep', '-E', '^Sig(Ign|Blk)', '/proc/self/status']);
    // Only glibc's own 32 and 33 stay ignored: its posix_spawn child sets them so (see the docs).
    expect(stdout).toBe('SigBlk:\t0000000000000000\nSigIgn:\t0000000180000000\n');
  });

  it('resets real-time signals this process ignores (SIGRTMIN..SIGRTMAX) by default', () => {
    const result = runNode(`
      const p = require('./dist/index.js');
      p.ignoreSignal('SIGRTMIN+1');
      p.ignoreSignal('SIGRTMAX');
      const pid = p.posixSpawn('/bin/grep', ['grep', '^SigIgn', '/proc/self/status']);
      p.waitpid(pid);
      const own = /SigIgn:\\s+(\\w+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1];
      console.log(String((BigInt('0x' + own) >> 34n) & 1n), String((BigInt('0x' + own) >> 63n) & 1n));
    `);
    expect(result.stderr).toBe('');
    // The parent really ignores them; the child has only glibc's 32 and 33 ignored.
    expect(result.stdout).toBe('SigIgn:\t0000000180000000\n1 1\n');
  });

  it('passes argv and env byte-exact, strings or Buffers', () => {
    const arg = Buffer.from([0x66, 0xff, 0xfe, 0x80, 0x0a, 0x20]);
    const value = Buffer.from([0xc3, 0x28, 0x01]);
    const script = 'import os, sys; sys.stdout.buffer.write(os.fsencode(sys.argv[1]) + b"|" + os.environb[b"BIN"] + b"|" + os.environb[b"TXT"])';
    const pid = posixSpawnp('python3', [Buffer.from('python3'), '-c', script, arg], {
      env: { BIN: value, TXT: 'héllo', PATH: process.env.PATH },
      fileActions: [{ action: 'open', fd: 1, path: path.join(tmp, 'bytes'), flags: 'w' }],
    });
    expect(waitpid(pid)!.status).toEqual(exitedOk);
    expect(fs.readFileSync(path.join(tmp, 'bytes'))).toEqual(Buffer.concat([arg, Buffer.from('|'), value, Buffer.from('|héllo')]));
  });

  it('takes env as a KEY=VALUE list: a repeated name keeps its first place and its last value', () => {
    const { stdout } = run(['/usr/bin/env'], { env: ['A=1', 'B=2', Buffer.from('A=3'), 'C=x=y'] });
    expect(stdout).toBe('A=3\nB=2\nC=x=y\n');
    expect(run(['/usr/bin/env'], { env: {} }).stdout).toBe('');
  });

  it('defaults env to process.env, as it is at the call (set, changed, deleted)', () => {
    process.env.POSIX_PROCESS_TEST_VAR = 'present';
    try {
      expect(run(['sh', '-c', 'echo $POSIX_PROCESS_TEST_VAR']).stdout).toBe('present\n');
      process.env.POSIX_PROCESS_TEST_VAR = 'changed';
      expect(run(['sh', '-c', 'echo $POSIX_PROCESS_TEST_VAR']).stdout).toBe('changed\n');
    } finally {
      delete process.env.POSIX_PROCESS_TEST_VAR;
    }
    expect(run(['sh', '-c', 'echo "${POSIX_PROCESS_TEST_VAR-unset}"']).stdout).toBe('unset\n');
  });

  it("in a worker, defaults env to the worker's own process.env (its copy, not the process's environ)", () => {
    // posixSpawnp and runSync in the worker: the child sees what the worker set, the main thread's environ does not have it.
    const script = `
      const { Worker } = require('node:worker_threads');
      const w = new Worker(\`
        process.env.POSIX_PROCESS_WORKER_VAR = 'from-worker';
        const { runSync, posixSpawnp, waitpid } = require('./dist/index.js');
        const out = runSync('sh', ['-c', 'echo $POSIX_PROCESS_WORKER_VAR']).stdout;
        const pid = posixSpawnp('sh', ['sh', '-c', 'test "$POSIX_PROCESS_WORKER_VAR" = from-worker'], { inheritStdio: false });
        require('node:worker_threads').parentPort.postMessage({ out, code: waitpid(pid).status.code });
      \`, { eval: true });
      w.on('message', (m) => { console.log(JSON.stringify({ ...m, main: process.env.POSIX_PROCESS_WORKER_VAR ?? null })); });
    `;
    const result = runNode(script);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ out: 'from-worker\n', code: 0, main: null });
  });
});

describe('file actions', () => {
  it('open with flags and mode, in order', () => {
    const target = path.join(tmp, 'appended');
    fs.writeFileSync(target, 'first\n');
    const pid = posixSpawn('/bin/sh', ['sh', '-c', 'echo second; cat <&3'], {
      fileActions: [
        { action: 'open', fd: 1, path: target, flags: 'a' },
        { action: 'open', fd: 3, path: '/etc/hostname', flags: fs.constants.O_RDONLY },
      ],
    });
    expect(waitpid(pid)!.status).toEqual(exitedOk);
    expect(fs.readFileSync(target, 'utf8')).toBe(`first\nsecond\n${fs.readFileSync('/etc/hostname', 'utf8')}`);
    const created = path.join(tmp, 'created');
    expect(waitpid(posixSpawn('/bin/true', ['true'], { fileActions: [{ action: 'open', fd: 5, path: created, flags: 'wx', mode: 0o640 }] }))!.status).toEqual(exitedOk);
    expect(fs.statSync(created).mode & 0o777).toBe(0o640 & ~process.umask());
  });

  it('close makes the fd unavailable to the child', () => {
    const result = run(['sh', '-c', 'echo out; echo status $? >&2'], {}, [{ action: 'close', fd: 1 }]);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/Bad file descriptor[\s\S]*status 1|status 1/);
  });

  it('dup2 swaps stdout and stderr', () => {
    const result = run(['sh', '-c', 'echo to-stdout; echo to-stderr >&2'], {}, [
      { action: 'dup2', fd: 1, newFd: 9 },
      { action: 'dup2', fd: 2, newFd: 1 },
      { action: 'dup2', fd: 9, newFd: 2 },
      { action: 'close', fd: 9 },
    ]);
    expect(result).toEqual({ status: exitedOk, stdout: 'to-stderr\n', stderr: 'to-stdout\n' });
  });

  it('chdir and fchdir set the working directory; later relative opens follow chdir', () => {
    expect(run(['pwd'], {}, [{ action: 'chdir', path: tmp }]).stdout).toBe(`${tmp}\n`);
    const fd = fs.openSync('/usr', 'r');
    try {
      expect(run(['pwd'], {}, [{ action: 'fchdir', fd }]).stdout).toBe('/usr\n');
    } finally {
      fs.closeSync(fd);
    }
    fs.mkdirSync(path.join(tmp, 'sub'));
    fs.writeFileSync(path.join(tmp, 'sub', 'in.txt'), 'relative\n');
    expect(run(['cat'], {}, [{ action: 'chdir', path: path.join(tmp, 'sub') }, { action: 'open', fd: 0, path: 'in.txt' }]).stdout).toBe('relative\n');
  });

  it('closefrom closes every fd from the one given', () => {
    const keep = run(['ls', '/proc/self/fd'], {}, [{ action: 'open', fd: 7, path: '/dev/null' }]);
    expect(keep.stdout.split('\n')).toContain('7');
    const closed = run(['ls', '/proc/self/fd'], {}, [{ action: 'open', fd: 7, path: '/dev/null' }, { action: 'closefrom', fd: 3 }]);
    expect(closed.stdout.split('\n')).not.toContain('7');
  });
});

describe('attributes', () => {
  it('setpgroup 0 makes the child lead a new group; setpgroup pgid joins it', async () => {
    // Under qemu-user, posix_spawn's vfork is a fork: it returns before the child's setpgid, and
    // the member could otherwise try to join the group before the leader has made it (EPERM).
    const leader = posixSpawn('/bin/sleep', ['sleep', '5'], { setpgroup: 0 });
    await until(() => statField(leader, 5) === String(leader), 10_000);
    const member = posixSpawn('/bin/sleep', ['sleep', '5'], { setpgroup: leader });
    await until(() => statField(member, 5) === String(leader), 10_000);
    expect(statField(leader, 5)).toBe(String(leader));
    expect(statField(member, 5)).toBe(String(leader));
    process.kill(-leader, 'SIGKILL');
    waitpid(leader);
    waitpid(member);
  });

  it('setsid starts a new session', () => {
    const pid = posixSpawn('/bin/sleep', ['sleep', '5'], { setsid: true });
    expect(statField(pid, 6)).toBe(String(pid)); // session id
    expect(statField(pid, 5)).toBe(String(pid));
    process.kill(pid, 'SIGKILL');
    waitpid(pid);
  });

  it('setsigmask blocks signals in the child; setsigdef resets only the signals given', () => {
    const { stdout } = run(['grep', '^SigBlk', '/proc/self/status'], { setsigmask: ['SIGUSR1', 'SIGRTMIN+1'] });
    const mask = BigInt(`0x${stdout.split('\t')[1]!.trim()}`);
    expect(mask).toBe((1n << 9n) | (1n << 34n)); // bit signo-1
    const ignored = run(['grep', '^SigIgn', '/proc/self/status'], { setsigdef: ['SIGXFSZ'] });
    // SIGPIPE (bit 12) is still ignored as Node has it; 32 and 33 (bits 31, 32) as glibc leaves them.
    expect(BigInt(`0x${ignored.stdout.split('\t')[1]!.trim()}`)).toBe((1n << 12n) | (3n << 31n));
  });

  it('resetids gives the child the real ids of the parent instead of its effective ids', () => {
    const script = `
      const p = require('./dist/index.js');
      process.seteuid(65534);
      for (const resetids of [false, true]) {
        const pid = p.posixSpawn('/usr/bin/id', ['id', '-u'], { resetids });
        p.waitpid(pid);
      }`;
    const result = runNode(script);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('65534\n0\n');
  });

  it('scheduler sets the policy and priority', () => {
    const other = posixSpawn('/bin/sleep', ['sleep', '5'], { scheduler: { policy: 'other' } });
    expect(statField(other, 41)).toBe('0'); // SCHED_OTHER
    const rr = posixSpawn('/bin/sleep', ['sleep', '5'], { scheduler: { policy: 'rr', priority: 3 } });
    expect([statField(rr, 41), statField(rr, 40)]).toEqual(['2', '3']);
    const fifo = posixSpawn('/bin/sleep', ['sleep', '5'], { scheduler: { policy: 'fifo', priority: 10 } });
    expect([statField(fifo, 41), statField(fifo, 40)]).toEqual(['1', '10']);
    for (const pid of [other, rr, fifo]) {
      process.kill(pid, 'SIGKILL');
      waitpid(pid);
    }
  });
});

describe('errors', () => {
  let fdsBefore: number[] = [];
  let childrenBefore: ReadonlySet<number> = new Set();
  beforeAll(() => {
    fdsBefore = openFds();
    childrenBefore = childSnapshot();
  });

  it('ENOENT names the program', () => {
    const error = caught(() => posixSpawn('/nonexistent/prog', ['prog']));
    expect(error).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'posix_spawn', path: '/nonexistent/prog', step: 'exec' });
    expect(caught(() => posixSpawnp('no-such-program-xyz', ['x']))).toMatchObject({ code: 'ENOENT', syscall: 'posix_spawnp', path: 'no-such-program-xyz' });
  });

  it('EACCES for a directory, ENOEXEC for a text file without a shebang (no shell fallback)', () => {
    expect(caught(() => posixSpawn('/tmp', ['tmp']))).toMatchObject({ code: 'EACCES', path: '/tmp' });
    const script = path.join(tmp, 'noshebang');
    fs.writeFileSync(script, 'echo should not run\n', { mode: 0o755 });
    expect(caught(() => posixSpawn(script, ['x']))).toMatchObject({ code: 'ENOEXEC', path: script });
    expect(caught(() => posixSpawnp(script, ['x']))).toMatchObject({ code: 'ENOEXEC', syscall: 'posix_spawnp' });
  });

  it('E2BIG for an argument of 128 KiB', () => {
    expect(caught(() => posixSpawn('/bin/true', ['true', 'x'.repeat(128 * 1024)]))).toMatchObject({ code: 'E2BIG' });
  });

  it('EEXIST from an exclusive open names that file action and path', () => {
    const existing = path.join(tmp, 'exists');
    fs.writeFileSync(existing, '');
    expect(caught(() => posixSpawn('/bin/true', ['true'], { fileActions: [{ action: 'open', fd: 3, path: existing, flags: 'wx' }] }))).toMatchObject({
      code: 'EEXIST',
      path: existing,
      step: 'fileActions[0] open',
    });
  });

  it('ENOENT from chdir names the folder; ENOTDIR from chdir into a file', () => {
    const missing = path.join(tmp, 'missing-dir');
    expect(caught(() => posixSpawn('/bin/true', ['true'], { fileActions: [{ action: 'chdir', path: missing }] }))).toMatchObject({ code: 'ENOENT', path: missing, step: 'fileActions[0] chdir' });
    expect(caught(() => posixSpawn('/bin/true', ['true'], { fileActions: [{ action: 'chdir', path: '/etc/hostname' }] }))).toMatchObject({ code: 'ENOTDIR', path: '/etc/hostname' });
  });

  it('ENOENT from an empty path names that file action, not the program', () => {
    expect(caught(() => posixSpawn('/bin/true', ['true'], { fileActions: [{ action: 'open', fd: 3, path: '' }] }))).toMatchObject({ code: 'ENOENT', path: '', step: 'fileActions[0] open' });
    expect(caught(() => posixSpawn('/bin/true', ['true'], { fileActions: [{ action: 'chdir', path: Buffer.alloc(0) }] }))).toMatchObject({ code: 'ENOENT', path: '', step: 'fileActions[0] chdir' });
  });

  it('EBADF from dup2 of an fd that is not open', () => {
    expect(caught(() => posixSpawn('/bin/true', ['true'], { fileActions: [{ action: 'dup2', fd: 987, newFd: 3 }] }))).toMatchObject({ code: 'EBADF', syscall: 'posix_spawn' });
  });

  it('EPERM from setpgroup (no such group, or one in another session) names setpgroup, not exec', () => {
    const leader = posixSpawn('/bin/sleep', ['sleep', '30'], { setsid: true });
    try {
      for (const setpgroup of [2 ** 31 - 2, leader]) {
        const error = caught(() => posixSpawn('/bin/true', ['true'], { setpgroup }));
        expect(error).toMatchObject({ code: 'EPERM', syscall: 'posix_spawn', step: 'setpgroup' });
        expect(error.path).toBeUndefined();
      }
    } finally {
      process.kill(leader, 'SIGKILL');
      waitpid(leader);
    }
  });

  it('EBADF names the file action whose fd is not open at that point, not exec', () => {
    const cases: [FileAction[], string][] = [
      [[{ action: 'dup2', fd: 987, newFd: 3 }], 'fileActions[0] dup2'],
      [[{ action: 'open', fd: 986, path: '/dev/null' }, { action: 'fchdir', fd: 987 }], 'fileActions[1] fchdir'],
      [[{ action: 'close', fd: 1 }, { action: 'dup2', fd: 1, newFd: 3 }], 'fileActions[1] dup2'],
      [[{ action: 'closefrom', fd: 3 }, { action: 'open', fd: 7, path: '/dev/null' }, { action: 'dup2', fd: 7, newFd: 8 }, { action: 'dup2', fd: 4, newFd: 5 }], 'fileActions[3] dup2'],
    ];
    for (const [fileActions, step] of cases) {
      const error = caught(() => posixSpawn('/bin/true', ['true'], { fileActions }));
      expect(error).toMatchObject({ code: 'EBADF', syscall: 'posix_spawn', step });
      expect(error.path).toBeUndefined();
    }
  });

  it('EISDIR and EACCES from an open, ENOTDIR from an fchdir, and relative opens after an fchdir name that action and path, not exec', () => {
    // They were blamed on the program ('exec'), and a relative open after an fchdir was looked
    // for in this process's cwd.
    const dirFd = fs.openSync('/etc', 'r');
    const fileFd = fs.openSync('/etc/passwd', 'r');
    try {
      expect(caught(() => posixSpawn('/bin/true', ['true'], { fileActions: [{ action: 'open', fd: 3, path: tmp, flags: 'w' }] }))).toMatchObject({ code: 'EISDIR', path: tmp, step: 'fileActions[0] open' });
      expect(caught(() => posixSpawn('/bin/true', ['true'], { fileActions: [{ action: 'fchdir', fd: fileFd }] }))).toMatchObject({ code: 'ENOTDIR', path: '/etc/passwd', step: 'fileActions[0] fchdir' });
      expect(caught(() => posixSpawn('/bin/true', ['true'], { fileActions: [{ action: 'fchdir', fd: dirFd }, { action: 'open', fd: 3, path: 'no-such-file' }] }))).toMatchObject({ code: 'ENOENT', path: '/etc/no-such-file', step: 'fileActions[1] open' });
      // The open succeeds in the child (/etc/passwd): the program is what is missing.
      expect(caught(() => posixSpawn('/no/such/program', ['x'], { fileActions: [{ action: 'fchdir', fd: dirFd }, { action: 'open', fd: 3, path: 'passwd' }] }))).toMatchObject({ code: 'ENOENT', path: '/no/such/program', step: 'exec' });
    } finally {
      fs.closeSync(dirFd);
      fs.closeSync(fileFd);
    }
    const unreadable = path.join(tmp, 'unreadable');
    fs.writeFileSync(unreadable, '', { mode: 0o000 });
    const result = runNode(`
      const { posixSpawn } = require('./dist/index.js');
      try { posixSpawn('/bin/true', ['true'], { fileActions: [{ action: 'open', fd: 3, path: process.argv[1] }] }); console.log('spawned'); } catch (e) { console.log(JSON.stringify({ code: e.code, path: e.path, step: e.step })); }`, { uid: 65534, gid: 65534, args: [unreadable] });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ code: 'EACCES', path: unreadable, step: 'fileActions[0] open' });
  });

  it('EBADF from an fd above the fd limit names that action (glibc refuses it as the action is added)', () => {
    for (const [fileActions, step] of [
      [[{ action: 'dup2', fd: 1, newFd: 2 ** 30 }], 'fileActions[0] dup2'],
      [[{ action: 'open', fd: 3, path: '/dev/null' }, { action: 'close', fd: 2 ** 30 }], 'fileActions[1] close'],
    ] as [FileAction[], string][]) {
      const error = caught(() => posixSpawn('/bin/true', ['true'], { fileActions }));
      expect(error).toMatchObject({ code: 'EBADF', syscall: 'posix_spawn', step });
    }
  });

  it('runs with fd 0 closed in this process (every spawn failed with EBADF, blamed on exec)', () => {
    const result = runNode(`
      const fs = require('fs');
      const { posixSpawn, waitpid } = require('./dist/index.js');
      fs.closeSync(0);
      const pid = posixSpawn('/bin/sh', ['sh', '-c', 'echo ran']);
      console.log(JSON.stringify(waitpid(pid).status));`);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual(['ran', '{"kind":"exited","code":0}']);
  });

  it('refuses setsid together with setpgroup up front (glibc would fail with EPERM: a session leader cannot change its group)', () => {
    for (const setpgroup of [0, process.pid]) {
      expect(thrown(() => posixSpawn('/bin/true', ['true'], { setsid: true, setpgroup }))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    }
    // setsid: false with setpgroup is fine.
    const pid = posixSpawn('/bin/true', ['true'], { setsid: false, setpgroup: 0 });
    expect(waitpid(pid)!.status).toEqual(exitedOk);
  });

  it('refuses a scheduler priority its policy does not take (sched_setscheduler would fail with EINVAL)', () => {
    const cases: [NonNullable<PosixSpawnOptions['scheduler']>, string][] = [
      [{ policy: 'other', priority: 1 }, '>= 0 && <= 0'],
      [{ policy: 'fifo' }, '>= 1 && <= 99'],
      [{ policy: 'fifo', priority: 0 }, '>= 1 && <= 99'],
      [{ policy: 'rr', priority: 0 }, '>= 1 && <= 99'],
      [{ policy: 'rr', priority: 100 }, '>= 1 && <= 99'],
    ];
    for (const [scheduler, range] of cases) {
      const error = thrown(() => posixSpawn('/bin/true', ['true'], { scheduler }));
      expect(error).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      expect((error as Error).message).toContain(`"options.scheduler.priority"`);
      expect((error as Error).message).toContain(range);
    }
  });

  it('leaves no zombie and no fd behind after all the failures', () => {
    expect(zombieChildren(childrenBefore)).toEqual([]);
    expect(openFds().filter((fd) => !fdsBefore.includes(fd))).toEqual([]);
  });

  it.each([
    [() => posixSpawn('/bin/echo', ['echo', 'a\0b']), TypeError],
    [() => posixSpawn('/bin/ec\0ho', ['echo']), TypeError],
    [() => posixSpawn('/bin/echo', 'echo' as never), TypeError],
    [() => posixSpawn('/bin/echo', [1 as never]), TypeError],
    [() => posixSpawn('/bin/echo', ['echo'], { env: { 'A=B': 'x' } }), TypeError],
    [() => posixSpawn('/bin/echo', ['echo'], { env: { '': 'x' } }), TypeError],
    [() => posixSpawn('/bin/echo', ['echo'], { env: { A: 'x\0y' } }), TypeError],
    [() => posixSpawn('/bin/echo', ['echo'], { env: { A: 1 as never } }), TypeError],
    [() => posixSpawn('/bin/echo', ['echo'], { env: ['NOEQUALS'] }), TypeError],
    [() => posixSpawn('/bin/echo', ['echo'], { env: { [Symbol('x')]: 'y' } as never }), TypeError],
    [() => posixSpawn('/bin/echo', ['echo'], { fileActions: [{ action: 'close', fd: -1 }] }), RangeError],
    [() => posixSpawn('/bin/echo', ['echo'], { fileActions: [{ action: 'move' } as never] }), TypeError],
    [() => posixSpawn('/bin/echo', ['echo'], { fileActions: [{ action: 'open', fd: 1, path: '/x', flags: 'q' as never }] }), TypeError],
    [() => posixSpawn('/bin/echo', ['echo'], { setpgroup: -1 }), RangeError],
    [() => posixSpawn('/bin/echo', ['echo'], { setsigmask: ['SIGNOPE' as never] }), TypeError],
    // What a sigset_t cannot hold (glibc's 32 and 33) or the kernel would not block: refused as sigprocmask refuses them, not dropped.
    [() => posixSpawn('/bin/echo', ['echo'], { setsigmask: [32] }), TypeError],
    [() => posixSpawn('/bin/echo', ['echo'], { setsigmask: ['SIGKILL'] }), TypeError],
    [() => posixSpawn('/bin/echo', ['echo'], { setsigmask: ['SIGSTOP'] }), TypeError],
    [() => posixSpawn('/bin/echo', ['echo'], { setsigdef: [33] }), TypeError],
    [() => posixSpawn('/bin/echo', ['echo'], { setsigdef: ['SIGTERM', 32] }), TypeError],
    [() => posixSpawn('/bin/echo', ['echo'], { scheduler: { policy: 'batch' as never } }), TypeError],
    [() => posixSpawn('/bin/echo', ['echo'], { scheduler: { policy: 'fifo', priority: 100 } }), RangeError],
  ])('rejects bad input before spawning (%#)', (fn, type) => {
    const before = fs.readdirSync('/proc/self/task').length;
    expect(fn).toThrow(type);
    expect(zombieChildren()).toEqual([]);
    expect(fs.readdirSync('/proc/self/task').length).toBe(before);
  });
});
