// A small job-control shell: each command runs in a process group of its own, in the foreground
// of the terminal or in the background (`&`). Ctrl-Z stops the foreground job and the shell takes
// the terminal back; `jobs`, `fg %n`, `bg %n`, `kill %n` and `exit` are built in. Jobs are
// watched on their handles (child.waitStopped()): stops, continues and ends are read from the
// wait statuses, and a background job that ends or stops is reported at once.
//
// Run it in a terminal: `node examples-dist/job-control/shell.js`. The tour drives it through a
// pty instead (40-job-control-shell.ts).
import * as readline from 'node:readline';
import {
  getpgrp,
  ignoreSignal,
  isatty,
  killpg,
  spawn,
  tcgetattr,
  tcsetattr,
  tcsetpgrp,
  type ChildProcess,
  type TerminalAttributes,
  type WaitIdResult,
} from 'posix-process';

interface Job {
  id: number;
  pgid: number;
  command: string;
  child: ChildProcess;
  state: 'running' | 'stopped' | 'done';
  /** How it last stopped or ended, from its wait status. */
  last: WaitIdResult | undefined;
  /** The terminal's modes when it stopped, given back to it by `fg`. */
  modes: TerminalAttributes | undefined;
  /** Set while the shell waits for it in the foreground. */
  onChange: (() => void) | undefined;
}

const TERMINAL = 0;
const jobs = new Map<number, Job>();
let shellModes: TerminalAttributes;
let atPrompt = false; // waiting for a line: a report from a background job is followed by a new prompt

function describe(job: Job): string {
  if (job.state === 'running') return 'Running';
  const status = job.last!.status;
  switch (status.kind) {
    case 'stopped':
      return `Stopped (${status.signal})`;
    case 'exited':
      return status.code === 0 ? 'Done' : `Exit ${status.code}`;
    case 'signaled':
      return `Killed (${status.signal})`;
    default:
      return 'Running';
  }
}

function report(job: Job): void {
  process.stdout.write(`[${job.id}]  ${describe(job).padEnd(20)}${job.command}${job.state === 'running' ? ' &' : ''}\n`);
}

// Follows a job for its whole life: every stop, continue and end, from its wait statuses.
async function watch(job: Job): Promise<void> {
  for (;;) {
    const result = await job.child.waitStopped();
    job.last = result;
    job.state = result.status.kind === 'continued' ? 'running' : result.status.kind === 'stopped' ? 'stopped' : 'done';
    if (job.onChange !== undefined) {
      job.onChange();
    } else if (job.state !== 'running') {
      process.stdout.write('\n');
      report(job); // a background job that stopped or ended
      if (atPrompt) process.stdout.write('$ ');
    }
    if (job.state === 'done') {
      jobs.delete(job.id);
      return;
    }
  }
}

// Gives the terminal to the job, waits until it stops or ends, and takes the terminal back.
async function foreground(job: Job): Promise<void> {
  tcsetpgrp(TERMINAL, job.pgid);
  while (job.state === 'running') await new Promise<void>((resolve) => (job.onChange = resolve));
  job.onChange = undefined;
  tcsetpgrp(TERMINAL, getpgrp());
  if (job.state === 'stopped') {
    job.modes = tcgetattr(TERMINAL);
    process.stdout.write('\n');
    report(job);
  } else if (job.last?.status.kind === 'signaled') {
    process.stdout.write('\n');
  }
  tcsetattr(TERMINAL, 'drain', shellModes);
}

function findJob(spec: string | undefined): Job | undefined {
  if (spec === undefined) return [...jobs.values()].at(-1);
  return jobs.get(Number(spec.replace(/^%/, '')));
}

async function builtin(name: string, args: string[]): Promise<boolean> {
  if (name === 'jobs') {
    for (const job of jobs.values()) report(job);
    return true;
  }
  if (name !== 'fg' && name !== 'bg' && name !== 'kill') return false;
  const job = findJob(args[0]);
  if (job === undefined) {
    process.stdout.write(`${name}: ${args[0] ?? 'current'}: no such job\n`);
    return true;
  }
  if (name === 'kill') {
    killpg(job.pgid, 'SIGTERM');
    if (job.state === 'stopped') killpg(job.pgid, 'SIGCONT'); // a stopped job must run to die of it
    return true;
  }
  if (name === 'bg') {
    process.stdout.write(`[${job.id}]  ${job.command} &\n`);
    killpg(job.pgid, 'SIGCONT');
    return true;
  }
  process.stdout.write(`${job.command}\n`);
  if (job.modes !== undefined) tcsetattr(TERMINAL, 'drain', job.modes);
  tcsetpgrp(TERMINAL, job.pgid); // before SIGCONT: it must not run a moment in the background
  job.state = 'running';
  killpg(job.pgid, 'SIGCONT');
  await foreground(job);
  return true;
}

async function execute(line: string): Promise<void> {
  let words = line.trim().split(/\s+/).filter(Boolean);
  const background = words.at(-1) === '&';
  if (background) words = words.slice(0, -1);
  if (words.length === 0) return;
  const [name, ...args] = words as [string, ...string[]];
  if (name === 'exit') shutdown();
  if (await builtin(name, args)) return;
  let child: ChildProcess;
  try {
    // A group of its own (pgid 0); in the foreground of the terminal before its exec.
    child = await spawn(name, args, background ? { pgid: 0 } : { pgid: 0, foreground: TERMINAL });
  } catch (error) {
    tcsetpgrp(TERMINAL, getpgrp());
    process.stdout.write(`${name}: ${(error as Error).message}\n`);
    return;
  }
  const id = Math.max(0, ...jobs.keys()) + 1;
  const job: Job = { id, pgid: child.pid, command: words.join(' '), child, state: 'running', last: undefined, modes: undefined, onChange: undefined };
  jobs.set(id, job);
  void watch(job);
  if (background) process.stdout.write(`[${id}] ${child.pid}\n`);
  else await foreground(job);
}

function shutdown(): never {
  for (const job of jobs.values()) {
    killpg(job.pgid, 'SIGHUP');
    killpg(job.pgid, 'SIGCONT');
  }
  process.exit(0);
}

async function main(): Promise<void> {
  if (!isatty(TERMINAL)) {
    process.stderr.write('job-control shell: stdin is not a terminal\n');
    process.exit(2);
  }
  // What an interactive shell ignores: the terminal's signals are for its jobs, and SIGTTOU
  // would stop it when it takes the terminal back (its children start with the defaults).
  for (const signal of ['SIGINT', 'SIGQUIT', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU'] as const) ignoreSignal(signal);
  shellModes = tcgetattr(TERMINAL);
  // terminal: false keeps the terminal in canonical mode: the kernel echoes and edits the line.
  const input = readline.createInterface({ input: process.stdin, terminal: false });
  const lines = input[Symbol.asyncIterator]();
  for (;;) {
    process.stdout.write('$ ');
    atPrompt = true;
    const next = await lines.next();
    atPrompt = false;
    if (next.done === true) break;
    // The shell does not read the terminal while a job is in the foreground: the job does.
    input.pause();
    await execute(next.value);
    input.resume();
  }
  shutdown();
}

void main();
