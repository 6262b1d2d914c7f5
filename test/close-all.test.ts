import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { closeAll } from '../lib/spawn/options';
import { close, pipe, run } from '../lib/index';
import { childPids, childSnapshot, openFds, rejection, until } from './helpers';

describe('closeAll (the close of the fds a spawn, run or pipeline made)', () => {
  it('closes every fd past one that fails, then throws the first failure', () => {
    const fdsBefore = openFds();
    const [a, b] = pipe();
    const [gone1, gone2] = pipe();
    const [c, d] = pipe();
    const [e, f] = pipe();
    // Closed behind closeAll's back: their closes fail with EBADF, in the middle of the list.
    close(gone1);
    close(gone2);
    let thrown: unknown;
    try {
      closeAll([a, b, null, gone1, c, d, gone2, e, f]);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'EBADF', syscall: 'close' });
    expect(openFds()).toEqual(fdsBefore);
  });

  it('closes them all without error when none fails', () => {
    const fdsBefore = openFds();
    const [a, b] = pipe();
    closeAll([null, a, b]);
    expect(openFds()).toEqual(fdsBefore);
  });
});

const O_ACCMODE = 3;
const O_WRONLY = 1;

/** Write ends of the pipes of which this process holds both ends, by pipe name (`pipe:[inode]`). */
function pipeWriteEnds(): Map<string, number> {
  const ends = new Map<string, number[]>();
  for (const fd of openFds()) {
    try {
      const name = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (name.startsWith('pipe:')) ends.set(name, [...(ends.get(name) ?? []), fd]);
    } catch {
      // closed meanwhile (readdir's own fd)
    }
  }
  const writeEnds = new Map<string, number>();
  for (const [name, fds] of ends) {
    if (fds.length !== 2) continue;
    for (const fd of fds) {
      const flags = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!;
      if ((parseInt(flags, 8) & O_ACCMODE) === O_WRONLY) writeEnds.set(name, fd);
    }
  }
  return writeEnds;
}

describe("run() when an output pipe's write end was closed behind its back", () => {
  it('rejects with the close error (EBADF) once its child is killed and reaped, nothing left open', async () => {
    const fifo = `/tmp/run-close-test-${process.pid}`;
    child_process.execFileSync('mkfifo', [fifo]);
    // The spawn machinery's own pipes (made by the first spawns of the process) exist before.
    await run('true');
    const fdsBefore = openFds();
    const childrenBefore = childSnapshot();
    const pipesBefore = pipeWriteEnds();
    let writer: number | undefined;
    try {
      // The child waits in the open of its stdin, the FIFO, until it has a writer: cloned, with
      // its copies of the output pipes.
      const running = run('sleep', ['30'], { stdin: { path: fifo } });
      await until(() => childPids().some((pid) => !childrenBefore.has(pid)));
      let outputs: number[] = [];
      await until(() => (outputs = [...pipeWriteEnds()].filter(([name]) => !pipesBefore.has(name)).map(([, fd]) => fd)).length === 2);
      await until(() => {
        try {
          writer = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
        } catch {
          return false; // ENXIO until the child opens it for reading
        }
        // In the same turn: the spawn's result cannot come before the close, and the writer
        // does not take the number closed.
        close(outputs[0]!);
        return true;
      });
      expect(await rejection(running)).toMatchObject({ code: 'EBADF', syscall: 'close' });
      // Killed and reaped by then.
      expect(childPids().filter((pid) => !childrenBefore.has(pid))).toEqual([]);
    } finally {
      if (writer !== undefined) fs.closeSync(writer);
      fs.rmSync(fifo, { force: true });
    }
    await until(() => openFds().length === fdsBefore.length);
    expect(openFds()).toEqual(fdsBefore);
  });
});
