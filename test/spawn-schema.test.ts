// The packed spawn request (native/spawn_schema.h): the facade packs by the slot names the binding
// exports, and every field of a request arrives in the child's plan where the child reads it.
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { binding } from '../lib/native';
import { prepare } from '../lib/spawn/options';
import { packedRequest, packRequest, releasePackedRequest } from '../lib/spawn/request';
import { childPids } from './helpers';

const schema = binding.spawnSchema;

/** The plan the binding builds from `request` once packed: nothing is spawned. */
function decode(request: Parameters<typeof packRequest>[0]): Record<string, unknown> {
  packRequest(request);
  try {
    const { strings, layout } = packedRequest();
    return binding.spawnDecodeForTest(0, strings, layout, request.groups, request.rlimits.length === 0 ? undefined : request.rlimits);
  } finally {
    releasePackedRequest();
  }
}

describe('the spawn request schema', () => {
  it.each(Object.entries(schema))('%s: every slot has its own index, 0 to size - 1', (_, table) => {
    const { size, ...slots } = table as Record<string, number> & { size: number };
    expect(Object.values(slots).sort((a, b) => a - b)).toEqual(Array.from({ length: size }, (_, i) => i));
    expect(Object.isFrozen(table)).toBe(true);
  });

  it('every field of a request arrives in the plan', () => {
    const children = new Set(childPids());
    const fds = fs.readdirSync('/proc/self/fd');
    const prepared = prepare('/bin/echo', ['one', Buffer.from('tw\xffo', 'latin1')], {
      argv0: 'zero',
      env: { A: '1', B: 'two' },
      cwd: '/tmp',
      stdio: ['ignore', 1, { path: '/tmp/out', flags: 'a', mode: 0o640 }],
      fds: { 7: 2 },
      pgid: 0,
      sigmask: ['SIGUSR1', 'SIGRTMIN+2', 'SIGRTMAX'],
      umask: 0o027,
      uid: 65534,
      gid: 65533,
      groups: [100, 4],
      rlimits: { nofile: [256, 1024], core: Infinity },
      pdeathsig: 'SIGTERM',
      nice: 5,
    });
    const plan = decode(prepared.request);
    const rtmin = binding.realtimeSignalRange().min;
    const bit = (signo: number): bigint => 1n << BigInt(signo - 1);
    expect(plan).toEqual({
      candidates: ['/bin/echo'],
      argv: ['zero', 'one', 'tw\ufffdo'],
      envp: ['A=1', 'B=two'],
      cwd: '/tmp',
      fds: [
        { target: 0, source: -1, optional: false, path: '/dev/null', flags: fs.constants.O_RDONLY, mode: 0 },
        { target: 1, source: 1, optional: false, path: null, flags: 0, mode: 0 },
        { target: 2, source: -1, optional: false, path: '/tmp/out', flags: fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND, mode: 0o640 },
        { target: 7, source: 2, optional: false, path: null, flags: 0, mode: 0 },
      ],
      setsid: false,
      pgid: 0,
      gid: 65533,
      uid: 65534,
      nice: 5,
      umask: 0o027,
      pdeathsig: 15,
      daemonize: false,
      sigmask: bit(10) | bit(rtmin + 2) | bit(64),
      resetToDefault: 2n ** 64n - 1n,
      namespaceFlags: 0,
      cgroupFd: -1,
      uidMap: null,
      gidMap: null,
      hostname: null,
      chroot: null,
      capabilities: null,
      ambientCapabilities: 0n,
      noNewPrivileges: false,
      groups: [100, 4],
      rlimits: [
        { resource: binding.spawnOptionConstants.rlimits.nofile, soft: 256n, hard: 1024n },
        { resource: binding.spawnOptionConstants.rlimits.core, soft: 2n ** 64n - 1n, hard: 2n ** 64n - 1n },
      ],
    });
    // Nothing was started, and no fd is left (the stdio files are opened by the child only).
    expect(childPids().filter((pid) => !children.has(pid))).toEqual([]);
    expect(fs.readdirSync('/proc/self/fd')).toEqual(fds);
  });

  it('the defaults: inherited stdio and environment, nothing else changed', () => {
    const plan = decode(prepare('sh', [], {}).request);
    expect(plan).toMatchObject({
      argv: ['sh'],
      cwd: null,
      fds: [0, 1, 2].map((fd) => ({ target: fd, source: fd, optional: true, path: null })),
      setsid: false,
      pgid: -1,
      gid: -1,
      uid: -1,
      nice: null,
      umask: -1,
      pdeathsig: 0,
      daemonize: false,
      sigmask: 0n,
      groups: null,
      rlimits: [],
    });
    expect((plan.candidates as string[]).every((candidate) => candidate.endsWith('/sh'))).toBe(true);
  });
});
