/**
 * Helpers of the containment tests: a tree that tries every way out of its process group, and a
 * look at every process of the machine carrying the tree's mark (an environment variable that
 * each process of the tree inherits), so that a pid recycled by an unrelated process is never
 * counted.
 */
import * as fs from 'node:fs';

/**
 * A shell that starts: a grandchild in a new session (setsid), a double-forked daemon (its
 * parent exits at once), a process in a new process group (perl setpgrp), and a loop that forks
 * short-lived processes without end (100 and more while the kill runs); each writes its pid to
 * `pidFile`. Prints "ready" once all are started. `ignoreTerm`: every process ignores SIGTERM.
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
    'sleep 0.2; echo ready; wait',
  ].join('\n');
}

/** The pids of live (not zombie) processes whose environment has `mark=1`. */
export function markedAlive(mark: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!fs.readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(`${mark}=1`)) continue;
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'latin1');
      const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
      if (state !== 'Z' && state !== 'X') found.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

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
