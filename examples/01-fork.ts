#!/usr/bin/env -S node --single-threaded --v8-pool-size=1
// fork(): one process becomes two. The C classic: pid = fork(); if (pid == 0) ... else ...
// fork() needs Node started with --single-threaded --v8-pool-size=1 (see the shebang above).
import { fork, getpid, getppid, waitpid } from 'posix-process';

const pid = fork();
if (pid === 0) {
  console.log(`child: pid=${getpid()}, parent pid=${getppid()}`);
  process.exit(0);
}
// Wait first so that the two lines always come out in the same order.
waitpid(pid);
console.log(`parent: pid=${getpid()}, child pid=${pid}`);
