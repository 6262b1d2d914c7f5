#!/usr/bin/env -S node --single-threaded --v8-pool-size=1
// An orphan: its parent exits first, and the kernel gives the child a new parent: init (pid 1),
// or the nearest ancestor that made itself a "subreaper" (systemd --user, some containers).
// This program forks a parent, which forks the child and exits at once; the program itself stays
// to the end so that the output is complete when it returns.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fork, getpid, getppid, waitpid } from 'posix-process';

const directory = mkdtempSync(join(tmpdir(), 'orphan-'));
const pidFile = join(directory, 'child.pid');

const parent = fork();
if (parent === 0) {
  // Taken before the fork: the parent may be gone before the child runs a single line.
  const original = getpid();
  const child = fork();
  if (child === 0) {
    const poll = setInterval(() => {
      if (getppid() === original) return;
      clearInterval(poll);
      console.log(`child: pid=${getpid()}, my parent ${original} is gone, my new parent pid=${getppid()}`);
    }, 10);
  } else {
    writeFileSync(pidFile, String(child));
    console.log(`parent: pid=${getpid()}, exiting before my child pid=${child}`);
    process.exit(0);
  }
} else {
  waitpid(parent);
  const orphan = Number(readFileSync(pidFile, 'utf8'));
  // The orphan is no longer our child: watch /proc until it has exited (gone, or a zombie of its
  // new parent).
  const watch = setInterval(() => {
    let state = 'gone';
    try {
      const stat = readFileSync(`/proc/${orphan}/stat`, 'utf8');
      state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
    } catch {
      // gone
    }
    if (state !== 'gone' && state !== 'Z') return;
    clearInterval(watch);
    rmSync(directory, { recursive: true });
  }, 10);
}
