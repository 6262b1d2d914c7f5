import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { children, processInfo, SyscallError } from '../lib/index';
import { exitOf, killDescendants, reapedPid } from './helpers';

const started: child_process.ChildProcess[] = [];

function spawn(file: string, args: string[], options: child_process.SpawnOptions = {}): child_process.ChildProcess {
  const child = child_process.spawn(file, args, { stdio: 'ignore', ...options });
  started.push(child);
  return child;
}

afterEach(async () => {
  for (const child of started.splice(0)) {
    if (child.pid !== undefined) killDescendants(child.pid); // a shell's background sleep
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exitOf(child);
  }
});

async function until<T>(read: () => T, accept: (value: T) => boolean): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const value = read();
    if (accept(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return read();
}

/** What procps' ps says, as an independent reading of the same kernel data. */
function ps(pid: number): { ppid: number; pgid: number; sid: number; nlwp: number; stat: string } {
  const out = child_process.execFileSync('ps', ['-o', 'ppid=,pgid=,sid=,nlwp=,stat=', '-p', String(pid)], { encoding: 'utf8' });
  const [ppid, pgid, sid, nlwp, stat] = out.trim().split(/\s+/);
  return { ppid: Number(ppid), pgid: Number(pgid), sid: Number(sid), nlwp: Number(nlwp), stat: stat! };
}

describe('processInfo', () => {
  it('describes this process as running, with ids that agree with ps', () => {
    const info = processInfo(process.pid);
    const other = ps(process.pid);
    expect(info).toMatchObject({ pid: process.pid, state: 'R', stateName: 'running', ppid: process.ppid, uid: process.getuid!(), gid: process.getgid!() });
    expect(info.name).toBe(fs.readFileSync('/proc/self/comm', 'utf8').trim());
    expect({ ppid: info.ppid, pgid: info.pgid, sid: info.sid }).toEqual({ ppid: other.ppid, pgid: other.pgid, sid: other.sid });
    expect(info.threads).toBe(fs.readdirSync('/proc/self/task').length);
    expect(info.threads).toBeGreaterThan(1);
  });

  it('identifies the program by argv and executable, whatever the main thread is called', async () => {
    // Node 24 and later name their main thread MainThread: comm no longer says node.
    const node = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'an argument']);
    const sleep = spawn('sleep', ['30']);
    await Promise.all([node, sleep].map((child) => new Promise((resolve) => child.once('spawn', resolve))));
    const nodeInfo = await until(() => processInfo(node.pid!), (i) => i.executable === fs.realpathSync(process.execPath));
    expect(nodeInfo.argv).toEqual([process.execPath, '-e', 'setInterval(() => {}, 1000)', 'an argument']);
    expect(nodeInfo.executable).toBe(fs.realpathSync(process.execPath));
    const sleepInfo = await until(() => processInfo(sleep.pid!), (i) => i.name === 'sleep');
    expect(sleepInfo).toMatchObject({ name: 'sleep', argv: ['sleep', '30'], executable: fs.realpathSync(child_process.execFileSync('sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).trim()) });
    expect(processInfo(process.pid).executable).toBe(fs.realpathSync(process.execPath));
  });

  it('shows a command line rewritten by process.title without its NUL padding', async () => {
    const node = spawn(process.execPath, ['-e', "process.title = 'renamed'; setInterval(() => {}, 1000)", 'padding']);
    await new Promise((resolve) => node.once('spawn', resolve));
    const info = await until(() => processInfo(node.pid!), (i) => i.argv[0] === 'renamed' && i.name === 'renamed'); // libuv rewrites argv, then the name
    expect(info).toMatchObject({ name: 'renamed', argv: ['renamed'], executable: fs.realpathSync(process.execPath) });
  });

  it('reports CPU time, RSS and start time consistent with Node', () => {
    const end = Date.now() + 150;
    let spin = 0;
    while (Date.now() < end) spin++;
    expect(spin).toBeGreaterThan(0);
    const info = processInfo(process.pid);
    const usage = process.cpuUsage();
    // Clock ticks are 10 ms; Node reads getrusage, which is exact: allow a few ticks.
    expect(Math.abs(info.userCpuSeconds - usage.user / 1e6)).toBeLessThan(0.1);
    expect(Math.abs(info.systemCpuSeconds - usage.system / 1e6)).toBeLessThan(0.1);
    expect(info.userCpuSeconds).toBeGreaterThanOrEqual(0.1);
    const rss = process.memoryUsage().rss;
    expect(info.rssBytes).toBeGreaterThan(rss * 0.8);
    expect(info.rssBytes).toBeLessThan(rss * 1.2);
    const startedMs = Date.now() - process.uptime() * 1000;
    expect(Math.abs(info.startTime.getTime() - startedMs)).toBeLessThan(2000);
    expect(info.startedAfterBootSeconds).toBeLessThanOrEqual(os.uptime() + 1);
  });

  it('sees a child sleep, stop and continue', async () => {
    const spawned = Date.now();
    const child = spawn('sleep', ['30']);
    await new Promise((resolve) => child.once('spawn', resolve));
    const sleeping = await until(() => processInfo(child.pid!), (i) => i.name === 'sleep' && i.state === 'S');
    const seen = Date.now();
    expect(sleeping).toMatchObject({ state: 'S', stateName: 'sleeping', ppid: process.pid, pgid: ps(process.pid).pgid, threads: 1, name: 'sleep' });
    // Started between the spawn and the reading (however long a loaded machine took), give or
    // take the 10 ms ticks of /proc's clocks.
    expect(sleeping.startTime.getTime()).toBeGreaterThanOrEqual(spawned - 100);
    expect(sleeping.startTime.getTime()).toBeLessThanOrEqual(seen + 100);
    child.kill('SIGSTOP');
    expect(await until(() => processInfo(child.pid!).state, (s) => s === 'T')).toBe('T');
    expect(processInfo(child.pid!).stateName).toBe('stopped');
    child.kill('SIGCONT');
    expect(await until(() => processInfo(child.pid!).state, (s) => s === 'S')).toBe('S');
  });

  it('reports a zombie with no resident memory, and its parent lists it as a child', async () => {
    // sh starts a short sleep in the background, then becomes `sleep 30`, which never waits:
    // the short sleep stays a zombie child of `sleep 30`.
    const parent = spawn('sh', ['-c', 'sleep 0.05 & exec sleep 30']);
    await new Promise((resolve) => parent.once('spawn', resolve));
    const zombie = await until(
      () => children(parent.pid!).find((pid) => processInfo(pid).state === 'Z'),
      (pid) => pid !== undefined && processInfo(parent.pid!).name === 'sleep',
    );
    expect(zombie).toBeDefined();
    const info = processInfo(zombie!);
    // A zombie has no memory left: no command line, no program file.
    expect(info).toMatchObject({ state: 'Z', stateName: 'zombie', ppid: parent.pid, rssBytes: 0, name: 'sleep', argv: [], executable: null });
    expect(children(parent.pid!)).toEqual([zombie]);
  });

  it('parses a command name that contains spaces and parentheses', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'procfs-'));
    // Looks like the end of comm followed by fields: a parser that stops at the first ')' breaks.
    const file = path.join(dir, 'a) R 1 (b');
    fs.copyFileSync('/bin/sleep', file);
    fs.chmodSync(file, 0o755);
    try {
      const child = spawn(file, ['30']);
      await new Promise((resolve) => child.once('spawn', resolve));
      const info = await until(() => processInfo(child.pid!), (i) => i.state === 'S');
      expect(info).toMatchObject({ name: 'a) R 1 (b', state: 'S', ppid: process.pid, threads: 1 });
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  it('has no terminal in a process started without one', () => {
    // setsid(1) starts it in a new session, which has no controlling terminal.
    const script = "console.log(JSON.stringify(require('./dist/index.js').processInfo(process.pid).tty))";
    const child = child_process.spawnSync('setsid', ['-w', process.execPath, '-e', script], {
      cwd: path.join(__dirname, '..'),
      encoding: 'utf8',
    });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('null');
  });

  it('throws ESRCH with the /proc path for a pid that is gone', () => {
    const pid = reapedPid();
    let error: unknown;
    try {
      processInfo(pid);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SyscallError);
    expect(error).toMatchObject({ code: 'ESRCH', errno: -3, syscall: 'open', path: `/proc/${pid}/stat` });
  });

  it('returns whole results or throws ESRCH while processes exit and are reaped meanwhile', async () => {
    // A shell starts and reaps short-lived children while we read them: each read may meet a
    // process in any stage of exiting (stat, status, cmdline and exe are read one by one).
    const shell = spawn('sh', ['-c', 'for i in $(seq 300); do /bin/true & done; wait']);
    await new Promise((resolve) => shell.once('spawn', resolve));
    const outcomes = new Set<string>();
    const exited = exitOf(shell);
    let done = false;
    void exited.then(() => (done = true));
    while (!done) {
      let pids: number[];
      try {
        pids = children(shell.pid!);
      } catch {
        break; // the shell is gone
      }
      for (const pid of pids) {
        try {
          const info = processInfo(pid);
          expect(Array.isArray(info.argv)).toBe(true);
          expect(info.executable === null || typeof info.executable === 'string').toBe(true);
          outcomes.add('info');
        } catch (error) {
          expect(error).toBeInstanceOf(SyscallError);
          expect(error).toMatchObject({ code: 'ESRCH', syscall: 'open' });
          outcomes.add('ESRCH');
        }
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await exited;
    expect(outcomes.size).toBeGreaterThan(0);
  });

  it.each([
    [0, RangeError],
    [-1, RangeError],
    [1.5, RangeError],
    [2 ** 31, RangeError],
    ['1', TypeError],
    [undefined, TypeError],
  ])('rejects pid %s', (pid, type) => {
    expect(() => processInfo(pid as number)).toThrow(type);
    expect(() => children(pid as number)).toThrow(type);
  });
});

describe('children', () => {
  it('lists the direct children of this process, not grandchildren', async () => {
    const a = spawn('sleep', ['30']);
    const b = spawn('sh', ['-c', 'sleep 30 & wait']);
    await Promise.all([a, b].map((c) => new Promise((resolve) => c.once('spawn', resolve))));
    const mine = children(process.pid);
    expect(mine).toEqual(expect.arrayContaining([a.pid, b.pid]));
    expect(mine).toEqual([...mine].sort((x, y) => x - y));
    const grandchildren = await until(() => children(b.pid!), (list) => list.length === 1);
    expect(grandchildren).toHaveLength(1);
    expect(mine).not.toContain(grandchildren[0]);
    expect(processInfo(grandchildren[0]!).ppid).toBe(b.pid);
  });

  it('is empty for a process without children', async () => {
    const child = spawn('sleep', ['30']);
    await new Promise((resolve) => child.once('spawn', resolve));
    expect(children(child.pid!)).toEqual([]);
  });

  it("throws ESRCH for the id of a thread that does not lead its process (/proc/<tid> opens, but describes a thread), as ps -p does", () => {
    // Node's own threads (V8's platform workers, libuv's) live as long as this process.
    const tid = Number(fs.readdirSync('/proc/self/task').find((task) => Number(task) !== process.pid));
    expect(fs.readFileSync(`/proc/${tid}/status`, 'utf8')).toMatch(new RegExp(`^Tgid:\\s*${process.pid}$`, 'm'));
    expect(() => processInfo(tid)).toThrow(expect.objectContaining({ code: 'ESRCH', syscall: 'open', path: `/proc/${tid}/status` }));
    expect(() => children(tid)).toThrow(expect.objectContaining({ code: 'ESRCH', syscall: 'open', path: `/proc/${tid}/status` }));
    expect(processInfo(process.pid).pid).toBe(process.pid);
  });

  it('throws ESRCH with the /proc path for a pid that is gone', () => {
    const pid = reapedPid();
    expect(() => children(pid)).toThrow(expect.objectContaining({ code: 'ESRCH', syscall: 'open', path: `/proc/${pid}/task` }));
  });
});
