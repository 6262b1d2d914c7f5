// daemon(): real daemons, inspected through /proc. This test process makes itself a child
// subreaper, so that the daemons it starts are adopted by it (the nearest subreaper) and can be
// reaped once killed; PID 1 of this machine does not reap orphans. One test runs Node as PID 1 of
// a new PID namespace to show the plain case: ppid 1.
import * as child_process from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { children, daemon, getsid, kill, processInfo, setChildSubreaper, spawn, waitpid } from '../lib/index';
import { binding } from '../lib/native';
import { openFds, processState, rejection, repoRoot, runNode, until, zombieChildren } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'daemon-'));

beforeAll(() => setChildSubreaper(true));
afterAll(() => {
  setChildSubreaper(false);
  fs.rmSync(tmp, { recursive: true, force: true });
});

/**
 * Waits until the daemon runs its program. daemon() resolves once the exec has passed its point of
 * no return, but the kernel finishes the exec after that: the new name and the closing of
 * close-on-exec fds come first, the command line last (create_elf_tables), so a non-empty
 * command line means the exec is complete.
 */
async function running(pid: number, name: string): Promise<void> {
  await until(() => {
    try {
      return fs.readFileSync(`/proc/${pid}/comm`, 'utf8') === `${name}\n` && fs.readFileSync(`/proc/${pid}/cmdline`).length > 0;
    } catch {
      return false;
    }
  });
}

/** Whether a process is blocked in nanosleep (its kernel wait channel), where sleep(1) stays. */
function asleepInNanosleep(pid: number): boolean {
  try {
    return processState(pid) === 'S' && fs.readFileSync(`/proc/${pid}/wchan`, 'utf8').includes('nanosleep');
  } catch {
    return false;
  }
}

/** Kills a daemon and reaps it (it is ours by adoption), then checks that /proc no longer has it. */
function stop(pid: number): void {
  kill(pid, 'SIGKILL');
  expect(waitpid(pid)?.status).toMatchObject({ kind: 'signaled', signal: 'SIGKILL' });
  expect(processState(pid)).toBeUndefined();
}

function status(pid: number, field: string): string {
  return new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
}

/** Processes whose command line contains `marker`, found by scanning /proc. */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

describe('daemon: the process it starts', () => {
  it('is adopted by the nearest subreaper, in a session it does not lead, with no terminal; the intermediate is reaped', async () => {
    const before = children(process.pid);
    const pid = await daemon('sleep', ['30']);
    try {
      await running(pid, 'sleep');
      await until(() => asleepInNanosleep(pid));
      const info = processInfo(pid);
      expect(info.ppid).toBe(process.pid); // adopted: this process is the nearest subreaper
      expect(info.stateName).toBe('sleeping');
      // The session was started by the intermediate child: the daemon is in it but does not lead
      // it, so it can never acquire a controlling terminal. The leader is gone.
      expect(info.sid).not.toBe(getsid(0));
      expect(info.sid).not.toBe(pid);
      expect(info.pgid).toBe(info.sid);
      expect(processState(info.sid)).toBeUndefined();
      expect(info.tty).toBeNull();
      // Of this process's children, only the daemon is new: the intermediate left no zombie.
      expect(children(process.pid).filter((child) => !before.includes(child))).toEqual([pid]);
      expect(zombieChildren()).toEqual([]);
    } finally {
      stop(pid);
    }
  });

  it("runs in '/', with umask 022, stdio on /dev/null, no other fd, default signal dispositions and an empty mask", async () => {
    const stray = binding.testing.openInheritable('/etc/hostname'); // not close-on-exec
    const fdsBefore = openFds();
    let pid = 0;
    try {
      pid = await daemon('sleep', ['30']);
      await running(pid, 'sleep');
      expect(fs.readlinkSync(`/proc/${pid}/cwd`)).toBe('/');
      expect(status(pid, 'Umask')).toBe('0022');
      // Until sleep is in nanosleep its fd table moves: close-on-exec fds close late in execve and
      // setlocale opens and closes locale files. Once asleep, a fourth fd can only be a leak.
      await until(() => asleepInNanosleep(pid));
      const fds = fs.readdirSync(`/proc/${pid}/fd`).sort();
      const link = (fd: string): string => {
        try {
          return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return '(closed meanwhile)';
        }
      };
      const links = fds.map((fd) => `${fd}->${link(fd)}`).join(' ');
      expect(fds, links).toEqual(['0', '1', '2']);
      for (const fd of fds) expect(fs.readlinkSync(`/proc/${pid}/fd/${fd}`)).toBe('/dev/null');
      // Node ignores SIGPIPE and SIGXFSZ; the daemon does not, and blocks nothing.
      expect(status(pid, 'SigIgn')).toBe('0000000000000000');
      expect(status(pid, 'SigBlk')).toBe('0000000000000000');
      expect(openFds()).toEqual(fdsBefore);
    } finally {
      fs.closeSync(stray);
      if (pid !== 0) stop(pid);
    }
  });

  it('without a subreaper it is adopted by init: ppid 1 (Node as PID 1 of a new PID namespace)', () => {
    const script = `
      const p = require(${JSON.stringify(`${repoRoot}/dist/index.js`)});
      p.daemon('sleep', ['30']).then((pid) => {
        const info = p.processInfo(pid);
        const me = p.getpid();
        p.kill(pid, 'SIGKILL');
        const reaped = p.waitpid(pid); // init (this process) reaps what it adopted
        console.log(JSON.stringify({ me, pid, ppid: info.ppid, sidLeads: info.sid === pid, reaped: reaped.status.signal }));
      });`;
    const result = child_process.spawnSync('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(result.stderr).toBe('');
    const out = JSON.parse(result.stdout) as { me: number; pid: number; ppid: number; sidLeads: boolean; reaped: string };
    expect(out).toEqual({ me: 1, pid: expect.any(Number) as number, ppid: 1, sidLeads: false, reaped: 'SIGKILL' });
  });

  it('cwd and umask options; stdio to files (relative to the cwd), to a parent fd; env and PATH like spawn', async () => {
    const work = fs.mkdtempSync(path.join(tmp, 'work-'));
    const bin = fs.mkdtempSync(path.join(tmp, 'bin-'));
    fs.writeFileSync(path.join(bin, 'report'), '#!/bin/sh\necho "out $X $(pwd) $(umask)"; echo err >&2; read line; echo "in: $line"\nexec /bin/sleep 30\n', { mode: 0o755 });
    fs.writeFileSync(path.join(work, 'input'), 'from file\n');
    const errors = path.join(tmp, 'errors.log');
    const errorFd = fs.openSync(errors, 'a');
    let pid = 0;
    try {
      pid = await daemon('report', [], {
        cwd: work,
        umask: 0o077,
        env: { PATH: bin, X: 'x-value' },
        stdio: [{ path: 'input' }, { path: 'out.log', mode: 0o600 }, errorFd],
      });
      await running(pid, 'sleep');
      expect(fs.readFileSync(path.join(work, 'out.log'), 'utf8')).toBe(`out x-value ${work} 0077\nin: from file\n`);
      expect(fs.statSync(path.join(work, 'out.log')).mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(errors, 'utf8')).toBe('err\n');
      expect(fs.readlinkSync(`/proc/${pid}/cwd`)).toBe(work);
      expect(status(pid, 'Umask')).toBe('0077');
    } finally {
      fs.closeSync(errorFd);
      if (pid !== 0) stop(pid);
    }
  });

  it('a parent fd that Node made non-blocking reaches the daemon blocking: head -c 1 MiB into a pipe delivers every byte', async () => {
    const [readFd, writeFd] = binding.pipe();
    const writer = new net.Socket({ fd: writeFd, readable: false, writable: true }); // libuv sets O_NONBLOCK
    const nonBlocking = (): boolean => (parseInt(/^flags:\s*(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${writeFd}`, 'utf8'))![1]!, 8) & fs.constants.O_NONBLOCK) !== 0;
    expect(nonBlocking()).toBe(true);
    const pid = await daemon('head', ['-c', '1048576', '/dev/zero'], { stdio: ['ignore', writeFd, 'ignore'] });
    // Cleared on the description the daemon shares with this process, before its exec.
    expect(nonBlocking()).toBe(false);
    writer.destroy();
    const reader = new net.Socket({ fd: readFd, readable: true, writable: false });
    let bytes = 0;
    reader.on('data', (data: Buffer) => (bytes += data.length));
    await once(reader, 'close');
    expect(bytes).toBe(1048576);
    expect(waitpid(pid)?.status).toEqual({ kind: 'exited', code: 0 });
  });

  it('argv0 is what the program sees', async () => {
    const pid = await daemon('sleep', ['30'], { argv0: 'my-daemon' });
    try {
      await running(pid, 'sleep');
      expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toBe('my-daemon\x0030\x00');
    } finally {
      stop(pid);
    }
  });

  it("uid and gid: no supplementary group unless given, not root's (setpriv --groups=0,4,27)", () => {
    // Under setpriv, the Node process that starts the daemons has the groups 0, 4 and 27; it is a
    // subreaper, so it adopts and reaps them.
    const script = `
      const fs = require('fs');
      const p = require(${JSON.stringify(`${repoRoot}/dist/index.js`)});
      p.setChildSubreaper(true);
      const groupsOf = async (file, options) => {
        const fd = fs.openSync(file, 'w');
        const pid = await p.daemon('grep', ['^Groups:', '/proc/self/status'], { ...options, stdio: ['ignore', fd, 'ignore'] });
        fs.closeSync(fd);
        const status = p.waitpid(pid).status;
        return JSON.stringify(status) + fs.readFileSync(file, 'utf8').slice(7).trim();
      };
      (async () => {
        const dropped = await groupsOf(process.argv[1] + '.dropped', { uid: 65534, gid: 65534 });
        const given = await groupsOf(process.argv[1] + '.given', { uid: 65534, gid: 65534, groups: [100] });
        console.log(JSON.stringify({ dropped, given }));
      })();`;
    const base = path.join(tmp, 'groups');
    const result = child_process.spawnSync('setpriv', ['--groups=0,4,27', process.execPath, '-e', script, base], { encoding: 'utf8', timeout: 20_000 });
    expect(result.stderr).toBe('');
    const exited = JSON.stringify({ kind: 'exited', code: 0 });
    expect(JSON.parse(result.stdout)).toEqual({ dropped: exited, given: `${exited}100` });
  });

  it('20 daemons at once: each adopted, none left as a zombie, no fd left', async () => {
    const fdsBefore = openFds();
    const pids = await Promise.all(Array.from({ length: 20 }, () => daemon('sleep', ['30'])));
    try {
      expect(new Set(pids).size).toBe(20);
      for (const pid of pids) {
        await running(pid, 'sleep');
        expect(processInfo(pid).ppid).toBe(process.pid);
      }
      expect(zombieChildren()).toEqual([]);
      expect(openFds()).toEqual(fdsBefore);
    } finally {
      for (const pid of pids) stop(pid);
    }
  });
});

describe('daemon: a spawn or daemon stuck before its exec', () => {
  // Its stdin is a FIFO that nobody has opened for writing: it blocks in open(2), before its exec.
  const makeFifo = (name: string): string => {
    const fifo = path.join(tmp, name);
    child_process.execFileSync('mkfifo', [fifo]);
    return fifo;
  };

  it('a stuck spawn delays no daemon()', async () => {
    const controller = new AbortController();
    const stuck = spawn('true', [], { stdio: [{ path: makeFifo('stuck-spawn') }, 'ignore', 'ignore'], signal: controller.signal });
    const pid = await daemon('sleep', ['30']);
    try {
      await running(pid, 'sleep');
    } finally {
      stop(pid);
    }
    controller.abort();
    await expect(stuck).rejects.toMatchObject({ name: 'AbortError', step: 'open fd 0' });
    expect(zombieChildren()).toEqual([]);
  });

  it('a stuck daemon delays no other daemon() nor spawn, and starts once it can', async () => {
    const fifo = makeFifo('stuck-daemon');
    const stuck = daemon('cat', [], { stdio: [{ path: fifo }, 'ignore', 'ignore'] });
    const other = await daemon('sleep', ['30']);
    try {
      await running(other, 'sleep');
      const child = await spawn('true');
      expect((await child.wait()).status).toEqual({ kind: 'exited', code: 0 });
    } finally {
      stop(other);
    }
    // Its reader is waiting: this open returns at once, and cat ends at end-of-file.
    fs.closeSync(fs.openSync(fifo, 'w'));
    const pid = await stuck;
    await until(() => processState(pid) === 'Z');
    expect(waitpid(pid)?.status).toEqual({ kind: 'exited', code: 0 });
    expect(zombieChildren()).toEqual([]);
  });
});

describe('daemon: pidFile', () => {
  it('holds the pid; written through a temporary file renamed over the old one', async () => {
    const folder = fs.mkdtempSync(path.join(tmp, 'run-'));
    const pidFile = path.join(folder, 'sleep.pid');
    fs.writeFileSync(pidFile, 'stale\n');
    const staleInode = fs.statSync(pidFile).ino;
    const pid = await daemon('sleep', ['30'], { pidFile });
    try {
      expect(fs.readFileSync(pidFile, 'utf8')).toBe(`${pid}\n`);
      // A new inode: the old file was replaced by rename, never truncated and rewritten, so a
      // reader sees either the old content or the whole new one.
      expect(fs.statSync(pidFile).ino).not.toBe(staleInode);
      expect(fs.statSync(pidFile).mode & 0o777).toBe(0o644 & ~process.umask());
      expect(fs.readdirSync(folder)).toEqual(['sleep.pid']); // the temporary file is gone
    } finally {
      stop(pid);
    }
  });

  it('a relative pidFile is relative to this process', async () => {
    const name = `relative-${process.pid}.pid`;
    const pid = await daemon('sleep', ['30'], { pidFile: path.relative(process.cwd(), path.join(tmp, name)) });
    try {
      expect(fs.readFileSync(path.join(tmp, name), 'utf8')).toBe(`${pid}\n`);
    } finally {
      stop(pid);
    }
  });

  it('a pid file that cannot be created rejects before anything starts', async () => {
    const marker = `31.${process.pid}1`;
    const error = await rejection(daemon('sleep', [marker], { pidFile: path.join(tmp, 'missing', 'x.pid') }));
    expect(error).toMatchObject({ code: 'ENOENT', syscall: 'open', step: 'pidFile' });
    expect(error.path!.startsWith(path.join(tmp, 'missing', '.x.pid.'))).toBe(true);
    expect(processesWith(marker)).toEqual([]);
  });

  it('a pid file that cannot be put in place kills the daemon and leaves no temporary file', async () => {
    const folder = fs.mkdtempSync(path.join(tmp, 'run-'));
    fs.mkdirSync(path.join(folder, 'taken.pid', 'inside'), { recursive: true }); // rename over a non-empty folder fails
    const before = children(process.pid);
    const error = await rejection(daemon('sleep', ['30'], { pidFile: path.join(folder, 'taken.pid') }));
    expect(error).toMatchObject({ syscall: 'rename', step: 'pidFile' });
    expect(['EISDIR', 'ENOTEMPTY', 'EEXIST']).toContain(error.code);
    expect(fs.readdirSync(folder)).toEqual(['taken.pid']);
    // The daemon was adopted by this subreaper and killed: reap it and see SIGKILL.
    const [killed] = children(process.pid).filter((child) => !before.includes(child));
    expect(killed).toBeDefined();
    expect(waitpid(killed!)?.status).toMatchObject({ kind: 'signaled', signal: 'SIGKILL' });
  });

  it('a folder that can be written but not read (so not synced) still gets the pid file, and the daemon runs', () => {
    // As nobody (root opens any folder): the temporary file and the rename need write and search
    // permission only; opening the folder to fsync its entry needs read permission.
    const outer = fs.mkdtempSync(path.join(os.tmpdir(), 'daemon-pidfile-'));
    const folder = path.join(outer, 'run');
    fs.mkdirSync(folder);
    fs.chownSync(folder, 65534, 65534);
    fs.chmodSync(folder, 0o300);
    fs.chmodSync(outer, 0o711);
    const pidFile = path.join(folder, 'x.pid');
    try {
      const result = runNode(
        `const p = require('./dist/index.js');
        const fs = require('fs');
        p.setChildSubreaper(true); // the daemon is adopted here, so that it can be reaped
        (async () => {
          const out = {};
          try {
            const pid = await p.daemon('sleep', ['30'], { pidFile: process.argv[1] });
            out.running = fs.existsSync('/proc/' + pid) && p.waitpid(pid, { nohang: true }) === null;
            out.pidFile = fs.readFileSync(process.argv[1], 'utf8') === pid + '\\n';
          } catch (error) {
            out.error = { code: error.code, syscall: error.syscall, step: error.step };
          }
          for (const pid of p.children(process.pid)) {
            p.kill(pid, 'SIGKILL');
            p.waitpid(pid);
          }
          console.log(JSON.stringify(out));
        })();`,
        { uid: 65534, gid: 65534, args: [pidFile] },
      );
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toEqual({ running: true, pidFile: true });
      expect(fs.readdirSync(folder)).toEqual(['x.pid']);
    } finally {
      fs.rmSync(outer, { recursive: true, force: true });
    }
  });

  it('a failed daemon removes the temporary file and writes no pid file', async () => {
    const folder = fs.mkdtempSync(path.join(tmp, 'run-'));
    const error = await rejection(daemon('/nonexistent/program', [], { pidFile: path.join(folder, 'x.pid') }));
    expect(error).toMatchObject({ code: 'ENOENT', step: 'exec', path: '/nonexistent/program' });
    expect(fs.readdirSync(folder)).toEqual([]);
  });
});

describe('daemon: errors', () => {
  it('ENOENT names the program, with step exec (searched in PATH)', async () => {
    const error = await rejection(daemon('no-such-program-here', []));
    expect(error).toMatchObject({ code: 'ENOENT', syscall: 'execve', step: 'exec', path: 'no-such-program-here' });
  });

  it('EACCES for a file that may not be run', async () => {
    const file = path.join(tmp, 'not-executable');
    fs.writeFileSync(file, '#!/bin/sh\n', { mode: 0o644 });
    const error = await rejection(daemon(file, []));
    expect(error).toMatchObject({ code: 'EACCES', syscall: 'execve', step: 'exec', path: file });
  });

  it('a bad cwd gives ENOENT with path = the cwd; an unopenable stdio file names its path', async () => {
    const cwd = path.join(tmp, 'no-such-folder');
    expect(await rejection(daemon('sleep', ['30'], { cwd }))).toMatchObject({ code: 'ENOENT', syscall: 'chdir', step: 'chdir', path: cwd });
    const log = path.join(tmp, 'no-such-folder', 'log');
    expect(await rejection(daemon('sleep', ['30'], { stdio: ['ignore', { path: log }] }))).toMatchObject({
      code: 'ENOENT',
      syscall: 'open',
      step: 'open fd 1',
      path: log,
    });
  });

  it('failures leave no zombie (not even of the failed daemon, which the intermediate reaps) and no fd', async () => {
    const fdsBefore = openFds();
    const before = children(process.pid);
    for (let i = 0; i < 20; i++) {
      await rejection(daemon('no-such-program-here', []));
      await rejection(daemon('sleep', [], { cwd: '/nonexistent' }));
    }
    expect(children(process.pid).filter((child) => !before.includes(child))).toEqual([]);
    expect(zombieChildren()).toEqual([]);
    expect(openFds()).toEqual(fdsBefore);
  });

  it('bad arguments: TypeError or RangeError, and nothing starts', async () => {
    const marker = `32.${process.pid}7`;
    const before = processesWith(marker);
    await expect(daemon(5 as never, [])).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    await expect(daemon('sleep', 'x' as never)).rejects.toBeInstanceOf(TypeError);
    await expect(daemon('sleep', [marker], null as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(daemon('sleep', [marker], { stdio: 'pipe' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(daemon('sleep', [marker], { stdio: ['ignore', 'inherit'] as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(daemon('sleep', [marker], { stdio: ['ignore', 'ignore', 'ignore', 'ignore'] })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(daemon('sleep', [marker], { umask: 0o1000 })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await expect(daemon('sleep', [marker], { uid: -1 })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await expect(daemon('sleep', [marker], { groups: 'x' as never })).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    await expect(daemon('sleep', [marker], { cwd: 'a\0b' })).rejects.toBeInstanceOf(TypeError);
    await expect(daemon('sleep', [marker], { pidFile: 5 as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(daemon('sleep', [marker], { pidFile: '' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(daemon('sleep', [marker], { pidFile: 'a\0b' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(daemon('sleep', [marker], { env: { 'A=B': 'x' } })).rejects.toBeInstanceOf(TypeError);
    expect(processesWith(marker)).toEqual(before);
  });
});
