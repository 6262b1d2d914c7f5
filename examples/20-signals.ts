// Signals delivered to JavaScript with who sent them, an ignored signal, and SIGTERM to a whole
// process group. In C: sigaction(SA_SIGINFO) and si_pid, signal(SIGHUP, SIG_IGN), killpg().
import { spawn, spawnSync } from 'node:child_process';
import { children, getpid, ignoreSignal, kill, killpg, onSignal, sigqueue, SyscallError } from 'posix-process';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  // Like Node's process.on('SIGxxx'), signal handlers do not keep the process alive: this timer
  // does, until the end of the tour stop.
  const keepAlive = setInterval(() => {}, 1000);

  // 1. A handler that prints the sender's pid: kill(1) in a child process sends SIGUSR2 to us.
  const received = new Promise<void>((resolve) => {
    const remove = onSignal('SIGUSR2', (event) => {
      console.log(`handler: ${event.signal} from pid ${event.pid} (uid ${event.uid}, ${event.codeName})`);
      remove();
      resolve();
    });
  });
  const sender = spawnSync('kill', ['-USR2', String(getpid())]);
  await received;
  console.log(`the sender was kill(1), pid ${sender.pid}`);

  // 2. sigqueue carries an integer to the handler (a real-time signal: each send is queued).
  const values: number[] = [];
  const removeQueued = onSignal('SIGRTMIN+1', (event) => values.push(event.value ?? NaN));
  for (const value of [7, 8, 9]) sigqueue(getpid(), 'SIGRTMIN+1', value);
  while (values.length < 3) await sleep(5);
  removeQueued();
  console.log(`sigqueue values received: ${values.join(', ')}`);

  // 3. An ignored signal: SIGHUP would end the process, but now nothing happens.
  ignoreSignal('SIGHUP');
  kill(getpid(), 'SIGHUP');
  await sleep(50);
  console.log('SIGHUP ignored: still running');

  // 4. SIGTERM to a process group: a shell and its two sleeps, in a new group (detached).
  const leader = spawn('sh', ['-c', 'sleep 30 & sleep 30 & wait'], { detached: true, stdio: 'ignore' });
  await new Promise((resolve) => leader.once('spawn', resolve));
  while (children(leader.pid!).length < 2) await sleep(5);
  console.log(`group ${leader.pid}: the shell and ${children(leader.pid!).length} sleeps`);
  const exited = new Promise<string | null>((resolve) => leader.once('exit', (_code, signal) => resolve(signal)));
  killpg(leader.pid!, 'SIGTERM');
  console.log(`killpg(${leader.pid}, SIGTERM): the shell ended by ${await exited}`);
  for (;;) {
    try {
      killpg(leader.pid!, 0);
      await sleep(5);
    } catch (error) {
      if (!(error instanceof SyscallError)) throw error;
      console.log(`killpg(${leader.pid}, 0): ${error.code}: the whole group is gone`);
      break;
    }
  }
  clearInterval(keepAlive);
}

void main();
