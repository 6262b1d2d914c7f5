// Who am I, who is my parent, and what does kill(2) say about a process that is gone?
// The same exercise in C: getpid(), getppid(), kill(pid, 0) and perror("kill").
import { spawnSync } from 'node:child_process';
import { getpid, getppid, kill, SyscallError } from 'posix-process';

console.log(`me: pid=${getpid()}, parent pid=${getppid()}`);

// A child that has exited and been reaped no longer exists: signal 0 probes without sending.
const gone = spawnSync('/bin/true').pid;
try {
  kill(gone, 0);
  console.log(`kill(${gone}, 0) on a child that has exited and been reaped: still there?`);
} catch (error) {
  if (!(error instanceof SyscallError)) throw error;
  console.log(`kill(${gone}, 0) on a child that has exited and been reaped: ${error.message} (code=${error.code}, errno=${error.errno})`);
}

// Probing ourselves works: we exist and may signal ourselves.
kill(getpid(), 0);
console.log(`kill(${getpid()}, 0): ok`);
