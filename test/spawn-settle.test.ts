import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { close, dup2, spawn, type ChildProcess } from '../lib/index';
import { childPids, childSnapshot, openFds, rejection, until, zombieChildren } from './helpers';

const O_ACCMODE = 3;
const O_WRONLY = 1;

/** The fds of this process that are the write end of a pipe. */
function pipeWriteEnds(): Set<number> {
  const ends = new Set<number>();
  for (const fd of openFds()) {
    try {
      if (!fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('pipe:')) continue;
      const flags = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!;
      if ((parseInt(flags, 8) & O_ACCMODE) === O_WRONLY) ends.add(fd);
    } catch {
      // closed meanwhile (readdir's own fd)
    }
  }
  return ends;
}

describe('the settling of a batch of spawns', () => {
  it('a spawn whose handle cannot be made rejects alone: its child is killed and reaped, the rest of its batch settle', async () => {
    // The parent's end of a stdin pipe replaced by /dev/null between spawn() and its result:
    // net.Socket refuses it (ERR_INVALID_FD_TYPE), in the middle of the batch of results.
    const fdsBefore = openFds();
    const devNull = fs.openSync('/dev/null', 'r');
    const spawns: Promise<ChildProcess>[] = [];
    const broken: boolean[] = [];
    // One turn: the results of a burst come back in batches.
    for (let i = 0; i < 8; i++) {
      const ends = pipeWriteEnds();
      spawns.push(spawn('sleep', ['0.2'], { stdio: ['pipe', 'ignore', 'ignore'] }));
      const parentEnd = [...pipeWriteEnds()].filter((fd) => !ends.has(fd));
      expect(parentEnd).toHaveLength(1);
      broken.push(i % 2 === 1);
      if (i % 2 === 1) dup2(devNull, parentEnd[0]!);
    }
    fs.closeSync(devNull);
    const outcomes = await Promise.allSettled(spawns);
    for (let i = 0; i < outcomes.length; i++) {
      const outcome = outcomes[i]!;
      if (broken[i]) {
        expect(outcome.status, String(i)).toBe('rejected');
        expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_INVALID_FD_TYPE' });
      } else {
        expect(outcome.status, String(i)).toBe('fulfilled');
        const child = (outcome as PromiseFulfilledResult<ChildProcess>).value;
        expect((await child.wait()).status).toEqual({ kind: 'exited', code: 0 });
        child.stdin!.destroy();
      }
    }
    // The rejected ones' children were SIGKILLed and reaped, and nothing of theirs is left open.
    await until(() => zombieChildren().length === 0 && openFds().length === fdsBefore.length);
    expect(openFds()).toEqual(fdsBefore);
  });

  it("a spawn whose pipe's child end was closed behind the library's back rejects with EBADF instead of never settling; its child is killed and reaped", async () => {
    const fdsBefore = openFds();
    // Alone in its turn, the spawn is cloned at once, before spawn() returns (native/spawn_clone.cc):
    // the child has its copy of the fd, and nothing of the library takes the number before the
    // result comes.
    await new Promise((resolve) => setImmediate(resolve));
    const childrenBefore = childSnapshot();
    const ends = pipeWriteEnds();
    const spawned = spawn('sleep', ['30'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const parentEnd = [...pipeWriteEnds()].filter((fd) => !ends.has(fd))[0]!;
    // The other end of the same pipe: the child's, which settle() closes.
    const pipeName = fs.readlinkSync(`/proc/self/fd/${parentEnd}`);
    const childEnd = openFds().filter((fd) => fd !== parentEnd && readlinkOrNull(fd) === pipeName);
    expect(childEnd).toHaveLength(1);
    close(childEnd[0]!);
    expect(await rejection(spawned)).toMatchObject({ code: 'EBADF', syscall: 'close' });
    await until(() => zombieChildren().length === 0 && openFds().length === fdsBefore.length);
    expect(openFds()).toEqual(fdsBefore);
    // Killed and reaped: no child of this test is left, running or not.
    await until(() => childPids().every((pid) => childrenBefore.has(pid)));
  });
});

function readlinkOrNull(fd: number): string | null {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}
