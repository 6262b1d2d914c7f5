// A rootless sandbox: new user, pid and mount namespaces, no privilege needed (run it as any
// user). Inside, the shell is root and PID 1, and `ps` (reading the fresh /proc mounted for it)
// sees only the sandbox's own processes; outside, it is an ordinary process of this user. The
// shell equivalent is `unshare --user --map-root-user --pid --fork --mount-proc sh`.
import * as fs from 'node:fs';
import { run, spawn } from 'posix-process';

async function main(): Promise<void> {
  const sandbox = { namespaces: ['user', 'pid', 'mount'] } as const;

  const inside = await run('sh', ['-c', 'echo "$$ $(id -u)"; ps -e -o comm='], sandbox);
  const [ids, ...commands] = inside.stdout.toString().trim().split('\n');
  const [pid, uid] = ids!.split(' ');
  console.log(`inside: pid ${pid}, uid ${uid}; ps sees ${commands.join(', ')}`);

  // The same kind of child seen from outside: its pid here, and 1 in its namespace (NSpid); the
  // uid of whoever runs this example.
  await using child = await spawn('sleep', ['30'], { ...sandbox, stdio: 'ignore' });
  const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)![1]!.split(/\s+/).join(' ');
  console.log(`outside: pid ${child.pid}, NSpid ${field('NSpid')}, uid ${field('Uid').split(' ')[0]} (ours: ${process.geteuid!()})`);
  // PID 1 of a namespace gets only the signals it handles, but for SIGKILL from outside.
  child.kill('SIGKILL');
  console.log(`stopped: ${JSON.stringify((await child.wait()).status)}`);
}

void main();
