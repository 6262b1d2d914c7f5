// Containment at its edges: a `cgroup` option that only looks like a cgroup, contained spawns in
// worker threads, a subreaper tree whose orphans end on their own, and an unref()'d contained
// child with a timeout whose leader exits before its orphans.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableContainments, spawn } from '../lib/index';
import { openFds, zombieChildren } from './helpers';

let tmp = '';

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'contain-edges-'));
  return () => fs.rmSync(tmp, { recursive: true, force: true });
});

describe('contain: a cgroup option that is not on a cgroup v2 file system', () => {
  it('is refused with ERR_CONTAINMENT_UNAVAILABLE before anything is made in it', async () => {
    // A directory with a cgroup.procs file, as a cgroup v1 hierarchy has: not a v2 cgroup.
    const fake = path.join(tmp, 'fake-cgroup');
    fs.mkdirSync(fake);
    fs.writeFileSync(path.join(fake, 'cgroup.procs'), '');
    const fds = openFds();
    expect(availableContainments(fake)).not.toContain('cgroup');
    const error = (await spawn('true', [], { contain: 'cgroup', cgroup: fake }).catch((e: unknown) => e)) as Error & Record<string, unknown>;
    expect(error).toMatchObject({ code: 'ERR_CONTAINMENT_UNAVAILABLE', containment: 'cgroup' });
    expect(error.message).toContain('cgroup v2');
    expect(fs.readdirSync(fake)).toEqual(['cgroup.procs']);
    expect(openFds()).toEqual(fds);
    expect(zombieChildren()).toEqual([]);
  });
});
