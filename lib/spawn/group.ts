/**
 * `killGroup` once the group's leader has been reaped: the group's number is then no longer held
 * by the leader, and may be reused for another group once the last member has gone, so the
 * members are signalled one by one through pidfds rather than with kill(-pgid).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { SyscallError } from '../errors';
import { binding } from '../native';
import { closeAll } from './options';
import { sendQuietly } from './kill-tree';

/** The process group of `pid` from /proc/<pid>/stat (field 5, after the last ')'), or null when it is gone. */
function groupOf(pid: number): number | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ', 3)[2]);
}

/**
 * @internal Signals the members of process group `pgid`, whose leader this process has reaped.
 * Each member is found in /proc, then pinned by a pidfd and checked again to be in the group (a
 * member that exits and whose pid is reused in between is never signalled). Once a process with
 * the pid `pgid` exists again, the number was free when it was given out: the group had ended,
 * and any group of that number now is another one, which gets nothing.
 *
 * @throws SyscallError `ESRCH` (syscall 'kill', as kill(2) for an empty group) when no member
 *   was signalled
 */
export function signalReapedGroup(pgid: number, signo: number): void {
  const pidfds: number[] = [];
  try {
    for (const entry of fs.readdirSync('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid <= 0 || groupOf(pid) !== pgid) continue;
      let pidfd: number;
      try {
        pidfd = binding.pidfdOpen(pid);
      } catch (error) {
        if (error instanceof SyscallError && error.code === 'ESRCH') continue; // gone meanwhile
        throw error;
      }
      pidfds.push(pidfd);
      // The pid may have been reused between the read and pidfd_open: the pidfd is for the
      // process that has the pid now, which is signalled only if it is in the group too.
      if (groupOf(pid) !== pgid) binding.closeFd(pidfds.pop()!);
    }
    // Checked after the members: a group of that number made before they were checked has a
    // leader with that pid, unless it has exited already (see killGroup's guarantee).
    let signalled = 0;
    if (!fs.existsSync(`/proc/${pgid}`)) for (const pidfd of pidfds) if (sendQuietly(pidfd, signo)) signalled++;
    if (signalled === 0) throw new SyscallError('kill', os.constants.errno.ESRCH);
  } finally {
    closeAll(pidfds);
  }
}
