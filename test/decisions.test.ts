// The rules chosen where Linux, C and child_process leave a choice (README "Decisions").
import * as child_process from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { execve, execvp, posixSpawn, posixSpawnp, run, spawn } from '../lib/index';
import { repoRoot } from './helpers';

describe('an empty argv', () => {
  it('is refused by every function whose argv includes argv[0], before anything runs', () => {
    const calls = [() => execve('/bin/true', []), () => execvp('true', []), () => posixSpawn('/bin/true', []), () => posixSpawnp('true', [])];
    for (const call of calls) {
      expect(call).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }));
    }
  });

  it('is fine for spawn and run, whose args come after argv[0] (the file, or argv0)', async () => {
    const result = await run('/bin/sh', [], { input: 'echo "$0"' });
    expect(result.stdout.toString()).toBe('/bin/sh\n');
    await using child = await spawn('/bin/true');
    expect((await child.wait()).status).toEqual({ kind: 'exited', code: 0 });
  });
});

describe('RLIMIT_NOFILE of children', () => {
  it('children get the limit Node has (raised to the hard limit at start-up) unless rlimits.nofile says otherwise', () => {
    // Node is started with a soft limit of 256; it raises that to the hard limit for itself.
    const script = `
      const p = require('./dist/index.js');
      const soft = () => /^Max open files\\s+(\\d+)/m.exec(require('node:fs').readFileSync('/proc/self/limits', 'utf8'))[1];
      console.log('node ' + soft());
      const pid = p.posixSpawn('/bin/sh', ['sh', '-c', 'echo "posixSpawn $(ulimit -Sn)"']);
      p.waitpid(pid);
      (async () => {
        const inherited = await p.run('/bin/sh', ['-c', 'ulimit -Sn']);
        const chosen = await p.run('/bin/sh', ['-c', 'ulimit -Sn'], { rlimits: { nofile: 256 } });
        console.log('spawn ' + inherited.stdout.toString().trim());
        console.log('rlimits ' + chosen.stdout.toString().trim());
      })();
    `;
    const result = child_process.spawnSync('/bin/sh', ['-c', 'ulimit -Sn 256 && exec "$0" -e "$1"', process.execPath, script], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.stderr).toBe('');
    const [node, posix, spawned, chosen] = result.stdout.trim().split('\n');
    const hard = /^Max open files\s+\d+\s+(\d+)/m.exec(child_process.execFileSync('cat', ['/proc/self/limits'], { encoding: 'utf8' }))![1];
    expect(node).toBe(`node ${hard}`);
    expect(posix).toBe(`posixSpawn ${hard}`);
    expect(spawned).toBe(`spawn ${hard}`);
    expect(chosen).toBe('rlimits 256');
  });
});

describe('timeout: 0', () => {
  it('means no timeout, as in child_process; negative and NaN are RangeErrors', async () => {
    const result = await run('/bin/sh', ['-c', 'sleep 0.2; echo done'], { timeout: 0, killSignal: 'SIGKILL' });
    expect(result.status).toEqual({ kind: 'exited', code: 0 });
    expect(result.stdout.toString()).toBe('done\n');
    for (const timeout of [-1, NaN, 0.5]) {
      await expect(run('/bin/true', [], { timeout })).rejects.toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    }
  });
});

describe('the default encoding of run, runSync and pipeline', () => {
  it('is UTF-8 strings; encoding "buffer" gives Buffers', async () => {
    const { pipeline, runSync } = await import('../lib/index');
    expect((await run('printf', ['\u00e9'])).stdout).toBe('\u00e9');
    expect(runSync('printf', ['\u00e9']).stdout).toBe('\u00e9');
    expect((await pipeline([['printf', ['\u00e9']], ['cat']])).stdout).toBe('\u00e9');
    expect((await run('printf', ['\u00e9'], { encoding: 'buffer' })).stdout).toEqual(Buffer.from('\u00e9'));
  });
});
