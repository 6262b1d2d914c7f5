// The tour stops of the signals, sessions, orphans, daemons and /proc family: compiled as
// `npm run tour` compiles them, run, and their output checked.
import * as child_process from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { processState, repoRoot } from './helpers';

function runExample(name: string): child_process.SpawnSyncReturns<string> {
  return child_process.spawnSync(process.execPath, [path.join('examples-dist', `${name}.js`)], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 20_000,
  });
}

// test/global-setup.ts has compiled the examples.
describe('examples 2x', () => {
  it('20-signals: sender pid, sigqueue values, an ignored SIGHUP, SIGTERM to a group', () => {
    const result = runExample('20-signals');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n');
    const handler = /^handler: SIGUSR2 from pid (\d+) \(uid 0, SI_USER\)$/.exec(lines[0]!);
    expect(handler, result.stdout).not.toBeNull();
    expect(lines[1]).toBe(`the sender was kill(1), pid ${handler![1]}`);
    expect(lines[2]).toBe('sigqueue values received: 7, 8, 9');
    expect(lines[3]).toBe('SIGHUP ignored: still running');
    expect(lines[4]).toMatch(/^group (\d+): the shell and 2 sleeps$/);
    expect(lines[5]).toMatch(/^killpg\(\d+, SIGTERM\): the shell ended by SIGTERM$/);
    expect(lines[6]).toMatch(/^killpg\(\d+, 0\): ESRCH: the whole group is gone$/);
  });

  it('21-process-tree: a tree with running, sleeping, stopped and zombie processes', () => {
    const result = runExample('21-process-tree');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n');
    // The program, not the main thread's name (MainThread on Node 24 and later).
    expect(lines[0]).toMatch(new RegExp(`^(\\d+) ${path.basename(process.execPath)} R \\(running\\) ppid=\\d+ pgid=\\d+ threads=\\d+$`));
    const root = lines[0]!.split(' ')[0];
    expect(lines.filter((line) => new RegExp(`^  \\d+ \\S+ [STZ] .* ppid=${root} `).test(line))).toHaveLength(3);
    expect(lines.filter((line) => /^ {4}\d+ sleep S \(sleeping\)/.test(line))).toHaveLength(2);
    expect(lines.some((line) => /^ {2}\d+ sleep T \(stopped\)/.test(line))).toBe(true);
    expect(lines.some((line) => /^ {4}\d+ sleep Z \(zombie\)/.test(line))).toBe(true);
  });

  it('22-orphan-subreaper: the orphan is adopted by the subreaper and reaped', () => {
    const result = runExample('22-orphan-subreaper');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n');
    const me = /^pid (\d+) is a subreaper: true$/.exec(lines[0]!)![1];
    const orphan = /^orphan (\d+) \(sleep\), whose parent shell \d+ has exited, now has ppid (\d+)$/.exec(lines[1]!);
    expect(orphan![2]).toBe(me);
    expect(lines[2]).toBe('adopted by us: true');
    expect(lines[3]).toBe(`reaped ${orphan![1]}: {"kind":"exited","code":0}`);
  });

  it('23-daemon: adopted, in a session it does not lead, no terminal, /dev/null, then stopped', () => {
    const result = runExample('23-daemon');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n');
    const [, pid, recorded] = /^daemon (\d+) started; sleep.pid holds (\d+)$/.exec(lines[0]!)!;
    expect(recorded).toBe(pid);
    expect(lines[1]).toMatch(/^sleep: state S \(sleeping\), ppid \d+ \(this process, a subreaper\)$/);
    const session = /^session (\d+) \(ours is (\d+)\), led by the intermediate process, now gone; terminal: none$/.exec(lines[2]!);
    expect(session, lines[2]).not.toBeNull();
    expect(session![1]).not.toBe(session![2]);
    expect(lines[3]).toBe('cwd /, fds 0 1 2 on /dev/null');
    expect(lines[4]).toBe('stopped: {"kind":"signaled","signal":"SIGTERM","signo":15,"coreDumped":false}');
    expect(processState(Number(pid))).toBeUndefined();
  });
});
