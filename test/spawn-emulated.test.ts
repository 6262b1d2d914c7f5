// The spawn's path for emulators that refuse CLONE_VM (qemu-user; native/spawn_emulated.cc),
// taken here on a real kernel through POSIX_PROCESS_TEST_NO_CLONE_VM: a fork-like clone whose
// plan is in a shared page. The same results and errors as the usual path, and daemon() refused.
import { describe, expect, it } from 'vitest';
import { runNode } from './helpers';

function runEmulated(script: string): unknown {
  const result = runNode(
    `const p = require('./dist/index.js');
     const { openFdsOf, zombies } = { openFdsOf: () => require('fs').readdirSync('/proc/self/fd').length, zombies: () => p.children(process.pid).filter((pid) => { try { return p.processInfo(pid).state === 'Z'; } catch { return false; } }) };
     (async () => { ${script} })().then((out) => console.log(JSON.stringify(out)), (error) => { console.error(error); process.exit(1); });`,
    { env: { ...process.env, POSIX_PROCESS_TEST_NO_CLONE_VM: '1' } },
  );
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout);
}

describe('spawn where CLONE_VM is refused (qemu-user)', () => {
  it('runs programs, reports each failed step with its path, and leaks nothing', () => {
    const out = runEmulated(`
      await p.run('true'); // the first spawn makes the notices' epoll set, kept for the next
      const fdsBefore = openFdsOf();
      const ran = await p.run('sh', ['-c', 'echo $$; exit 3']);
      const errors = [];
      for (const attempt of [() => p.spawn('/no/such/program'), () => p.spawn('true', [], { cwd: '/no/such/dir' }),
                             () => p.spawn('true', [], { stdio: ['ignore', { path: '/no/such/dir/out' }, 'inherit'] })]) {
        await attempt().then(() => errors.push('started'), (e) => errors.push([e.code, e.step, e.path]));
      }
      const child = await p.spawn('sleep', ['30']);
      child.kill('SIGKILL');
      const killed = (await child.wait()).status;
      return { status: ran.status, pidMatches: Number(ran.stdout.toString()) === ran.pid, errors, killed, zombies: zombies(), fdsLeaked: openFdsOf() - fdsBefore };`);
    expect(out).toEqual({
      status: { kind: 'exited', code: 3 },
      pidMatches: true,
      errors: [
        ['ENOENT', 'exec', '/no/such/program'],
        ['ENOENT', 'chdir', '/no/such/dir'],
        ['ENOENT', 'open fd 1', '/no/such/dir/out'],
      ],
      killed: { kind: 'signaled', signal: 'SIGKILL', signo: 9, coreDumped: false },
      zombies: [],
      fdsLeaked: 0,
    });
  });

  it('refuses daemon() with ENOSYS at the clone step, starting nothing', () => {
    const out = runEmulated(`
      const before = p.children(process.pid).length;
      const error = await p.daemon('sleep', ['30']).then(() => null, (e) => ({ code: e.code, step: e.step, syscall: e.syscall }));
      return { error, children: p.children(process.pid).length - before };`);
    expect(out).toEqual({ error: { code: 'ENOSYS', step: 'clone', syscall: 'clone' }, children: 0 });
  });
});
