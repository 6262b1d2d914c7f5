#!/usr/bin/env -S node --single-threaded --v8-pool-size=1
// Copy-on-write: after fork() parent and child have the same variables at first, but each has
// its own copy: a change made by one is never seen by the other.
import { fork, getpid, waitpid } from 'posix-process';

let counter = 1;
console.log(`before fork: pid=${getpid()}, counter=${counter}`);

const pid = fork();
if (pid === 0) {
  counter = 100;
  console.log(`child: pid=${getpid()}, set counter to ${counter}`);
  process.exit(0);
}
waitpid(pid);
counter += 1;
console.log(`parent: pid=${getpid()}, counter=${counter} (the child's change is not here)`);
