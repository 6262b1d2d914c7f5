/**
 * Sessions, process groups and the foreground process group of a terminal: setsid(2),
 * getsid(2), setpgid(2), getpgid(2), getpgrp(2), tcsetpgrp(3), tcgetpgrp(3).
 */
import { binding } from './native';
import { validateInteger } from './validate';

const PID_MAX = 2 ** 31 - 1;

/**
 * Makes the calling process the leader of a new session and of a new process group, with no
 * controlling terminal. Returns the new session ID (the caller's pid). See setsid(2).
 *
 * Safety: a Node process started from a shell usually already leads its process group, and then
 * setsid fails with EPERM; it is meant for a freshly forked child, or a process started with
 * `child_process.spawn(..., { detached: false })` by a parent that is not a shell.
 *
 * @throws SyscallError `EPERM` when the caller is already a process group leader
 * @returns the new session's ID (the caller's pid)
 * @see setsid(2)
 */
export function setsid(): number {
  return binding.setsid();
}

/**
 * The session ID of a process (0 means the caller). See getsid(2).
 *
 * @throws SyscallError `ESRCH` when there is no such process
 * @throws TypeError / RangeError for a pid that is not an integer from 0 to 2^31-1
 * @param pid - a process ID, or 0 for the caller
 * @returns the ID of its session
 * @see getsid(2)
 */
export function getsid(pid = 0): number {
  validateInteger(pid, 'pid', 0, PID_MAX);
  return binding.getsid(pid);
}

/**
 * Moves a process into a process group: `pid` 0 is the caller, `pgid` 0 means a group whose ID is
 * `pid` (a new group led by it). Only the caller or its children that have not yet exec'd may be
 * moved, within the caller's session. See setpgid(2).
 *
 * @throws SyscallError `EACCES` (the child has already called execve), `EPERM` (a session leader,
 *   another session, or a group that does not exist in this session), `ESRCH` (not the caller or
 *   one of its children), `EINVAL`
 * @throws TypeError / RangeError for arguments that are not integers from 0 to 2^31-1
 * @param pid - the process to move (0: the caller)
 * @param pgid - the group to join (0: a new group led by `pid`)
 * @see setpgid(2)
 */
export function setpgid(pid: number, pgid: number): void {
  validateInteger(pid, 'pid', 0, PID_MAX);
  validateInteger(pgid, 'pgid', 0, PID_MAX);
  binding.setpgid(pid, pgid);
}

/**
 * The process group ID of a process (0 means the caller). See getpgid(2).
 *
 * @throws SyscallError `ESRCH` when there is no such process
 * @throws TypeError / RangeError for a pid that is not an integer from 0 to 2^31-1
 * @param pid - a process ID, or 0 for the caller
 * @returns the ID of its process group
 * @see getpgid(2)
 */
export function getpgid(pid = 0): number {
  validateInteger(pid, 'pid', 0, PID_MAX);
  return binding.getpgid(pid);
}

/**
 * The process group ID of the caller.
 *
 * @returns the caller's process group ID
 * @throws nothing: getpgrp(2) cannot fail
 * @see getpgrp(2)
 */
export function getpgrp(): number {
  return binding.getpgrp();
}

/**
 * Makes `pgid` the foreground process group of the terminal open on `fd`, which must be the
 * caller's controlling terminal; `pgid` must be a group of the caller's session. See tcsetpgrp(3).
 *
 * Unlike a bare tcsetpgrp(3), a call from a background group does not stop the process with
 * SIGTTOU: SIGTTOU is blocked in the calling thread for the duration of the call, as shells do to
 * take the terminal back after a job.
 *
 * @throws SyscallError `ENOTTY` (`fd` is not the caller's controlling terminal), `EBADF`,
 *   `EPERM` (`pgid` is not a group of the caller's session), `EINVAL`
 * @throws TypeError / RangeError for arguments that are not non-negative 32-bit integers
 * @param fd - an fd of the caller's controlling terminal
 * @param pgid - a process group of the caller's session
 * @see tcsetpgrp(3)
 */
export function tcsetpgrp(fd: number, pgid: number): void {
  validateInteger(fd, 'fd', 0, PID_MAX);
  validateInteger(pgid, 'pgid', 0, PID_MAX);
  binding.tcsetpgrp(fd, pgid);
}

/**
 * The foreground process group of the terminal open on `fd`, which must be the caller's
 * controlling terminal. See tcgetpgrp(3).
 *
 * @throws SyscallError `ENOTTY` (`fd` is not the caller's controlling terminal), `EBADF`
 * @throws TypeError / RangeError for an fd that is not a non-negative 32-bit integer
 * @param fd - an fd of the caller's controlling terminal
 * @returns the terminal's foreground process group
 * @see tcgetpgrp(3)
 */
export function tcgetpgrp(fd: number): number {
  validateInteger(fd, 'fd', 0, PID_MAX);
  return binding.tcgetpgrp(fd);
}
