// killGroup() once the group's leader has been reaped: the members left still get the signal,
// an ended group gets nothing (ESRCH), and a new group that got the same number (the pid reused,
// made deterministic in a new pid namespace with ns_last_pid) is never signalled.
import * as child_process from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { spawn, SyscallError } from '../lib/index';
import { openFds, processState, repoRoot, statField, thrown, until, zombieChildren } from './helpers';

const gone = (pid: number): boolean => {
  const state = processState(pid);
  return state === undefined || state === 'Z';
};

describe('killGroup() after the leader has been reaped', () => {
  it('still kills a member of the group that outlives its leader', async () => {
    const before = openFds();
    const leader = await spawn('sh', ['-c', 'sleep 30 >/dev/null 2>&1 & echo $!'], { setsid: true, stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    leader.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    await leader.finished(); // reaped, stdout at its end
    const member = Number(text.trim());
    try {
      expect(statField(member, 5)).toBe(String(leader.pid)); // in the leader's group
      leader.killGroup('SIGKILL');
      await until(() => gone(member), 20_000);
    } finally {
      if (!gone(member)) process.kill(member, 'SIGKILL');
    }
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('an ended group: ESRCH (syscall kill), nothing signalled', async () => {
    const before = openFds();
    const leader = await spawn('true', [], { pgid: 0 });
    await leader.wait();
    const error = thrown(() => leader.killGroup('SIGKILL'));
    expect(error).toBeInstanceOf(SyscallError);
    expect(error).toMatchObject({ code: 'ESRCH', syscall: 'kill' });
    expect(openFds()).toEqual(before);
  });

  it('never signals a new group that got the number of an ended one (pid reused in a new pid namespace)', () => {
    // In a pid namespace of its own, ns_last_pid makes the next process get the ended leader's pid.
    const script = `
      const fs = require('node:fs');
      const { spawn } = require('./dist/index.js');
      (async () => {
        const old = await spawn('true', [], { setsid: true });
        await old.wait();
        fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(old.pid - 1));
        const fresh = await spawn('sleep', ['30'], { setsid: true });
        let code = null;
        try { old.killGroup('SIGKILL'); } catch (error) { code = error.code; }
        const state = fs.readFileSync('/proc/' + fresh.pid + '/stat', 'utf8').split(') ')[1][0];
        fresh.kill('SIGKILL');
        await fresh.wait();
        console.log(JSON.stringify({ reused: fresh.pid === old.pid, code, state }));
      })().catch((error) => { console.error(error); process.exit(1); });
    `;
    const out = child_process.spawnSync('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
    const result = JSON.parse(out.stdout.trim().split('\n').pop()!) as { reused: boolean; code: string | null; state: string };
    expect(result.reused).toBe(true); // the test made the case it is about
    expect(result.code).toBe('ESRCH');
    expect(result.state).toMatch(/^[RSD]$/u); // the new group's process lived on
  });
});
