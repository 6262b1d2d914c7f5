#!/usr/bin/env -S node --single-threaded --v8-pool-size=1
// fork() then execve() in the child: the shell's way to run a program. The child's pid stays the
// same across exec, so echo prints the pid the parent got from fork().
import { execve, fork, getpid, waitpid } from 'posix-process';

const pid = fork();
if (pid === 0) {
  execve('/bin/echo', ['echo', `pid=${getpid()} says hello`]);
}
const { status } = waitpid(pid)!;
console.log(`parent: child ${pid} ended: ${JSON.stringify(status)}`);
