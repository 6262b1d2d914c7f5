// Job control, driven through a pseudo-terminal: the tour starts the job-control shell
// (job-control/shell.ts) in a pty of the library's own (spawn's `pty` option), types commands and
// Ctrl-Z into the master, and prints the screen. No terminal is needed: the pty is the shell's
// terminal, with the shell as session leader and the jobs in process groups of their own.
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { processInfo, spawn, tcgetpgrp } from 'posix-process';

async function main(): Promise<void> {
  const shell = await spawn(process.execPath, [join(__dirname, 'job-control', 'shell.js')], { pty: { cols: 80, rows: 24 } });
  const pty = shell.pty!;
  let screen = '';
  pty.setEncoding('utf8');
  pty.on('data', (text: string) => (screen += text));
  const ended = new Promise((resolve) => pty.on('end', resolve));

  let seen = 0; // what has been waited for so far
  async function waitFor(pattern: RegExp): Promise<RegExpExecArray> {
    for (let i = 0; i < 2000; i++) {
      const match = pattern.exec(screen.slice(seen));
      if (match !== null) {
        seen += match.index + match[0].length;
        return match;
      }
      await sleep(5);
    }
    throw new Error(`not on the screen: ${pattern}\n${screen}`);
  }
  // The job that has the terminal, once it has exec'd `program` (a Ctrl-Z before its exec would
  // stop it there, before its spawn() had resolved in the shell).
  async function foregroundJob(program: string): Promise<void> {
    for (let i = 0; i < 2000; i++) {
      const group = tcgetpgrp(pty.fd);
      if (group !== shell.pid && processInfo(group).argv[0] === program) return;
      await sleep(5);
    }
    throw new Error(`${program} never had the terminal`);
  }
  const prompt = (): Promise<RegExpExecArray> => waitFor(/\$ $/); // the prompt, last on the screen
  const type = (line: string): void => void pty.write(`${line}\r`);

  await prompt();
  type('sleep 30');
  await foregroundJob('sleep');
  pty.write('\x1a'); // Ctrl-Z
  await waitFor(/Stopped \(SIGTSTP\)/);
  await prompt();
  type('jobs');
  await prompt();
  type('bg %1');
  await prompt();
  type('sleep 0.2 &');
  await waitFor(/Done\s+sleep 0.2/);
  await prompt();
  type('cat &');
  await waitFor(/Stopped \(SIGTTIN\)\s+cat/);
  await prompt();
  type('jobs');
  await prompt();
  type('fg %1');
  await foregroundJob('sleep');
  pty.write('\x1a');
  await waitFor(/Stopped \(SIGTSTP\)/);
  await prompt();
  type('kill %1');
  await waitFor(/Killed \(SIGTERM\)\s+sleep 30/);
  type('kill %2');
  await waitFor(/Killed \(SIGTERM\)\s+cat/);
  type('jobs');
  await prompt();
  type('exit');
  await ended;
  const result = await shell.wait();
  process.stdout.write(screen.replace(/\r\n/g, '\n').replace(/\r/g, ''));
  console.log(`\n(the shell ended: ${result.status.kind} ${result.status.kind === 'exited' ? result.status.code : ''})`);
}

void main();
