#!/usr/bin/env -S node --single-threaded --v8-pool-size=1
// A zombie: the child has exited, but its parent has not waited for it yet, so the kernel keeps
// its exit status (and its pid) until the parent calls wait.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fork, waitpid } from 'posix-process';

function state(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
}

const pid = fork();
if (pid === 0) {
  // Names itself (its comm, what ps shows): a zombie keeps only its pid, exit status and this
  // name. Node 24 and later would otherwise show the main thread's name, MainThread.
  process.title = 'zombie-demo';
  process.exit(7);
}

// Give the child time to exit, without waiting for it.
while (state(pid) !== 'Z') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
console.log(`child ${pid} has exited; /proc/${pid}/stat says state ${state(pid)} (zombie)`);
console.log(execFileSync('ps', ['-o', 'pid,stat,comm', '-p', String(pid)], { encoding: 'utf8' }).trimEnd());

const { status } = waitpid(pid)!;
console.log(`waitpid(${pid}) reaped it: ${JSON.stringify(status)}`);
console.log(`/proc/${pid} exists now: ${existsSync(`/proc/${pid}`)}`);
