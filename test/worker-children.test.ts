// Children of a worker thread that ends before they do: the worker's waits end with its
// environment, so the background reaper (native/background_reaper.cc) must reap them once they
// exit, or each would stay a zombie for the life of the process.
import { describe, expect, it } from 'vitest';
import { runNode } from './helpers';

// In a fresh Node: a worker starts `sleep 2` by `how` (long enough to outlast the worker's end on
// a loaded machine), posts its pid and is ended by `end`; the main thread then watches
// /proc/<pid> (its start time tells a recycled pid apart) for 10 s and prints what it saw:
// 'reaped' once the entry is gone, or the state it was left in.
function childOfEndedWorker(how: 'spawn' | 'posixSpawn+waitAsync', end: 'terminate' | 'exit'): { states: string[]; outcome: string } {
  const script = `
    const fs = require('node:fs');
    const { Worker } = require('node:worker_threads');
    const stat = (pid) => { try { const s = fs.readFileSync('/proc/' + pid + '/stat', 'latin1'); const f = s.slice(s.lastIndexOf(')') + 2).split(' '); return { state: f[0], start: f[19] }; } catch { return null; } };
    const worker = new Worker(\`
      const { parentPort } = require('node:worker_threads');
      const lib = require('./dist/index.js');
      (async () => {
        let pid;
        if (${JSON.stringify(how)} === 'spawn') pid = (await lib.spawn('sleep', ['2'])).pid;
        else { pid = lib.posixSpawnp('sleep', ['sleep', '2']); lib.waitAsync(pid); }
        parentPort.postMessage(pid);
        parentPort.once('message', () => process.exit(0));
      })();
    \`, { eval: true });
    worker.once('message', async (pid) => {
      const first = stat(pid);
      if (${JSON.stringify(end)} === 'terminate') await worker.terminate();
      else { worker.postMessage('exit'); await new Promise((resolve) => worker.once('exit', resolve)); }
      const states = [];
      const deadline = Date.now() + 10000;
      let outcome = 'left';
      while (Date.now() < deadline) {
        const now = stat(pid);
        if (now === null || now.start !== first.start) { outcome = 'reaped'; break; }
        if (states[states.length - 1] !== now.state) states.push(now.state);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      console.log(JSON.stringify({ states, outcome }));
    });
  `;
  const result = runNode(script, { timeout: 30_000 });
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as { states: string[]; outcome: string };
}

describe('children of a worker that ends first', () => {
  for (const how of ['spawn', 'posixSpawn+waitAsync'] as const) {
    for (const end of ['terminate', 'exit'] as const) {
      it(`${how}, worker ${end === 'terminate' ? 'terminated' : 'exits'}: the child runs to its end and is then reaped, not left a zombie`, () => {
        const { states, outcome } = childOfEndedWorker(how, end);
        expect(outcome).toBe('reaped');
        // It ran on after the worker's end (it was not killed): seen sleeping first.
        expect(['S', 'R', 'D']).toContain(states[0]);
      });
    }
  }
});

describe('a burst of spawns from a worker that is terminated at once', () => {
  it('leaves no zombie: children started, still starting or not yet handed over are all reaped', () => {
    // Some of the 40 are settled, some have results not yet handed to the worker's JavaScript,
    // some are before their exec when the worker goes (its teardown kills those).
    const result = runNode(`
      const fs = require('node:fs');
      const { Worker } = require('node:worker_threads');
      const zombies = () => fs.readdirSync('/proc').filter((entry) => /^\\d+$/.test(entry)).filter((entry) => {
        try {
          const fields = fs.readFileSync('/proc/' + entry + '/stat', 'latin1').split(') ')[1].split(' ');
          return fields[0] === 'Z' && Number(fields[1]) === process.pid;
        } catch { return false; }
      });
      const worker = new Worker(\`
        const { spawn } = require('./dist/index.js');
        for (let i = 0; i < 40; i++) spawn('sleep', ['0.2']).catch(() => {});
        require('node:worker_threads').parentPort.postMessage('started');
      \`, { eval: true });
      worker.once('message', async () => {
        await worker.terminate();
        const deadline = Date.now() + 10000;
        while (zombies().length > 0 || Date.now() < deadline - 9000) {
          if (Date.now() > deadline) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        console.log(JSON.stringify({ zombies: zombies().length }));
      });
    `);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ zombies: 0 });
  });
});


describe('a worker terminated while its spawns and children are under way', () => {
  it('never aborts the process (a binding called during the termination cannot throw its error)', () => {
    // node-addon-api threw a C++ exception from its wrapper's catch when the error could not be
    // thrown into the terminating worker: std::terminate, "terminate called after throwing an
    // instance of 'Napi::Error'", in about one run in two of 40 workers.
    const script = `
      const { Worker } = require('node:worker_threads');
      const code = \`
        const { parentPort, workerData } = require('node:worker_threads');
        const lib = require('./dist/index.js');
        const options = workerData % 2 === 0 ? { pty: true, fds: { 3: 'pipe' } } : { stdio: ['pipe', 'pipe', 'pipe'], contain: 'subreaper' };
        lib.spawn('sleep', ['0.3'], options).then((child) => child.pty?.resume(), () => {});
        parentPort.postMessage('go');
      \`;
      (async () => {
        for (let i = 0; i < 80; i++) {
          const worker = new Worker(code, { eval: true, workerData: i });
          await new Promise((resolve) => worker.once('message', resolve));
          await new Promise((resolve) => setTimeout(resolve, i % 5));
          await worker.terminate();
        }
        console.log('done');
      })();
    `;
    const result = runNode(script, { timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('done');
  }, 70_000);

  it('workers that read outputs into their own read slabs, ended while reading or after, leave the process whole', () => {
    // Each thread reads pipes into slabs of its own (native/util/read_slab.cc), released with its
    // environment while chunks of them may still be alive or a read under way.
    const script = `
      const { Worker } = require('node:worker_threads');
      const lib = require('./dist/index.js');
      const code = \`
        const { parentPort, workerData } = require('node:worker_threads');
        const lib = require('./dist/index.js');
        lib.spawn('head', ['-c', '50000000', '/dev/zero'], { stdio: ['ignore', 'pipe', 'ignore'] }).then((child) => {
          const kept = [];
          child.stdout.on('data', (chunk) => { kept.push(chunk); if (kept.length === 3) parentPort.postMessage('reading'); });
          if (workerData % 2 === 1) child.finished().then(() => parentPort.postMessage(kept.reduce((sum, chunk) => sum + chunk.length, 0)));
        });
      \`;
      (async () => {
        for (let i = 0; i < 20; i++) {
          const worker = new Worker(code, { eval: true, workerData: i });
          const got = await new Promise((resolve) => worker.on('message', (m) => (i % 2 === 1 ? m !== 'reading' && resolve(m) : resolve(m))));
          if (i % 2 === 1 && got !== 50000000) throw new Error('worker read ' + got);
          await worker.terminate();
        }
        const { stdout } = await lib.run('head', ['-c', '3000000', '/dev/zero'], { encoding: 'buffer' });
        console.log(stdout.length === 3000000 ? 'done' : 'short');
      })();
    `;
    const result = runNode(script, { timeout: 120_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('done');
  }, 130_000);

  it('leaves no pipe or socket behind: what the library made for its JavaScript is closed with the worker', () => {
    // Pipe ends and socket pairs that JavaScript held as numbers (run's outputs before the
    // collector took them, a spawn's pipes before its streams did, the pipes between pipeline
    // stages) stayed open for the life of the process: 9 pipes became 123, and 30 sockets
    // appeared, over 60 workers.
    const script = `
      const fs = require('node:fs');
      const { Worker } = require('node:worker_threads');
      const count = () => {
        const kinds = { pipe: 0, socket: 0 };
        for (const fd of fs.readdirSync('/proc/self/fd')) {
          try {
            const target = fs.readlinkSync('/proc/self/fd/' + fd);
            if (target.startsWith('pipe:')) kinds.pipe++;
            else if (target.startsWith('socket:')) kinds.socket++;
          } catch {}
        }
        return kinds;
      };
      const code = \`
        const { parentPort, workerData: i } = require('node:worker_threads');
        const lib = require('./dist/index.js');
        const once = () => {
          if (i % 3 === 0) return lib.run('/bin/echo', ['hi']);
          if (i % 3 === 1) return lib.spawn('cat', [], { stdio: ['pipe', 'pipe', 'pipe'], fds: { 3: 'pipe' } }).then((child) => child.stdin.end());
          return lib.pipeline([['yes'], ['head', '-c', '100000'], ['wc', '-c']]);
        };
        (async () => { for (;;) await once().catch(() => {}); })();
        parentPort.postMessage('go');
      \`;
      const cycle = async (i) => {
        const worker = new Worker(code, { eval: true, workerData: i });
        await new Promise((resolve) => worker.once('message', resolve));
        await new Promise((resolve) => setTimeout(resolve, 5 + (i % 7) * 3));
        await worker.terminate();
      };
      const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
      (async () => {
        for (let i = 0; i < 3; i++) await cycle(i); // warm-up: what Node itself opens once
        // Counted once two counts 200 ms apart agree (closes after a terminate() can lag under
        // load); the end count is given up to 10 s to come back to it.
        let before = JSON.stringify(count());
        for (let i = 0; i < 50; i++) {
          await pause(200);
          const now = JSON.stringify(count());
          if (now === before) break;
          before = now;
        }
        for (let i = 0; i < 45; i++) await cycle(i);
        let after = JSON.stringify(count());
        for (let i = 0; i < 100 && after !== before; i++) {
          await pause(100);
          after = JSON.stringify(count());
        }
        console.log(JSON.stringify({ before: JSON.parse(before), after: JSON.parse(after) }));
      })();
    `;
    const result = runNode(script, { timeout: 60_000 });
    expect(result.stderr).toBe('');
    const { before, after } = JSON.parse(result.stdout) as { before: object; after: object };
    expect(after).toEqual(before);
  }, 70_000);
  it('runSync in a worker terminated while it waits leaves no zombie: the child goes to the background reaper', () => {
    // runSync reaped with a wait4 in JavaScript after its native wait; a worker terminated during
    // that wait runs no more JavaScript, and every such child stayed a zombie (10 of 10).
    const script = `
      const fs = require('node:fs');
      const { Worker } = require('node:worker_threads');
      const children = () => fs.readdirSync('/proc/self/task').flatMap((task) => {
        try { return fs.readFileSync('/proc/self/task/' + task + '/children', 'utf8').trim().split(/\\s+/).filter(Boolean); } catch { return []; }
      });
      const code = \`
        const { parentPort } = require('node:worker_threads');
        const lib = require('./dist/index.js');
        parentPort.postMessage('go');
        lib.runSync('/bin/sleep', ['0.2']);
      \`;
      (async () => {
        for (let i = 0; i < 5; i++) {
          const worker = new Worker(code, { eval: true });
          await new Promise((resolve) => worker.once('message', resolve));
          await new Promise((resolve) => setTimeout(resolve, 50));
          await worker.terminate();
        }
        let left = children();
        for (let i = 0; i < 100 && left.length > 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          left = children();
        }
        console.log(JSON.stringify(left.map((pid) => fs.readFileSync('/proc/' + pid + '/stat', 'latin1').split(' ').slice(1, 3).join(' '))));
      })();
    `;
    const result = runNode(script, { timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual([]);
  }, 70_000);

  it("leaves no pty behind: a spawn's pty is closed with a worker terminated before the spawn settles", () => {
    // Its master and slave were plain numbers until the spawn settled: 22 of 100 workers
    // terminated 0 to 10 ms into a pty spawn left both open for the life of the process.
    const script = `
      const fs = require('node:fs');
      const { Worker } = require('node:worker_threads');
      const ptyFds = () => fs.readdirSync('/proc/self/fd').filter((fd) => {
        try { return /^\\/dev\\/(ptmx|pts\\/)/.test(fs.readlinkSync('/proc/self/fd/' + fd)); } catch { return false; }
      }).length;
      const code = \`
        const { parentPort } = require('node:worker_threads');
        const lib = require('./dist/index.js');
        parentPort.postMessage('go');
        lib.spawn('/bin/true', [], { pty: true }).then((child) => child.wait(), () => {});
      \`;
      (async () => {
        const before = ptyFds();
        for (let i = 0; i < 40; i++) {
          const worker = new Worker(code, { eval: true });
          await new Promise((resolve) => worker.once('message', resolve));
          await new Promise((resolve) => setTimeout(resolve, (i % 11)));
          await worker.terminate();
        }
        let after = ptyFds();
        for (let i = 0; i < 100 && after !== before; i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          after = ptyFds();
        }
        console.log(JSON.stringify({ before, after }));
      })();
    `;
    const result = runNode(script, { timeout: 60_000 });
    expect(result.stderr).toBe('');
    const { before, after } = JSON.parse(result.stdout) as { before: number; after: number };
    expect(before).toBe(0);
    expect(after).toBe(before);
  }, 70_000);
});
