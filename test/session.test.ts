import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { getpgid, getpgrp, getsid, processInfo, setpgid, SyscallError, tcgetpgrp, tcsetpgrp } from '../lib/index';
import { exitOf, reapedPid, repoRoot, runNode, thrown } from './helpers';


/** A TypeError/RangeError with a Node-style ERR_ code, thrown before any system call. */
function expectArgumentError(fn: () => unknown): void {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(Error);
  expect((error as { code: string }).code).toMatch(/^ERR_(INVALID_ARG_TYPE|OUT_OF_RANGE)$/);
}

/** Runs a Node script in a child and returns what it printed as JSON on its last line. */
function runJson(script: string): Record<string, unknown> {
  const result = runNode(`const p = require('./dist/index.js'); const out = {}; ${script}; console.log(JSON.stringify(out))`);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

describe('getpgrp / getpgid / getsid', () => {
  it('agree with /proc for this process', () => {
    const info = processInfo(process.pid);
    expect(getpgrp()).toBe(info.pgid);
    expect(getpgid()).toBe(info.pgid);
    expect(getpgid(process.pid)).toBe(info.pgid);
    expect(getsid()).toBe(info.sid);
    expect(getsid(process.pid)).toBe(info.sid);
  });

  it('read another process', async () => {
    const child = child_process.spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    await new Promise((resolve) => child.once('spawn', resolve));
    // detached: the child called setsid, so it leads its own session and group.
    expect(getpgid(child.pid)).toBe(child.pid);
    expect(getsid(child.pid)).toBe(child.pid);
    child.kill('SIGKILL');
    await exitOf(child);
  });

  it('throw ESRCH for a pid that is gone', () => {
    const pid = reapedPid();
    expect(thrown(() => getpgid(pid))).toMatchObject({ code: 'ESRCH', errno: -3, syscall: 'getpgid' });
    expect(thrown(() => getsid(pid))).toMatchObject({ code: 'ESRCH', errno: -3, syscall: 'getsid' });
    expect(thrown(() => getsid(pid))).toBeInstanceOf(SyscallError);
  });

  it.each([[-1], [1.5], ['1'], [2 ** 31]])('reject pid %s before any call', (pid) => {
    expectArgumentError(() => getpgid(pid as number));
    expectArgumentError(() => getsid(pid as number));
  });
});

describe('setsid', () => {
  it('makes a child the leader of a new session and group, without a terminal', () => {
    const out = runJson(`
      const before = p.processInfo(process.pid);
      out.wasLeader = before.pgid === process.pid;
      out.sid = p.setsid();
      out.pid = process.pid;
      out.getsid = p.getsid(0);
      out.pgrp = p.getpgrp();
      out.tty = p.processInfo(process.pid).tty;
      try { p.setsid(); } catch (e) { out.again = [e.code, e.errno, e.syscall]; }`);
    expect(out.wasLeader).toBe(false);
    expect(out.sid).toBe(out.pid);
    expect(out.getsid).toBe(out.pid);
    expect(out.pgrp).toBe(out.pid);
    expect(out.tty).toBeNull();
    // Now a group leader: a second setsid is refused.
    expect(out.again).toEqual(['EPERM', -1, 'setsid']);
  });
});

describe('setpgid', () => {
  it('moves the caller into a new group of its own', () => {
    const out = runJson(`
      out.pid = process.pid;
      out.before = p.getpgrp();
      p.setpgid(0, 0);
      out.after = p.getpgrp();
      out.sid = p.getsid(0);
      out.parentSid = p.getsid(process.ppid);`);
    expect(out.before).not.toBe(out.pid);
    expect(out.after).toBe(out.pid);
    // Still in the same session: setpgid never leaves it.
    expect(out.sid).toBe(out.parentSid);
  });

  it('fails with EPERM for a session leader and for a group that does not exist', () => {
    const out = runJson(`
      p.setsid();
      try { p.setpgid(0, process.ppid); } catch (e) { out.leader = [e.code, e.syscall]; }`);
    expect(out.leader).toEqual(['EPERM', 'setpgid']);
    const other = runJson(`
      try { p.setpgid(0, ${reapedPid()}); } catch (e) { out.missing = [e.code, e.syscall]; }`);
    expect(other.missing).toEqual(['EPERM', 'setpgid']);
  });

  it('fails with EACCES for a child that has already exec\'d, ESRCH for a process that is not a child', async () => {
    const child = child_process.spawn('sleep', ['30'], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('spawn', resolve));
    expect(thrown(() => setpgid(child.pid!, child.pid!))).toMatchObject({ code: 'EACCES', syscall: 'setpgid' });
    expect(getpgid(child.pid)).toBe(getpgrp());
    child.kill('SIGKILL');
    await exitOf(child);
    expect(thrown(() => setpgid(1, 0))).toMatchObject({ code: 'ESRCH', errno: -3, syscall: 'setpgid' });
  });

  it.each([
    [-1, 0],
    [0, -1],
    [0.5, 0],
    [0, '0'],
  ])('rejects (%s, %s) before any call', (pid, pgid) => {
    expectArgumentError(() => setpgid(pid, pgid as number));
    expect(getpgrp()).toBe(processInfo(process.pid).pgid);
  });
});

describe('tcgetpgrp / tcsetpgrp', () => {
  it('fail with ENOTTY on a pipe and EBADF on a closed fd', () => {
    // A FIFO opened read-write (which Linux allows without a peer) is a pipe fd of this process.
    const dir = fs.mkdtempSync('/tmp/session-');
    child_process.execFileSync('mkfifo', [`${dir}/fifo`]);
    const pipeFd = fs.openSync(`${dir}/fifo`, 'r+');
    expect(fs.fstatSync(pipeFd).isFIFO()).toBe(true);
    expect(thrown(() => tcgetpgrp(pipeFd))).toMatchObject({ code: 'ENOTTY', errno: -25, syscall: 'tcgetpgrp' });
    expect(thrown(() => tcsetpgrp(pipeFd, getpgrp()))).toMatchObject({ code: 'ENOTTY', syscall: 'tcsetpgrp' });
    fs.closeSync(pipeFd);
    fs.rmSync(dir, { recursive: true });
    // An fd number that was just closed (nothing else runs in between to reuse it).
    const closed = fs.openSync('/proc/self/cmdline', 'r');
    fs.closeSync(closed);
    expect(thrown(() => tcgetpgrp(closed))).toMatchObject({ code: 'EBADF', errno: -9, syscall: 'tcgetpgrp' });
    expect(thrown(() => tcsetpgrp(closed, getpgrp()))).toMatchObject({ code: 'EBADF', syscall: 'tcsetpgrp' });
  });

  it('hand the foreground of a real pty to another group and take it back from the background', () => {
    // python's pty.fork() opens a pty, makes the child a session leader and the pty its
    // controlling terminal: the same setup as a terminal emulator starting a shell.
    const script = `
      const p = require(${JSON.stringify(repoRoot + '/dist/index.js')});
      const fs = require('fs');
      const cp = require('child_process');
      const out = {};
      const me = p.getpgrp();
      out.leader = p.getsid(0) === process.pid;
      out.ttyPath = p.processInfo(process.pid).tty.path === fs.readlinkSync('/proc/self/fd/0');
      out.foregroundAtStart = p.tcgetpgrp(0) === me;
      const child = cp.spawn(process.execPath, ['-e',
        'require(process.argv[1]).setpgid(0, 0); console.log("ready"); setInterval(() => {}, 1000)',
        ${JSON.stringify(repoRoot + '/dist/index.js')}],
        { stdio: ['ignore', 'pipe', 'inherit'] });
      child.stdout.once('data', () => {
        p.tcsetpgrp(0, child.pid);
        out.childForeground = p.tcgetpgrp(0) === child.pid;
        out.infoForeground = p.processInfo(process.pid).foregroundPgid === child.pid;
        // We are a background group now: without SIGTTOU blocked this call would stop us.
        p.tcsetpgrp(0, me);
        out.back = p.tcgetpgrp(0) === me;
        try { p.tcsetpgrp(0, 1); } catch (e) { out.otherSession = e.code + ' ' + e.syscall; }
        child.kill('SIGKILL');
        console.log(JSON.stringify(out));
      });`;
    const python = `
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], '-e', sys.argv[2]])
out = b''
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode())
sys.exit(os.waitstatus_to_exitcode(status))
`;
    const result = child_process.spawnSync('python3', ['-c', python, process.execPath, script], { encoding: 'utf8', timeout: 20_000 });
    expect(result.status, result.stdout + result.stderr).toBe(0);
    const out = JSON.parse(result.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(out).toEqual({
      leader: true,
      ttyPath: true,
      foregroundAtStart: true,
      childForeground: true,
      infoForeground: true,
      back: true,
      otherSession: 'EPERM tcsetpgrp',
    });
  });

  it.each([[-1], [1.5], ['0']])('reject fd %s before any call', (fd) => {
    expectArgumentError(() => tcgetpgrp(fd as number));
    expectArgumentError(() => tcsetpgrp(fd as number, 1));
  });
});
