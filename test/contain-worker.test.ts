// The cgroup watchdogs: one per thread and parent cgroup. A worker thread's outlives the worker's event loop (it is what kills
// the worker's trees once the worker is gone), so something other than that loop must reap it.
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { availableContainments } from '../lib/index';
import { runNode, until } from './helpers';

const available = availableContainments();
const isRoot = process.geteuid?.() === 0;

describe.runIf(available.includes('cgroup'))('contain: cgroup, the watchdog of a worker that has ended', () => {
  // A worker makes a contained tree and then ends, on its own (its tree over) or by terminate()
  // (its tree still running); the main thread then looks at the watchdog, the worker's cgroup
  // and the worker's leader for up to 30 s.
  const script = `
    const { Worker } = require('worker_threads');
    const fs = require('fs');
    const state = (pid) => { try { const s = fs.readFileSync('/proc/' + pid + '/stat', 'latin1'); return s.slice(s.lastIndexOf(')') + 2)[0]; } catch { return 'gone'; } };
    const worker = \`
      const { parentPort, workerData } = require('worker_threads');
      const { spawn } = require('./dist/index.js');
      const { cgroupWatchdogForTest } = require('./dist/spawn/contain.js');
      (async () => {
        const child = await spawn('sleep', [workerData === 'terminate' ? '1000' : '0.05'], { contain: 'cgroup' });
        if (workerData !== 'terminate') await child.wait();
        const { pid, dir } = cgroupWatchdogForTest();
        parentPort.postMessage({ watchdog: pid, dir, leader: child.pid });
      })();\`;
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    async function once(end) {
      const w = new Worker(worker, { eval: true, workerData: end });
      const exited = new Promise((resolve) => w.once('exit', resolve));
      const out = await new Promise((resolve) => w.once('message', resolve));
      if (end === 'terminate') await w.terminate();
      await exited;
      const deadline = Date.now() + 30000;
      while (Date.now() < deadline && (state(out.watchdog) !== 'gone' || fs.existsSync(out.dir))) await sleep(20);
      return { end, watchdog: state(out.watchdog), cgroup: fs.existsSync(out.dir), leader: state(out.leader) };
    }
    (async () => {
      const results = [await once('return'), await once('terminate')];
      console.log(JSON.stringify(results));
    })();`;

  it('is reaped once it has killed and removed the cgroup of the worker, whether the worker returns or is terminated', () => {
    if (isRoot) expect(available).toContain('cgroup');
    const result = runNode(script, { timeout: 120_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const results = JSON.parse(result.stdout) as { end: string; watchdog: string; cgroup: boolean; leader: string }[];
    for (const one of results) {
      // A zombie ('Z') is a watchdog that nobody reaps: one per worker, for the life of the process.
      expect(one).toMatchObject({ watchdog: 'gone', cgroup: false });
      // The terminated worker's tree was killed by the watchdog.
      expect(['Z', 'gone']).toContain(one.leader);
    }
  });
});

describe.runIf(available.includes('cgroup') && isRoot)('contain: cgroup, spawns that alternate between two cgroup parents', () => {
  // The parents: the v2 mount, and a cgroup made under it for this test.
  const script = `
    const { spawn } = require('./dist/index.js');
    const fs = require('fs');
    const [a, b] = process.argv.slice(1);
    const watchdogs = () => fs.readdirSync('/proc').filter((pid) => {
      try {
        const stat = fs.readFileSync('/proc/' + pid + '/stat', 'latin1');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid && fs.readFileSync('/proc/' + pid + '/cmdline', 'latin1').includes('posix-process-watchdog');
      } catch { return false; }
    }).length;
    (async () => {
      for (let i = 0; i < 4; i++) {
        for (const cgroup of [a, b]) await (await spawn('true', [], { contain: 'cgroup', cgroup })).wait();
      }
      console.log(JSON.stringify({ watchdogs: watchdogs(), exitListeners: process.listenerCount('exit') }));
    })();`;

  it('make one watchdog (and one exit listener) per parent, not one per switch', async () => {
    const a = '/sys/fs/cgroup/unified';
    const b = `${a}/posix-process-test-${process.pid}`;
    fs.mkdirSync(b);
    try {
      const result = runNode(script, { args: [a, b], timeout: 60_000 });
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toEqual({ watchdogs: 2, exitListeners: 2 });
    } finally {
      // Its watchdog removes the script's cgroup under it once the script has gone.
      await until(() => {
        try {
          fs.rmdirSync(b);
          return true;
        } catch {
          return false;
        }
      }, 20_000);
    }
  });
});

describe.runIf(available.includes('cgroup'))('contain: cgroup, a worker terminated during its first contained spawn', () => {
  // The worker says it is about to spawn, and is terminated 0 to 20 ms later: often while the
  // watchdog is being started. Started by child_process, that watchdog was left a zombie (8 to 18
  // per 60 to 100 workers) and sometimes its worker's cgroup with it.
  const script = `
    const { Worker } = require('worker_threads');
    const fs = require('fs');
    const code = \`
      const { spawn } = require('./dist/index.js');
      require('worker_threads').parentPort.postMessage('spawning');
      spawn('sleep', ['1000'], { contain: 'cgroup' }).catch(() => {});\`;
    const children = () => fs.readdirSync('/proc').filter((pid) => /^[0-9]+$/.test(pid)).map((pid) => {
      try {
        const stat = fs.readFileSync('/proc/' + pid + '/stat', 'latin1');
        const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(ppid) === process.pid ? state : null;
      } catch { return null; }
    }).filter((state) => state !== null);
    // Where the library puts them: this process's own cgroup, or the mount's root.
    const mount = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\\n').find((line) => line.includes(' - cgroup2 ')).split(' ')[4];
    const own = mount + fs.readFileSync('/proc/self/cgroup', 'utf8').split('\\n').find((line) => line.startsWith('0::')).slice(3);
    const cgroups = () => [...new Set([own, mount])].flatMap((dir) => fs.readdirSync(dir).filter((name) => name.startsWith('posix-process-' + process.pid + '-t')));
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    (async () => {
      for (let i = 0; i < 40; i++) {
        const w = new Worker(code, { eval: true });
        await new Promise((resolve) => w.once('message', resolve));
        await sleep(Math.random() * 20);
        await w.terminate();
      }
      // Each watchdog kills its worker's tree, removes the cgroup and is reaped within a second.
      const deadline = Date.now() + 30000;
      while (Date.now() < deadline && (children().length > 0 || cgroups().length > 0)) await sleep(50);
      console.log(JSON.stringify({ children: children(), cgroups: cgroups() }));
    })();`;

  it('leaves no watchdog, zombie or not, and no cgroup', () => {
    const result = runNode(script, { timeout: 120_000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ children: [], cgroups: [] });
  });
});

describe.runIf(available.includes('cgroup') && isRoot)('contain: cgroup, a watchdog that cannot be started', () => {
  // The binding alone (the facade reaches it only with a usable parent cgroup), in a subprocess
  // whose children and fds are its own.
  const script = `
    const { binding } = require('./dist/native.js');
    const fs = require('fs');
    const path = require('path');
    const [parent] = process.argv.slice(1);
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    const children = () => fs.readFileSync('/proc/self/task/' + process.pid + '/children', 'latin1').trim();
    const attempt = (dir) => { try { return binding.startCgroupWatchdog(dir, 'read _'); } catch (e) { return { name: e.name, code: e.code, syscall: e.syscall }; } };
    const missing = attempt(path.join(parent, 'no-such-cgroup', 'x'));
    const before = fds(); // the background reaper's epoll fd is there from now on
    const dir = path.join(parent, 'posix-process-emfile-' + process.pid);
    // Two fds left: the pipe gets them, the pidfd cannot be had.
    const fillers = [];
    try { for (;;) fillers.push(fs.openSync('/dev/null', 'r')); } catch {}
    fs.closeSync(fillers.pop());
    fs.closeSync(fillers.pop());
    const emfile = attempt(dir);
    for (const fd of fillers) fs.closeSync(fd);
    const made = fs.existsSync(dir);
    if (made) fs.rmdirSync(dir);
    console.log(JSON.stringify({ missing, emfile, made, children: children(), fds: fds() - before }));`;

  it('fails with a SyscallError and leaves no directory, child or fd', () => {
    const parent = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((line) => line.includes(' - cgroup2 '))!.split(' ')[4]!;
    const result = runNode(script, { args: [parent] });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({
      missing: { name: 'SyscallError', code: 'ENOENT', syscall: 'mkdir' },
      emfile: { name: 'SyscallError', code: 'EMFILE', syscall: 'pidfd_open' },
      made: false,
      children: '',
      fds: 0,
    });
  });

  it('refuses arguments that are not strings with a TypeError', () => {
    const result = runNode(`
      const { binding } = require('./dist/native.js');
      try { binding.startCgroupWatchdog(1, 'read _'); } catch (e) { console.log(e.name); }`);
    expect(result.stdout.trim()).toBe('TypeError');
  });
});

describe.runIf(available.includes('subreaper'))('contain: subreaper, trees of several threads', () => {
  // Worker B's tree (a `sleep 30` leader) lives while worker A's tree starts and ends; then B is
  // terminated with its tree alive. The flag belongs to the process: A's end must not drop it
  // under B's tree, and B's end must not leave it set for good.
  const script = `
    const { Worker } = require('worker_threads');
    const { isChildSubreaper } = require('./dist/index.js');
    const code = \`
      const { parentPort, workerData } = require('worker_threads');
      const { spawn } = require('./dist/index.js');
      (async () => {
        const child = await spawn(workerData, [workerData === 'sleep' ? '30' : ''].filter(Boolean), { contain: 'subreaper' });
        if (workerData === 'sleep') return parentPort.postMessage(child.pid);
        await child.wait();
        await child.killTree('SIGKILL'); // settles once the tree is gone
        parentPort.postMessage(0);
      })();\`;
    const run = (what) => { const w = new Worker(code, { eval: true, workerData: what }); return { w, message: new Promise((resolve) => w.once('message', resolve)) }; };
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    (async () => {
      const b = run('sleep');
      const leader = await b.message;
      const a = run('true');
      await a.message;
      await a.w.terminate();
      const whileBLives = isChildSubreaper();
      await b.w.terminate();
      const afterBEnded = isChildSubreaper();
      try { process.kill(leader, 'SIGKILL'); } catch {}
      await sleep(100);
      console.log(JSON.stringify({ whileBLives, afterBEnded }));
    })();`;

  it('keep the flag while any thread has a tree, and drop it once the last thread holding it ends', () => {
    const result = runNode(script, { timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ whileBLives: true, afterBEnded: false });
  });
});

describe.runIf(available.includes('subreaper'))("contain: subreaper, another thread's child_process children", () => {
  // A worker starts `sleep 1` with child_process after the main thread's tree began; the tree's
  // killTree('SIGKILL') and its end (the flag dropped, the orphans it brought reaped) must leave
  // that child alone: its libuv alone knows it, and reaping it would lose its 'exit' for good.
  const script = `
    const { Worker } = require('worker_threads');
    const { spawn } = require('./dist/index.js');
    const code = \`
      const { parentPort } = require('worker_threads');
      const child = require('child_process').spawn('sleep', ['1']);
      parentPort.postMessage('started');
      const timer = setTimeout(() => { child.kill('SIGKILL'); parentPort.postMessage('no exit event after 10 s'); }, 10000);
      child.on('exit', (code, signal) => { clearTimeout(timer); parentPort.postMessage({ code, signal }); });\`;
    (async () => {
      const tree = await spawn('sleep', ['30'], { contain: 'subreaper' });
      const worker = new Worker(code, { eval: true });
      const messages = [];
      const exited = new Promise((resolve) => worker.on('message', (message) => { messages.push(message); if (message !== 'started') resolve(); }));
      await new Promise((resolve) => worker.once('message', resolve));
      await tree.killTree('SIGKILL');
      await tree.wait();
      await exited;
      await worker.terminate();
      console.log(JSON.stringify(messages));
    })();`;

  it("are neither killed by a tree's killTree nor reaped at its end", () => {
    const result = runNode(script, { timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual(['started', { code: 0, signal: null }]);
  });
});

describe.runIf(available.includes('subreaper'))('contain: subreaper, a member started with clone(CLONE_PARENT) in a worker', () => {
  // The sibling's parent is the thread that cloned the leader (here the worker's), not the main
  // thread where orphans go: the tree must still list it, kill it and reap it.
  const script = `
    const { Worker } = require('worker_threads');
    const code = \`
      const { parentPort } = require('worker_threads');
      const { spawn } = require('./dist/index.js');
      const fs = require('fs');
      const state = (pid) => { try { const s = fs.readFileSync('/proc/' + pid + '/stat', 'latin1'); return s.slice(s.lastIndexOf(')') + 2)[0]; } catch { return 'gone'; } };
      // clone(CLONE_PARENT | SIGCHLD) by its raw number; the sibling execs sleep.
      const perl = 'use Config; my $nr = $Config{archname} =~ /aarch64/ ? 220 : 56; my $pid = syscall($nr, 0x8000 | 17, 0, 0, 0, 0); if ($pid == 0) { exec "sleep", "30" } print $pid, chr(10); select(undef, undef, undef, 0.2);';
      (async () => {
        const child = await spawn('perl', ['-e', perl], { contain: 'subreaper', stdio: ['ignore', 'pipe', 'inherit'] });
        // One line: the sibling keeps the pipe open, as its copy of perl's stdout.
        const sibling = Number(String(await new Promise((resolve) => child.stdout.once('data', resolve))));
        child.stdout.resume();
        await child.wait();
        const listed = child.descendants().includes(sibling);
        await child.killTree('SIGKILL');
        parentPort.postMessage({ sibling: sibling > 0, listed, after: state(sibling) });
      })();\`;
    const worker = new Worker(code, { eval: true });
    worker.once('message', async (message) => {
      console.log(JSON.stringify(message));
      await worker.terminate();
    });`;

  it('is listed, killed and reaped by the tree', () => {
    const result = runNode(script, { timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ sibling: true, listed: true, after: 'gone' });
  });
});

describe.runIf(available.includes('subreaper'))('contain: subreaper, a worker terminated with its tree alive', () => {
  // The tree (a leader, its child, a double-forked orphan, a setsid'd shell and its children), as
  // its walk (descendants()) found it, must be killed and reaped at the worker's end, as its
  // killTree('SIGKILL') would; what is not the tree's must live on: the worker's uncontained spawn
  // and child_process child, started after the leader, and the main thread's children (a
  // posixSpawn one started after the leader too, which has no pidfd).
  const script = `
    const { Worker } = require('worker_threads');
    const fs = require('fs');
    const { spawn, posixSpawn, waitpid } = require('./dist/index.js');
    const state = (pid) => { try { const s = fs.readFileSync('/proc/' + pid + '/stat', 'latin1'); return s.slice(s.lastIndexOf(')') + 2)[0]; } catch { return 'gone'; } };
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const code = \`
      const { parentPort } = require('worker_threads');
      const { spawn } = require('./dist/index.js');
      (async () => {
        const tree = await spawn('sh', ['-c', 'sleep 300 & (sleep 301 &) ; setsid sh -c "sleep 302 & sleep 303" & sleep 304'], { contain: 'subreaper' });
        let members = [];
        for (const deadline = Date.now() + 10000; members.length < 7 && Date.now() < deadline; ) {
          members = tree.descendants();
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const other = await spawn('sleep', ['305']);
        const viaChildProcess = require('child_process').spawn('sleep', ['306']);
        await new Promise((resolve) => viaChildProcess.once('spawn', resolve));
        parentPort.postMessage({ tree: [tree.pid, ...members], other: other.pid, viaChildProcess: viaChildProcess.pid });
      })();\`;
    (async () => {
      const mine = await spawn('sleep', ['307']);
      const worker = new Worker(code, { eval: true });
      const made = await new Promise((resolve) => worker.once('message', resolve));
      // A main-thread child with no pidfd, started after the leader: no orphan of the tree.
      const bystander = posixSpawn('/bin/sleep', ['sleep', '308']);
      await worker.terminate();
      for (const deadline = Date.now() + 10000; Date.now() < deadline && made.tree.some((pid) => state(pid) !== 'gone'); ) await sleep(20);
      const result = { tree: made.tree.length, left: made.tree.map(state).filter((s) => s !== 'gone'), other: state(made.other), viaChildProcess: state(made.viaChildProcess), mine: state(mine.pid), bystander: state(bystander) };
      for (const pid of [...made.tree, made.other, made.viaChildProcess]) { try { process.kill(pid, 'SIGKILL'); } catch {} }
      mine.kill('SIGKILL');
      await mine.wait();
      process.kill(bystander, 'SIGKILL');
      waitpid(bystander);
      console.log(JSON.stringify(result));
    })();`;

  it("is killed and reaped, and what is not the tree's lives on", () => {
    const result = runNode(script, { timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ tree: 8, left: [], other: 'S', viaChildProcess: 'S', mine: 'S', bystander: 'S' });
  });
});
