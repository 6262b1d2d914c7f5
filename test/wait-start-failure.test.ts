import * as os from 'node:os';
import { describe, expect, it } from 'vitest';
import { close, dup2, kill, spawn, waitAsync, waitpid } from '../lib/index';
import { binding } from '../lib/native';
import { openFds, processState, rejection, start } from './helpers';

// An epoll_ctl that fails when a wait starts (ENOSPC from max_user_watches, which is global;
// ENOMEM) cannot be caused safely: binding.testing makes the next one fail with the errno chosen.
const { ENOSPC, ENOMEM } = os.constants.errno;

describe('a wait that cannot start', () => {
  it("a spawned child whose wait cannot start is SIGKILLed and reaped, and wait() rejects with the epoll_ctl error", async () => {
    const fdsBefore = openFds();
    binding.testing.failNextEpollCtl(ENOSPC);
    const child = await spawn('sleep', ['30']);
    const error = await rejection(child.wait());
    expect(error).toMatchObject({ code: 'ENOSPC', syscall: 'epoll_ctl' });
    // Reaped before spawn() resolved: no process, not even a zombie.
    expect(processState(child.pid)).toBeUndefined();
    expect(child.exitResult).toBeNull();
    expect(await rejection(child.finished())).toBe(error);
    await child[Symbol.asyncDispose]();
    expect(openFds()).toEqual(fdsBefore);
  });

  it('a spawned child whose wait fails to register (std::bad_alloc) is SIGKILLed and reaped, its pidfd closed', async () => {
    const fdsBefore = openFds();
    binding.testing.failNextWaitRegistration();
    const child = await spawn('sleep', ['30']);
    await expect(child.wait()).rejects.toThrow(/bad_alloc/);
    expect(processState(child.pid)).toBeUndefined();
    await child[Symbol.asyncDispose]();
    expect(openFds()).toEqual(fdsBefore);
  });

  it('waitAsync whose registration fails (std::bad_alloc) closes its pidfd and leaves the child alone', async () => {
    const pid = start(['sleep', '30']);
    try {
      const fdsBefore = openFds();
      binding.testing.failNextWaitRegistration();
      await expect(waitAsync(pid)).rejects.toThrow(/bad_alloc/);
      expect(openFds()).toEqual(fdsBefore);
      expect(processState(pid)).toMatch(/^[RSD]$/);
    } finally {
      kill(pid, 'SIGKILL');
      waitpid(pid);
    }
  });

  it('kill() after it never uses the closed pidfd number, even once another pidfd has it', async () => {
    binding.testing.failNextEpollCtl(ENOMEM);
    const child = await spawn('sleep', ['30']);
    await rejection(child.wait());
    const other = await spawn('sleep', ['30']);
    try {
      // The failed child's old pidfd number, now another child's pidfd.
      const reused = dup2(other.pidfd, child.pidfd);
      try {
        expect(() => child.kill('SIGKILL')).toThrow(expect.objectContaining({ code: 'ESRCH', syscall: 'pidfd_send_signal' }));
      } finally {
        if (reused !== other.pidfd) close(reused);
      }
      expect(processState(other.pid)).toMatch(/^[RSD]$/);
    } finally {
      other.kill('SIGKILL');
      await other.wait();
    }
  });

  it('waitAsync on a child the library did not spawn rejects but leaves that child alone', async () => {
    const pid = start(['sleep', '30']);
    try {
      binding.testing.failNextEpollCtl(ENOSPC);
      expect(await rejection(waitAsync(pid))).toMatchObject({ code: 'ENOSPC', syscall: 'epoll_ctl' });
      expect(processState(pid)).toMatch(/^[RSD]$/);
    } finally {
      kill(pid, 'SIGKILL');
      waitpid(pid);
    }
  });
});
