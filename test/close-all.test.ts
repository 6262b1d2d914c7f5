import { describe, expect, it } from 'vitest';
import { closeAll } from '../lib/spawn/options';
import { close, pipe } from '../lib/index';
import { openFds } from './helpers';

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
