// A process tree printed with states, like `ps --forest`: what /proc/<pid>/stat and
// /proc/<pid>/task/*/children say about a running, a sleeping, a stopped and a zombie process.
import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import { children, getpid, processInfo, type ProcessInfo } from 'posix-process';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function print(pid: number, depth: number): void {
  let info: ProcessInfo;
  try {
    info = processInfo(pid);
  } catch {
    return; // exited while we looked
  }
  const pad = '  '.repeat(depth);
  // The program from the command line: `name` is the main thread's name (MainThread for Node
  // 24 and later); a zombie has no command line left, only that name.
  const program = info.argv.length > 0 ? basename(info.argv[0]!) : info.name;
  console.log(`${pad}${info.pid} ${program} ${info.state} (${info.stateName}) ppid=${info.ppid} pgid=${info.pgid} threads=${info.threads}`);
  for (const child of children(pid)) print(child, depth + 1);
}

async function main(): Promise<void> {
  // A shell with two sleeping children, a child we stop, and a process with a zombie child
  // (sh starts a short sleep, then becomes `sleep 30`, which never waits for it).
  const shell = spawn('sh', ['-c', 'sleep 30 & sleep 30 & wait'], { stdio: 'ignore' });
  const stopped = spawn('sleep', ['30'], { stdio: 'ignore' });
  const withZombie = spawn('sh', ['-c', 'sleep 0.05 & exec sleep 30'], { stdio: 'ignore' });
  await Promise.all([shell, stopped, withZombie].map((child) => new Promise((resolve) => child.once('spawn', resolve))));
  stopped.kill('SIGSTOP');
  const ready = (): boolean =>
    // Both of the shell's children have exec'd sleep and sleep (a child between fork and exec is
    // still \`sh\`).
    children(shell.pid!).filter((pid) => processInfo(pid).name === 'sleep' && processInfo(pid).state === 'S').length === 2 &&
    processInfo(stopped.pid!).state === 'T' &&
    children(withZombie.pid!).some((pid) => processInfo(pid).state === 'Z');
  while (!ready()) await sleep(10);

  print(getpid(), 0);

  // The shell's two sleeps first: killing only the shell would leave them running under init.
  for (const pid of children(shell.pid!)) process.kill(pid, 'SIGKILL');
  for (const child of [shell, stopped, withZombie]) child.kill('SIGKILL');
}

void main();
