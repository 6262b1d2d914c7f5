// The tour stops of the sandbox (examples/3x), compiled by test/global-setup.ts, run and their
// output checked: as root, and the rootless ones as nobody too.
import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { otherUserPackage, repoRoot } from './helpers';

/** Runs a compiled example as root here, or as `uid` from a copy of the package they can read. */
function runExample(name: string, uid?: number): child_process.SpawnSyncReturns<string> {
  const script = path.join('examples-dist', `${name}.js`);
  if (uid === undefined) return child_process.spawnSync(process.execPath, [script], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
  const copy = otherUserPackage();
  try {
    fs.mkdirSync(path.join(copy.dir, 'examples-dist'), { mode: 0o755 });
    fs.copyFileSync(path.join(repoRoot, script), path.join(copy.dir, script));
    fs.chmodSync(path.join(copy.dir, script), 0o644);
    return child_process.spawnSync(copy.node, [script], { cwd: copy.dir, uid, gid: uid, encoding: 'utf8', timeout: 30_000 });
  } finally {
    copy.remove();
  }
}

describe.each([
  ['root', undefined],
  ['nobody', 65534],
])('examples 3x as %s', (_, uid) => {
  it('30-rootless-sandbox: pid 1 and root inside, ps sees only the sandbox; an ordinary process outside', () => {
    const result = runExample('30-rootless-sandbox', uid);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toBe('inside: pid 1, uid 0; ps sees sh, ps');
    const outside = /^outside: pid (\d+), NSpid (\d+) 1, uid (\d+) \(ours: (\d+)\)$/.exec(lines[1]!);
    expect(outside, lines[1]).not.toBeNull();
    expect(outside![2]).toBe(outside![1]);
    expect(outside![3]).toBe(String(uid ?? 0));
    expect(outside![4]).toBe(String(uid ?? 0));
    expect(lines[2]).toBe('stopped: {"kind":"signaled","signal":"SIGKILL","signo":9,"coreDumped":false}');
  });

  it('31-private-network: two servers on one port, each reaching itself, unreachable from outside', () => {
    const result = runExample('31-private-network', uid);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual(['inside: hello from pid N', 'inside: hello from pid N', 'outside: connect to port 47123: ECONNREFUSED', 'stopped: signaled, signaled']);
  });
});
