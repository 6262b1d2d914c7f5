#!/usr/bin/env -S node --single-threaded --v8-pool-size=1
// `ls /usr/bin | grep -c z | cat`, wired by hand the way a shell written in C does it: two
// pipes made first, then one fork() per stage; each child dup2()s its pipe ends onto fds 0 and
// 1, closes every pipe fd (else a reader never sees end-of-file), and execvp()s its program.
// The parent closes its copies too and waits for all three. Each process prints its pid and what
// it wired where, on fd 1 before that is rewired.
import * as fs from 'node:fs';
import { close, dup2, execvp, fork, getpid, pipe, waitpid } from 'posix-process';

const stages: [string, string[]][] = [
  ['ls', ['ls', '/usr/bin']],
  ['grep', ['grep', '-c', 'z']],
  ['cat', ['cat']],
];
// pipes[i] connects stage i's stdout to stage i+1's stdin.
const pipes = [pipe(), pipe()];
const say = (text: string): void => void fs.writeSync(1, `${text}\n`);

const pids = stages.map(([file, argv], i) => {
  const pid = fork();
  if (pid !== 0) return pid;
  const wiring: string[] = [];
  if (i > 0) {
    dup2(pipes[i - 1]![0], 0);
    wiring.push(`stdin <- pipe ${i - 1} (read end, fd ${pipes[i - 1]![0]})`);
  }
  wiring.push(i < stages.length - 1 ? `stdout -> pipe ${i} (write end, fd ${pipes[i]![1]})` : 'stdout = the parent\'s fd 1');
  say(`pid ${getpid()} (${file}): ${wiring.join(', ')}`);
  if (i < stages.length - 1) dup2(pipes[i]![1], 1);
  for (const [readEnd, writeEnd] of pipes) {
    close(readEnd);
    close(writeEnd);
  }
  execvp(file, argv);
});

// The parent's copies: while it holds a write end open, grep and cat would wait for ever.
for (const [readEnd, writeEnd] of pipes) {
  close(readEnd);
  close(writeEnd);
}
for (const [i, pid] of pids.entries()) {
  const { status } = waitpid(pid)!;
  say(`parent ${getpid()}: ${stages[i]![0]} (pid ${pid}) ended: ${JSON.stringify(status)}`);
}
