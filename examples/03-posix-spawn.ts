// posix_spawn(): start a program without forking this (large) Node process at all.
import { getpid, posixSpawn, waitpid } from 'posix-process';

const pid = posixSpawn('/bin/echo', ['echo', `hello from a child of pid=${getpid()}`]);
const { status } = waitpid(pid)!;
console.log(`parent: posix_spawn started pid=${pid}, which ended: ${JSON.stringify(status)}`);
