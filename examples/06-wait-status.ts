#!/usr/bin/env -S node --single-threaded --v8-pool-size=1
// wait and status decoding: how a child ended (exit code, signal, core dump) or changed state
// (stopped, continued), as WIFEXITED/WEXITSTATUS/WIFSIGNALED/WTERMSIG/WCOREDUMP/WIFSTOPPED/
// WIFCONTINUED decode it in C.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fork, kill, posixSpawn, processInfo, waitpid, type WaitStatus } from 'posix-process';

function describe(status: WaitStatus): string {
  switch (status.kind) {
    case 'exited':
      return `exited with code ${status.code}`;
    case 'signaled':
      return `killed by ${status.signal}${status.coreDumped ? ' (core dumped)' : ''}`;
    case 'stopped':
      return `stopped by ${status.signal}`;
    case 'continued':
      return 'continued';
  }
}

function report(what: string, pid: number, options = {}): void {
  const { status, raw } = waitpid(pid, options)!;
  console.log(`${what}: pid=${pid} raw=0x${raw.toString(16).padStart(4, '0')} -> ${describe(status)}`);
}

/** A child that blocks until a signal ends it; it never returns into the code below. */
function idleChild(): number {
  const pid = fork();
  if (pid === 0) for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  return pid;
}

// 1. exits with a code
const exiting = fork();
if (exiting === 0) process.exit(3);
report('exit(3)', exiting);

// 2. killed by a signal
const killed = idleChild();
kill(killed, 'SIGTERM');
report('kill SIGTERM', killed);

// 3. dumps core: SIGQUIT's default action; the shell lifts the core size limit first. The core
// file is written in a scratch directory (core_pattern permitting) and removed.
const scratch = mkdtempSync(join(tmpdir(), 'core-'));
const dumping = posixSpawn('/bin/sh', ['sh', '-c', `ulimit -c unlimited; cd '${scratch}'; exec sleep 30`]);
// Signalled once the shell has exec'd sleep (its name in /proc becomes "sleep"): sooner, the
// shell could die before it lifted the limit or changed directory.
const waitForSleep = setInterval(() => {
  if (processInfo(dumping).name !== 'sleep') return;
  clearInterval(waitForSleep);
  kill(dumping, 'SIGQUIT');
  report('kill SIGQUIT', dumping);
  console.log(`  core file written: ${readdirSync(scratch).length > 0}`);
  rmSync(scratch, { recursive: true });

  // 4. stopped, then continued, then killed
  const stopped = idleChild();
  kill(stopped, 'SIGSTOP');
  report('kill SIGSTOP', stopped, { untraced: true });
  kill(stopped, 'SIGCONT');
  report('kill SIGCONT', stopped, { continued: true });
  kill(stopped, 'SIGKILL');
  report('kill SIGKILL', stopped);
}, 5);
