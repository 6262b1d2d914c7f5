// A daemon, started the classic way in native code: a child starts a new session and forks the
// daemon, then exits. The daemon runs in that session without leading it (so no terminal can ever
// become its controlling terminal), in '/', with umask 022 and stdio on /dev/null, and is adopted
// by init (ppid 1) or by the nearest subreaper.
//
// On a normal machine init reaps the daemons it adopts once they end. This example makes itself a
// subreaper first, as a service manager does, so that it adopts the daemon and can reap it after
// stopping it. Without that first line the ppid shown would be 1.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { daemon, getpid, getsid, kill, processInfo, setChildSubreaper, waitpid } from 'posix-process';

async function main(): Promise<void> {
  setChildSubreaper(true);
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'daemon-example-'));
  const pidFile = path.join(folder, 'sleep.pid');

  const pid = await daemon('sleep', ['30'], { pidFile });
  console.log(`daemon ${pid} started; ${path.basename(pidFile)} holds ${fs.readFileSync(pidFile, 'utf8').trim()}`);

  // The exec has happened; give sleep a moment to reach its nanosleep.
  while (processInfo(pid).state !== 'S') await new Promise((resolve) => setTimeout(resolve, 5));
  const info = processInfo(pid);
  const adopter = info.ppid === getpid() ? 'this process, a subreaper' : info.ppid === 1 ? 'init' : 'a subreaper';
  console.log(`${info.name}: state ${info.state} (${info.stateName}), ppid ${info.ppid} (${adopter})`);
  console.log(`session ${info.sid} (ours is ${getsid()}), led by ${info.sid === pid ? 'the daemon' : 'the intermediate process, now gone'}; terminal: ${info.tty === null ? 'none' : (info.tty.path ?? String(info.tty.device))}`);
  console.log(`cwd ${fs.readlinkSync(`/proc/${pid}/cwd`)}, fds ${fs.readdirSync(`/proc/${pid}/fd`).join(' ')} on ${fs.readlinkSync(`/proc/${pid}/fd/0`)}`);

  kill(pid, 'SIGTERM');
  const stopped = waitpid(pid); // ours by adoption
  fs.rmSync(folder, { recursive: true });
  console.log(`stopped: ${JSON.stringify(stopped?.status)}`);
}

void main();
