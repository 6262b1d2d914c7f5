// The classic exercises of issue 5 (examples/01..07), compiled as `npm run tour` does and run with
// --single-threaded --v8-pool-size=1 as the tour and their shebangs do; their output is checked with real pids.
import * as child_process from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './helpers';

beforeAll(() => {
  child_process.execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.examples.json'], { cwd: repoRoot });
}, 60_000);

function runExample(name: string): string[] {
  const result = child_process.spawnSync(process.execPath, ['--single-threaded', '--v8-pool-size=1', `examples-dist/${name}.js`], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return result.stdout.trimEnd().split('\n');
}

describe('classic exercises', () => {
  it('00-identity-and-kill: own pids, ESRCH for a reaped child, a probe of itself', () => {
    const [me, gone, self] = runExample('00-identity-and-kill');
    const [, pid] = /^me: pid=(\d+), parent pid=\d+$/.exec(me!)!;
    expect(gone).toMatch(/^kill\(\d+, 0\) on a child that has exited and been reaped: kill ESRCH: No such process \(code=ESRCH, errno=-3\)$/);
    expect(self).toBe(`kill(${pid}, 0): ok`);
  });

  it('01-fork: parent and child each print both pids', () => {
    const [child, parent] = runExample('01-fork');
    const c = /^child: pid=(\d+), parent pid=(\d+)$/.exec(child!)!;
    const p = /^parent: pid=(\d+), child pid=(\d+)$/.exec(parent!)!;
    expect(c[1]).toBe(p[2]);
    expect(c[2]).toBe(p[1]);
    expect(c[1]).not.toBe(p[1]);
  });

  it('02-fork-exec: the shell exec\'d in the child prints its own pid ($$), the one fork returned', () => {
    const [echo, parent] = runExample('02-fork-exec');
    const pid = /^pid=(\d+) says hello$/.exec(echo!)![1];
    expect(parent).toBe(`parent: child ${pid} ended: {"kind":"exited","code":0}`);
  });

  it('03-posix-spawn: echo started without fork', () => {
    const [echo, parent] = runExample('03-posix-spawn');
    expect(echo).toMatch(/^hello from a child of pid=\d+$/);
    expect(parent).toMatch(/^parent: posix_spawn started pid=\d+, which ended: \{"kind":"exited","code":0\}$/);
  });

  it('04-zombie: state Z in /proc and in ps, then reaped and gone', () => {
    const lines = runExample('04-zombie');
    const pid = /^child (\d+) has exited; \/proc\/\1\/stat says state Z \(zombie\)$/.exec(lines[0]!)![1];
    expect(lines[1]).toMatch(/^\s*PID STAT COMMAND$/);
    expect(lines[2]).toMatch(new RegExp(`^\\s*${pid} Z\\S*\\s+zombie-demo$`));
    expect(lines.slice(3)).toEqual([`waitpid(${pid}) reaped it: {"kind":"exited","code":7}`, `/proc/${pid} exists now: false`]);
  });

  it('05-orphan: the child reports its new parent after its parent exits', () => {
    const [parent, child] = runExample('05-orphan');
    const [, parentPid, childPid] = /^parent: pid=(\d+), exiting before my child pid=(\d+)$/.exec(parent!)!;
    const [, reportedPid, oldParent, newParent] = /^child: pid=(\d+), my parent (\d+) is gone, my new parent pid=(\d+)$/.exec(child!)!;
    expect(reportedPid).toBe(childPid);
    expect(oldParent).toBe(parentPid);
    expect(newParent).not.toBe(parentPid);
  });

  it('06-wait-status: exit code, signal, core dump, stop and continue, each decoded', () => {
    const lines = runExample('06-wait-status').map((line) => line.replace(/pid=\d+/, 'pid=N'));
    expect(lines).toEqual([
      'exit(3): pid=N raw=0x0300 -> exited with code 3',
      'kill SIGTERM: pid=N raw=0x000f -> killed by SIGTERM',
      'kill SIGQUIT: pid=N raw=0x0083 -> killed by SIGQUIT (core dumped)',
      '  core file written: true',
      'kill SIGSTOP: pid=N raw=0x137f -> stopped by SIGSTOP',
      'kill SIGCONT: pid=N raw=0xffff -> continued',
      'kill SIGKILL: pid=N raw=0x0009 -> killed by SIGKILL',
    ]);
  });

  it('07-copy-on-write: each process sees only its own change', () => {
    const [before, child, parent] = runExample('07-copy-on-write');
    const pid = /^before fork: pid=(\d+), counter=1$/.exec(before!)![1];
    expect(child).toMatch(/^child: pid=\d+, set counter to 100$/);
    expect(child).not.toContain(`pid=${pid},`);
    expect(parent).toBe(`parent: pid=${pid}, counter=2 (the child's change is not here)`);
  });
});

describe('a pipeline by hand (issue 15)', () => {
  it('24-pipeline-by-hand: ls /usr/bin | grep -c z | cat, each process says what it wired', () => {
    const lines = runExample('24-pipeline-by-hand');
    const expected = child_process.execSync('ls /usr/bin | grep -c z', { encoding: 'utf8' }).trim();
    const wired = lines.filter((line) => line.startsWith('pid '));
    expect(wired).toHaveLength(3);
    const ls = wired.find((line) => line.includes('(ls)'))!;
    const grep = wired.find((line) => line.includes('(grep)'))!;
    const cat = wired.find((line) => line.includes('(cat)'))!;
    expect(ls).toMatch(/^pid \d+ \(ls\): stdout -> pipe 0 \(write end, fd \d+\)$/);
    expect(grep).toMatch(/^pid \d+ \(grep\): stdin <- pipe 0 \(read end, fd \d+\), stdout -> pipe 1 \(write end, fd \d+\)$/);
    expect(cat).toMatch(/^pid \d+ \(cat\): stdin <- pipe 1 \(read end, fd \d+\), stdout = the parent's fd 1$/);
    // The count that went through both pipes, and every stage's pid reported by the parent.
    expect(lines).toContain(expected);
    for (const [name, line] of [['ls', ls], ['grep', grep], ['cat', cat]] as const) {
      const pid = /^pid (\d+)/.exec(line)![1];
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^parent \\d+: ${name} \\(pid ${pid}\\) ended: \\{"kind":"exited","code":0\\}$`)));
    }
  });
});
