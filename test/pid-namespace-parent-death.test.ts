// A child cloned into a new pid namespace whose parent dies between the clone and the child's
// PR_SET_PDEATHSIG: getppid() is 0 there whatever happens to the parent, so the child needs
// another way to see that it came too late (native/spawn_child.cc, DieWithParent). strace holds
// the child at the entry of its first prctl while the parent Node process kills itself.
import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { spawn } from '../lib/index';
import { killMarked, markedAlive, newMark } from './contain-helpers';
import { exitOf, openFds, rejection, repoRoot, until, zombieChildren } from './helpers';

const hasStrace = child_process.spawnSync('strace', ['-V']).status === 0;

// prctl's number in /proc/<pid>/syscall.
const PRCTL = ({ x64: 157, arm64: 167 } as Record<string, number>)[process.arch];

// Spawns into a new user and pid namespace, waits until the child sits in its first prctl
// (held there by strace), prints its pid and SIGKILLs this whole process.
const script = `
  const fs = require('fs');
  const p = require('./dist/index.js');
  const kids = () => fs.readdirSync('/proc/self/task').flatMap((t) => fs.readFileSync('/proc/self/task/' + t + '/children', 'utf8').split(' ').filter(Boolean).map(Number));
  const before = new Set(kids());
  p.spawn('sleep', ['1000'], { namespaces: ['user', 'pid'], stdio: 'ignore', pdeathsig: 'SIGKILL' }).catch(() => {});
  const deadline = Date.now() + 10000;
  for (;;) {
    const child = kids().find((pid) => !before.has(pid));
    let call = '';
    try { call = fs.readFileSync('/proc/' + child + '/syscall', 'latin1').split(' ')[0]; } catch {}
    if (call === '${PRCTL}') { console.log('held ' + child); break; }
    if (Date.now() > deadline) { console.log('not held'); break; }
  }
  process.kill(process.pid, 'SIGKILL');`;

describe('a child in a new pid namespace whose parent dies before its parent-death signal is armed', () => {
  it.skipIf(!hasStrace || PRCTL === undefined)('exits before its exec instead of running its program', async () => {
    const mark = newMark();
    // when=1: the first prctl of each traced process or thread, which for the child is its
    // PR_SET_PDEATHSIG, held 2 s (Node's threads make none before the spawn).
    const strace = child_process.spawn(
      'strace',
      ['-f', '-o', '/dev/null', '-e', 'trace=prctl', '-e', 'inject=prctl:delay_enter=2000000:when=1', '-E', `${mark}=1`, process.execPath, '-e', script],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      let output = '';
      strace.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      await until(() => output.includes('\n'));
      expect(output).toMatch(/^held \d+\n$/);
      // Before the fix the child went on, unarmed, and ran `sleep 1000`.
      await until(() => markedAlive(mark).length === 0, 10_000);
      // strace ends once its last tracee, the child, has, the way the first one (Node) did.
      expect(await exitOf(strace)).toEqual({ code: null, signal: 'SIGKILL' });
    } finally {
      killMarked(mark);
      strace.kill('SIGKILL');
      await exitOf(strace);
    }
  });
});

describe("the cloning thread's pidfd, which a child in a new pid namespace inherits", () => {
  it('is refused as a source fd: a closed fd whose number it took fails with EBADF, as any closed fd', async () => {
    await (await spawn('true', [], { namespaces: ['user', 'pid'] })).wait(); // the machinery's own fds
    const fds = openFds();
    // The lowest free number, which the pidfd takes (it is opened first).
    const free = fs.openSync('/dev/null', 'r');
    fs.closeSync(free);
    const error = await rejection(spawn('true', [], { namespaces: ['user', 'pid'], fds: { 3: free } }));
    // Before the check the program got the pidfd as its fd 3.
    expect(error).toMatchObject({ code: 'EBADF', syscall: 'dup2', step: 'fd 3' });
    expect(openFds()).toEqual(fds);
    expect(zombieChildren()).toEqual([]);
  });
});
