import { afterEach, describe, expect, it } from 'vitest';
import { kill, waitpid } from '../lib/index';
import { childPids, runNode } from './helpers';

// fork() needs Node started with these flags (lib/fork.ts), so every test runs in a child Node.
const forkNode = ['--single-threaded', '--v8-pool-size=1'];
const RUN_MS = 60_000;

/** Runs a forking script in a child Node; checks it ended with 0 and returns its stdout lines. */
function runForking(script: string): string[] {
  const result = runNode(`const p = require('./dist/index.js');\n${script}`, { nodeArgs: forkNode, timeout: RUN_MS, killSignal: 'SIGKILL' });
  expect(result.error, result.stderr).toBeUndefined();
  expect(result.status, result.stdout + result.stderr).toBe(0);
  return result.stdout.trim().split('\n');
}

afterEach(() => {
  // A script killed by its timeout leaves nothing running behind it.
  for (const pid of childPids()) {
    kill(pid, 'SIGKILL');
    waitpid(pid);
  }
});

describe('fork() at the RLIMIT_NOFILE limit', () => {
  it('a child that found the fd table full at the fork (another thread took the last fds) still waits for its children', () => {
    // The table is filled inside fork(2) itself, by a pthread_atfork handler that runs before the
    // library's (binding.testing): the child's re-initialisation then has no fd to make its epoll
    // sets with, and uses the ones fork() made beforehand.
    const lines = runForking(`
      const { binding } = require('./dist/native.js');
      const fs = require('node:fs');
      const fds = () => fs.readdirSync('/proc/self/fd').length;
      (async () => {
        const sleeper = await p.spawn('sleep', ['0.3']);
        p.prlimit(0, 'nofile', [256, p.prlimit(0, 'nofile').hard]);
        const before = fds();
        binding.testing.exhaustFdsAtNextFork();
        const pid = p.fork();
        if (pid === 0) {
          const own = await p.spawn('true');
          console.log('child own', JSON.stringify((await own.wait()).status));
          console.log('child inherited', await sleeper.wait().then(() => 'resolved', (error) => error.code));
          process.exit(0);
        }
        console.log('parent fds', fds() - before);
        console.log('parent sleeper', JSON.stringify((await sleeper.wait()).status));
        console.log('parent fork child', JSON.stringify((await p.waitAsync(pid)).status));
      })();
    `);
    expect(lines.sort()).toEqual([
      'child inherited ECHILD',
      'child own {"kind":"exited","code":0}',
      'parent fds 0',
      'parent fork child {"kind":"exited","code":0}',
      'parent sleeper {"kind":"exited","code":0}',
    ]);
  });

  it("throws EMFILE (syscall 'epoll_create1') and creates no child when the fds the child needs cannot be had; nothing leaks, parent hooks run", () => {
    // One fd free: enough to read /proc/self/smaps, not for the child's two epoll sets.
    const lines = runForking(`
      const fs = require('node:fs');
      p.prlimit(0, 'nofile', [256, p.prlimit(0, 'nofile').hard]);
      const opened = [];
      try { for (;;) opened.push(fs.openSync('/dev/null', 'r')); } catch (e) { if (e.code !== 'EMFILE') throw e; }
      fs.closeSync(opened.pop());
      const hooks = [];
      p.registerAtFork({ parent: () => hooks.push('parent hook') });
      const fdsBefore = fs.readdirSync('/proc/self/fd').join(' ');
      let outcome;
      try { const pid = p.fork(); if (pid === 0) p.exit(0); outcome = 'forked'; p.waitpid(pid); } catch (e) {
        outcome = [e instanceof p.SyscallError, e.code, e.syscall].join(' ');
      }
      const fdsAfter = fs.readdirSync('/proc/self/fd').join(' ');
      for (const fd of opened) fs.closeSync(fd);
      console.log(hooks.join());
      console.log(outcome);
      console.log('same fds', fdsBefore === fdsAfter);
      console.log('children:' + fs.readFileSync('/proc/self/task/' + process.pid + '/children', 'utf8'));
    `);
    expect(lines).toEqual(['parent hook', 'true EMFILE epoll_create1', 'same fds true', 'children:']);
  });
});
