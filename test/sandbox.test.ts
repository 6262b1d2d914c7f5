// The sandbox options of spawn and run (docs/sandbox.md): real namespaces, id maps, hostname,
// loopback, chroot and capabilities, read back from /proc and from the child's own tools. The same
// scenarios run here as root and, through runNode, as nobody (user namespaces work unprivileged on
// these machines).
import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemon, kill, run, setChildSubreaper, spawn, waitpid, type IdMapEntry, type NamespaceName, type RunOptions, type SyscallError } from '../lib/index';
import { childPids, openFds, otherUserPackage, processState, repoRoot, runNode, until, zombieChildren } from './helpers';

/** What a scenario's child printed, or how its spawn failed. */
type Outcome = { stdout: string; stderr: string; code: number | null } | { error: { name: string; code: string; syscall: string; step: string; path?: string } };

// Each scenario: options and a shell command whose output says what the child sees.
const SCENARIOS: Record<string, [RunOptions, string]> = {
  // pid 1 of its own pid namespace, and a fresh /proc in its mount namespace: ps lists only the
  // sandbox's processes.
  pidSandbox: [{ namespaces: ['user', 'pid', 'mount'] }, 'echo $$; ps -e -o pid='],
  ids: [{ namespaces: ['user'] }, "grep -E '^(Uid|Gid):' /proc/self/status; cat /proc/self/uid_map /proc/self/gid_map"],
  net: [{ namespaces: ['user', 'net'] }, "tail -n +3 /proc/self/net/dev | cut -d: -f1; /usr/sbin/ip -o link show lo"],
  hostname: [{ namespaces: ['user', 'uts'], hostname: 'sandbox-test' }, 'hostname'],
  caps: [{ namespaces: ['user'], capabilities: ['net_bind_service', 'CAP_SYS_ADMIN'], ambientCapabilities: ['CAP_NET_BIND_SERVICE'], noNewPrivileges: true }, "grep -E '^(Cap|NoNewPrivs)' /proc/self/status"],
  allNamespaces: [{ namespaces: ['user', 'pid', 'net', 'mount', 'uts', 'ipc', 'cgroup', 'time'] }, 'echo $$'],
  // Errors, each named by its step.
  unmappedUid: [{ namespaces: ['user'], uid: 5 }, 'true'],
  missingChroot: [{ namespaces: ['user', 'mount'], chroot: '/nonexistent-chroot' }, 'true'],
  netWithoutUser: [{ namespaces: ['net'] }, 'true'],
  foreignUidMap: [{ namespaces: ['user'], uidMap: [{ inside: 0, outside: 0, count: 1 }, { inside: 1, outside: 1, count: 1 }] }, 'true'],
  foreignGidMap: [{ namespaces: ['user'], gidMap: [{ inside: 0, outside: 0, count: 1 }, { inside: 1, outside: 1, count: 1 }] }, 'true'],
  capabilitiesWithoutUser: [{ capabilities: ['chown'] }, 'true'],
  // setgroups(2) in the new namespace: allowed for a caller with CAP_SETGID, denied otherwise
  // (the kernel takes an unprivileged gid map only then), so groups fail there.
  setgroups: [{ namespaces: ['user'] }, 'cat /proc/self/setgroups'],
  groups: [{ namespaces: ['user'], groups: [0] }, 'id -G'],
  chrootWithoutUser: [{ chroot: '/' }, 'true'],
};

/** Runs the scenarios in this process (as whoever runs it): the body of the runNode script too. */
async function runScenarios(library: { run: typeof run }, scenarios: typeof SCENARIOS): Promise<Record<string, Outcome>> {
  const outcomes: Record<string, Outcome> = {};
  for (const [name, [options, command]] of Object.entries(scenarios)) {
    try {
      const result = await library.run('/bin/sh', ['-c', command], options);
      outcomes[name] = { stdout: result.stdout.toString(), stderr: result.stderr.toString(), code: result.status.kind === 'exited' ? result.status.code : null };
    } catch (error) {
      const { name: errorName, code, syscall, step, path: errorPath } = error as SyscallError;
      outcomes[name] = { error: { name: errorName, code: String(code), syscall, step: step!, ...(errorPath === undefined ? {} : { path: errorPath }) } };
    }
  }
  return outcomes;
}

function statusField(status: string, field: string): string {
  return new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(status)![1]!;
}

const printed = (outcome: Outcome | undefined): string => {
  expect(outcome).toMatchObject({ stderr: '', code: 0 });
  return (outcome as { stdout: string }).stdout;
};
const failed = (outcome: Outcome | undefined): unknown => (outcome as { error?: unknown }).error;

const BIT = (n: number): bigint => 1n << BigInt(n);
const hex = (set: bigint): string => set.toString(16).padStart(16, '0');
const CAP_NET_BIND_SERVICE = 10;
const CAP_SYS_ADMIN = 21;
const CAP_NET_RAW = 13;

describe.each([
  ['root', 0],
  ['nobody', 65534],
])('the sandbox as %s', (user, uid) => {
  let outcomes: Record<string, Outcome>;
  const fdsBefore = openFds();
  beforeAll(async () => {
    if (uid === 0) {
      outcomes = await runScenarios({ run }, SCENARIOS);
    } else {
      // The fds counted once the library has made its own (a first spawn), then after the scenarios.
      const script = `const p = require('./dist/index.js');
        const fds = () => require('fs').readdirSync('/proc/self/fd').length;
        p.run('/bin/true').then(async () => {
          const before = fds();
          const outcomes = await (${runScenarios.toString()})(p, ${JSON.stringify(SCENARIOS)});
          const fs = require('fs');
          const children = fs.readdirSync('/proc/self/task').flatMap((task) => fs.readFileSync('/proc/self/task/' + task + '/children', 'utf8').split(' ').filter(Boolean));
          console.log(JSON.stringify({ outcomes, before, after: fds(), children }));
        });`;
      const result = runNode(script, { uid, gid: uid, timeout: 60_000 });
      expect(result.stderr).toBe('');
      const parsed = JSON.parse(result.stdout) as { outcomes: Record<string, Outcome>; before: number; after: number; children: string[] };
      // Nothing leaked in the unprivileged process either: no fd, no child (failed spawns reaped).
      expect(parsed.after).toBe(parsed.before);
      expect(parsed.children).toEqual([]);
      outcomes = parsed.outcomes;
    }
  }, 90_000);

  it('pid 1 of a new pid namespace, whose fresh /proc shows only its own processes', () => {
    const [self, ...pids] = printed(outcomes.pidSandbox).trim().split(/\s+/).map(Number);
    expect(self).toBe(1);
    expect(pids).toContain(1);
    // sh (1), the commands it forks: nothing of this machine's.
    for (const pid of pids) expect(pid).toBeLessThan(10);
  });

  it("'user' maps the caller's uid and gid to 0: root inside, the caller outside", () => {
    const output = printed(outcomes.ids);
    expect(statusField(output, 'Uid')).toBe('0\t0\t0\t0');
    expect(statusField(output, 'Gid')).toBe('0\t0\t0\t0');
    const maps = output.split('\n').filter((line) => /^\s+\d/.test(line)).map((line) => line.trim().split(/\s+/));
    expect(maps).toEqual([
      ['0', String(uid), '1'],
      ['0', String(uid), '1'],
    ]);
  });

  it("'net': only the loopback interface, and up", () => {
    const [devices, link] = printed(outcomes.net).split('\n').reduce<[string[], string]>(([names, line], entry) => (entry.includes('<') ? [names, entry] : [entry.trim() === '' ? names : [...names, entry.trim()], line]), [[], '']);
    expect(devices).toEqual(['lo']);
    expect(link).toMatch(/^1: lo: <[^>]*\bUP\b[^>]*>/);
  });

  it("'uts' with hostname: the child's name, this machine's unchanged", () => {
    expect(printed(outcomes.hostname)).toBe('sandbox-test\n');
    expect(os.hostname()).not.toBe('sandbox-test');
  });

  it('capabilities cut the bounding and other sets, ambient ones raised, no_new_privs set', () => {
    const status = printed(outcomes.caps);
    const kept = BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_SYS_ADMIN);
    expect(statusField(status, 'CapBnd')).toBe(hex(kept));
    // Root inside its namespace: the program gets what the bounding set allows.
    expect(statusField(status, 'CapPrm')).toBe(hex(kept));
    expect(statusField(status, 'CapEff')).toBe(hex(kept));
    expect(statusField(status, 'CapInh')).toBe(hex(BIT(CAP_NET_BIND_SERVICE)));
    expect(statusField(status, 'CapAmb')).toBe(hex(BIT(CAP_NET_BIND_SERVICE)));
    expect(statusField(status, 'NoNewPrivs')).toBe('1');
  });

  it('every namespace at once (time through clone3)', () => {
    expect(printed(outcomes.allNamespaces)).toBe('1\n');
  });

  it('a uid the map does not have: refused before anything runs (setuid would fail with EINVAL)', () => {
    expect(failed(outcomes.unmappedUid)).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  });

  it('a missing chroot: chroot ENOENT with the path', () => {
    expect(failed(outcomes.missingChroot)).toEqual({ name: 'SyscallError', code: 'ENOENT', syscall: 'chroot', step: 'chroot', path: '/nonexistent-chroot' });
  });

  it('a namespace without a user namespace: clone EPERM unless root', () => {
    if (user === 'root') expect(printed(outcomes.netWithoutUser)).toBe('');
    else expect(failed(outcomes.netWithoutUser)).toEqual({ name: 'SyscallError', code: 'EPERM', syscall: 'clone', step: 'clone' });
  });

  it("a uid map of ids that are not the caller's: write EPERM at uid_map unless root", () => {
    if (user === 'root') expect(printed(outcomes.foreignUidMap)).toBe('');
    else expect(failed(outcomes.foreignUidMap)).toEqual({ name: 'SyscallError', code: 'EPERM', syscall: 'write', step: 'uid_map' });
  });

  it("a gid map of ids that are not the caller's: write EPERM at gid_map (after setgroups deny) unless root", () => {
    if (user === 'root') expect(printed(outcomes.foreignGidMap)).toBe('');
    else expect(failed(outcomes.foreignGidMap)).toEqual({ name: 'SyscallError', code: 'EPERM', syscall: 'write', step: 'gid_map' });
  });

  it('capabilities without the privilege to drop them: capset EPERM unless root', () => {
    if (user === 'root') expect(printed(outcomes.capabilitiesWithoutUser)).toBe('');
    else expect(failed(outcomes.capabilitiesWithoutUser)).toEqual({ name: 'SyscallError', code: 'EPERM', syscall: 'capset', step: 'capset' });
  });

  it("setgroups is denied in the new namespace unless this process has CAP_SETGID: groups then fail with EPERM, named", () => {
    expect(printed(outcomes.setgroups)).toBe(user === 'root' ? 'allow\n' : 'deny\n');
    if (user === 'root') expect(printed(outcomes.groups)).toBe('0\n');
    else expect(failed(outcomes.groups)).toEqual({ name: 'SyscallError', code: 'EPERM', syscall: 'setgroups', step: 'setgroups' });
  });

  it('a chroot without a user namespace: chroot EPERM unless root', () => {
    if (user === 'root') expect(printed(outcomes.chrootWithoutUser)).toBe('');
    else expect(failed(outcomes.chrootWithoutUser)).toEqual({ name: 'SyscallError', code: 'EPERM', syscall: 'chroot', step: 'chroot', path: '/' });
  });

  if (uid === 0) {
    it('left no fd and no zombie', () => {
      expect(openFds()).toEqual(fdsBefore);
      expect(zombieChildren()).toEqual([]);
    });
  }
});

describe('the sandbox as root, beyond what nobody may do', () => {
  it('a uid map of a range, and uid / gid inside it', async () => {
    const result = await run('/bin/sh', ['-c', 'id -u; id -g; cat /proc/self/uid_map'], {
      namespaces: ['user'],
      uidMap: [{ inside: 0, outside: 100000, count: 65536 }],
      gidMap: [{ inside: 0, outside: 100000, count: 65536 }],
      uid: 1000,
      gid: 1001,
    });
    expect(result.stdout.toString().split('\n').slice(0, 3).map((line) => line.trim().split(/\s+/).join(' '))).toEqual(['1000', '1001', '0 100000 65536']);
  });

  it("a map's text up to a page less one byte is the kernel's; a page is refused before anything runs", async () => {
    // 170 lines of 24 bytes, and one of `last` bytes.
    const map = (last: string): IdMapEntry[] => [...Array.from({ length: 170 }, (_, i) => ({ inside: 4e9 + i, outside: 4e9 + i, count: 1 })), { inside: 10000, outside: 10000, count: Number(last) }];
    const pageSize = Number(child_process.execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }));
    if (pageSize !== 4096) {
      // Larger pages (16 or 64 KiB on some arm64 kernels) hold the longest map the options allow.
      const longest = Array.from({ length: 340 }, (_, i) => ({ inside: 4e9 + i, outside: 4e9 + i, count: 1 }));
      expect((await run('/bin/sh', ['-c', 'wc -l < /proc/self/uid_map'], { namespaces: ['user'], uidMap: longest })).stdout.toString().trim()).toBe('340');
      return;
    }
    const result = await run('/bin/sh', ['-c', 'wc -l < /proc/self/uid_map'], { namespaces: ['user'], uidMap: map('10') }); // 4095 bytes
    expect(result.stdout.toString().trim()).toBe('171');
    const error = (await run('/bin/true', [], { namespaces: ['user'], uidMap: map('100') }).catch((e: unknown) => e)) as Error & { code?: string }; // 4096
    expect(error).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  });

  it("a Node in a pid namespace whose /proc is still this machine's maps its children's ids", async () => {
    // Node is pid 1 there and its child pid 2: /proc/2 is another process (the maps are written
    // through /proc, which numbers processes as the namespace that mounted it does).
    const script = `require('./dist/index.js').run('/bin/sh', ['-c', 'cat /proc/self/uid_map'], { namespaces: ['user'] })
      .then((r) => console.log(r.stdout.toString().trim().split(/\\s+/).join(' ')), (e) => console.log(e.code, e.step))`;
    const result = await run(process.execPath, ['-e', script], { namespaces: ['pid'], cwd: repoRoot });
    expect(result.stderr.toString()).toBe('');
    expect(result.stdout.toString()).toBe('0 0 1\n');
  });

  it('the largest ranges the kernel takes are taken (one id short of 2 ** 32: (uid_t) -1 is no id)', async () => {
    for (const line of [{ inside: 0, outside: 0, count: 2 ** 32 - 1 }, { inside: 2 ** 32 - 2, outside: 5, count: 1 }, { inside: 1, outside: 0, count: 2 ** 32 - 2 }]) {
      const result = await run('/bin/cat', ['/proc/self/uid_map'], { namespaces: ['user'], uidMap: [line] });
      expect(result.stdout.toString().trim().split(/\s+/).map(Number)).toEqual([line.inside, line.outside, line.count]);
    }
  });

  it('uidMap: [] maps nothing: the child is the overflow uid', async () => {
    const result = await run('/bin/sh', ['-c', "grep '^Uid:' /proc/self/status; cat /proc/self/uid_map | wc -l"], { namespaces: ['user'], uidMap: [], gidMap: [] });
    expect(result.stdout.toString()).toBe('Uid:\t65534\t65534\t65534\t65534\n0\n');
  });

  it('each namespace option gives the child a namespace of its own, and only that one', async () => {
    const kinds: [NamespaceName, string][] = [
      ['user', 'user'],
      ['pid', 'pid_for_children'], // the child is pid 1 there: its own pid link is the new one too
      ['net', 'net'],
      ['mount', 'mnt'],
      ['uts', 'uts'],
      ['ipc', 'ipc'],
      ['cgroup', 'cgroup'],
      ['time', 'time'],
    ];
    for (const [option, link] of kinds) {
      const child = await spawn('sleep', ['1000'], { namespaces: [option], stdio: 'ignore' });
      try {
        for (const [, other] of kinds) {
          const theirs = fs.readlinkSync(`/proc/${child.pid}/ns/${other}`);
          const ours = fs.readlinkSync(`/proc/self/ns/${other}`);
          if (other === link || (option === 'pid' && other === 'pid')) expect(theirs, `${option}: ${other}`).not.toBe(ours);
          else expect(theirs, `${option}: ${other}`).toBe(ours);
        }
      } finally {
        child.kill('SIGKILL');
        await child.wait();
      }
    }
  });

  it('hostname with uts alone; a gid map alone (the uid map by default); groups inside the maps', async () => {
    expect((await run('hostname', [], { namespaces: ['uts'], hostname: 'root-box' })).stdout.toString()).toBe('root-box\n');
    const result = await run('/bin/sh', ['-c', 'id -u; id -G; cat /proc/self/uid_map /proc/self/gid_map'], {
      namespaces: ['user'],
      gidMap: [{ inside: 0, outside: 100000, count: 100 }],
      groups: [5, 7],
      gid: 3,
    });
    expect(result.stdout.toString().split('\n').map((line) => line.trim().split(/\s+/).join(' '))).toEqual(['0', '3 5 7', '0 0 1', '0 100000 100', '']);
  });

  it('noNewPrivileges alone, or false; capabilities: [] keeps none; ambient ones without capabilities', async () => {
    const status = async (options: RunOptions): Promise<string> => (await run('/bin/sh', ['-c', "id -u; grep -E '^(Cap|NoNewPrivs)' /proc/self/status"], options)).stdout.toString();
    expect(statusField(await status({ noNewPrivileges: true }), 'NoNewPrivs')).toBe('1');
    expect(statusField(await status({ noNewPrivileges: false }), 'NoNewPrivs')).toBe('0');
    const none = await status({ capabilities: [] });
    for (const field of ['CapPrm', 'CapEff', 'CapBnd', 'CapInh', 'CapAmb']) expect(statusField(none, field), field).toBe(hex(0n));
    const ambient = await status({ uid: 1000, gid: 1000, ambientCapabilities: ['CAP_NET_RAW'] });
    expect(ambient.split('\n')[0]).toBe('1000');
    for (const field of ['CapPrm', 'CapEff', 'CapAmb']) expect(statusField(ambient, field), field).toBe(hex(BIT(CAP_NET_RAW)));
    expect(statusField(ambient, 'CapBnd')).toBe(statusField(fs.readFileSync('/proc/self/status', 'utf8'), 'CapBnd'));
  });

  // Dumpability lives in the memory a CLONE_VM child shares with this process: the child's
  // setresuid / setresgid made the kernel reset it, leaving the spawning process non-dumpable for
  // good (its /proc files root's, so a later 'user' spawn could not open the child's uid_map).
  // Seen from a Node that is not root but may set ids (ambient CAP_SETUID and CAP_SETGID).
  it('a child given uid and gid leaves this process dumpable (a later user namespace can still be mapped)', async () => {
    const copy = otherUserPackage();
    try {
      const script = `const p = require('./dist/index.js');
        const owner = () => require('fs').statSync('/proc/' + process.pid + '/status').uid;
        const mapped = () => p.run('/bin/sh', ['-c', 'id -u'], { namespaces: ['user'] }).then((r) => r.stdout.toString().trim(), (e) => e.code + ' at ' + e.step);
        (async () => {
          const before = { owner: owner(), mapped: await mapped() };
          const child = await p.run('/bin/sh', ['-c', 'id -u'], { uid: 1000, gid: 1000 });
          console.log(JSON.stringify({ before, child: child.stdout.toString().trim(), after: { owner: owner(), mapped: await mapped() } }));
        })();`;
      const result = await run(copy.node, ['-e', script], { cwd: copy.dir, uid: 65534, gid: 65534, ambientCapabilities: ['setuid', 'setgid'], timeout: 60_000 });
      expect(result.stderr.toString()).toBe('');
      expect(JSON.parse(result.stdout.toString())).toEqual({ before: { owner: 65534, mapped: '0' }, child: '1000', after: { owner: 65534, mapped: '0' } });
    } finally {
      copy.remove();
    }
  });

  // A fork(2) while such a child is before its exec: the fork's copy of the memory is shared
  // with no child, so it gets its dumpability back at once (and the bookkeeping's lock, held
  // across the fork, is fresh there).
  it('a fork while a child given uid is before its exec: both processes dumpable again', async () => {
    const copy = otherUserPackage();
    const fifo = path.join(copy.dir, 'fifo');
    child_process.execFileSync('mkfifo', ['-m', '666', fifo]);
    try {
      const script = `const p = require('./dist/index.js');
        const fs = require('fs');
        const owner = () => fs.statSync('/proc/' + process.pid + '/status').uid;
        (async () => {
          // Blocked opening its stdout, a FIFO no one reads yet: after its setresuid, before its exec.
          const blocked = p.spawn('/bin/true', [], { uid: 1000, gid: 1000, stdio: ['ignore', { path: ${JSON.stringify(fifo)} }, 'ignore'] });
          for (let i = 0; owner() !== 0 && i < 2000; i++) await new Promise((resolve) => setTimeout(resolve, 10));
          const during = owner();
          const pid = p.fork();
          if (pid === 0) {
            fs.writeSync(1, JSON.stringify({ forked: owner() }) + '\\n');
            p.exit(0);
          }
          const forked = p.waitpid(pid);
          fs.closeSync(fs.openSync(${JSON.stringify(fifo)}, 'r')); // lets the child on
          const status = (await (await blocked).wait()).status.kind;
          console.log(JSON.stringify({ during, forkedStatus: forked.status.kind, status, after: owner() }));
        })();`;
      const result = await run(copy.node, ['--single-threaded', '--v8-pool-size=1', '-e', script], { cwd: copy.dir, uid: 65534, gid: 65534, ambientCapabilities: ['setuid', 'setgid'], timeout: 60_000 });
      expect(result.stderr.toString()).toBe('');
      const lines = result.stdout.toString().trim().split('\n').map((line) => JSON.parse(line) as unknown);
      expect(lines).toEqual([{ forked: 65534 }, { during: 0, forkedStatus: 'exited', status: 'exited', after: 65534 }]);
    } finally {
      copy.remove();
    }
  });

  it('a child that is not root keeps its ambient capabilities across exec', async () => {
    const result = await run('/bin/sh', ['-c', "id -u; grep -E '^Cap(Prm|Eff|Amb|Bnd)' /proc/self/status"], { uid: 1000, gid: 1000, capabilities: ['net_bind_service'], ambientCapabilities: ['net_bind_service'] });
    const status = result.stdout.toString();
    expect(status.split('\n')[0]).toBe('1000');
    for (const field of ['CapPrm', 'CapEff', 'CapAmb', 'CapBnd']) expect(statusField(status, field)).toBe(hex(BIT(CAP_NET_BIND_SERVICE)));
  });

  describe('chroot', () => {
    let root = '';
    beforeAll(() => {
      // A tree with /bin/sh and the libraries it loads, and a marker: the child's whole world.
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-process-chroot-'));
      const libraries = child_process.execFileSync('ldd', ['/bin/sh'], { encoding: 'utf8' }).match(/\/\S+/g) ?? [];
      for (const file of ['/bin/sh', ...libraries]) {
        fs.mkdirSync(path.join(root, path.dirname(file)), { recursive: true });
        fs.copyFileSync(file, path.join(root, file));
        fs.chmodSync(path.join(root, file), 0o755);
      }
      fs.mkdirSync(path.join(root, 'inside'));
      fs.writeFileSync(path.join(root, 'marker'), '');
    });
    afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

    it('the child sees only the new root, cannot climb out of it, and cwd is inside it', async () => {
      const result = await run('/bin/sh', ['-c', 'pwd; cd ../../..; pwd; echo /*'], { chroot: root, cwd: '/inside', input: '' });
      expect(result.stderr.toString()).toBe('');
      const [start, climbed, listing] = result.stdout.toString().trim().split('\n');
      expect(start).toBe('/inside');
      expect(climbed).toBe('/');
      expect(listing!.split(' ')).toEqual(expect.arrayContaining(['/bin', '/inside', '/marker']));
      expect(listing).not.toContain('/proc');
    });

    it("without cwd it starts at the new root; stdio paths ('ignore' too) are opened inside it", async () => {
      const result = await run('/bin/sh', ['-c', 'pwd'], { chroot: root, input: '' });
      expect(result.stdout.toString()).toBe('/\n');
      const error = (await run('/bin/sh', ['-c', 'true'], { chroot: root }).catch((e: unknown) => e)) as SyscallError;
      expect(error).toMatchObject({ code: 'ENOENT', syscall: 'open', step: 'open fd 0', path: '/dev/null' });
    });
  });

  it('a server in a private network namespace cannot be reached from outside', async () => {
    const children = new Set(childPids());
    const server = await spawn(process.execPath, ['-e', "require('net').createServer((s) => s.end('hi')).listen(0, '127.0.0.1', function () { console.log(this.address().port); })"], { namespaces: ['net'], stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((resolve) => server.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString()))));
      expect(port).toBeGreaterThan(0);
      const reached = await new Promise<string>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        socket.on('data', () => resolve('reached'));
        socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code!));
      });
      expect(reached).toBe('ECONNREFUSED');
      expect(fs.readlinkSync(`/proc/${server.pid}/ns/net`)).not.toBe(fs.readlinkSync('/proc/self/ns/net'));
    } finally {
      server.kill('SIGKILL');
      await server.wait();
    }
    expect(childPids().filter((pid) => !children.has(pid))).toEqual([]);
  });
});

describe('sandbox options: bad input is refused before anything runs', () => {
  const cases: [string, Record<string, unknown>, string, string][] = [
    ['namespaces not an array', { namespaces: 'net' }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['an unknown namespace', { namespaces: ['network'] }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['uidMap without user', { namespaces: ['net'], uidMap: [{ inside: 0, outside: 0, count: 1 }] }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['gidMap without namespaces', { gidMap: [] }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['a map line that is not an object', { namespaces: ['user'], uidMap: [5] }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['a count of 0', { namespaces: ['user'], uidMap: [{ inside: 0, outside: 0, count: 0 }] }, 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['a range past the last id', { namespaces: ['user'], uidMap: [{ inside: 2 ** 32 - 2, outside: 0, count: 2 }] }, 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['overlapping ranges', { namespaces: ['user'], gidMap: [{ inside: 0, outside: 1000, count: 10 }, { inside: 5, outside: 2000, count: 1 }] }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['more lines than the kernel takes', { namespaces: ['user'], uidMap: Array.from({ length: 341 }, (_, i) => ({ inside: i, outside: i, count: 1 })) }, 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['hostname without uts', { namespaces: ['user'], hostname: 'x' }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['a hostname too long', { namespaces: ['uts'], hostname: 'x'.repeat(65) }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['a hostname not a string', { namespaces: ['uts'], hostname: 5 }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['a chroot with a NUL', { chroot: '/tmp\0x' }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['noNewPrivileges not a boolean', { noNewPrivileges: 1 }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['an unknown capability', { capabilities: ['cap_fly'] }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['a capability not a string', { ambientCapabilities: [10] }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['ambient outside the kept ones', { capabilities: ['chown'], ambientCapabilities: ['kill'] }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    // A map whose text is a page or more: the kernel refuses the write (EINVAL) once the child runs.
    ['a map of a page of text', { namespaces: ['user'], uidMap: Array.from({ length: 300 }, (_, i) => ({ inside: 4e9 + i, outside: 4e9 + i, count: 1 })) }, 'RangeError', 'ERR_OUT_OF_RANGE'],
    // Ids the maps do not have: setresuid, setresgid and setgroups would fail with EINVAL in the child.
    ['a uid outside the uid map', { namespaces: ['user'], uidMap: [{ inside: 0, outside: 100000, count: 10 }], uid: 10 }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['a gid outside the default gid map', { namespaces: ['user'], gid: 1 }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['a group outside the gid map', { namespaces: ['user'], gidMap: [{ inside: 0, outside: 100000, count: 10 }, { inside: 20, outside: 200000, count: 1 }], groups: [0, 20, 15] }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['a uid with an empty uid map', { namespaces: ['user'], uidMap: [], uid: 0 }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    // A group to join from a new pid namespace, where no outer group is visible: setpgid would
    // fail with EPERM (or, for 1, make the child lead a group of its own).
    ['pgid 1 with a new pid namespace', { namespaces: ['user', 'pid'], pgid: 1 }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['a pgid with a new pid namespace', { namespaces: ['user', 'pid'], pgid: 2 ** 31 - 1 }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    // Shapes and values that must never reach native code.
    ['namespaces with a hole', { namespaces: ['user', , 'net'] }, 'TypeError', 'ERR_INVALID_ARG_VALUE'], // eslint-disable-line no-sparse-arrays
    ['a namespace not a string', { namespaces: [0x10000000] }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['more namespaces than there are', { namespaces: Array(17).fill('user') }, 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['uidMap not an array', { namespaces: ['user'], uidMap: { inside: 0, outside: 0, count: 1 } }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['a map with a hole', { namespaces: ['user'], uidMap: [, { inside: 1, outside: 1, count: 1 }] }, 'TypeError', 'ERR_INVALID_ARG_VALUE'], // eslint-disable-line no-sparse-arrays
    ['a map line without count', { namespaces: ['user'], uidMap: [{ inside: 0, outside: 0 }] }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['a fractional inside', { namespaces: ['user'], uidMap: [{ inside: 0.5, outside: 0, count: 1 }] }, 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['a NaN count', { namespaces: ['user'], gidMap: [{ inside: 0, outside: 0, count: NaN }] }, 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['a negative outside', { namespaces: ['user'], uidMap: [{ inside: 0, outside: -1, count: 1 }] }, 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['inside (uid_t) -1', { namespaces: ['user'], uidMap: [{ inside: 2 ** 32 - 1, outside: 0, count: 1 }] }, 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['a count as a string', { namespaces: ['user'], uidMap: [{ inside: 0, outside: 0, count: '1' }] }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['overlapping outside ranges', { namespaces: ['user'], uidMap: [{ inside: 0, outside: 1000, count: 10 }, { inside: 100, outside: 1009, count: 1 }] }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['a map line whose getter throws', { namespaces: ['user'], uidMap: [{ inside: 0, outside: 0, get count(): number { throw new Error('boom'); } }] }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['an empty hostname', { namespaces: ['uts'], hostname: '' }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['a hostname with a NUL', { namespaces: ['uts'], hostname: 'a\0b' }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['a chroot not a string', { chroot: 5 }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['a Buffer chroot with a NUL', { chroot: Buffer.from('/tmp\0x') }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['capabilities not an array', { capabilities: 'chown' }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['capabilities with a hole', { capabilities: ['chown', , 'kill'] }, 'TypeError', 'ERR_INVALID_ARG_VALUE'], // eslint-disable-line no-sparse-arrays
    ['a capability past the last one', { ambientCapabilities: ['cap_41'] }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
    ['a capability list longer than 64', { capabilities: Array(65).fill('chown') }, 'RangeError', 'ERR_OUT_OF_RANGE'],
  ];
  it.each(cases)('%s', async (_, options, name, code) => {
    const children = new Set(childPids());
    const fds = openFds();
    for (const start of [() => spawn('/bin/true', [], options), () => run('/bin/true', [], options), () => daemon('/bin/true', [], options)]) {
      const error = (await start().then(
        () => null,
        (e: unknown) => e,
      )) as Error & { code?: string };
      expect(error?.name).toBe(name);
      expect(error.code).toBe(code);
    }
    expect(childPids().filter((pid) => !children.has(pid))).toEqual([]);
    expect(openFds()).toEqual(fds);
  });
});

describe('daemon() with the sandbox options', () => {
  // The daemons are adopted by this process (the nearest subreaper), which can then reap them.
  beforeAll(() => setChildSubreaper(true));
  afterAll(() => setChildSubreaper(false));

  it("as nobody, its maps' handshake and sandbox steps fail named, the intermediate reaped, no fd left", () => {
    // Each fails before the daemon's exec: no daemon is left to adopt.
    const script = `const p = require('./dist/index.js');
      const fs = require('fs');
      const fds = () => fs.readdirSync('/proc/self/fd').length;
      const foreign = [{ inside: 0, outside: 0, count: 1 }, { inside: 1, outside: 1, count: 1 }];
      p.run('/bin/true').then(async () => {
        const before = fds();
        const errors = [];
        for (const options of [{ namespaces: ['user'], uidMap: foreign }, { namespaces: ['user'], gidMap: foreign }, { namespaces: ['user'], groups: [0] }, { namespaces: ['net'] }]) {
          errors.push(await p.daemon('/bin/true', [], options).then((pid) => pid, (e) => [e.code, e.syscall, e.step]));
        }
        const children = fs.readdirSync('/proc/self/task').flatMap((task) => fs.readFileSync('/proc/self/task/' + task + '/children', 'utf8').split(' ').filter(Boolean));
        console.log(JSON.stringify({ errors, leaked: fds() - before, children }));
      });`;
    const result = runNode(script, { uid: 65534, gid: 65534, timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({
      errors: [
        ['EPERM', 'write', 'uid_map'],
        ['EPERM', 'write', 'gid_map'],
        ['EPERM', 'setgroups', 'setgroups'],
        ['EPERM', 'clone', 'clone'],
      ],
      leaked: 0,
      children: [],
    });
  });

  it('the daemon runs in the namespaces, with the hostname and the maps', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-process-daemon-'));
    const out = path.join(dir, 'out');
    fs.chmodSync(dir, 0o777); // the daemon opens its stdout as uid 4000
    try {
      const pid = await daemon('/bin/sh', ['-c', "hostname; grep '^Uid:' /proc/self/status; exec sleep 1000"], { namespaces: ['user', 'uts', 'net'], hostname: 'daemon-box', uidMap: [{ inside: 0, outside: 4000, count: 1 }], uid: 0, stdio: ['ignore', { path: out }, 'ignore'] });
      try {
        await until(() => fs.readFileSync(out, 'utf8').includes('Uid'));
        expect(fs.readFileSync(out, 'utf8')).toBe('daemon-box\nUid:\t0\t0\t0\t0\n');
        expect(fs.readlinkSync(`/proc/${pid}/ns/net`)).not.toBe(fs.readlinkSync('/proc/self/ns/net'));
        expect(fs.readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split(/\s+/)).toEqual(['0', '4000', '1']);
        // uid 0 inside (the option, after the maps) is 4000 outside.
        expect(fs.readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Uid:\t4000\t4000\t4000\t4000$/m);
      } finally {
        kill(pid, 'SIGKILL');
        expect(waitpid(pid)?.status).toMatchObject({ kind: 'signaled', signal: 'SIGKILL' });
        expect(processState(pid)).toBeUndefined();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a daemon refuses the 'pid' namespace before anything runs; its sandbox errors name their step", async () => {
    const children = new Set(childPids());
    const refused = (await daemon('/bin/true', [], { namespaces: ['user', 'pid'] }).catch((e: unknown) => e)) as Error & { code?: string };
    expect(refused).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    // A namespaces list read once: an entry whose getter says 'pid' to the validation and
    // something else to a second read is refused all the same (it reached native code, uncoded).
    let reads = 0;
    const changing = ['user'];
    Object.defineProperty(changing, 1, { enumerable: true, get: () => (reads++ === 0 ? 'pid' : 'net') });
    const changed = (await daemon('/bin/true', [], { namespaces: changing as ['user'] }).catch((e: unknown) => e)) as Error & { code?: string };
    expect(changed).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    const error = (await daemon('/bin/true', [], { namespaces: ['user', 'mount'], chroot: '/nonexistent-chroot' }).catch((e: unknown) => e)) as SyscallError;
    expect(error).toMatchObject({ code: 'ENOENT', syscall: 'chroot', step: 'chroot', path: '/nonexistent-chroot' });
    expect(childPids().filter((pid) => !children.has(pid))).toEqual([]);
  });
});
