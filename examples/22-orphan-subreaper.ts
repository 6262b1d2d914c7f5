// An orphan adopted by a subreaper, which reaps it. Normally an orphan goes to PID 1; a process
// that called prctl(PR_SET_CHILD_SUBREAPER) adopts its orphaned descendants instead.
import { spawnSync } from 'node:child_process';
import { getpid, isChildSubreaper, processInfo, setChildSubreaper, waitpid } from 'posix-process';

setChildSubreaper(true);
console.log(`pid ${getpid()} is a subreaper: ${isChildSubreaper()}`);

// The shell starts a sleep in the background and exits at once: the sleep is orphaned.
const shell = spawnSync('sh', ['-c', 'sleep 0.2 & echo $!'], { encoding: 'utf8' });
const orphan = Number(shell.stdout.trim());
const info = processInfo(orphan);
console.log(`orphan ${orphan} (${info.name}), whose parent shell ${shell.pid} has exited, now has ppid ${info.ppid}`);
console.log(`adopted by us: ${info.ppid === getpid()}`);

// It is our child now: wait for it like any other child, so it leaves no zombie.
const reaped = waitpid(orphan);
console.log(`reaped ${reaped?.pid}: ${JSON.stringify(reaped?.status)}`);
