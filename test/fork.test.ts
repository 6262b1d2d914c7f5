import { describe, expect, it } from 'vitest';
import { runNode } from './helpers';

// fork() needs Node started with --single-threaded (--single-threaded-gc alone can hang a child
// that allocates heavily: see lib/fork.ts), so every test runs in a child Node.
const forkNode = ['--single-threaded'];
const O_NONBLOCK = 0o4000;

/** Runs a script in a Node child started with --single-threaded; checks it ended with 0. */
function runForking(script: string, nodeArgs: string[] = []): { stdout: string; stderr: string } {
  const result = runNode(`const p = require('./dist/index.js');\n${script}`, { nodeArgs: [...forkNode, ...nodeArgs], timeout: 25_000 });
  expect(result.error).toBeUndefined();
  expect(result.status, result.stderr).toBe(0);
  return { stdout: result.stdout, stderr: result.stderr };
}

describe('fork', () => {
  it('refuses without --single-threaded(-gc), saying how to start Node, and creates no child', () => {
    const result = runNode(`
      const p = require('./dist/index.js');
      try { p.fork() } catch (e) { console.log(e.code); console.log(e.message) }
      const fs = require('node:fs');
      console.log('children:' + fs.readFileSync('/proc/self/task/' + process.pid + '/children', 'utf8'));
    `);
    const [code, message, children] = result.stdout.trim().split('\n');
    expect(code).toBe('ERR_FORK_NEEDS_SINGLE_THREADED');
    expect(message).toContain('node --single-threaded script.js');
    expect(message).toContain('#!/usr/bin/env -S node --single-threaded`');
    expect(children).toBe('children:');
  });

  it('refuses --single-threaded-gc alone, which lets heavy allocation hang the child', () => {
    const result = runNode(`
      const p = require('./dist/index.js');
      try { p.fork(); console.log('forked') } catch (e) { console.log(e.code); console.log(e.message) }
    `, { nodeArgs: ['--single-threaded-gc'] });
    const [code, message] = result.stdout.trim().split('\n');
    expect(code).toBe('ERR_FORK_NEEDS_SINGLE_THREADED');
    expect(message).toContain('--single-threaded-gc alone is not enough');
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
      const { status } = p.waitpid(pid);
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

  it('50 times in a row: the child allocates heavily (many GCs), uses timers and async fs, exits with its code', () => {
    const { stdout } = runForking(
      `
      const fs = require('node:fs');
      const v8 = require('node:v8');
      const statuses = [];
      let inChild = false;
      for (let i = 0; i < 50; i++) {
        const pid = p.fork();
        if (pid === 0) {
          let keep = [];
          let sum = 0;
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
        statuses.push(p.waitpid(pid).status);
      }
      if (!inChild) console.log(JSON.stringify(statuses));
    `,
      ['--expose-gc'],
    );
    const lines = stdout.trim().split('\n');
    const statuses = JSON.parse(lines.pop()!) as unknown[];
    expect(statuses).toEqual(Array.from({ length: 50 }, (_, i) => ({ kind: 'exited', code: (i * 7) % 256 })));
    expect(lines).toEqual(Array.from({ length: 50 }, (_, i) => `child ${i} 32000`));
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
        results[name] = p.waitpid(pid).status;
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
        else process.exit(10 + p.waitpid(grandchild).status.code);
      } else {
        console.log(JSON.stringify(p.waitpid(pid).status));
      }
    `);
    expect(stdout).toBe('{"kind":"exited","code":13}\n');
  });

  it('output written by the child reaches its destination, even 1 MiB on a pipe', () => {
    const result = runNode(`
      const p = require('./dist/index.js');
      const pid = p.fork();
      if (pid === 0) {
        process.stdout.write('x'.repeat(1 << 20) + '\\n');
        console.error('to stderr');
        process.exit(0);
      }
      p.waitpid(pid);
    `, { nodeArgs: forkNode, maxBuffer: 4 << 20 });
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
            setTimeout(() => {
              clearInterval(interval);
              console.log('parent', JSON.stringify({ same: flags() === before, nonblocking: (parseInt(before, 8) & ${O_NONBLOCK}) !== 0,
                ownStat: text.split(' ')[0] === String(process.pid), ticked: ticks > 3, status: result.status }));
            }, 50);
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
      let parentHandled = 0;
      process.on('SIGUSR2', () => { parentHandled++; });
      const pid = p.fork();
      if (pid === 0) {
        process.removeAllListeners('SIGUSR2');
        process.on('SIGUSR2', () => { console.log('child handler in', process.pid === p.getpid()); process.exit(0); });
        console.log('child ready');
        setInterval(() => {}, 1000);
      } else {
        setTimeout(() => {
          p.kill(pid, 'SIGUSR2');
          const { status } = p.waitpid(pid);
          setTimeout(() => { console.log('parent handled', parentHandled, JSON.stringify(status)); process.exit(0); }, 200);
        }, 200);
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
      p.waitpid(pid);
      try { p.registerAtFork({ before: 'no' }) } catch (e) { console.log(e.code) }
    `);
    // Parent and child run at the same time: compare each one's lines.
    const lines = stdout.trim().split('\n');
    expect(lines.filter((line) => !line.startsWith('child'))).toEqual(['before 2', 'before 1', 'parent 1', 'ERR_INVALID_ARG_TYPE']);
    expect(lines.filter((line) => line.startsWith('child'))).toEqual(['child 1', 'child 2']);
    expect(stderr).toContain('hook failed');
  });
});
