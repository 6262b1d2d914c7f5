#!/usr/bin/env -S node --single-threaded --v8-pool-size=1
// fork() then execve() in the child: the shell's way to run a program. The child's pid stays the
// same across exec: the shell exec'd in the child prints its own pid ($$), the one fork() returned.
import { execve, fork, waitpid } from 'posix-process';

const pid = fork();
if (pid === 0) {
  execve('/bin/sh', ['sh', '-c', 'echo "pid=$$ says hello"']);
}
const { status } = waitpid(pid)!;
console.log(`parent: child ${pid} ended: ${JSON.stringify(status)}`);
