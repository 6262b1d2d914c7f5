import * as child_process from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { startReaper } from '../lib/index';
import { repoRoot } from './helpers';

// A Node process with orphaned grandchildren (sleeps whose shell exited at once), child_process
// children and a posixSpawn child waited with waitAsync, all exiting at about the same time.
const scenario = (setup: string, withReaper: boolean): string => `
  const p = require(${JSON.stringify(`${repoRoot}/dist/index.js`)});
  const cp = require('child_process');
  ${setup}
  const out = { pid: process.pid, reaped: [], exits: [] };
  const reaper = ${withReaper} ? p.startReaper({ onReap: (r) => out.reaped.push([r.pid, r.status.kind, r.status.code]) }) : null;
  for (let i = 0; i < 5; i++) {
    const c = cp.spawn('sh', ['-c', 'sleep 0.' + (i + 1) + '; exit ' + (i + 10)]);
    c.on('exit', (code) => out.exits.push(code));
  }
  const sh = cp.spawnSync('sh', ['-c', 'for i in 1 2 3 4 5; do sleep 0.$i & echo $!; done'], { encoding: 'utf8' });
  out.orphans = sh.stdout.trim().split(/\\s+/).map(Number);
  const own = p.posixSpawnp('sh', ['sh', '-c', 'sleep 0.3; exit 3']);
  p.waitAsync(own).then((r) => { out.waitAsync = r.status; });
  // Everything has ended, and been reaped (or, without the reaper, the orphans are zombies): not
  // after a fixed time, which a loaded machine can overrun.
  const state = (pid) => { try { return p.processInfo(pid).state; } catch { return 'gone'; } };
  const orphansEnded = () => out.orphans.every((pid) => (reaper ? out.reaped.some(([reaped]) => reaped === pid) : state(pid) === 'Z'));
  const deadline = Date.now() + 15000;
  const check = () => {
    if (!(out.exits.length === 5 && out.waitAsync !== undefined && orphansEnded()) && Date.now() < deadline) return void setTimeout(check, 10);
    out.zombies = p.children(process.pid).filter((c) => state(c) === 'Z');
    if (reaper) reaper.stop();
    console.log(JSON.stringify(out));
    process.exit(0);
  };
  check();`;

function run(command: string, args: string[]): Record<string, unknown> & { orphans: number[]; zombies: number[]; exits: number[] } {
  const result = child_process.spawnSync(command, args, { encoding: 'utf8', timeout: 20_000 });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout.trim()) as Record<string, unknown> & { orphans: number[]; zombies: number[]; exits: number[] };
}

describe('startReaper', () => {
  it('as PID 1 of a new PID namespace: reaps every orphan, and child_process and waitAsync get their children', () => {
    const out = run('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, '-e', scenario('', true)]);
    expect(out.pid).toBe(1);
    expect(out.orphans).toHaveLength(5);
    expect(out.reaped).toEqual(expect.arrayContaining(out.orphans.map((pid) => [pid, 'exited', 0])));
    expect(out.reaped).toHaveLength(5);
    expect([...out.exits].sort()).toEqual([10, 11, 12, 13, 14]);
    expect(out.waitAsync).toEqual({ kind: 'exited', code: 3 });
    expect(out.zombies).toEqual([]);
  });

  it('without it, the same orphans stay zombies of PID 1 (the control)', () => {
    const out = run('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, '-e', scenario('', false)]);
    expect(out.pid).toBe(1);
    expect([...out.zombies].sort((a, b) => a - b)).toEqual([...out.orphans].sort((a, b) => a - b));
    expect([...out.exits].sort()).toEqual([10, 11, 12, 13, 14]);
  });

  it('as a subreaper outside a namespace', () => {
    const out = run(process.execPath, ['-e', scenario('p.setChildSubreaper(true);', true)]);
    expect(out.reaped).toEqual(expect.arrayContaining(out.orphans.map((pid) => [pid, 'exited', 0])));
    expect(out.reaped).toHaveLength(5);
    expect([...out.exits].sort()).toEqual([10, 11, 12, 13, 14]);
    expect(out.waitAsync).toEqual({ kind: 'exited', code: 3 });
    expect(out.zombies).toEqual([]);
  });

  it('leaves excluded pids for the program to wait for', () => {
    const script = `
      const p = require(${JSON.stringify(`${repoRoot}/dist/index.js`)});
      const pid = p.posixSpawnp('sh', ['sh', '-c', 'exit 5']);
      const reaped = [];
      const reaper = p.startReaper({ exclude: (c) => c === pid, onReap: (r) => reaped.push(r.pid) });
      setTimeout(() => {
        reaper.stop();
        const mine = p.waitpid(pid);
        console.log(JSON.stringify({ reaped, mine: mine.status }));
      }, 300);`;
    const out = run(process.execPath, ['-e', script]);
    expect(out).toEqual({ reaped: [], mine: { kind: 'exited', code: 5 } });
  });

  it('an exclude that returns a truthy non-boolean (a pid from find, a count) excludes: reaping cannot be undone', () => {
    const script = `
      const p = require(${JSON.stringify(`${repoRoot}/dist/index.js`)});
      const pids = [p.posixSpawnp('sh', ['sh', '-c', 'exit 6']), p.posixSpawnp('sh', ['sh', '-c', 'exit 7'])];
      const reaped = [];
      const reaper = p.startReaper({ exclude: (c) => pids.find((pid) => pid === c), onReap: (r) => reaped.push(r.pid) });
      setTimeout(() => {
        reaper.stop();
        const mine = pids.map((pid) => p.waitpid(pid).status);
        console.log(JSON.stringify({ reaped, mine }));
      }, 300);`;
    const out = run(process.execPath, ['-e', script]);
    expect(out).toEqual({ reaped: [], mine: [{ kind: 'exited', code: 6 }, { kind: 'exited', code: 7 }] });
  });

  it('an onReap or exclude that throws: reported as an uncaught exception, the sweep goes on, startReaper returns its handle and stop() stops it', () => {
    // Before, the first sweep's exception came out of startReaper with the SIGCHLD handler left
    // installed and no handle to stop it: it went on reaping children the program waited for.
    const script = `
      const p = require(${JSON.stringify(`${repoRoot}/dist/index.js`)});
      const fs = require('fs');
      const first = p.posixSpawnp('true', ['true']);
      const second = p.posixSpawnp('true', ['true']);
      const skipped = p.posixSpawnp('true', ['true']);
      const uncaught = [];
      process.on('uncaughtException', (e) => uncaught.push(e.message));
      const zombie = (pid) => { try { return p.processInfo(pid).state === 'Z'; } catch { return false; } };
      const ready = () => [first, second, skipped].every(zombie);
      const start = () => {
        if (!ready()) return void setTimeout(start, 5);
        const reaped = [];
        let reaper = null;
        try {
          reaper = p.startReaper({
            exclude: (pid) => { if (pid === skipped) throw new Error('exclude threw'); return false; },
            onReap: (r) => { reaped.push(r.pid); throw new Error('onReap threw'); },
          });
        } catch (e) { console.log(JSON.stringify({ startReaperThrew: e.message })); }
        reaper?.stop();
        const late = p.posixSpawnp('sh', ['sh', '-c', 'exit 4']);
        setTimeout(() => {
          const mine = p.waitpid(late).status;
          const left = p.waitpid(skipped).status;
          console.log(JSON.stringify({ returned: reaper !== null, reaped: reaped.sort(), expected: [first, second].sort(), mine, left, uncaught: uncaught.sort() }));
        }, 300);
      };
      start();`;
    const out = run(process.execPath, ['-e', script]) as Record<string, unknown>;
    expect(out).toEqual({
      returned: true,
      reaped: out.expected,
      expected: out.expected,
      mine: { kind: 'exited', code: 4 },
      left: { kind: 'exited', code: 0 },
      uncaught: ['exclude threw', 'onReap threw', 'onReap threw'],
    });
  });

  it('a later sweep that fails (EMFILE) is tried again until it can list the children, with one warning, and the program goes on', () => {
    // Before, the sweep's EMFILE was thrown from the SIGCHLD handler: an uncaught exception.
    const script = `
      const p = require(${JSON.stringify(`${repoRoot}/dist/index.js`)});
      const fs = require('fs');
      const warnings = [];
      process.on('warning', (w) => warnings.push(w.code));
      const reaped = [];
      const reaper = p.startReaper({ onReap: (r) => reaped.push(r.pid) });
      const child = p.posixSpawnp('sh', ['sh', '-c', 'sleep 0.2']);
      const fillers = [];
      try { for (;;) fillers.push(fs.openSync('/dev/null', 'r')); } catch {}
      // waitid with nowait needs no fd: whether the child waits, unreaped, for a sweep that can run.
      const unreaped = () => { try { return p.waitid('pid', child, { exited: true, nohang: true, nowait: true }) !== null; } catch (e) { return e.code; } };
      // Polled with a deadline: the child's exit and the failed sweep's warning come when they come.
      const until = async (predicate) => { for (let i = 0; i < 1000 && !predicate(); i++) await new Promise((r) => setTimeout(r, 10)); };
      (async () => {
        await until(() => unreaped() === true && warnings.length > 0);
        await new Promise((r) => setTimeout(r, 200)); // more failed retries: still one warning
        const during = { unreaped: unreaped(), reaped: reaped.length, warnings: [...warnings] };
        for (const fd of fillers) fs.closeSync(fd);
        await until(() => reaped.length > 0);
        reaper.stop();
        console.log(JSON.stringify({ during, after: { unreaped: unreaped(), reaped: reaped.length === 1 && reaped[0] === child, warnings } }));
      })();`;
    const out = run(process.execPath, ['--no-warnings', '-e', script]);
    expect(out).toEqual({
      during: { unreaped: true, reaped: 0, warnings: ['POSIX_PROCESS_REAPER_RETRY'] },
      after: { unreaped: 'ECHILD', reaped: true, warnings: ['POSIX_PROCESS_REAPER_RETRY'] },
    });
  });

  it.each([[null], ['x'], [{ onReap: 1 }], [{ exclude: 'no' }]])('rejects options %s', (options) => {
    expect(() => startReaper(options as object)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }) as Error);
  });
  it('a first sweep that fails (EMFILE listing the children) is thrown by startReaper, with its SIGCHLD handler removed', () => {
    const script = `
      const p = require(${JSON.stringify(`${repoRoot}/dist/index.js`)});
      const fs = require('fs');
      const caught = () => (BigInt('0x' + /^SigCgt:\\s*(\\w+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) >> 16n) & 1n;
      p.onSignal('SIGUSR2', () => {}); // the signal pipe exists: only the sweep needs an fd
      const fillers = [];
      try { for (;;) fillers.push(fs.openSync('/dev/null', 'r')); } catch {}
      let error;
      try { p.startReaper().stop(); error = 'none'; } catch (e) { error = e.code; }
      for (const fd of fillers) fs.closeSync(fd);
      console.log(JSON.stringify({ error, sigchldCaught: Number(caught()) }));`;
    const out = run(process.execPath, ['-e', script]) as Record<string, unknown>;
    expect(out).toEqual({ error: 'EMFILE', sigchldCaught: 0 });
  });
});
