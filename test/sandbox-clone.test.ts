// The clone3 path of the spawn (native/spawn_clone.cc, CloneChild): a child started in a cgroup v2
// directory (CLONE_INTO_CGROUP, the request's cgroupFd slot) and in new namespaces (the
// namespaceFlags slot), through the internal request that spawn() packs.
import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from '../lib/index';
import { binding, type RawSpawnRequest } from '../lib/native';
import { PendingSpawn, promiseFor } from '../lib/spawn/child-process';
import { prepare, type SpawnOptions } from '../lib/spawn/options';
import { packedRequest, packRequest, queueSpawn, releasePackedRequest } from '../lib/spawn/request';
import { openFds, rejection, repoRoot, until, zombieChildren } from './helpers';

// clone(2) flags, as <sched.h> has them.
const CLONE_NEWTIME = 0x80;
const CLONE_NEWNS = 0x20000;
const CLONE_NEWUTS = 0x04000000;
const CLONE_NEWIPC = 0x08000000;
const CLONE_NEWPID = 0x20000000;
const CLONE_NEWNET = 0x40000000;

/** spawn(), with the internal request fields `extra` added to what `options` packs. */
function spawnWith(file: string, args: string[], options: Partial<SpawnOptions>, extra: Partial<RawSpawnRequest>): Promise<ChildProcess> {
  const prepared = prepare(file, args, options);
  Object.assign(prepared.request, extra);
  const pending = new PendingSpawn(prepared);
  const promise = promiseFor(pending);
  queueSpawn(prepared.request, pending);
  return promise;
}

async function stop(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  await child.wait();
}

function namespaceOf(pid: number | 'self', kind: string): string {
  return fs.readlinkSync(`/proc/${pid}/ns/${kind}`);
}

const cgroupRoot = '/sys/fs/cgroup/unified';
const haveCgroup2 = fs.existsSync(`${cgroupRoot}/cgroup.procs`);

describe('CLONE_INTO_CGROUP (cgroupFd)', () => {
  const dir = `${cgroupRoot}/posix-process-sandbox-${process.pid}`;
  let fd = -1;
  beforeAll(() => {
    // The suite runs as root on machines with a cgroup v2 hierarchy: its absence is a failure.
    expect(haveCgroup2).toBe(true);
    fs.mkdirSync(dir);
    fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  });
  afterAll(() => {
    fs.closeSync(fd);
    fs.rmdirSync(dir);
  });

  it('starts the child in the cgroup the fd names, this process staying where it is', async () => {
    const fds = openFds();
    const ours = fs.readFileSync('/proc/self/cgroup', 'utf8');
    const child = await spawnWith('sleep', ['1000'], { stdio: 'ignore' }, { cgroupFd: fd });
    try {
      expect(fs.readFileSync(`/proc/${child.pid}/cgroup`, 'utf8')).toMatch(new RegExp(`^0::/posix-process-sandbox-${process.pid}$`, 'm'));
      expect(fs.readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n')).toContain(String(child.pid));
      expect(fs.readFileSync('/proc/self/cgroup', 'utf8')).toBe(ours);
    } finally {
      await stop(child);
    }
    expect(fs.readFileSync(`${dir}/cgroup.procs`, 'utf8')).toBe('');
    expect(openFds()).toEqual(fds);
  });

  it('a burst through the spawning thread lands there too', async () => {
    const children = await Promise.all(Array.from({ length: 4 }, () => spawnWith('sleep', ['1000'], { stdio: 'ignore' }, { cgroupFd: fd })));
    try {
      const procs = fs.readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n');
      for (const child of children) expect(procs).toContain(String(child.pid));
    } finally {
      await Promise.all(children.map(stop));
    }
  });

  it('an fd that is not a cgroup directory fails the clone, leaving nothing behind', async () => {
    const fds = openFds();
    const file = fs.openSync('/proc/self/status', 'r');
    try {
      const error = await rejection(spawnWith('/bin/true', [], { stdio: 'ignore' }, { cgroupFd: file }));
      expect(error).toMatchObject({ syscall: 'clone', step: 'clone' });
      expect(error.code).toBe('EBADF'); // cgroup_get_from_fd: not a cgroup2 directory
    } finally {
      fs.closeSync(file);
    }
    expect(openFds()).toEqual(fds);
    expect(zombieChildren()).toEqual([]);
  });
});

describe('namespace flags', () => {
  it.each([
    ['uts', CLONE_NEWUTS],
    ['ipc', CLONE_NEWIPC],
    ['net', CLONE_NEWNET],
    ['mnt', CLONE_NEWNS],
    ['time_for_children', CLONE_NEWTIME], // clone3 only: the child itself is in it
  ])('%s: the child is in a namespace of its own', async (kind, flag) => {
    const child = await spawnWith('sleep', ['1000'], { stdio: 'ignore' }, { namespaceFlags: flag });
    try {
      const name = kind === 'time_for_children' ? 'time' : kind;
      expect(namespaceOf(child.pid, name)).not.toBe(namespaceOf('self', name));
      for (const other of ['uts', 'ipc', 'net', 'mnt', 'pid'].filter((other) => other !== name)) {
        expect(namespaceOf(child.pid, other)).toBe(namespaceOf('self', other));
      }
    } finally {
      await stop(child);
    }
  });

  it('pid: the child is pid 1 of a new pid namespace, and reaches its exec (its parent is pid 0 there)', async () => {
    const child = await spawnWith('sleep', ['1000'], { stdio: 'ignore', pdeathsig: 'SIGKILL' }, { namespaceFlags: CLONE_NEWPID });
    try {
      const nspid = /^NSpid:\s+(.*)$/m.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]!.split(/\s+/);
      expect(nspid).toEqual([String(child.pid), '1']);
      expect(fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8')).toBe('sleep\x001000\x00');
    } finally {
      await stop(child);
    }
  });

  it('a step failing in the new namespaces is reported and reaped as on the plain path', async () => {
    const fds = openFds();
    const error = await rejection(spawnWith('/bin/true', [], { stdio: 'ignore', cwd: '/nonexistent' }, { namespaceFlags: CLONE_NEWPID | CLONE_NEWNET }));
    expect(error).toMatchObject({ code: 'ENOENT', syscall: 'chdir', step: 'chdir' });
    expect(openFds()).toEqual(fds);
    expect(zombieChildren()).toEqual([]);
  });

  it('the slots arrive in the plan; flags outside the namespaces are refused before anything runs', () => {
    const decode = (extra: Partial<RawSpawnRequest>): Record<string, unknown> => {
      const request = { ...prepare('/bin/true', [], {}).request, ...extra };
      packRequest(request);
      try {
        const { strings, layout } = packedRequest();
        return binding.spawnDecodeForTest(0, strings, layout, undefined, undefined);
      } finally {
        releasePackedRequest();
      }
    };
    expect(decode({})).toMatchObject({ namespaceFlags: 0, cgroupFd: -1 });
    expect(decode({ namespaceFlags: CLONE_NEWPID | CLONE_NEWNET, cgroupFd: 9 })).toMatchObject({ namespaceFlags: CLONE_NEWPID | CLONE_NEWNET, cgroupFd: 9 });
    // The sandbox options as prepare() packs them: strings after the fd paths, capability sets.
    const { request } = prepare('/bin/true', [], { stdio: ['ignore', { path: '/tmp/x' }, 'inherit'], namespaces: ['user', 'uts', 'net'], uidMap: [{ inside: 0, outside: 1000, count: 10 }, { inside: 10, outside: 5000, count: 1 }], hostname: 'h', chroot: Buffer.from('/srv/r\xff', 'latin1'), capabilities: ['CAP_SETUID', 'checkpoint_restore'], ambientCapabilities: ['setuid'], noNewPrivileges: true });
    expect(decode(request)).toMatchObject({
      fds: [{ path: '/dev/null' }, { path: '/tmp/x' }, { source: 2 }],
      namespaceFlags: 0x10000000 | CLONE_NEWUTS | CLONE_NEWNET,
      uidMap: '0 1000 10\n10 5000 1\n',
      gidMap: `0 ${process.getegid!()} 1\n`,
      hostname: 'h',
      chroot: '/srv/r\ufffd',
      capabilities: (1n << 7n) | (1n << 40n),
      ambientCapabilities: 1n << 7n,
      noNewPrivileges: true,
    });
    expect(() => decode({ namespaceFlags: 0x100 /* CLONE_VM */ })).toThrow(RangeError);
    expect(() => decode({ uidMap: '0 0 1\n' /* without CLONE_NEWUSER */ })).toThrow(RangeError);
    expect(() => decode({ hostname: 'h' /* without CLONE_NEWUTS */ })).toThrow(RangeError);
    expect(() => decode({ daemonize: true, namespaceFlags: CLONE_NEWPID })).toThrow(RangeError);
    expect(() => decode({ cgroupFd: -2 })).toThrow(RangeError);
  });
});

describe("the id maps' handshake: this process writes them while the child waits at its gate", () => {
  // Text the kernel refuses (EINVAL), which the options never make: the write fails in this
  // process, which kills the child at its gate and reports the step once it has reaped it.
  const CLONE_NEWUSER = 0x10000000;
  it.each([
    ['uid_map', { uidMap: 'not a map\n' }],
    ['gid_map', { uidMap: '0 0 1\n', gidMap: '0 0 1\n0 0 1\n' }],
  ])('a failed write of %s: write EINVAL at that step, the child reaped, no fd left', async (step, maps) => {
    const fds = openFds();
    const error = await rejection(spawnWith('/bin/true', [], { stdio: 'ignore' }, { namespaceFlags: CLONE_NEWUSER, ...maps }));
    expect(error).toMatchObject({ code: 'EINVAL', syscall: 'write', step });
    expect(openFds()).toEqual(fds);
    expect(zombieChildren()).toEqual([]);
  });

  // /proc mounted read-only in a mount namespace of the spawning Node (root only): the open of
  // uid_map for writing fails (EROFS), before any write.
  it.skipIf(process.getuid?.() !== 0)('a failed open of uid_map is reported as open, not write', () => {
    const script = `require('./dist/index.js').spawn('/bin/true', [], { namespaces: ['user'], stdio: 'ignore' })
      .then(() => console.log('spawned'), (e) => console.log(e.code, e.syscall, e.step))`;
    const result = child_process.spawnSync('unshare', ['--mount', 'sh', '-c', 'mount -o remount,bind,ro /proc && exec "$0" -e "$1"', process.execPath, script], { cwd: repoRoot, encoding: 'utf8', timeout: 20_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('EROFS open uid_map\n');
  });

  it('a burst (the spawning thread writes the maps): each child gets its own, failures stay apart', async () => {
    const fds = openFds();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => spawnWith('sleep', ['1000'], { stdio: 'ignore' }, { namespaceFlags: CLONE_NEWUSER, uidMap: i % 2 === 0 ? `0 ${1000 + i} 1\n` : 'bad\n' })),
    );
    for (const [i, outcome] of outcomes.entries()) {
      if (i % 2 === 0) {
        expect(outcome.status).toBe('fulfilled');
        const child = (outcome as PromiseFulfilledResult<ChildProcess>).value;
        try {
          expect(fs.readFileSync(`/proc/${child.pid}/uid_map`, 'utf8').trim().split(/\s+/)).toEqual(['0', String(1000 + i), '1']);
        } finally {
          await stop(child);
        }
      } else {
        expect(outcome).toMatchObject({ status: 'rejected', reason: { code: 'EINVAL', syscall: 'write', step: 'uid_map' } });
      }
    }
    await until(() => openFds().length === fds.length);
    expect(openFds()).toEqual(fds);
    expect(zombieChildren()).toEqual([]);
  });
});

describe('where CLONE_VM is refused (qemu-user; the emulated path, forced on this kernel)', () => {
  it('namespaces fail at clone with ENOTSUP, leaving nothing; the steps without namespaces still run', () => {
    const script = `const p = require('./dist/index.js');
      const fs = require('fs');
      const fds = () => fs.readdirSync('/proc/self/fd').length;
      (async () => {
        await p.run('/bin/true');
        const before = fds();
        const results = [];
        for (const options of [{ namespaces: ['user'] }, { namespaces: ['net'] }, { namespaces: ['user'], uidMap: [], gidMap: [] }]) {
          results.push(await p.run('/bin/true', [], options).then(() => 'ran', (e) => [e.code, e.syscall, e.step]));
        }
        const caps = await p.run('/bin/sh', ['-c', "grep -E '^(CapBnd|NoNewPrivs)' /proc/self/status"], { capabilities: ['kill'], noNewPrivileges: true });
        results.push(caps.stdout.toString().split('\\n').filter(Boolean).map((line) => line.split(/\\s+/)[1]));
        const children = fs.readdirSync('/proc/self/task').flatMap((task) => fs.readFileSync('/proc/self/task/' + task + '/children', 'utf8').split(' ').filter(Boolean));
        console.log(JSON.stringify({ results, leaked: fds() - before, children }));
      })();`;
    const result = child_process.spawnSync(process.execPath, ['-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000, env: { ...process.env, POSIX_PROCESS_TEST_NO_CLONE_VM: '1' } });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({
      results: [['ENOTSUP', 'clone', 'clone'], ['ENOTSUP', 'clone', 'clone'], ['ENOTSUP', 'clone', 'clone'], [(1n << 5n).toString(16).padStart(16, '0'), '1']],
      leaked: 0,
      children: [],
    });
  });
});

describe('without clone3 (a seccomp filter fails it with ENOSYS, as container runtimes do)', () => {
  let dir = '';
  let noClone3 = '';
  const cgroup = `${cgroupRoot}/posix-process-sandbox-noclone3-${process.pid}`;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-process-no-clone3-'));
    noClone3 = path.join(dir, 'no-clone3');
    child_process.execFileSync('cc', ['-O2', '-o', noClone3, path.join(repoRoot, 'test/native/no-clone3.c')]);
    fs.mkdirSync(cgroup);
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmdirSync(cgroup);
  });

  it('namespaces still work through clone(2); a cgroup and a time namespace, which need clone3, fail at clone with ENOSYS', () => {
    // Node under the filter: its own threads fall back to clone too (glibc).
    const script = `
      const p = require('./dist/index.js');
      const { prepare } = require('./dist/spawn/options.js');
      const { PendingSpawn, promiseFor } = require('./dist/spawn/child-process.js');
      const { queueSpawn } = require('./dist/spawn/request.js');
      const fs = require('fs');
      const outcome = (promise) => promise.then((r) => r.stdout.toString().split('\\n').map((line) => line.trim()).filter(Boolean), (e) => [e.code, e.syscall, e.step]);
      (async () => {
        const results = [];
        results.push(await outcome(p.run('/bin/sh', ['-c', 'echo $$; tail -n +3 /proc/self/net/dev | cut -d: -f1'], { namespaces: ['user', 'pid', 'net'] })));
        const fds = fs.readdirSync('/proc/self/fd').length; // once the library has made its own
        results.push(await outcome(p.run('/bin/true', [], { namespaces: ['time'] })));
        const cgroupFd = fs.openSync(${JSON.stringify(cgroup)}, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
        const prepared = prepare('/bin/true', [], { stdio: 'ignore' });
        prepared.request.cgroupFd = cgroupFd;
        const pending = new PendingSpawn(prepared);
        const started = promiseFor(pending);
        queueSpawn(prepared.request, pending);
        results.push(await started.then(() => 'started', (e) => [e.code, e.syscall, e.step]));
        fs.closeSync(cgroupFd);
        console.log(JSON.stringify({ results, leaked: fs.readdirSync('/proc/self/fd').length - fds }));
      })();`;
    const result = child_process.spawnSync(noClone3, [process.execPath, '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({
      results: [
        ['1', 'lo'],
        ['ENOSYS', 'clone', 'clone'],
        ['ENOSYS', 'clone', 'clone'],
      ],
      leaked: 0,
    });
  });
});
