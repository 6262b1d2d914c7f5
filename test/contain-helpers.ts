/**
 * Helpers of the containment tests: a tree that tries every way out of its process group, and a
 * look at every process of the machine carrying the tree's mark (an environment variable that
 * each process of the tree inherits), so that a pid recycled by an unrelated process is never
 * counted.
 */
import * as fs from 'node:fs';
import { until } from './helpers';

/**
 * A shell that starts: a grandchild in a new session (setsid), a double-forked daemon (its
 * parent exits at once), a process in a new process group (perl setpgrp), and a loop that forks
 * short-lived processes without end (100 and more while the kill runs); each writes its pid to
 * `pidFile`. Prints "ready" once all have written their pids. `ignoreTerm`: every process ignores SIGTERM.
 */
export function escapingTree(pidFile: string, ignoreTerm = false): string {
  const note = `echo $$ >> ${pidFile}`;
  return [
    ignoreTerm ? "trap '' TERM" : ':',
    note,
    `setsid sh -c '${note}; exec sleep 1000' &`,
    `(sh -c '${note}; exec sleep 1000' &)`,
    // perl's $$ is its pid, which sh keeps through the exec.
    `perl -e 'setpgrp(0, 0); exec "sh", "-c", "echo $$ >> ${pidFile}; exec sleep 1000"' &`,
    `(while :; do sh -c '${note}' & sleep 0.005; done) &`,
    // Ready once each has written its pid (the leader, its three escapees, the loop's first
    // child): not after a fixed time, which a loaded machine can overrun.
    `until [ "$(wc -l < ${pidFile})" -ge 5 ]; do sleep 0.01; done`,
    'echo ready; wait',
  ].join('\n');
}

/** The pids of live (not zombie) processes whose environment has `mark=1`. */
export function markedAlive(mark: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Kernel threads have no environment; skip them before the retries below.
      if (fields[0] === 'Z' || fields[0] === 'X' || (Number(fields[6]) & PF_KTHREAD) !== 0) continue;
      if (environOf(entry).includes(`${mark}=1`)) found.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/**
 * The marked processes still alive after a Node subprocess that had `mark` in its own environment
 * has exited. Its cgroup watchdog inherited the mark, and ends just after the subprocess, once it
 * has killed and removed the subprocess's cgroup. The watchdog gets `ms` to go; a leaked member
 * (a `sleep 100`) is still there after that.
 */
export async function markedAliveAfterWatchdog(mark: string, ms = 10_000): Promise<number[]> {
  await until(() => markedAlive(mark).length === 0, ms).catch(() => {}); // the pids left say more than a timeout
  return markedAlive(mark);
}

const PF_KTHREAD = 0x00200000;

// A process in the middle of execve reads as an empty environment for a few microseconds (its new
// mm has no env_end until the ELF loader sets the stack up), so an empty read is tried again.
function environOf(pid: string): string[] {
  for (let attempt = 0; ; attempt++) {
    const environ = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
    if (environ !== '' || attempt === 20) return environ.split('\0');
    Atomics.wait(pause, 0, 0, 1);
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** SIGKILLs whatever carries the mark (a failed test's leftovers), until none is left. */
export function killMarked(mark: string): number[] {
  const killed: number[] = [];
  for (let round = 0; round < 50; round++) {
    const left = markedAlive(mark);
    if (left.length === 0) break;
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGSTOP');
      } catch {
        // gone
      }
    }
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.push(pid);
      } catch {
        // gone
      }
    }
  }
  return killed;
}

/** The pids the tree wrote to its pid file. */
export function recordedPids(pidFile: string): number[] {
  try {
    return fs.readFileSync(pidFile, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

let marks = 0;
/** A mark unique to this test process and call. */
export function newMark(): string {
  return `POSIX_PROCESS_TREE_${process.pid}_${++marks}`;
}
