import * as child_process from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { getParentDeathSignal, isChildSubreaper, processInfo, setChildSubreaper, setParentDeathSignal } from '../lib/index';
import { runNode } from './helpers';

/** Runs a Node script in a child and returns what it printed as JSON on its last line. */
function runJson(script: string): Record<string, unknown> {
  const result = runNode(`const p = require('./dist/index.js'); const out = {}; ${script}`);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

// In the child scripts: poll until `test()` holds or 5 s pass.
const until = `
  async function until(test) {
    for (let i = 0; i < 500 && !test(); i++) await new Promise((r) => setTimeout(r, 10));
    return test();
  }`;

describe('setChildSubreaper / isChildSubreaper', () => {
  it('toggles the flag of this process', () => {
    expect(isChildSubreaper()).toBe(false);
    setChildSubreaper(true);
    expect(isChildSubreaper()).toBe(true);
    setChildSubreaper(false);
    expect(isChildSubreaper()).toBe(false);
  });

  it('adopts an orphaned grandchild, which becomes its zombie child when it exits', () => {
    // sh starts `sleep 0.3` in the background and exits: the sleep is orphaned.
    const out = runJson(`${until}
      (async () => {
        const cp = require('child_process');
        out.before = p.isChildSubreaper();
        p.setChildSubreaper(true);
        out.after = p.isChildSubreaper();
        const sh = cp.spawnSync('sh', ['-c', 'sleep 0.3 & echo $!'], { encoding: 'utf8' });
        const orphan = Number(sh.stdout.trim());
        out.adopted = p.processInfo(orphan).ppid === process.pid;
        out.listed = p.children(process.pid).includes(orphan);
        // Node reaps only what it spawned: the adopted orphan stays a zombie of ours.
        out.zombie = await until(() => p.processInfo(orphan).state === 'Z');
        out.zombieParent = p.processInfo(orphan).ppid === process.pid;
        console.log(JSON.stringify(out));
      })();`);
    expect(out).toEqual({ before: false, after: true, adopted: true, listed: true, zombie: true, zombieParent: true });
  });

  it('without the flag, the orphan goes to an ancestor instead', () => {
    const out = runJson(`
      const cp = require('child_process');
      // A sleep long enough to be there when it is looked at (one that had ended would be gone).
      const sh = cp.spawnSync('sh', ['-c', 'sleep 30 >/dev/null 2>&1 & echo $!'], { encoding: 'utf8' });
      const orphan = Number(sh.stdout.trim());
      out.ppid = p.processInfo(orphan).ppid;
      out.pid = process.pid;
      out.listed = p.children(process.pid).includes(orphan);
      process.kill(orphan, 'SIGKILL');
      console.log(JSON.stringify(out));`);
    expect(out.ppid).not.toBe(out.pid);
    expect(out.listed).toBe(false);
  });

  it.each([[1], ['yes'], [undefined]])('rejects %s', (on) => {
    expect(() => setChildSubreaper(on as unknown as boolean)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }) as Error);
    expect(isChildSubreaper()).toBe(false);
  });
});

describe('setParentDeathSignal / getParentDeathSignal', () => {
  it('sets, reads back and clears the signal', () => {
    expect(getParentDeathSignal()).toBeNull();
    setParentDeathSignal('SIGRTMIN+2');
    expect(getParentDeathSignal()).toBe('SIGRTMIN+2');
    setParentDeathSignal(15);
    expect(getParentDeathSignal()).toBe('SIGTERM');
    setParentDeathSignal(null);
    expect(getParentDeathSignal()).toBeNull();
    setParentDeathSignal('SIGHUP');
    setParentDeathSignal(0);
    expect(getParentDeathSignal()).toBeNull();
  });

  it('delivers the signal when the parent is killed', async () => {
    // test -> parent (node) -> grandchild (node, pdeathsig SIGUSR2). Both share our stdout pipe.
    const grandchild = `
      const p = require('./dist/index.js');
      p.setParentDeathSignal('SIGUSR2');
      const parent = process.ppid;
      process.on('SIGUSR2', () => {
        // The signal comes when the parent's main thread exits; its other threads may still be
        // exiting, and the kernel reparents to them first: getppid() can still show the old pid.
        const deadline = Date.now() + 5000;
        const check = () => {
          if (p.getppid() === parent && Date.now() < deadline) return setTimeout(check, 5);
          console.log('got SIGUSR2, parent was ' + parent + ', now ' + p.getppid() + ', setting ' + p.getParentDeathSignal());
          process.exit(0);
        };
        check();
      });
      console.log('armed ' + process.pid);
      setTimeout(() => { console.log('timeout'); process.exit(1); }, 10000);`;
    const parentScript = `require('child_process').spawn(process.execPath, ['-e', ${JSON.stringify(grandchild)}], { stdio: 'inherit' }); setInterval(() => {}, 1000);`;
    const parent = child_process.spawn(process.execPath, ['-e', parentScript], { cwd: `${__dirname}/..`, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    parent.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const ended = new Promise((resolve) => parent.stdout.once('end', resolve));
    while (!output.includes('armed')) await new Promise((resolve) => setTimeout(resolve, 10));
    const grandchildPid = Number(/armed (\d+)/.exec(output)![1]);
    expect(processInfo(grandchildPid).ppid).toBe(parent.pid);
    parent.kill('SIGKILL');
    await ended; // EOF once the grandchild, the last holder of the pipe, has exited
    const got = /got SIGUSR2, parent was (\d+), now (\d+)/.exec(output);
    expect(got, output).not.toBeNull();
    expect(Number(got![1])).toBe(parent.pid);
    // Then reparented to init or the nearest subreaper.
    expect(Number(got![2])).not.toBe(parent.pid);
    expect(output).toContain('setting SIGUSR2');
    expect(output).not.toContain('timeout');
  });

  it.each([['SIGFOO', 'ERR_UNKNOWN_SIGNAL'], [65, 'ERR_OUT_OF_RANGE'], [-1, 'ERR_OUT_OF_RANGE'], [{}, 'ERR_INVALID_ARG_TYPE']])('rejects %s', (signal, code) => {
    expect(() => setParentDeathSignal(signal as number)).toThrow(expect.objectContaining({ code }) as Error);
    expect(getParentDeathSignal()).toBeNull();
  });
});
