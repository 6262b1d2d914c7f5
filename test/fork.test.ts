import * as child_process from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { availableContainments, kill, setChildSubreaper, waitpid } from '../lib/index';
import { childPids, processState, runNode, until } from './helpers';

// fork() needs Node started with --single-threaded --v8-pool-size=1 (see lib/fork.ts and
// docs/design.md), so every test runs in a child Node.
const forkNode = ['--single-threaded', '--v8-pool-size=1'];
const O_NONBLOCK = 0o4000;

// How long a fork child may take before the watchdog reports its threads and kills it, and how
// long a whole test script may run (its async waits included).
const CHILD_MS = 20_000;
const SCRIPT_MS = 40_000;
const RUN_MS = 60_000;

/** The threads of a process as gdb sees them, for the failure message of a hung child. */
function threadStacks(pid: number): string {
  const gdb = child_process.spawnSync('gdb', ['-p', String(pid), '-batch', '-ex', 'thread apply all bt'], { encoding: 'utf8', timeout: 60_000 });
  return gdb.stdout || String(gdb.error ?? gdb.stderr);
}

/**
 * Put in front of every forking script: `waitChild(pid)` is `waitpid(pid)` with a watchdog (a
 * child still running after CHILD_MS is reported with its threads, from gdb, then killed and
 * reaped, and the error is thrown); for parents that wait asynchronously, every child still alive
 * after SCRIPT_MS is reported and killed the same way and the script ends with status 70.
 */
const prelude = `
const p = require('./dist/index.js');
const waitChild = (() => {
  const childProcess = require('node:child_process');
  const fs = require('node:fs');
  const pause = new Int32Array(new SharedArrayBuffer(4));
  function hung(pid, ms) {
    const gdb = childProcess.spawnSync('gdb', ['-p', String(pid), '-batch', '-ex', 'thread apply all bt'], { encoding: 'utf8', timeout: 60000 });
    try { p.kill(pid, 'SIGKILL'); } catch {}
    try { p.waitpid(pid); } catch {}
    return new Error('fork child ' + pid + ' did not exit within ' + ms + ' ms; its threads (gdb):\\n' + (gdb.stdout || String(gdb.error)));
  }
  const watchdog = setTimeout(() => {
    const children = fs.readdirSync('/proc/self/task').flatMap((task) =>
      fs.readFileSync('/proc/self/task/' + task + '/children', 'utf8').split(' ').filter(Boolean).map(Number));
    for (const pid of children) fs.writeSync(2, hung(pid, ${SCRIPT_MS}).message + '\\n');
    p.exit(70);
  }, ${SCRIPT_MS});
  watchdog.unref();
  p.registerAtFork({ child: () => clearTimeout(watchdog) });
  return (pid, ms = ${CHILD_MS}) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const result = p.waitpid(pid, { nohang: true });
      if (result !== null) return result;
      if (Date.now() > deadline) throw hung(pid, ms);
      Atomics.wait(pause, 0, 0, 5);
    }
  };
})();
`;

/** Runs a script (after the prelude) in a Node child started with the fork flags; checks it ended with 0. */
function runForking(script: string, nodeArgs: string[] = []): { stdout: string; stderr: string } {
  const result = runNode(`${prelude}\n${script}`, { nodeArgs: [...forkNode, ...nodeArgs], timeout: RUN_MS, killSignal: 'SIGKILL' });
  expect(result.error, result.stderr).toBeUndefined();
  expect(result.status, result.stderr).toBe(0);
  return { stdout: result.stdout, stderr: result.stderr };
}

// Backstop for a script killed while its children ran: they are reparented to this process (a
// subreaper), reported with their threads, killed and reaped, and the test fails.
beforeAll(() => setChildSubreaper(true));
afterAll(() => setChildSubreaper(false));
afterEach(() => {
  const reports: string[] = [];
  for (const pid of childPids()) {
    reports.push(`leftover child ${pid}; its threads (gdb):\n${threadStacks(pid)}`);
    kill(pid, 'SIGKILL');
    waitpid(pid);
  }
  if (reports.length > 0) throw new Error(reports.join('\n'));
});

describe('fork', () => {
  /** Runs fork() in a Node child with `nodeArgs`; prints the error code and message, or 'forked'. */
  function refusal(nodeArgs: string[]): { code: string; message: string; children: string } {
    const result = runNode(`
      const p = require('./dist/index.js');
      try { const pid = p.fork(); if (pid === 0) p.exit(0); console.log('forked'); p.waitpid(pid) } catch (e) { console.log(e.code); console.log(e.message) }
      const fs = require('node:fs');
      console.log('children:' + fs.readFileSync('/proc/self/task/' + process.pid + '/children', 'utf8'));
    `, { nodeArgs });
    const [code, message, children] = result.stdout.trim().split('\n');
    return { code: code!, message: message ?? '', children: children ?? '' };
  }

  it('refuses without the flags, naming every flag and how to start Node, and creates no child', () => {
    const { code, message, children } = refusal([]);
    expect(code).toBe('ERR_FORK_NEEDS_SINGLE_THREADED');
    expect(message).toContain('missing: --single-threaded --v8-pool-size=1');
    expect(message).toContain('`node --single-threaded --v8-pool-size=1 script.js`');
    expect(message).toContain('`#!/usr/bin/env -S node --single-threaded --v8-pool-size=1`');
    expect(children).toBe('children:');
  });

  it('refuses --single-threaded alone (Node 26 children hang in their scavenges) and a pool of another size', () => {
    for (const nodeArgs of [['--single-threaded'], ['--single-threaded', '--v8-pool-size=4'], ['--single-threaded', '--v8-pool-size=0'],
      ['--v8-pool-size=1', '--single-threaded', '--no-single-threaded']]) {
      const { code, message, children } = refusal(nodeArgs);
      expect(code, nodeArgs.join(' ')).toBe('ERR_FORK_NEEDS_SINGLE_THREADED');
      expect(message).toMatch(/missing: (--single-threaded|--v8-pool-size=1)\)/);
      expect(children).toBe('children:');
    }
  });

  it('refuses --single-threaded-gc, which lets heavy allocation hang the child', () => {
    const { code, message } = refusal(['--single-threaded-gc', '--v8-pool-size=1']);
    expect(code).toBe('ERR_FORK_NEEDS_SINGLE_THREADED');
    expect(message).toContain('missing: --single-threaded)');
    expect(message).toContain('--single-threaded-gc is not enough');
  });

  it('accepts the flags in every spelling Node accepts', () => {
    for (const nodeArgs of [['--v8-pool-size', '1', '--single-threaded'], ['--single_threaded', '--v8_pool_size=1']]) {
      expect(refusal(nodeArgs).code, nodeArgs.join(' ')).toBe('forked');
    }
  });

  it('refuses in a worker thread', () => {
    const result = runNode(`
      const { Worker } = require('node:worker_threads');
      new Worker("try { require('./dist/index.js').fork() } catch (e) { require('node:worker_threads').parentPort.postMessage(e.code) }; setInterval(() => {}, 1000)", { eval: true })
        .on('message', (code) => { console.log(code); require('./dist/index.js').exit(0); });
    `, { nodeArgs: forkNode });
    expect(result.stdout).toBe('ERR_MAIN_THREAD_ONLY\n');
  });

  it('returns 0 in the child and its pid in the parent; the child knows its own pid and parent', () => {
    const { stdout } = runForking(`
      const parent = process.pid;
      const pid = p.fork();
      if (pid === 0) {
        console.log('child', JSON.stringify([p.getpid(), process.pid, p.getppid(), process.ppid, parent]));
        process.exit(0);
      }
      const { status } = waitChild(pid);
      console.log('parent', JSON.stringify([pid, p.getpid(), process.pid, status]));
    `);
    const lines: Record<string, unknown[]> = {};
    for (const line of stdout.trim().split('\n')) {
      const [who, json] = line.split(' ');
      lines[who!] = JSON.parse(json!) as unknown[];
    }
    const [childPid, parentPid, , status] = lines.parent! as [number, number, number, unknown];
    expect(childPid).toBeGreaterThan(0);
    expect(childPid).not.toBe(parentPid);
    expect(lines.parent).toEqual([childPid, parentPid, parentPid, { kind: 'exited', code: 0 }]);
    expect(lines.child).toEqual([childPid, childPid, parentPid, parentPid, parentPid]);
    expect(status).toEqual({ kind: 'exited', code: 0 });
  });

  it('20 times in a row: the child allocates heavily (many GCs), uses timers and async fs, exits with its code', () => {
    const { stdout } = runForking(
      `
      const fs = require('node:fs');
      const v8 = require('node:v8');
      const statuses = [];
      let inChild = false;
      // 20 children: as many as issue 20's reproduction, where 17 hung; each costs about 0.3 s of
      // CPU, so 50 of them outran the script's budget with both cores busy.
      for (let i = 0; i < 20; i++) {
        const pid = p.fork();
        if (pid === 0) {
          let keep = [];
          let sum = 0;
          // The allocation of issue 20 (17 children of 20 hung in it on Node 26 without --v8-pool-size=1).
          for (let j = 0; j < 400; j++) keep = new Array(20000).fill(j);
          keep = [];
          for (let round = 0; round < 40; round++) {
            keep.push(new Array(8000).fill(round).map((x, j) => ({ x, j })));
            if (keep.length > 4) keep.shift();
            if (round % 10 === 0) gc();
          }
          for (const array of keep) sum += array.length;
          setTimeout(async () => {
            const text = await fs.promises.readFile('/proc/self/stat', 'utf8');
            if (Number(text.split(' ')[0]) !== process.pid) throw new Error('read another process');
            console.log('child', i, sum);
            if (i % 2 === 0) process.exit((i * 7) % 256);
            process.exitCode = (i * 7) % 256;   // ends through the empty event loop
          }, 1);
          inChild = true;
          break;
        }
        statuses.push(waitChild(pid).status);
      }
      if (!inChild) console.log(JSON.stringify(statuses));
    `,
      ['--expose-gc'],
    );
    const lines = stdout.trim().split('\n');
    const statuses = JSON.parse(lines.pop()!) as unknown[];
    expect(statuses).toEqual(Array.from({ length: 20 }, (_, i) => ({ kind: 'exited', code: (i * 7) % 256 })));
    expect(lines).toEqual(Array.from({ length: 20 }, (_, i) => `child ${i} 32000`));
  }, 2 * RUN_MS);

  it("runs the child's GC through every collector: scavenges, mark-compacts, incremental marking, forced gc()", () => {
    // Each collector posts (or once posted) jobs to V8's platform workers on some Node line: Node
    // 20's mark-compact clears weak references with a job, Node 26's scavenger posts one per
    // scavenge (docs/design.md). The kinds come from Node's 'gc' performance entries.
    const { stdout } = runForking(
      `
      const { PerformanceObserver, constants } = require('node:perf_hooks');
      const names = { [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
        [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb' };
      const results = [];
      for (let i = 0; i < 10; i++) {
        const pid = p.fork();
        if (pid === 0) {
          const kinds = { minor: 0, major: 0, incremental: 0, weakcb: 0 };
          new PerformanceObserver((list) => {
            for (const entry of list.getEntries()) kinds[names[(entry.detail ?? entry).kind]]++;
          }).observe({ entryTypes: ['gc'] });
          for (let j = 0; j < 300; j++) new Array(20000).fill(j); // young garbage: scavenges
          const old = [];
          for (let j = 0; j < 120; j++) old.push(new Array(100000).fill(j)); // promoted, grows the old generation
          gc({ type: 'minor' });
          gc();
          old.length = 0;
          gc({ type: 'major', execution: 'sync' });
          const registry = new FinalizationRegistry(() => {});
          registry.register({}, 1);
          const weak = new WeakRef({});
          gc();
          // The entries reach the observer two setImmediate rounds after each collection; on a
          // loaded machine a short timer can come first, so look until they are in (or 10 s).
          const deadline = Date.now() + 10000;
          const report = () => {
            if ((kinds.minor < 2 || kinds.major < 3) && Date.now() < deadline) return void setTimeout(report, 10);
            console.log('child', JSON.stringify(kinds), typeof weak.deref());
            process.exit(0);
          };
          setTimeout(report, 10);
          break;
        }
        results.push(waitChild(pid).status);
      }
      if (results.length === 10) console.log(JSON.stringify(results));
    `,
      ['--expose-gc'],
    );
    const lines = stdout.trim().split('\n');
    expect(JSON.parse(lines.pop()!)).toEqual(Array.from({ length: 10 }, () => ({ kind: 'exited', code: 0 })));
    expect(lines).toHaveLength(10);
    for (const line of lines) {
      const kinds = JSON.parse(line.split(' ')[1]!) as Record<string, number>;
      expect(kinds.minor, line).toBeGreaterThanOrEqual(2);
      expect(kinds.major, line).toBeGreaterThanOrEqual(3);
    }
  }, 2 * RUN_MS);

  it('throws EMFILE and creates no child when the fd table is full (the heap cannot be prepared); parent hooks still run', () => {
    // Without /proc/self/smaps the child would get no V8 heap and die of SIGSEGV.
    const script = `
      const p = require('./dist/index.js');
      const fs = require('node:fs');
      const opened = [];
      try { for (;;) opened.push(fs.openSync('/dev/null', 'r')); } catch (e) { if (e.code !== 'EMFILE') throw e; }
      p.registerAtFork({ before: () => console.log('before'), parent: () => console.log('parent') });
      let outcome;
      try { const pid = p.fork(); if (pid === 0) p.exit(0); outcome = 'forked ' + pid; } catch (e) {
        outcome = [e instanceof p.SyscallError, e.code, e.syscall, e.path].join(' ');
      }
      fs.closeSync(opened.pop());
      const children = fs.readFileSync('/proc/self/task/' + process.pid + '/children', 'utf8');
      console.log(outcome);
      console.log('children:' + children);
    `;
    const result = child_process.spawnSync('prlimit', ['--nofile=256:256', process.execPath, ...forkNode, '-e', script], {
      cwd: join(__dirname, '..'),
      encoding: 'utf8',
      timeout: RUN_MS,
      killSignal: 'SIGKILL',
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe('before\nparent\ntrue EMFILE open /proc/self/smaps\nchildren:\n');
  });

  it('the watchdog reports a child that does not exit in time with its threads, then kills and reaps it', () => {
    const { stdout } = runForking(`
      const pid = p.fork();
      if (pid === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // blocks for ever
      try { waitChild(pid, 300) } catch (e) { console.log(e.message) }
      try { p.waitpid(pid) } catch (e) { console.log('reaped', e.code) }
    `);
    expect(stdout).toMatch(/^fork child \d+ did not exit within 300 ms; its threads \(gdb\):\n/);
    expect(stdout).toMatch(/Thread 1 .*\n#0 /);
    expect(stdout).toMatch(/reaped ECHILD\n$/);
  });

  it('ends the child like Node would, through exit_group: exit listeners, beforeExit, uncaught errors', () => {
    const { stdout, stderr } = runForking(`
      const cases = {
        exit: () => { process.on('exit', (c) => console.log('exit listener', c)); process.exit(9); },
        exitCode: () => { process.on('beforeExit', (c) => console.log('beforeExit', c)); process.exitCode = 4; },
        listenerSetsCode: () => { process.on('exit', () => { process.exitCode = 6; }); },
        throws: () => { setTimeout(() => { throw new Error('boom in child'); }, 1); },
        rejects: () => { Promise.reject(new Error('rejected in child')); },
        handled: () => { process.on('uncaughtException', (e) => { console.log('handled', e.message); process.exitCode = 2; }); setTimeout(() => { throw new Error('x'); }, 1); },
      };
      const results = {};
      for (const [name, run] of Object.entries(cases)) {
        const pid = p.fork();
        if (pid === 0) { console.log('case', name); run(); break; }
        results[name] = waitChild(pid).status;
      }
      if (Object.keys(results).length === Object.keys(cases).length) console.log(JSON.stringify(results));
    `);
    const lines = stdout.trim().split('\n');
    expect(JSON.parse(lines.pop()!)).toEqual({
      exit: { kind: 'exited', code: 9 },
      exitCode: { kind: 'exited', code: 4 },
      listenerSetsCode: { kind: 'exited', code: 6 },
      throws: { kind: 'exited', code: 1 },
      rejects: { kind: 'exited', code: 1 },
      handled: { kind: 'exited', code: 2 },
    });
    expect(lines).toEqual([
      'case exit', 'exit listener 9', 'case exitCode', 'beforeExit 4', 'case listenerSetsCode',
      'case throws', 'case rejects', 'case handled', 'handled x',
    ]);
    expect(stderr).toMatch(/^Error: boom in child\n\s+at Timeout\._onTimeout/m);
    expect(stderr).toMatch(/^Error: rejected in child\n/m);
    expect(stderr.match(/Node\.js v\d+/g)).toHaveLength(2);
  });

  it('a child of a child works too', () => {
    const { stdout } = runForking(`
      const pid = p.fork();
      if (pid === 0) {
        const grandchild = p.fork();
        // The grandchild ends through its empty event loop.
        if (grandchild === 0) setTimeout(() => { process.exitCode = 3; }, 10);
        else process.exit(10 + waitChild(grandchild).status.code);
      } else {
        console.log(JSON.stringify(waitChild(pid).status));
      }
    `);
    expect(stdout).toBe('{"kind":"exited","code":13}\n');
  });

  it('output written by the child reaches its destination, even 1 MiB on a pipe', () => {
    const result = runNode(`${prelude}
      const pid = p.fork();
      if (pid === 0) {
        process.stdout.write('x'.repeat(1 << 20) + '\\n');
        console.error('to stderr');
        process.exit(0);
      }
      waitChild(pid);
    `, { nodeArgs: forkNode, maxBuffer: 4 << 20, timeout: RUN_MS, killSignal: 'SIGKILL' });
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('x'.repeat(1 << 20) + '\n');
    expect(result.stderr).toBe('to stderr\n');
  });

  it("leaves the parent's stdout flags and event loop alone", () => {
    const { stdout } = runForking(`
      const fs = require('node:fs');
      const flags = () => fs.readFileSync('/proc/self/fdinfo/1', 'utf8').match(/flags:\\s+(\\d+)/)[1];
      process.stdout.write('');
      const before = flags();
      let ticks = 0;
      const interval = setInterval(() => ticks++, 5);
      const pid = p.fork();
      if (pid === 0) {
        clearInterval(interval);
        fs.readFile('/proc/self/stat', 'utf8', (error, text) => { console.log('child read own stat', text.split(' ')[0] === String(process.pid)); });
      } else {
        p.waitAsync(pid).then((result) => {
          fs.readFile('/proc/self/stat', 'utf8', (error, text) => {
            // The interval goes on ticking in the parent: look until it has (a loaded machine
            // can hold a 5 ms interval to a tick every few tens of ms), or 10 s.
            const deadline = Date.now() + 10000;
            const report = () => {
              if (ticks <= 3 && Date.now() < deadline) return void setTimeout(report, 50);
              clearInterval(interval);
              console.log('parent', JSON.stringify({ same: flags() === before, nonblocking: (parseInt(before, 8) & ${O_NONBLOCK}) !== 0,
                ownStat: text.split(' ')[0] === String(process.pid), ticked: ticks > 3, status: result.status }));
            };
            setTimeout(report, 50);
          });
        });
      }
    `);
    const lines = stdout.trim().split('\n');
    expect(lines).toContain('child read own stat true');
    expect(JSON.parse(lines.find((line) => line.startsWith('parent '))!.slice(7))).toEqual({
      same: true, nonblocking: true, ownStat: true, ticked: true, status: { kind: 'exited', code: 0 },
    });
  });

  it("spawn and async waits work in the child; the parent's spawns and waits stay the parent's", () => {
    // The waits of a process share one epoll set; a forked child must get its own, or its waits
    // (and their removal) would act on the parent's. The spawning thread is not in the child:
    // it gets a new one, and a spawn in flight at the fork fails there with ECHILD.
    const { stdout } = runForking(`
      (async () => {
        const sleeper = await p.spawn('sleep', ['0.3']);
        const inFlight = p.spawn('true'); // not settled yet when the process forks
        const pid = p.fork();
        if (pid === 0) {
          const inherited = sleeper.wait().then(() => 'resolved', (error) => error.code);
          console.log('child in flight', await inFlight.then(() => 'resolved', (error) => error.code));
          // Several in a row: the new spawning thread must be woken each time.
          let own;
          for (let i = 0; i < 3; i++) own = await (await p.spawn('true')).wait();
          console.log('child own', JSON.stringify(own.status));
          console.log('child inherited', await inherited);
          process.exit(0);
        }
        const started = await inFlight;
        const [slept, forked, ran] = await Promise.all([sleeper.wait(), p.waitAsync(pid), started.wait()]);
        console.log('parent', JSON.stringify(slept.status), JSON.stringify(forked.status), JSON.stringify(ran.status));
      })();
    `);
    const lines = stdout.trim().split('\n').sort();
    expect(lines).toEqual([
      'child in flight ECHILD',
      'child inherited ECHILD',
      'child own {"kind":"exited","code":0}',
      'parent {"kind":"exited","code":0} {"kind":"exited","code":0} {"kind":"exited","code":0}',
    ]);
  });

  it("the child holds no pidfd the background reaper adopted from an ended worker's child", () => {
    const { stdout } = runForking(`
      const fs = require('node:fs');
      const { Worker } = require('node:worker_threads');
      // The fds of this process that are pidfds of \`pid\` (fdinfo's Pid line).
      const pidfdsOf = (pid) => fs.readdirSync('/proc/self/fd').filter((fd) => {
        try { return /^Pid:\\s+(\\d+)$/m.exec(fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8'))?.[1] === String(pid); } catch { return false; }
      });
      const worker = new Worker("require('./dist/index.js').spawn('sleep', ['30'], { stdio: 'ignore' }).then((child) => require('node:worker_threads').parentPort.postMessage(child.pid))", { eval: true });
      worker.once('message', async (sleeper) => {
        await worker.terminate(); // the sleep runs on: its pidfd goes to the background reaper
        console.log('parent ' + pidfdsOf(sleeper).length);
        const pid = p.fork();
        if (pid === 0) {
          console.log('child ' + pidfdsOf(sleeper).length);
          process.exit(0);
        }
        waitChild(pid);
        p.kill(sleeper, 'SIGKILL');
        // Reaped by the background reaper, which then closes its pidfd.
        const pause = new Int32Array(new SharedArrayBuffer(4));
        while (fs.existsSync('/proc/' + sleeper)) Atomics.wait(pause, 0, 0, 5);
      });
    `);
    expect(stdout.trim().split('\n').sort()).toEqual(['child 0', 'parent 1']);
  });

  it('the child has only its own thread until a burst of spawns starts a spawning thread there', () => {
    const { stdout } = runForking(`
      const fs = require('fs');
      const threads = () => fs.readdirSync('/proc/self/task').length;
      (async () => {
        // A burst: the parent has its spawning thread when it forks.
        for (const child of await Promise.all([p.spawn('true'), p.spawn('true')])) await child.wait();
        const pid = p.fork();
        if (pid === 0) {
          const alone = threads();
          for (const child of await Promise.all([p.spawn('true'), p.spawn('true'), p.spawn('true')])) await child.wait();
          console.log('child threads', alone, threads());
          process.exit(0);
        }
        console.log('parent', JSON.stringify((await p.waitAsync(pid)).status));
      })();
    `);
    expect(stdout.trim().split('\n').sort()).toEqual(['child threads 1 2', 'parent {"kind":"exited","code":0}']);
  });

  it("a signal sent to the child runs only the child's handler, never the parent's", () => {
    const { stdout } = runForking(`
      const fs = require('fs');
      let parentHandled = 0;
      process.on('SIGUSR2', () => { parentHandled++; });
      // The child writes a byte once its own handler is in: a signal sent before that would go to
      // the copy of the parent's handle, which removeAllListeners then closes, and be lost.
      const [readyRead, readyWrite] = p.pipe();
      const pid = p.fork();
      if (pid === 0) {
        process.removeAllListeners('SIGUSR2');
        process.on('SIGUSR2', () => { console.log('child handler in', process.pid === p.getpid()); process.exit(0); });
        console.log('child ready');
        fs.writeSync(readyWrite, 'r');
        setInterval(() => {}, 1000);
      } else {
        fs.closeSync(readyWrite); // so that a child that died reads as end-of-file, not a hang
        fs.readSync(readyRead, Buffer.alloc(1));
        p.kill(pid, 'SIGUSR2');
        const { status } = waitChild(pid);
        setTimeout(() => { console.log('parent handled', parentHandled, JSON.stringify(status)); process.exit(0); }, 200);
      }
    `);
    expect(stdout).toBe('child ready\nchild handler in true\nparent handled 0 {"kind":"exited","code":0}\n');
  });

  it('registerAtFork runs before hooks in reverse order, parent and child hooks in order', () => {
    const { stdout, stderr } = runForking(`
      p.registerAtFork({ before: () => console.log('before 1'), parent: () => console.log('parent 1'), child: () => console.log('child 1') });
      p.registerAtFork({ before: () => { console.log('before 2'); throw new Error('hook failed'); }, child: () => console.log('child 2') });
      const remove = p.registerAtFork({ before: () => console.log('removed') });
      remove();
      const pid = p.fork();
      if (pid === 0) process.exit(0);
      waitChild(pid);
      try { p.registerAtFork({ before: 'no' }) } catch (e) { console.log(e.code) }
    `);
    // Parent and child run at the same time: compare each one's lines.
    const lines = stdout.trim().split('\n');
    expect(lines.filter((line) => !line.startsWith('child'))).toEqual(['before 2', 'before 1', 'parent 1', 'ERR_INVALID_ARG_TYPE']);
    expect(lines.filter((line) => line.startsWith('child'))).toEqual(['child 1', 'child 2']);
    expect(stderr).toContain('hook failed');
  });

  it('a parent hook that throws what cannot be made a string (a null-prototype object, a revoked proxy) is reported; fork() still returns the pid', () => {
    const { stdout, stderr } = runForking(`
      p.registerAtFork({ parent: () => { throw Object.create(null); } });
      const revoked = Proxy.revocable({}, {});
      revoked.revoke();
      p.registerAtFork({ parent: () => { throw revoked.proxy; } });
      let pid;
      try { pid = p.fork(); } catch (e) { console.log('fork threw', e && e.constructor && e.constructor.name); }
      if (pid === 0) process.exit(0);
      if (pid !== undefined) console.log('exited', JSON.stringify(waitChild(pid).status));
    `);
    expect(stdout).toBe('exited {"kind":"exited","code":0}\n');
    expect(stderr).toContain('ERR_AT_FORK_HOOK');
  });
});

describe('fork() while a subreaper tree lives', () => {
  it("gives the child a count of subreaper trees of its own: the child's own tree sets the flag and its end drops it", () => {
    const { stdout } = runForking(`
      (async () => {
        const tree = await p.spawn('sleep', ['30'], { contain: 'subreaper' });
        const pid = p.fork();
        if (pid === 0) {
          const before = p.isChildSubreaper(); // the kernel does not pass the flag on
          const own = await p.spawn('true', [], { contain: 'subreaper' });
          const during = p.isChildSubreaper();
          await own.wait();
          await own.killTree('SIGKILL'); // settles once the tree has ended
          console.log('child', JSON.stringify({ before, during, after: p.isChildSubreaper() }));
          process.exit(0);
        }
        const { status } = waitChild(pid);
        await tree.killTree('SIGKILL');
        await tree.wait();
        console.log('parent', JSON.stringify({ status, after: p.isChildSubreaper() }));
      })();`);
    const lines = Object.fromEntries(stdout.trim().split('\n').map((line) => [line.slice(0, line.indexOf(' ')), JSON.parse(line.slice(line.indexOf(' ') + 1)) as unknown]));
    expect(lines).toEqual({ child: { before: false, during: true, after: false }, parent: { status: { kind: 'exited', code: 0 }, after: false } });
  });

  it("leaves the child's own children to it: the parent's tree, copied into the child, does not take them for orphans", () => {
    // The copy polled on in the child (its leader gone, an orphan alive) and reaped the child's
    // posixSpawn child, started after its leader, as an orphan of the tree: the child's waitpid
    // then failed with ECHILD.
    const { stdout } = runForking(`
      (async () => {
        const tree = await p.spawn('sh', ['-c', 'sleep 30 & exit 0'], { contain: 'subreaper' });
        await tree.wait(); // the leader is gone, its orphan (sleep 30) lives: the tree polls
        const pid = p.fork();
        if (pid === 0) {
          const own = p.posixSpawn('/bin/sh', ['sh', '-c', 'exit 7']);
          await new Promise((resolve) => setTimeout(resolve, 1500)); // the copy's polls, had it kept them
          let outcome;
          try { outcome = p.waitpid(own).status; } catch (e) { outcome = e.code; }
          console.log(JSON.stringify(outcome));
          process.exit(0);
        }
        waitChild(pid);
        await tree.killTree('SIGKILL');
      })();`);
    expect(JSON.parse(stdout.trim())).toEqual({ kind: 'exited', code: 7 });
  });
});

describe.runIf(availableContainments().includes('cgroup'))('fork() after a cgroup spawn', () => {
  it("leaves the parent's process cgroup in place when the child exits, and the parent's contained spawns work", async () => {
    // The child ran the parent's 'exit' listener that removes the process cgroup: every later
    // contained spawn of the parent failed with ENOENT from mkdir.
    const { stdout } = runForking(`
      const fs = require('fs');
      (async () => {
        await (await p.spawn('true', [], { contain: 'cgroup' })).wait();
        const dir = require('./dist/spawn/contain.js').cgroupWatchdogForTest().dir;
        const pid = p.fork();
        if (pid === 0) process.exit(0);
        waitChild(pid);
        const after = await p.spawn('true', [], { contain: 'cgroup' });
        const watchdog = require('./dist/spawn/contain.js').cgroupWatchdogForTest().pid;
        console.log(JSON.stringify({ kept: fs.existsSync(dir), status: (await after.wait()).status, watchdog }));
      })();`);
    const { watchdog, ...outcome } = JSON.parse(stdout.trim()) as { watchdog: number };
    expect(outcome).toEqual({ kept: true, status: { kind: 'exited', code: 0 } });
    // The script's watchdog kills and removes its cgroup once the script is gone, then exits; if
    // this process (a subreaper here) adopted it, it reaps it, so that the leftover check does not
    // take it for one.
    await until(() => processState(watchdog) === undefined || (processState(watchdog) === 'Z' && childPids().includes(watchdog)), 20_000);
    if (childPids().includes(watchdog)) waitpid(watchdog);
  });
});

// Not under AddressSanitizer: its allocator (GCC 12's) has no fork handlers, so a child forked
// while the worker is inside malloc waits for ever for the allocator's lock (glibc's malloc takes
// its locks around fork()).
describe.skipIf(process.env.ASAN_OPTIONS !== undefined)('fork() while a worker thread allocates', () => {
  it('forks every time: a mapping that goes away before it is marked for the child is read again, not an error', () => {
    const { stdout } = runForking(`
      const { Worker } = require('node:worker_threads');
      const stop = new Int32Array(new SharedArrayBuffer(4));
      const worker = new Worker('const stop = new Int32Array(require("node:worker_threads").workerData); let keep = []; while (Atomics.load(stop, 0) === 0) { keep.push(new Array(20000).fill(1)); if (keep.length > 50) keep = []; }', { eval: true, workerData: stop.buffer });
      worker.once('online', async () => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const failures = [];
        for (let i = 0; i < 30; i++) {
          let pid;
          try {
            pid = p.fork();
          } catch (error) {
            failures.push(error.code + ' ' + error.syscall);
            continue;
          }
          if (pid === 0) p.exit(0);
          waitChild(pid);
        }
        Atomics.store(stop, 0, 1);
        await worker.terminate();
        console.log(JSON.stringify(failures));
      });
    `);
    expect(JSON.parse(stdout)).toEqual([]);
  });
});
