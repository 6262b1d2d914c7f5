// The job-control shell (examples/job-control/shell.ts), end to end through a pty: the tour's
// driver (examples/40-job-control-shell.ts) and a session driven here with the jobs' states read
// from /proc.
import * as child_process from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { processInfo, spawn, tcgetpgrp } from '../lib/index';
import { descendants, killDescendants, processState, repoRoot, until, zombieChildren } from './helpers';

// test/global-setup.ts has compiled the examples.
describe('example 40: job-control shell', () => {
  it('the tour stop: Ctrl-Z, jobs, bg, a finished background job, SIGTTIN, fg, kill, exit', () => {
    const result = child_process.spawnSync(process.execPath, [path.join('examples-dist', '40-job-control-shell.js')], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const lines = result.stdout.split('\n').map((line) => line.trimEnd());
    const after = (command: string): string[] => lines.slice(lines.indexOf(`$ ${command}`) + 1);
    expect(after('sleep 30')).toEqual(expect.arrayContaining(['[1]  Stopped (SIGTSTP)   sleep 30']));
    expect(after('jobs')[0]).toBe('[1]  Stopped (SIGTSTP)   sleep 30');
    expect(after('bg %1')[0]).toBe('[1]  sleep 30 &');
    expect(after('sleep 0.2 &')[0]).toMatch(/^\[2\] \d+$/);
    expect(lines).toContain('[2]  Done                sleep 0.2');
    expect(lines).toContain('[2]  Stopped (SIGTTIN)   cat');
    expect(lines).toContain('[1]  Running             sleep 30 &');
    expect(after('fg %1')[0]).toBe('sleep 30');
    expect(lines).toContain('[1]  Killed (SIGTERM)    sleep 30');
    expect(lines).toContain('[2]  Killed (SIGTERM)    cat');
    expect(lines).toContain('(the shell ended: exited 0)');
  });

  it('a job stopped by Ctrl-Z is stopped in /proc, and fg gives it the terminal and runs it again', async () => {
    const shell = await spawn(process.execPath, [path.join(repoRoot, 'examples-dist', 'job-control', 'shell.js')], { pty: true });
    const pty = shell.pty!;
    let screen = '';
    pty.setEncoding('utf8');
    pty.on('data', (text: string) => (screen += text));
    const waitFor = (pattern: RegExp): Promise<void> => until(() => pattern.test(screen), 20_000);
    // The job with the terminal, once it runs `program`.
    const foreground = async (program: string): Promise<number> => {
      let group = 0;
      await until(() => {
        group = tcgetpgrp(pty.fd);
        try {
          return group !== shell.pid && processInfo(group).argv[0] === program;
        } catch {
          return false;
        }
      }, 20_000);
      return group;
    };
    try {
      await waitFor(/\$ $/);
      pty.write('sleep 30\r');
      const job = await foreground('sleep');
      expect(processInfo(job)).toMatchObject({ pgid: job, sid: shell.pid, ppid: shell.pid });
      pty.write('\x1a');
      await waitFor(/Stopped \(SIGTSTP\)\s+sleep 30/);
      expect(processState(job)).toBe('T');
      await until(() => tcgetpgrp(pty.fd) === shell.pid); // the shell took the terminal back
      pty.write('fg\r');
      expect(await foreground('sleep')).toBe(job);
      await until(() => processState(job) === 'S');
      pty.write('\x03'); // Ctrl-C: SIGINT to the job, not to the shell
      await until(() => processState(job) === undefined);
      await until(() => tcgetpgrp(pty.fd) === shell.pid);
      pty.write('exit\r');
      expect((await shell.wait()).status).toEqual({ kind: 'exited', code: 0 });
    } finally {
      killDescendants(shell.pid);
      await shell[Symbol.asyncDispose]();
    }
    expect(descendants(process.pid).filter((pid) => pid === shell.pid)).toEqual([]);
    expect(zombieChildren()).toEqual([]);
  });
});
