// The tour stop of the spawn family, compiled by test/global-setup.ts, run and its output checked.
import * as child_process from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers';

describe('examples 1x', () => {
  it('10-safe-spawn: pipes, run, a kill, quiet SIGPIPE, errors with their step', () => {
    const result = child_process.spawnSync(process.execPath, [path.join('examples-dist', '10-safe-spawn.js')], { cwd: repoRoot, encoding: 'utf8', timeout: 20_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^sort \(pid \d+\) exited with code 0: apple, fig, pear$/);
    expect(lines.slice(1)).toEqual([
      'run: {"kind":"exited","code":3}, stdout "to stdout\\n", stderr "to stderr\\n"',
      'sleep: {"kind":"signaled","signal":"SIGTERM","signo":15,"coreDumped":false}',
      'yes | head -1: "y\\n", stderr ""',
      "failed at exec: execve ENOENT: No such file or directory '/no/such/program'",
      "failed at chdir: chdir ENOENT: No such file or directory '/no/such/dir'",
      "failed at open fd 1: open ENOENT: No such file or directory '/no/such/dir/out.txt'",
    ]);
  });
});
