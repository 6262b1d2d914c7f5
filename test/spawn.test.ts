import * as child_process from 'node:child_process';
import { getEventListeners, once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, setChildSubreaper, spawn, waitpid, type ChildProcess, type RunResult, type SpawnOptions } from '../lib/index';
import { binding } from '../lib/native';
import { stopAsked } from '../lib/spawn/child-process';
import { blockedInFifoOpen, childPids, childSnapshot, exitOf, openFds, otherUserPackage, processState, rejection, runNode, threadCount, until, zombieChildren, statField } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spawn-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const text = (result: RunResult): { status: RunResult['status']; stdout: string; stderr: string } => ({
  status: result.status,
  stdout: result.stdout.toString(),
  stderr: result.stderr.toString(),
});
const ok = { kind: 'exited', code: 0 } as const;


describe('spawn: the handle', () => {
  it('resolves once the program runs, with pid, pidfd, pipes, wait and rusage', async () => {
    const child = await spawn('sh', ['-c', 'read line; echo "got $line"; echo oops >&2; exit 4'], { stdio: 'pipe' });
    expect(child.pid).toBeGreaterThan(0);
    expect(fs.readlinkSync(`/proc/self/fd/${child.pidfd}`)).toBe('anon_inode:[pidfd]');
    expect(fs.readFileSync(`/proc/${child.pid}/comm`, 'utf8')).toBe('sh\n');
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.stdin.end('hello\n');
    const result = await child.wait();
    expect(result).toMatchObject({ pid: child.pid, status: { kind: 'exited', code: 4 }, raw: 0x400 });
    expect(result.rusage.userTime).toBeGreaterThanOrEqual(0);
    await until(() => out === 'got hello\n' && err === 'oops\n');
    expect(child.exitResult).toBe(result);
    expect(await child.wait()).toBe(result);
  });

  it('an output nobody reads holds no fd once it has ended, and is still there for a late reader', async () => {
    const fds = openFds();
    const children = await Promise.all([1, 2, 3].map(() => spawn('sh', ['-c', 'echo out; echo err >&2'], { stdio: ['ignore', 'pipe', 'pipe'] })));
    for (const child of children) expect((await child.wait()).status).toEqual({ kind: 'exited', code: 0 });
    // Each pipe's end-of-file closes its fd, whether or not the output was consumed. (Only fds
    // opened since are looked for: one of an earlier test may close meanwhile.)
    const opened = (): number[] => openFds().filter((fd) => !fds.includes(fd));
    await until(() => opened().length === 0);
    expect(opened()).toEqual([]);
    for (const child of children) {
      const [out, err] = await Promise.all([child.stdout.toArray(), child.stderr.toArray()]);
      expect([Buffer.concat(out).toString(), Buffer.concat(err).toString()]).toEqual(['out\n', 'err\n']);
    }
  });

  it('kill goes through the pidfd; after reaping it throws ESRCH instead of hitting a recycled pid', async () => {
    const child = await spawn('sleep', ['30']);
    child.kill();
    expect((await child.wait()).status).toEqual({ kind: 'signaled', signal: 'SIGTERM', signo: 15, coreDumped: false });
    expect(() => child.kill('SIGKILL')).toThrow(expect.objectContaining({ code: 'ESRCH', syscall: 'pidfd_send_signal' }));
    expect(() => child.kill('SIGBOGUS' as never)).toThrow(TypeError);
  });

  it('when someone else reaps the child, wait rejects with ECHILD and kill throws ESRCH, never touching the closed pidfd', async () => {
    const child = await spawn('sleep', ['0.1']);
    expect(waitpid(child.pid)!.status).toEqual(ok); // reaped behind the handle's back
    expect(await rejection(child.wait())).toMatchObject({ code: 'ECHILD', syscall: 'waitid' });
    // The pidfd is closed then, and its number may already be another file's.
    expect(() => child.kill('SIGKILL')).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    await child[Symbol.asyncDispose]();
  });

  it('killGroup signals the whole group of a child that leads one, and refuses otherwise', async () => {
    const leader = await spawn('sh', ['-c', 'sleep 30 & sleep 30 & wait'], { pgid: 0 });
    expect(leader.leadsGroup).toBe(true);
    await until(() => fs.readFileSync(`/proc/${leader.pid}/task/${leader.pid}/children`, 'utf8').trim().split(' ').length === 2);
    const grandchildren = fs.readFileSync(`/proc/${leader.pid}/task/${leader.pid}/children`, 'utf8').trim().split(' ').map(Number);
    leader.killGroup('SIGKILL');
    expect((await leader.wait()).status).toMatchObject({ kind: 'signaled', signal: 'SIGKILL' });
    await until(() => grandchildren.every((pid) => processState(pid) === undefined || processState(pid) === 'Z'));
    const plain = await spawn('sleep', ['30']);
    expect(() => plain.killGroup()).toThrow(expect.objectContaining({ code: 'ERR_NOT_GROUP_LEADER' }));
    plain.kill('SIGKILL');
    await plain.wait();
  });

  it('await using kills a running child and reaps it; the pidfd is closed', async () => {
    let pid = 0;
    let pidfd = 0;
    {
      await using child = await spawn('sleep', ['30'], { stdio: ['pipe', 'pipe', 'inherit'] });
      pid = child.pid;
      pidfd = child.pidfd;
      expect(processState(pid)).toMatch(/^[SRD]$/);
    }
    expect(processState(pid)).toBeUndefined();
    // The pidfd is closed once libuv has let go of it, at the latest on the next loop turn.
    await until(() => !fs.existsSync(`/proc/self/fd/${pidfd}`) || fs.readlinkSync(`/proc/self/fd/${pidfd}`) !== 'anon_inode:[pidfd]');
  });
});

describe('spawn: options', () => {
  it('argv0 is what the program sees as argv[0]', async () => {
    const result = await run('cat', ['/proc/self/cmdline'], { argv0: 'kitty' });
    expect(result.stdout.toString()).toBe('kitty\0/proc/self/cmdline\0');
  });

  it('env: an object, a KEY=VALUE list with repeated names, or process.env by default', async () => {
    expect((await run('/usr/bin/env', [], { env: { A: '1', B: Buffer.from([0xff, 0x41]) }, encoding: 'buffer' })).stdout).toEqual(Buffer.from('A=1\nB=\xffA\n', 'latin1'));
    expect((await run('/usr/bin/env', [], { env: ['X=1', 'Y=2', 'X=3'] })).stdout.toString()).toBe('X=3\nY=2\n');
    process.env.SPAWN_TEST_VAR = 'inherited';
    try {
      expect((await run('sh', ['-c', 'echo $SPAWN_TEST_VAR'])).stdout.toString()).toBe('inherited\n');
    } finally {
      delete process.env.SPAWN_TEST_VAR;
    }
  });

  it('without env, each spawn gets process.env as it is at that call, also between spawns in one burst', async () => {
    // Native code shares one copy of the environment between spawns while it does not change.
    const printed = (): Promise<string> => run('/usr/bin/printenv', ['SPAWN_TEST_VAR']).then((result) => result.stdout.toString());
    const values: Promise<string>[] = [printed()];
    process.env.SPAWN_TEST_VAR = 'one';
    values.push(printed(), printed());
    process.env.SPAWN_TEST_VAR = 'two, a longer value';
    values.push(printed());
    process.env.SPAWN_TEST_VAR = 'one';
    values.push(printed());
    delete process.env.SPAWN_TEST_VAR;
    values.push(printed());
    expect(await Promise.all(values)).toEqual(['', 'one\n', 'one\n', 'two, a longer value\n', 'one\n', '']);
  });

  it('args and env strings with lone surrogates, empty strings and non-ASCII text keep their places', async () => {
    // Packed into one string for native code: nothing may run into its neighbour.
    const args = ['\uD800', '\uDC00', '', 'é ☃ 𝄞', ''];
    const result = await run('python3', ['-c', 'import os, sys; sys.stdout.buffer.write(b"|".join(os.fsencode(a) for a in sys.argv[1:]) + b"#" + os.environb[b"V"])', ...args], { env: { V: '\uDBFF', W: '' } });
    expect(result.stdout.toString()).toBe('\uFFFD|\uFFFD||é ☃ 𝄞|#\uFFFD');
  });

  it('args are byte-exact strings or Buffers', async () => {
    const arg = Buffer.from([0x01, 0xff, 0x80, 0x20, 0x0a]);
    const result = await run('python3', ['-c', 'import os, sys; sys.stdout.buffer.write(os.fsencode(sys.argv[1]))', arg], { encoding: 'buffer' });
    expect(result.stdout).toEqual(arg);
  });

  it('cwd sets the working directory', async () => {
    expect((await run('pwd', [], { cwd: tmp })).stdout.toString()).toBe(`${tmp}\n`);
  });

  it("stdio: 'ignore' is /dev/null, a number is that fd, a path is opened with its flags", async () => {
    const ignored = await run('readlink', ['/proc/self/fd/0'], {});
    expect(ignored.stdout.toString()).toBe('/dev/null\n');
    const file = path.join(tmp, 'stdio-out');
    const fd = fs.openSync(file, 'w');
    const child = await spawn('sh', ['-c', 'echo via-fd; readlink /proc/self/fd/2'], { stdio: ['ignore', fd, 'ignore'] });
    fs.closeSync(fd);
    expect((await child.wait()).status).toEqual(ok);
    expect(fs.readFileSync(file, 'utf8')).toBe('via-fd\n/dev/null\n');
    const appended = await spawn('echo', ['appended'], { stdio: ['ignore', { path: file, flags: 'a' }, 'inherit'] });
    await appended.wait();
    expect(fs.readFileSync(file, 'utf8')).toBe('via-fd\n/dev/null\nappended\n');
    const input = await run('cat', [], { stdin: { path: file } });
    expect(input.stdout.toString()).toBe('via-fd\n/dev/null\nappended\n');
  });

  it('stdio swaps: child stdout to parent fd 2 and stderr to parent fd 1', () => {
    const script = `
      const p = require('./dist/index.js');
      p.spawn('sh', ['-c', 'echo to-stdout; echo to-stderr >&2'], { stdio: ['ignore', 2, 1] }).then((c) => c.wait());`;
    const result = runNode(script);
    expect(result.stdout).toBe('to-stderr\n');
    expect(result.stderr).toBe('to-stdout\n');
  });

  it("a child that inherits Node's non-blocking stdout gets it blocking: head -c 1 MiB into a full pipe delivers every byte", async () => {
    // The script's stdout is a pipe that Node makes non-blocking once process.stdout is used. It
    // spawns head with stdio 'inherit', and this test reads nothing until head has filled the
    // pipe: head then waits in write(2), or fails with EAGAIN if its stdout is non-blocking.
    const script = `
      const fs = require('fs');
      const p = require('./dist/index.js');
      process.stdout;
      const nonBlocking = () => (parseInt(/^flags:\\s*(\\d+)/m.exec(fs.readFileSync('/proc/self/fdinfo/1', 'utf8'))[1], 8) & fs.constants.O_NONBLOCK) !== 0;
      const before = nonBlocking();
      p.spawn('head', ['-c', '1048576', '/dev/zero'], { stdio: ['ignore', 'inherit', 'inherit'] }).then(async (child) => {
        const waitingInWrite = () => {
          try {
            return /pipe_write/.test(fs.readFileSync('/proc/' + child.pid + '/wchan', 'utf8'));
          } catch {
            return false;
          }
        };
        while (child.exitResult === null && !waitingInWrite()) await new Promise((resolve) => setTimeout(resolve, 5));
        fs.writeSync(2, 'full\\n');
        const { status } = await child.wait();
        fs.writeSync(2, JSON.stringify({ before, status, after: nonBlocking() }) + '\\n');
      });`;
    const parent = await spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'], cwd: path.join(__dirname, '..') });
    let stderr = '';
    let bytes = 0;
    let read: Promise<unknown> = Promise.resolve();
    parent.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      const wasFull = stderr.includes('full\n');
      stderr += chunk;
      if (!wasFull && stderr.includes('full\n')) read = once(parent.stdout.on('data', (data: Buffer) => (bytes += data.length)), 'end');
    });
    await once(parent.stderr, 'end');
    await read;
    expect((await parent.wait()).status).toEqual(ok);
    expect(stderr.split('\n').slice(0, 2)).toEqual(['full', JSON.stringify({ before: true, status: ok, after: false })]);
    expect(bytes).toBe(1048576);
  });

  it('works when the parent has closed its own std fds', () => {
    const script = `
      const fs = require('fs');
      fs.closeSync(0);
      fs.closeSync(2);
      const p = require('./dist/index.js');
      p.run('sh', ['-c', 'ls /proc/self/fd; echo done'], { stdin: 'inherit' }).then((r) => fs.writeSync(1, r.stdout.toString() + JSON.stringify(r.status)));`;
    const result = runNode(script);
    // fd 0 was closed in the parent and stays closed in the child, so ls's own directory fd takes
    // the lowest free number, 0; 1 and 2 are run's pipes, and nothing else is open.
    expect(result.stdout).toBe('0\n1\n2\ndone\n{"kind":"exited","code":0}');
  });

  it('every combination of closed parent fds 0..2 works with every stdio kind, for spawn, run and daemon', { timeout: 120_000 }, () => {
    // Node reopens closed std fds at startup, so the script closes them itself, in every
    // combination; fds it opens meanwhile land on the lowest closed one (the parent-fd case on
    // purpose). While the cases run, another child is alive: the library's own fds (its pidfd)
    // must not sit on a closed std fd either, where 'inherit' would hand them to a child.
    const script = `
      const fs = require('fs');
      const path = require('path');
      const p = require('./dist/index.js');
      const [dir, report] = process.argv.slice(1);
      const byPath = path.join(dir, 'by-path');
      const byFd = path.join(dir, 'by-fd');
      fs.writeFileSync(byPath, '');
      p.setChildSubreaper(true); // the daemons are adopted, and reaped, here
      const link = (pid, fd) => { try { return fs.readlinkSync('/proc/' + pid + '/fd/' + fd); } catch { return 'closed'; } };
      const shown = (target) => (target.startsWith('pipe:') ? 'pipe' : target);
      // fds 0..2 back on /dev/null, in order: open(2) takes the lowest free number.
      const reopenStd = () => {
        for (let fd = 0; fd <= 2; fd++) if (link('self', fd) === 'closed' && fs.openSync('/dev/null', 'r+') !== fd) throw new Error('reopen ' + fd);
      };
      const option = (kind, target, fileFd) => (kind === 'fd' ? fileFd : kind === 'path' ? { path: byPath, flags: target === 0 ? 'r' : 'a' } : kind);
      const expected = (kind, target, closed, fileFd) => {
        if (kind === 'inherit') return !closed.includes(target) ? '/dev/null' : fileFd === target ? byFd : 'closed';
        return { ignore: '/dev/null', pipe: 'pipe', fd: byFd, path: byPath }[kind];
      };
      // Each kind on all three fds, and on one fd with \`rest\` on the others.
      const layouts = (kinds, rest) => {
        const all = new Map();
        for (const kind of kinds) {
          all.set([kind, kind, kind].join(), [kind, kind, kind]);
          for (let target = 0; target < 3; target++) {
            const layout = [rest, rest, rest];
            layout[target] = kind;
            all.set(layout.join(), layout);
          }
        }
        return [...all.values()];
      };
      // Read a child's fds once it sleeps: while the program starts, the dynamic loader and
      // setlocale open files of their own, which land on a closed std fd for a moment.
      const asleep = async (pid) => {
        const wchan = () => { try { return fs.readFileSync('/proc/' + pid + '/wchan', 'utf8'); } catch { return ''; } };
        while (!wchan().includes('nanosleep')) await new Promise((resolve) => setTimeout(resolve, 1));
      };
      const spawned = async (stdio) => {
        const child = await p.spawn('sleep', ['30'], { stdio });
        await asleep(child.pid);
        const fds = [0, 1, 2].map((fd) => shown(link(child.pid, fd)));
        child.kill('SIGKILL');
        await child.wait();
        for (const stream of [child.stdin, child.stdout, child.stderr]) stream?.destroy();
        return fds;
      };
      const ran = async ([stdin]) => {
        const result = await p.run('sh', ['-c', 'readlink /proc/$$/fd/0 || echo closed'], stdin === 'pipe' ? { input: '' } : { stdin });
        return [shown(result.stdout.toString().trim())];
      };
      const daemonized = async (stdio) => {
        const pid = await p.daemon('sleep', ['30'], { stdio });
        await asleep(pid);
        const fds = [0, 1, 2].map((fd) => shown(link(pid, fd)));
        p.kill(pid, 'SIGKILL');
        p.waitpid(pid);
        return fds;
      };
      const mismatches = [];
      let cases = 0;
      const check = async (api, closed, kinds, start) => {
        cases++;
        const fileFd = fs.openSync(byFd, 'a');
        const want = kinds.map((kind, target) => expected(kind, target, closed, fileFd));
        let got;
        try {
          got = await start(kinds.map((kind, target) => option(kind, target, fileFd)));
        } catch (error) {
          got = [error.code + ' ' + error.syscall + ' ' + error.step];
        }
        fs.closeSync(fileFd);
        if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push({ api, closed, kinds, want, got });
      };
      (async () => {
        for (let fd = 0; fd <= 2; fd++) fs.closeSync(fd);
        reopenStd();
        // What the library makes on first use is made now, with every std fd open.
        await Promise.all([spawned('ignore'), spawned('ignore'), ran(['ignore']), daemonized('ignore')]);
        for (let mask = 0; mask < 8; mask++) {
          reopenStd();
          const closed = [0, 1, 2].filter((fd) => mask & (1 << fd));
          for (const fd of closed) fs.closeSync(fd);
          const other = await p.spawn('sleep', ['30']);
          const taken = closed.filter((fd) => link('self', fd) !== 'closed');
          if (taken.length > 0) mismatches.push({ api: 'spawn left its own fd on a closed std fd', closed, got: taken.map((fd) => link('self', fd)) });
          for (const kinds of layouts(['inherit', 'ignore', 'pipe', 'fd', 'path'], 'inherit')) await check('spawn', closed, kinds, spawned);
          for (const kind of ['inherit', 'ignore', 'pipe', 'fd', 'path']) await check('run', closed, [kind], ran);
          for (const kinds of layouts(['ignore', 'fd', 'path'], 'ignore')) await check('daemon', closed, kinds, daemonized);
          other.kill('SIGKILL');
          await other.wait();
        }
        reopenStd();
        fs.writeFileSync(report, JSON.stringify({ cases, mismatches }));
      })().catch((error) => fs.writeFileSync(report, JSON.stringify({ error: String(error && error.stack) })));`;
    const dir = fs.mkdtempSync(path.join(tmp, 'closed-std-'));
    const report = path.join(dir, 'report.json');
    const result = runNode(script, { args: [dir, report], timeout: 100_000 });
    expect(result.stdout + result.stderr).toBe('');
    // 8 combinations, each with 17 spawn layouts, 5 run stdins and 9 daemon layouts.
    expect(JSON.parse(fs.readFileSync(report, 'utf8'))).toEqual({ cases: 248, mismatches: [] });
  });

  it('fds maps extra fds; every other fd is closed, even an inheritable one opened natively', async () => {
    const stray = binding.testing.openInheritable('/etc/hostname');
    const mapped = fs.openSync('/etc/hostname', 'r');
    try {
      const result = await run('sh', ['-c', 'ls /proc/self/fd; cat <&7'], { fds: { 7: mapped } });
      const listed = result.stdout.toString().split('\n');
      expect(listed.slice(0, 5)).toEqual(['0', '1', '2', '3', '7']); // 3 is ls's own directory fd
      expect(listed).not.toContain(String(stray));
      expect(result.stdout.toString()).toContain(fs.readFileSync('/etc/hostname', 'utf8'));
    } finally {
      fs.closeSync(stray);
      fs.closeSync(mapped);
    }
  });

  it('fds keys are child fd numbers in decimal: another spelling of one (03, 0x3, 3.0) is refused, nothing opened', async () => {
    const before = openFds();
    for (const key of ['03', '0x3', '3.0', ' 3', '3e0', '+3']) {
      // Each beside a plain 3: both name child fd 3, and both 'pipe' made two socket pairs for it.
      await expect(spawn('/bin/true', [], { fds: { 3: 'pipe', [key]: 'pipe' } })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    }
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('setsid starts a session; pgid 0 leads a new group and pgid N joins one', async () => {
    const session = await spawn('sleep', ['30'], { setsid: true });
    expect([statField(session.pid, 5), statField(session.pid, 6)]).toEqual([String(session.pid), String(session.pid)]);
    const leader = await spawn('sleep', ['30'], { pgid: 0 });
    const member = await spawn('sleep', ['30'], { pgid: leader.pid });
    expect([statField(leader.pid, 5), statField(member.pid, 5)]).toEqual([String(leader.pid), String(leader.pid)]);
    expect(member.leadsGroup).toBe(false);
    // A group of another session cannot be joined.
    expect(await rejection(spawn('sleep', ['30'], { pgid: session.pid }))).toMatchObject({ code: 'EPERM', syscall: 'setpgid', step: 'setpgid' });
    for (const child of [session, leader, member]) child.kill('SIGKILL');
    await Promise.all([session.wait(), leader.wait(), member.wait()]);
  });

  it('signal dispositions start at their defaults (yes | head -1 is quiet) and sigmask blocks', async () => {
    expect(text(await run('sh', ['-c', 'yes | head -1']))).toEqual({ status: ok, stdout: 'y\n', stderr: '' });
    const status = (await run('grep', ['-E', '^Sig(Blk|Ign)', '/proc/self/status'], { sigmask: ['SIGUSR1', 'SIGTERM'] })).stdout.toString();
    expect(status).toBe('SigBlk:\t0000000000004200\nSigIgn:\t0000000000000000\n');
  });

  it('umask, nice and rlimits (visible in /proc/<pid>/limits)', async () => {
    expect((await run('sh', ['-c', 'umask'], { umask: 0o027 })).stdout.toString()).toBe('0027\n');
    const child = await spawn('sleep', ['30'], { nice: 7, rlimits: { nofile: [256, 512], core: Infinity, cpu: 100 } });
    expect(statField(child.pid, 19)).toBe('7');
    const limits = fs.readFileSync(`/proc/${child.pid}/limits`, 'utf8');
    expect(limits).toMatch(/Max open files\s+256\s+512\s+files/);
    expect(limits).toMatch(/Max core file size\s+unlimited\s+unlimited\s+bytes/);
    expect(limits).toMatch(/Max cpu time\s+100\s+100\s+seconds/);
    child.kill('SIGKILL');
    await child.wait();
  });

  it('a negative nice as root (CAP_SYS_NICE); EACCES from setpriority without it', async () => {
    const started = spawn('sleep', ['30'], { nice: -5 });
    if (process.getuid!() !== 0) {
      expect(await rejection(started)).toMatchObject({ code: 'EACCES' });
      return;
    }
    const child = await started;
    expect(statField(child.pid, 19)).toBe('-5');
    child.kill('SIGKILL');
    await child.wait();
  });

  it('uid, gid and groups (setgroups, then setgid, then setuid)', async () => {
    const result = await run('id', [], { uid: 65534, gid: 65534, groups: [65534, 100] });
    expect(result.stdout.toString()).toMatch(/^uid=65534\(\w+\) gid=65534\(\w+\) groups=65534\(\w+\),100\(\w+\)\n$/);
  });

  it("uid or gid without groups leaves the child no supplementary group, not root's (setpriv --groups=0,4,27); groups still win", () => {
    // Under setpriv, this Node process has the supplementary groups 0, 4 and 27.
    const script = `
      const p = require('./dist/index.js');
      const groupsOf = (options) => p.run('grep', ['^Groups:', '/proc/self/status'], options).then((r) => r.stdout.toString().slice(7).trim());
      (async () => {
        const child = await p.spawn('sleep', ['30'], { uid: 65534, gid: 65534 });
        const handle = /^Groups:(.*)$/m.exec(require('fs').readFileSync('/proc/' + child.pid + '/status', 'utf8'))[1].trim();
        child.kill('SIGKILL');
        await child.wait();
        console.log(JSON.stringify({
          parent: await groupsOf({}),
          both: await groupsOf({ uid: 65534, gid: 65534 }),
          uidOnly: await groupsOf({ uid: 65534 }),
          gidOnly: await groupsOf({ gid: 65534 }),
          handle,
          explicit: await groupsOf({ uid: 65534, gid: 65534, groups: [100, 4] }),
          explicitEmpty: await groupsOf({ uid: 65534, groups: [] }),
        }));
      })();`;
    const result = child_process.spawnSync('setpriv', ['--groups=0,4,27', process.execPath, '-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8', timeout: 20_000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ parent: '0 4 27', both: '', uidOnly: '', gidOnly: '', handle: '', explicit: '4 100', explicitEmpty: '' });
  });

  it('uid and gid of its own as an unprivileged user: the groups it may not drop are kept, no EPERM', () => {
    const script = `
      const p = require('./dist/index.js');
      p.run('id', ['-u'], { uid: 65534, gid: 65534 }).then((r) => console.log(JSON.stringify(r.status), r.stdout.toString().trim()), (e) => console.log(e.code, e.step));`;
    const result = runNode(script, { uid: 65534, gid: 65534 });
    expect(result.stdout).toBe('{"kind":"exited","code":0} 65534\n');
  });

  it('pdeathsig kills the child when the parent Node process dies; without it the orphan lives on', async () => {
    const script = `
      const p = require('./dist/index.js');
      Promise.all([p.spawn('sleep', ['30'], { pdeathsig: 'SIGKILL', stdio: 'ignore' }), p.spawn('sleep', ['30'], { stdio: 'ignore' })])
        .then(([armed, control]) => { console.log(armed.pid, control.pid); process.exit(0); });`;
    const result = runNode(script);
    const [armed, control] = result.stdout.trim().split(' ').map(Number) as [number, number];
    expect(armed).toBeGreaterThan(0);
    // The orphan is adopted by init or a subreaper, which reaps it: gone, or at worst a zombie.
    await until(() => processState(armed) === undefined || processState(armed) === 'Z');
    expect(processState(control)).toMatch(/^[SRD]$/);
    process.kill(control, 'SIGKILL');
  });

  it('AbortSignal kills the child with killSignal; an aborted signal rejects before spawning', async () => {
    const controller = new AbortController();
    const child = await spawn('sleep', ['30'], { signal: controller.signal });
    controller.abort();
    expect((await child.wait()).status).toMatchObject({ kind: 'signaled', signal: 'SIGTERM' });
    await expect(spawn('sleep', ['30'], { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('one AbortSignal reused by 100 spawns and 100 runs keeps no abort listener once they have ended', async () => {
    const controller = new AbortController();
    for (let i = 0; i < 100; i++) await (await spawn('true', [], { signal: controller.signal })).wait();
    for (let i = 0; i < 100; i++) await run('true', [], { signal: controller.signal });
    // A child's listener goes in the turn after its wait resolves.
    await until(() => getEventListeners(controller.signal, 'abort').length === 0);
  });

  it('a signal aborted while spawn() reads its options cancels the spawn: the program never runs', async () => {
    const marker = path.join(tmp, 'aborted-during-call.ran');
    const controller = new AbortController();
    // A getter of the env, read by spawn() after its check of signal.aborted.
    const env = {
      get X(): string {
        controller.abort();
        return '1';
      },
    };
    const outcome = await spawn('touch', [marker], { signal: controller.signal, env }).then(
      async (child) => (await child.wait()).status,
      (reason: unknown) => reason,
    );
    expect(outcome).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(fs.existsSync(marker)).toBe(false);
    expect(zombieChildren()).toEqual([]);
  });

  it('timeout sends killSignal', async () => {
    const started = Date.now();
    const child = await spawn('sleep', ['30'], { timeout: 1000, killSignal: 'SIGKILL' });
    expect((await child.wait()).status).toMatchObject({ kind: 'signaled', signal: 'SIGKILL' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  /** Checks that the child's unref() takes one timer off those keeping the loop alive, and ref() puts it back; then kills and reaps it. */
  async function unrefTakesOneTimer(child: ChildProcess): Promise<void> {
    // The timers that keep this event loop alive, counted between synchronous calls only.
    const refTimers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    try {
      const before = refTimers();
      child.unref();
      expect(refTimers()).toBe(before - 1);
      child.ref();
      expect(refTimers()).toBe(before);
    } finally {
      child.kill('SIGKILL');
      await child.wait();
    }
  }

  it("unref() lets the event loop end with a timeout pending too: the timeout's timer follows unref and ref", async () => {
    await unrefTakesOneTimer(await spawn('sleep', ['30'], { timeout: 600_000 }));
  });

  it("unref() lets the event loop end during a stop's grace period too: its timer follows unref and ref", async () => {
    // After the timeout's SIGTERM, the grace period's timer (forceKillAfter) kept an unref()'d
    // child's program alive until it ran out (5 s by default).
    const child = await spawn('/bin/sh', ['-c', "trap '' TERM; while :; do sleep 1; done"], { timeout: 50, forceKillAfter: 600_000 });
    await until(() => child[stopAsked]() === 'timeout', 10_000); // the SIGTERM is sent: the grace period runs
    await unrefTakesOneTimer(child);
  });
});

describe('spawn: PATH search in the child environment', () => {
  const dirA = path.join(tmp, 'a');
  const dirB = path.join(tmp, 'b');
  fs.mkdirSync(dirA);
  fs.mkdirSync(dirB);
  fs.writeFileSync(path.join(dirA, 'tool'), '#!/bin/sh\necho from-a\n', { mode: 0o644 }); // not executable
  fs.writeFileSync(path.join(dirB, 'tool'), '#!/bin/sh\necho from-b\n', { mode: 0o755 });
  fs.writeFileSync(path.join(dirA, 'plain'), 'echo no shebang\n', { mode: 0o755 });
  fs.writeFileSync(path.join(dirA, 'locked'), '#!/bin/sh\n', { mode: 0o644 });

  it("uses the child's PATH, and a non-executable earlier match lets the search go on", async () => {
    const result = await run('tool', [], { env: { PATH: `${dirA}:${dirB}` } });
    expect(result.stdout.toString()).toBe('from-b\n');
  });

  it('reports EACCES when only non-executable matches exist, ENOENT when none', async () => {
    expect(await rejection(spawn('locked', [], { env: { PATH: `${dirA}:${dirB}` } }))).toMatchObject({ code: 'EACCES', path: 'locked', step: 'exec' });
    expect(await rejection(spawn('tool', [], { env: { PATH: '/nonexistent' } }))).toMatchObject({ code: 'ENOENT', path: 'tool' });
  });

  it('each spawn searches the PATH it has, in process.env too, one after another for one program', async () => {
    // The list of candidates is reused while the program and the PATH stay the same.
    const tool = async (env?: Record<string, string>): Promise<string> => (await run('tool', [], env === undefined ? {} : { env })).stdout.toString();
    expect(await tool({ PATH: dirB })).toBe('from-b\n');
    expect(await rejection(spawn('tool', [], { env: { PATH: dirA } }))).toMatchObject({ code: 'EACCES' });
    expect(await tool({ PATH: dirB })).toBe('from-b\n');
    const saved = process.env.PATH;
    try {
      process.env.PATH = dirB;
      expect(await tool()).toBe('from-b\n');
      process.env.PATH = dirA;
      expect(await rejection(spawn('tool'))).toMatchObject({ code: 'EACCES' });
    } finally {
      process.env.PATH = saved;
    }
  });

  it('ENOEXEC for a file without a shebang: no fallback to /bin/sh', async () => {
    expect(await rejection(spawn('plain', [], { env: { PATH: dirA } }))).toMatchObject({ code: 'ENOEXEC', errno: -8, syscall: 'execve', step: 'exec' });
  });
});

describe('spawn: errors name the step, and leave nothing behind', () => {
  let fdsBefore: number[] = [];
  let childrenBefore: ReadonlySet<number> = new Set();
  beforeAll(() => {
    fdsBefore = openFds();
    childrenBefore = childSnapshot();
  });

  it('ENOENT names the program', async () => {
    expect(await rejection(spawn('/nonexistent/program'))).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'execve', path: '/nonexistent/program', step: 'exec' });
  });

  it('ENOENT for an empty program name, as execvp(3) gives', async () => {
    expect(await rejection(spawn(''))).toMatchObject({ code: 'ENOENT', syscall: 'execve', step: 'exec' });
  });

  it('EACCES on a directory, ENOTDIR through a file', async () => {
    expect(await rejection(spawn('/tmp'))).toMatchObject({ code: 'EACCES', path: '/tmp' });
    expect(await rejection(spawn('/etc/hostname/x'))).toMatchObject({ code: 'ENOTDIR', path: '/etc/hostname/x' });
  });

  it('E2BIG for a 128 KiB argument', async () => {
    expect(await rejection(spawn('/bin/true', ['x'.repeat(128 * 1024)]))).toMatchObject({ code: 'E2BIG', step: 'exec' });
  });

  it('a bad cwd gives ENOENT with path = the cwd', async () => {
    const cwd = path.join(tmp, 'no-such-dir');
    expect(await rejection(spawn('/bin/true', [], { cwd }))).toMatchObject({ code: 'ENOENT', syscall: 'chdir', path: cwd, step: 'chdir' });
  });

  it('a redirect that cannot be opened names its path', async () => {
    const target = path.join(tmp, 'missing', 'out.txt');
    expect(await rejection(spawn('/bin/true', [], { stdio: ['ignore', { path: target }, 'inherit'] }))).toMatchObject({ code: 'ENOENT', syscall: 'open', path: target, step: 'open fd 1' });
  });

  it('EPERM for a uid change when not allowed (as nobody)', () => {
    const script = `
      const p = require('./dist/index.js');
      p.spawn('/bin/true', [], { uid: 0 }).then(() => console.log('allowed?'), (e) => console.log(e.code, e.syscall, e.step));`;
    const result = runNode(script, { uid: 65534, gid: 65534 });
    expect(result.stdout.trim()).toBe('EPERM setuid setuid');
  });

  it('leaves no zombie and no fd after the failures', async () => {
    await until(() => openFds().every((fd) => fdsBefore.includes(fd)));
    expect(zombieChildren(childrenBefore)).toEqual([]);
  });

  it.each([
    [() => spawn('echo', ['a\0b'])],
    [() => spawn('ec\0ho')],
    [() => spawn('echo', [], { env: { 'A=B': '1' } })],
    [() => spawn('echo', [], { env: { A: 'x\0' } })],
    [() => spawn('echo', [], { env: { [Symbol('s')]: 'x' } as never })],
    [() => spawn('echo', [], { env: [42 as never] })],
    [() => spawn('echo', 'x' as never)],
    [() => spawn('echo', [], { stdio: ['bogus'] } as unknown as SpawnOptions)],
    [() => spawn('echo', [], { cwd: 5 as never })],
    [() => spawn('echo', [], { sigmask: ['SIGWHAT' as never] })],
    [() => spawn('echo', [], { signal: 'abort' as never })],
    [() => spawn('echo', [], { rlimits: { files: 5 } as never })],
  ])('rejects bad input with TypeError before spawning (%#)', async (fn) => {
    await expect(fn()).rejects.toThrow(TypeError);
  });

  it.each([
    [() => spawn('echo', [], { stdio: [-1] })],
    [() => spawn('echo', [], { fds: { 3: -5 } })],
    [() => spawn('echo', [], { fds: { 2: 5 } })],
    [() => spawn('echo', [], { uid: -1 })],
    [() => spawn('echo', [], { nice: 40 })],
    [() => spawn('echo', [], { timeout: -1 })],
    [() => spawn('echo', [], { timeout: NaN })],
    [() => spawn('echo', [], { rlimits: { nofile: [10, 5] } })],
    [() => spawn('echo', [], { umask: 0o1000 })],
  ])('rejects out-of-range values with RangeError before spawning (%#)', async (fn) => {
    const fds = openFds();
    await expect(fn()).rejects.toThrow(RangeError);
    expect(openFds().filter((fd) => !fds.includes(fd))).toEqual([]);
  });
});

describe('run', () => {
  it('collects stdout and stderr and returns the status instead of throwing', async () => {
    const result = await run('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    expect(text(result)).toEqual({ status: { kind: 'exited', code: 3 }, stdout: 'out\n', stderr: 'err\n' });
    expect(result.rusage.maxRSS).toBeGreaterThan(0);
  });

  it('writes input to stdin', async () => {
    expect((await run('tr', ['a-z', 'A-Z'], { input: 'shout\n' })).stdout.toString()).toBe('SHOUT\n');
  });

  it('kills the child and rejects when output passes maxBuffer', async () => {
    await expect(run('yes', [], { maxBuffer: 100_000 })).rejects.toMatchObject({ code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER' });
    expect(zombieChildren()).toEqual([]);
  });
});

describe('spawn: the direct clone and the spawning thread', () => {
  // One spawn at a time is cloned from the JS thread, which goes on while the child runs; spawns
  // asked for meanwhile go through the spawning thread (native/spawn_clone.cc).
  it("the direct child leaves the JS thread's errno alone while it fails system calls", async () => {
    // 300 missing PATH entries: 300 failed execve calls (ENOENT) in the child, made while the JS
    // thread, which shares its thread-local storage, watches errno without a system call.
    const missing = Array.from({ length: 300 }, (_, i) => path.join(tmp, `missing-${i}`));
    const PATH = [...missing, '/bin', '/usr/bin'].join(':');
    for (let round = 0; round < 5; round++) {
      const started = spawn('true', [], { env: { PATH }, stdio: 'ignore' });
      expect(binding.testing.watchErrno(50)).toBe(0);
      expect((await (await started).wait()).status).toEqual(ok);
    }
  });

  it('spawns asked for together complete, each with its own outcome, on either path', async () => {
    const fds = openFds();
    const outcomes = await Promise.allSettled([
      run('sh', ['-c', 'exit 3']),
      spawn(path.join(tmp, 'no-such-program')),
      run('sh', ['-c', 'echo $0'], { argv0: 'named' }),
      spawn('true', [], { cwd: path.join(tmp, 'no-such-dir') }),
      run('sh', ['-c', 'exit 4']),
      spawn('true', [], { stdio: ['ignore', { path: path.join(tmp, 'no-dir', 'out') }, 'ignore'] }),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled', 'rejected']);
    const value = (i: number): RunResult => (outcomes[i] as PromiseFulfilledResult<RunResult>).value;
    const reason = (i: number): unknown => (outcomes[i] as PromiseRejectedResult).reason;
    expect(value(0).status).toEqual({ kind: 'exited', code: 3 });
    expect(reason(1)).toMatchObject({ code: 'ENOENT', step: 'exec', path: path.join(tmp, 'no-such-program') });
    expect(value(2).stdout.toString()).toBe('named\n');
    expect(reason(3)).toMatchObject({ code: 'ENOENT', step: 'chdir', path: path.join(tmp, 'no-such-dir') });
    expect(value(4).status).toEqual({ kind: 'exited', code: 4 });
    expect(reason(5)).toMatchObject({ code: 'ENOENT', step: 'open fd 1', path: path.join(tmp, 'no-dir', 'out') });
    await until(() => openFds().every((fd) => fds.includes(fd)));
    expect(zombieChildren()).toEqual([]);
  });

  it('a spawn queued behind a direct clone starts even while the JS thread stays busy', async () => {
    // The spawning thread leaves the JS thread a short grace to end its turn, not for ever: the
    // child must run while this test blocks synchronously.
    const marker = path.join(tmp, 'started-while-blocked');
    const first = spawn('sleep', ['0.2'], { stdio: 'ignore' });
    const second = spawn('touch', [marker]);
    // Blocked until touch has run (seconds under qemu-user on a loaded machine), never for ever.
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (const end = Date.now() + 20_000; !fs.existsSync(marker) && Date.now() < end; ) Atomics.wait(pause, 0, 0, 5);
    expect(fs.existsSync(marker)).toBe(true);
    for (const child of await Promise.all([first, second])) expect((await child.wait()).status).toEqual(ok);
  });

  it('a request fails with the same step on either path', async () => {
    // fd 100 cannot exist under RLIMIT_NOFILE 100: the move of the sources fails first.
    const request = (): Promise<unknown> => spawn('true', [], { rlimits: { nofile: [100, 100] }, fds: { 100: 1 } });
    await new Promise(setImmediate); // nothing under way: this one is a direct clone
    const alone = await rejection(request());
    const [first, inBurst] = await Promise.allSettled([spawn('true'), request()]);
    await (first as PromiseFulfilledResult<{ wait(): Promise<unknown> }>).value.wait();
    // Named as the fd out of range, as dup2(2) onto it would fail: EBADF (not the EINVAL of the
    // first source moved above it, which named fd 0).
    expect(alone).toMatchObject({ code: 'EBADF', syscall: 'dup2', step: 'fd 100' });
    expect((inBurst as PromiseRejectedResult).reason).toMatchObject({ code: (alone as { code: string }).code, step: (alone as { step: string }).step });
  });

  it('the binding re-checks rlimit values it is passed directly: RangeError, nothing spawned', () => {
    // One candidate, argv of one, this process's environment, no cwd, no fds, options left.
    const layout = new Float64Array(binding.spawnSchema.layout.size);
    layout.set([1, 1, -1, 0, 0, 0, -1, -1, -1, NaN, -1, 0, 0, 0, 0, 0, 0]);
    layout[binding.spawnSchema.layout.cgroupFd] = -1;
    layout[binding.spawnSchema.layout.setctty] = -1;
    layout[binding.spawnSchema.layout.foreground] = -1;
    const nofile = binding.spawnOptionConstants.rlimits.nofile!;
    const start = (limit: unknown): unknown => binding.spawnStart(-1, '/bin/true\0true\0', layout, undefined, [{ resource: nofile, soft: limit, hard: limit }] as never);
    for (const bad of [-1, 0.5, 2 ** 60, 2n ** 64n]) expect(() => start(bad)).toThrow(RangeError);
  });

  it('the binding re-checks the packed request it is passed directly: nothing spawned', () => {
    const layout = (...slots: number[]): Float64Array => new Float64Array([...slots, ...new Array<number>(binding.spawnSchema.layout.size - slots.length).fill(0)]);
    const start = (strings: unknown, packed: Float64Array): unknown => binding.spawnStart(-1, strings as string, packed, undefined, undefined);
    const children = new Set(childPids());
    const fds = openFds();
    // Counts that do not match the strings, a last string without its NUL, a Buffer with a NUL.
    expect(() => start('/bin/true\0true\0', layout(1, 2, -1))).toThrow(TypeError);
    expect(() => start('/bin/true\0true', layout(1, 1, -1))).toThrow(TypeError);
    expect(() => start(['/bin/true', Buffer.from('tr\0ue')], layout(1, 1, -1))).toThrow(TypeError);
    // Counts, fds and options out of range, and a layout too short for its fds. A huge count
    // is refused before anything is sized by it.
    expect(() => start('/bin/true\0', layout(1, -2, -1))).toThrow(RangeError);
    expect(() => start('/bin/true\0', layout(2 ** 32 - 1, 0, -1))).toThrow(RangeError);
    expect(() => start('/bin/true\0', layout(2 ** 31 - 1, 0, -1))).toThrow(TypeError);
    expect(() => start('/bin/true\0/dev/null\0', layout(1, 0, -1, 0, 1, ...new Array<number>(12).fill(0), 0, -1, 0, 0, -1))).toThrow(RangeError);
    expect(() => start('/bin/true\0', layout(1, 0, -1, 0, 0, 0, 2 ** 31, -1, -1, NaN, -1, 0, 0))).toThrow(RangeError);
    expect(() => start('/bin/true\0', layout(1, 0, -1, 0, 0, 0, -1, -1, -1, -21, -1, 0, 0))).toThrow(RangeError);
    expect(() => start('/bin/true\0', layout(1, 0, -1, 0, 1))).toThrow(RangeError);
    expect(() => start('/bin/true\0', layout(1, 0, -1, 0, 0, 0, -1, -1, -1, 0.5))).toThrow(RangeError);
    expect(() => start('/bin/true\0', new Float64Array(3))).toThrow(TypeError);
    expect(childPids().filter((pid) => !children.has(pid))).toEqual([]);
    expect(openFds()).toEqual(fds);
  });

  it("the direct clone's exec notice cannot be mapped into the child: EBADF, as for any fd not open", async () => {
    // The notice pipe takes the two lowest free fds when spawn() runs: its write end is the
    // second. Mapping it would keep it open past exec, and spawn() would wait for the exit.
    const children = new Set(childPids());
    const first = fs.openSync('/dev/null', 'r');
    const second = fs.openSync('/dev/null', 'r');
    fs.closeSync(first);
    fs.closeSync(second);
    const started = Date.now();
    // Mapped, the notice would make spawn() wait for the end of the sleep: 30 s, not a few.
    expect(await rejection(spawn('sleep', ['30'], { stdio: 'ignore', fds: { 3: second } }))).toMatchObject({ code: 'EBADF', syscall: 'dup2', step: 'fd 3' });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(zombieChildren().filter((pid) => !children.has(pid))).toEqual([]);
  });
});

describe('spawn: a timeout or an abort after the child failed on its own', () => {
  it("rejects with the step's own error (ENOENT), not ETIMEDOUT or an AbortError", () => {
    // This thread stays busy, so no exec notice is read, until both children have failed their
    // exec and are zombies; then the abort, and the due timer, come before the notices.
    const before = new Set(childPids());
    const controller = new AbortController();
    const aborted = spawn('/nonexistent/program', [], { signal: controller.signal });
    const timedOut = spawn('/nonexistent/program', [], { timeout: 1 });
    const failed = (): number[] => childPids().filter((pid) => !before.has(pid) && processState(pid) === 'Z');
    const sleep = new Int32Array(new SharedArrayBuffer(4));
    for (let waited = 0; failed().length < 2 && waited < 20_000; waited += 5) Atomics.wait(sleep, 0, 0, 5);
    expect(failed()).toHaveLength(2);
    controller.abort();
    return (async () => {
      const enoent = { status: 'rejected', reason: { code: 'ENOENT', syscall: 'execve', step: 'exec' } };
      expect(await Promise.allSettled([aborted, timedOut])).toMatchObject([enoent, enoent]);
      expect(zombieChildren()).toEqual([]);
    })();
  });
});

describe('spawn: a child stuck before its exec', () => {
  // Its stdin is a FIFO that nobody opens for writing: the child blocks in open(2), before its
  // exec, for as long as the test likes. The program would create `marker` if it ever ran.
  let count = 0;
  const stuckSpawn = (options: SpawnOptions = {}): { started: Promise<unknown>; fifo: string; marker: string } => {
    const fifo = path.join(tmp, `stuck-${++count}`);
    const marker = `${fifo}.ran`;
    child_process.execFileSync('mkfifo', [fifo]);
    return { started: spawn('sh', ['-c', `touch '${marker}'`], { ...options, stdio: [{ path: fifo }, 'ignore', 'ignore'] }), fifo, marker };
  };
  /**
   * The child of this process made since `before`, once there is one and it sleeps in the FIFO's
   * open (its wchan): sleeping alone may be something else first (qemu-user's own locks).
   */
  const stuckChild = async (before: Set<number>): Promise<number> => {
    let pid = 0;
    await until(() => {
      pid = childPids().find((child) => !before.has(child)) ?? 0;
      return pid !== 0 && blockedInFifoOpen(pid);
    });
    return pid;
  };

  it.each([['direct clone', false], ['spawning thread', true]])('delays no later spawn; aborting it kills and reaps it before its program runs (%s)', async (_, burst) => {
    const fds = openFds();
    const before = new Set(childPids());
    const controller = new AbortController();
    const first = burst ? spawn('true') : undefined; // the stuck one then goes to the spawning thread
    const { started, marker } = stuckSpawn({ signal: controller.signal });
    const stuck = await stuckChild(new Set([...before, ...((await first)?.pid === undefined ? [] : [(await first)!.pid])]));
    // Five spawns, one after another and in a burst, all complete while it is stuck.
    for (let i = 0; i < 2; i++) expect((await run('sh', ['-c', `echo ${i}`])).stdout.toString()).toBe(`${i}\n`);
    const burstResults = await Promise.all([1, 2, 3].map((i) => run('sh', ['-c', `echo ${i}`])));
    expect(burstResults.map((result) => result.stdout.toString())).toEqual(['1\n', '2\n', '3\n']);
    expect(processState(stuck)).toBe('S');
    controller.abort();
    const error = await started.then(() => undefined, (reason: unknown) => reason);
    expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', step: 'open fd 0' });
    expect(processState(stuck)).toBeUndefined(); // killed and reaped
    expect(fs.existsSync(marker)).toBe(false);
    if (first !== undefined) await (await first).wait();
    await until(() => openFds().every((fd) => fds.includes(fd)));
    expect(zombieChildren()).toEqual([]);
  });

  it("holds no other spawn's pipe open: that one's output ends while it is stuck", async () => {
    // The other spawn's pipe ends are still open here when the stuck child is cloned (the busy
    // wait keeps its result from being delivered until the spawning thread has cloned it).
    const before = new Set(childPids());
    const quick = spawn('sh', ['-c', 'echo quick'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const controller = new AbortController();
    const { started } = stuckSpawn({ signal: controller.signal });
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    const child = await quick;
    await stuckChild(new Set([...before, child.pid]));
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    await new Promise((resolve) => child.stdout.on('end', resolve));
    expect(output).toBe('quick\n');
    expect((await child.wait()).status).toEqual(ok);
    controller.abort();
    await expect(started).rejects.toMatchObject({ name: 'AbortError', step: 'open fd 0' });
  });

  it('its timeout kills and reaps it, rejecting with ETIMEDOUT and the step it was in', async () => {
    const fds = openFds();
    // Long enough for the child to reach its open on a loaded machine (it takes microseconds).
    const { started, fifo, marker } = stuckSpawn({ timeout: 1000 });
    expect(await rejection(started)).toMatchObject({ code: 'ETIMEDOUT', syscall: 'open', step: 'open fd 0', path: fifo });
    expect(fs.existsSync(marker)).toBe(false);
    await until(() => openFds().every((fd) => fds.includes(fd)));
    expect(zombieChildren()).toEqual([]);
  });

  it('a spawn aborted while still queued is dropped: its program never runs', async () => {
    // A burst: the first is cloned directly, the rest go to the spawning thread, which gives each
    // stuck child 2 ms to exec before the next clone, so the last waits in the queue for 100 ms or
    // more, however slowly this thread runs (the suite also runs under qemu).
    const fifo = path.join(tmp, 'queue-blocker');
    child_process.execFileSync('mkfifo', [fifo]);
    const marker = path.join(tmp, 'queued.ran');
    // A signal each: 50 live spawns on one signal would pass its default of 10 listeners (a
    // warning, though each spawn removes its listener once it has ended).
    const blockers = Array.from({ length: 50 }, () => new AbortController());
    const controller = new AbortController();
    const first = spawn('true');
    const stuck = blockers.map((blocker) => spawn('true', [], { stdio: [{ path: fifo }, 'ignore', 'ignore'], signal: blocker.signal }));
    const queued = spawn('touch', [marker], { signal: controller.signal });
    controller.abort();
    const error = await queued.then(() => undefined, (reason: unknown) => reason);
    expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', step: 'queued' });
    for (const blocker of blockers) blocker.abort();
    for (const result of await Promise.allSettled(stuck)) expect(result).toMatchObject({ status: 'rejected', reason: { name: 'AbortError' } });
    await (await first).wait();
    expect(fs.existsSync(marker)).toBe(false);
    expect(zombieChildren()).toEqual([]);
  });

  it('killed by someone else before its exec, the spawn rejects (ECHILD, the step, the signal)', async () => {
    const before = new Set(childPids());
    const { started, fifo, marker } = stuckSpawn();
    process.kill(await stuckChild(before), 'SIGKILL');
    expect(await rejection(started)).toMatchObject({ code: 'ECHILD', syscall: 'open', step: 'open fd 0', path: fifo, signal: 'SIGKILL' });
    expect(fs.existsSync(marker)).toBe(false);
    expect(zombieChildren()).toEqual([]);
  });

  it('dies with the Node process that spawned it', async () => {
    const fifo = path.join(tmp, 'stuck-orphan');
    child_process.execFileSync('mkfifo', [fifo]);
    const script = `
      const fs = require('fs');
      const p = require('./dist/index.js');
      p.spawn('cat', [], { stdio: [{ path: ${JSON.stringify(fifo)} }, 'ignore', 'ignore'] });
      const children = fs.readdirSync('/proc/self/task').flatMap((task) => fs.readFileSync('/proc/self/task/' + task + '/children', 'utf8').split(' ').filter(Boolean));
      console.log(children.join(' '));
      setInterval(() => {}, 1000);`;
    // Adopted by this process once its parent is gone, so that it can be reaped here.
    setChildSubreaper(true);
    const node = child_process.spawn(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..'), stdio: ['ignore', 'pipe', 'inherit'] });
    let stuck = 0;
    try {
      const line = await new Promise<string>((resolve) => node.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())));
      stuck = Number(line.trim());
      expect(stuck).toBeGreaterThan(0);
      await until(() => processState(stuck) === 'S');
      node.kill('SIGKILL');
      await exitOf(node);
      await until(() => processState(stuck) === undefined || processState(stuck) === 'Z', 10_000);
    } finally {
      if (stuck > 0 && processState(stuck) !== undefined) {
        if (processState(stuck) !== 'Z') process.kill(stuck, 'SIGKILL');
        waitpid(stuck);
      }
      node.kill('SIGKILL');
      setChildSubreaper(false);
    }
    expect(processState(stuck)).toBeUndefined();
  });
});

describe('spawn: the spawning thread starts when first needed', () => {
  it('loading starts no thread; the first burst starts one', () => {
    const script = `
      const fs = require('fs');
      const threads = () => fs.readdirSync('/proc/self/task').length;
      const before = threads();
      const p = require('./dist/index.js');
      const loaded = threads();
      p.spawn('true').then((c) => c.wait()).then(() => {
        const afterOne = threads();
        return Promise.all([p.spawn('true'), p.spawn('true')]).then((cs) => Promise.all(cs.map((c) => c.wait()))).then(() => console.log(loaded - before, afterOne - before, threads() - before));
      });`;
    const result = runNode(script);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('0 0 1\n');
  });

  it('a spawn asked for alone in its turn is cloned at once beside a child still before its exec; a burst goes to the thread', () => {
    // A child blocked opening a FIFO (before its exec), then, in later turns, a pool of workers
    // that each start the next child when one ends: all direct clones, no thread. Then a burst.
    const fifo = path.join(tmp, 'direct-beside-fifo');
    child_process.execFileSync('mkfifo', [fifo]);
    const script = `
      const fs = require('fs');
      const threads = () => fs.readdirSync('/proc/self/task').length;
      const p = require('./dist/index.js');
      const before = threads();
      const stuck = p.spawn('true', [], { stdio: [{ path: ${JSON.stringify(fifo)} }, 'ignore', 'ignore'] });
      setImmediate(async () => {
        let started = 0;
        const worker = async () => { while (started < 40) { started++; await (await p.spawn('true')).wait(); } };
        await new Promise((resolve) => setImmediate(resolve));
        await Promise.all([worker(), new Promise((resolve) => setImmediate(resolve)).then(worker)]);
        const afterPool = threads() - before;
        fs.closeSync(fs.openSync(${JSON.stringify(fifo)}, 'w')); // lets the stuck child exec
        await (await stuck).wait();
        await Promise.all([1, 2, 3].map(() => p.spawn('true').then((c) => c.wait())));
        console.log(afterPool, threads() - before);
      });`;
    const result = runNode(script);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('0 1\n');
  });

  it('loading with no fd left for its epoll set throws an EMFILE SyscallError, never aborts', () => {
    // The addon alone (its JavaScript is loaded first by Node anyway), with one fd free: dlopen
    // takes and gives it back, and the addon's first fd of its own (an epoll set) cannot be had.
    const script = `
      const fs = require('fs');
      const file = require('node-gyp-build').path(process.cwd());
      const fds = [];
      try { for (;;) fds.push(fs.openSync('/dev/null', 'r')); } catch {}
      fs.closeSync(fds.pop());
      try {
        process.dlopen({ exports: {} }, file);
        console.log('loaded');
      } catch (error) {
        console.log(error.name, error.code, error.errno, typeof error.syscall);
      }`;
    const result = runNode(script);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('SyscallError EMFILE -24 string\n');
  });

  it('loads under RLIMIT_NPROC as an unprivileged user, and a burst then fails with EAGAIN instead of aborting', () => {
    // A world-readable copy of what the package needs to load (and of Node, if others cannot
    // reach it).
    const copy = otherUserPackage();
    try {
      // A user of its own (no other process counts against its limit), limited to the threads
      // Node has before the package is loaded: loading must start none.
      const id = 40_000 + (process.pid % 20_000);
      const load = `const fs = require('fs'); const threads = fs.readdirSync('/proc/self/task').length; const p = require('./dist/index.js');`;
      const node = (prefix: string[], script: string): child_process.SpawnSyncReturns<string> =>
        child_process.spawnSync(prefix[0] ?? copy.node, [...prefix.slice(1), ...(prefix.length > 0 ? [copy.node] : []), '-e', script], { cwd: copy.dir, uid: id, gid: id, encoding: 'utf8', timeout: 20_000 });
      const counted = node([], `${load} console.log(threads)`);
      expect(counted.stderr).toBe('');
      const threads = Number(counted.stdout);
      const limited = node(['prlimit', `--nproc=${threads}`], `${load}
        console.log('loaded');
        Promise.allSettled([1, 2, 3].map(() => p.spawn('/bin/true'))).then((results) =>
          console.log(JSON.stringify(results.map((r) => r.status === 'fulfilled' ? 'ran' : [r.reason.name, r.reason.code, r.reason.step]))));`);
      expect(limited.stderr).toBe('');
      expect(limited.status).toBe(0);
      const [loaded, outcomes] = limited.stdout.trim().split('\n');
      expect(loaded).toBe('loaded');
      expect(JSON.parse(outcomes!)).toEqual(Array.from({ length: 3 }, () => ['SyscallError', 'EAGAIN', 'clone']));
    } finally {
      copy.remove();
    }
  });
});

describe('spawn in worker threads', () => {
  it('works in a worker, which exits or is terminated mid-wait without crashing the process', () => {
    const script = `
      const { Worker } = require('worker_threads');
      const body = "const p = require('./dist/index.js'); const { parentPort } = require('worker_threads');" +
        "p.run('sh', ['-c', 'echo from-worker']).then((r) => parentPort.postMessage(r.stdout.toString().trim() + ' ' + r.status.code));";
      const done = new Worker(body, { eval: true });
      done.on('message', (m) => console.log(m));
      done.on('exit', (code) => {
        console.log('worker exit', code);
        const pending = new Worker("const p = require('./dist/index.js'); p.spawn('sleep', ['5']).then((c) => { c.wait(); require('worker_threads').parentPort.postMessage(c.pid); });", { eval: true });
        pending.on('message', (pid) => { console.log('sleeping child', pid > 0); pending.terminate(); });
        pending.on('exit', () => console.log('terminated'));
      });`;
    const result = runNode(script);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('from-worker 0\nworker exit 0\nsleeping child true\nterminated\n');
  });
});

describe('spawn at the end of a worker', () => {
  // A child blocked before its exec (here opening a FIFO that nobody writes, as its stdin) would
  // hold the worker's teardown for ever: after a grace period it is killed and reaped, on either
  // path. The spawn that had exec'd is left running, as child_process leaves its children, and
  // is reaped once it ends (by the background reaper: the worker's waits are gone).
  it.each([['direct clone', false], ['spawning thread', true]])('terminate() ends a spawn stuck before exec (%s)', (_, burst) => {
    const fifo = path.join(tmp, `fifo-${String(burst)}`);
    child_process.execFileSync('mkfifo', [fifo]);
    const script = `
      const { Worker } = require('worker_threads');
      const { execFileSync } = require('child_process');
      const body = "const p = require('./dist/index.js');" +
        (${burst} ? "p.spawn('sleep', ['30']);" : '') +
        "p.spawn('cat', [], { stdio: [{ path: '${fifo}' }, 'ignore', 'ignore'] });" +
        "setTimeout(() => require('worker_threads').parentPort.postMessage('queued'), 100);";
      const worker = new Worker(body, { eval: true });
      worker.on('message', () => {
        const started = Date.now();
        worker.terminate().then(() => {
          // Not for ever, nor much past the grace (a bound loose enough for qemu-user).
          console.log('terminated', Date.now() - started < 5000);
          const children = () => execFileSync('ps', ['-o', 'pid=,comm=,stat=', '--ppid', String(process.pid)], { encoding: 'utf8' }).split('\\n').map((line) => line.trim().split(/\\s+/)).filter(([, comm]) => comm !== undefined && comm !== 'ps');
          const left = children();
          console.log(left.map(([, comm, stat]) => comm + ' ' + (stat === 'R' ? 'S' : stat[0])).join(','));
          for (const [pid] of left) process.kill(Number(pid), 'SIGKILL');
          // Reaped by the background reaper: at once, but not in a time a loaded machine keeps to.
          const deadline = Date.now() + 10000;
          const reaped = () => {
            const now = children();
            if (now.length > 0 && Date.now() < deadline) return void setTimeout(reaped, 20);
            console.log(now.map(([, comm, stat]) => comm + ' ' + stat).join(','));
          };
          reaped();
        });
      });`;
    const result = runNode(script, { timeout: 25_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(burst ? 'terminated true\nsleep S\n\n' : 'terminated true\n\n\n');
  });
});

describe('spawns finishing while a worker ends', () => {
  it('leave no pidfd behind in the process', () => {
    // The worker's spawns finish while it is being terminated, when JavaScript can no longer run:
    // their results cannot be delivered, and their pidfds must be closed, not lost.
    const script = `
      const { Worker } = require('worker_threads');
      const fs = require('fs');
      const pidfds = () => fs.readdirSync('/proc/self/fd').filter((fd) => { try { return fs.readlinkSync('/proc/self/fd/' + fd).includes('pidfd'); } catch { return false; } }).length;
      const body = "const p = require('./dist/index.js'); for (let i = 0; i < 4; i++) p.spawn('true');" +
        "require('worker_threads').parentPort.postMessage('spawned'); const end = Date.now() + 200; while (Date.now() < end) {}";
      const before = pidfds();
      (async () => {
        for (let round = 0; round < 10; round++) {
          const worker = new Worker(body, { eval: true });
          await new Promise((resolve) => worker.once('message', resolve));
          await worker.terminate();
        }
        // A child still running at the teardown is the background reaper's, whose pidfd it closes
        // at the child's exit: with both cores busy that can come after the last terminate().
        for (let waited = 0; pidfds() > before && waited < 10000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
        console.log(pidfds() - before);
      })();`;
    const result = runNode(script, { timeout: 20_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('0\n');
  });
});

describe('spawns delivered while a worker exits', () => {
  it('leave no pidfd behind: those the handle did not take over are closed', () => {
    // The worker stays busy until its 8 children have exec'd, so that they reach it in one
    // delivery; the first handle's resolution reads 'then', whose getter makes the worker exit
    // there, before the 7 others have been taken over.
    const script = `
      const { Worker } = require('worker_threads');
      const fs = require('fs');
      const pidfds = () => fs.readdirSync('/proc/self/fd').filter((fd) => { try { return fs.readlinkSync('/proc/self/fd/' + fd).includes('pidfd'); } catch { return false; } }).length;
      const body = "const p = require('./dist/index.js');" +
        "Object.defineProperty(p.ChildProcess.prototype, 'then', { get() { process.exit(0); } });" +
        "for (let i = 0; i < 8; i++) p.spawn('true');" +
        "const end = Date.now() + 300; while (Date.now() < end) {}";
      const before = pidfds();
      (async () => {
        for (let round = 0; round < 3; round++) {
          const worker = new Worker(body, { eval: true });
          await new Promise((resolve) => worker.once('exit', resolve));
        }
        console.log(pidfds() - before);
      })();`;
    const result = runNode(script, { timeout: 20_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('0\n');
  });
});

describe('callbacks arriving while a worker exits', () => {
  it.each([
    ['a wait() continuation', "Promise.all(Array.from({ length: 8 }, () => p.spawn('sleep', ['0.2']))).then((children) => { for (const child of children) child.wait().then(() => process.exit(0)); });"],
    ["a child's stdout 'data'", "for (let i = 0; i < 8; i++) p.spawn('sh', ['-c', 'sleep 0.2; echo out'], { stdio: ['ignore', 'pipe', 'ignore'] }).then((child) => child.stdout.on('data', () => process.exit(0)));"],
    ["run()'s result", "for (let i = 0; i < 8; i++) p.run('sh', ['-c', 'sleep 0.2; echo out']).then(() => process.exit(0));"],
  ])('a worker that exits from %s while its other children end does not abort the process', (_what, body) => {
    // The first callback calls process.exit(): those of its siblings, ready in the same moment,
    // find an environment that can no longer run JavaScript.
    const script = `
      const { Worker } = require('worker_threads');
      const body = ${JSON.stringify(`const p = require('./dist/index.js'); ${body}`)};
      (async () => {
        for (let round = 0; round < 3; round++) {
          const worker = new Worker(body, { eval: true });
          console.log('worker exit', await new Promise((resolve) => worker.once('exit', resolve)));
        }
      })();`;
    const result = runNode(script, { timeout: 20_000 });
    expect(result.stderr).toBe('');
    expect([result.status, result.signal]).toEqual([0, null]);
    expect(result.stdout).toBe('worker exit 0\n'.repeat(3));
  });
});

describe('daemon at the end of a worker', () => {
  it('terminate() ends a daemon stuck before exec, and its intermediate child', () => {
    const fifo = path.join(tmp, 'fifo-daemon');
    child_process.execFileSync('mkfifo', [fifo]);
    const script = `
      const { Worker } = require('worker_threads');
      const body = "const p = require('./dist/index.js');" +
        "p.daemon('cat', [], { stdio: [{ path: '${fifo}' }, 'ignore', 'ignore'] });" +
        "setTimeout(() => require('worker_threads').parentPort.postMessage('queued'), 100);";
      const worker = new Worker(body, { eval: true });
      worker.on('message', () => {
        const started = Date.now();
        worker.terminate().then(() => console.log('terminated', Date.now() - started < 5000));
      });`;
    const result = runNode(script, { timeout: 25_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('terminated true\n');
    // Nothing is left blocked on the FIFO: opening it for writing would wait for a reader.
    expect(child_process.spawnSync('sh', ['-c', `exec 3>'${fifo}'`], { timeout: 1000 }).error).toBeDefined();
  });
});

describe('spawn at scale', () => {
  it('10 000 spawns leave no fd, zombie or thread behind', { timeout: 180_000 }, async () => {
    const fds = openFds();
    const threads = threadCount();
    for (let round = 0; round < 1250; round++) {
      const children = await Promise.all(Array.from({ length: 8 }, () => spawn('/bin/true', [], { stdio: 'ignore' })));
      for (const child of children) expect((await child.wait()).status).toEqual(ok);
    }
    await until(() => openFds().every((fd) => fds.includes(fd)));
    expect(zombieChildren()).toEqual([]);
    expect(threadCount()).toBe(threads);
  });

  it('child_process children still emit exit while ours run', async () => {
    const theirs = Array.from({ length: 5 }, () => child_process.spawn('sh', ['-c', 'sleep 0.2; exit 6']));
    const ours = await Promise.all(Array.from({ length: 5 }, () => spawn('sh', ['-c', 'sleep 0.1; exit 2'])));
    const [ourResults, theirResults] = await Promise.all([Promise.all(ours.map((c) => c.wait())), Promise.all(theirs.map(exitOf))]);
    for (const result of ourResults) expect(result.status).toEqual({ kind: 'exited', code: 2 });
    for (const result of theirResults) expect(result).toEqual({ code: 6, signal: null });
  });
});

describe('two copies of the facade in one process', () => {
  it('share the addon: spawns, runs and signal handlers of both work, whichever loaded first', () => {
    // A cleared require cache (as two bundles would) re-evaluates dist/ but Node's module cache
    // hands both copies the same binding, whose native code keeps one dispatcher.
    const script = `
      const a = require('./dist/index.js');
      for (const key of Object.keys(require.cache)) if (key.includes('/dist/')) delete require.cache[key];
      const b = require('./dist/index.js');
      if (a === b || a.spawn === b.spawn) throw new Error('one copy only');
      (async () => {
        const children = await Promise.all([a.spawn('true'), b.spawn('true'), b.spawn('true'), a.spawn('true')]);
        const statuses = await Promise.all(children.map((child) => child.wait()));
        const runs = await Promise.all([a.run('echo', ['a']), b.run('echo', ['b'])]);
        let got = '';
        const offA = a.onSignal('SIGUSR2', () => (got += 'A'));
        const offB = b.onSignal('SIGUSR2', () => (got += 'B'));
        process.kill(process.pid, 'SIGUSR2');
        while (got.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
        offA();
        process.kill(process.pid, 'SIGUSR2');
        while (got.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
        offB();
        console.log(JSON.stringify({ kinds: statuses.map((s) => s.status.kind), out: runs.map((r) => r.stdout), got: [...got].sort().join(''), dropped: a.droppedSignalCount() + b.droppedSignalCount() }));
      })();`;
    const result = runNode(script, { timeout: 20_000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ kinds: ['exited', 'exited', 'exited', 'exited'], out: ['a\n', 'b\n'], got: 'ABB', dropped: 0 });
  });
});
