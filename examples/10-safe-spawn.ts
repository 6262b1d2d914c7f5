// The safe spawn: fork-then-exec done natively, a child handle, typed statuses, errors that say
// which step failed. The C equivalent is a page of fork/dup2/execvp/waitpid with a pipe to carry
// the exec error back.
import { run, spawn, SyscallError } from 'posix-process';

async function main(): Promise<void> {
  // A pipe in both directions, then a typed wait with resource usage.
  {
    await using child = await spawn('sort', [], { stdio: ['pipe', 'pipe', 'inherit'] });
    let sorted = '';
    // stdio says 'pipe': child.stdin and child.stdout are streams, not `| null`.
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (sorted += chunk));
    child.stdin.end('pear\napple\nfig\n');
    // finished(): the exit and the end of every output (wait() alone can come before the last data).
    const { status } = await child.finished();
    console.log(`sort (pid ${child.pid}) ${status.kind} with code ${status.kind === 'exited' ? status.code : '?'}: ${sorted.trim().split('\n').join(', ')}`);
  }

  // run(): spawn, collect, wait. A non-zero exit is a result, not an exception.
  const result = await run('sh', ['-c', 'echo to stdout; echo to stderr >&2; exit 3']);
  console.log(`run: ${JSON.stringify(result.status)}, stdout ${JSON.stringify(result.stdout)}, stderr ${JSON.stringify(result.stderr)}`);

  // Killed by a signal through its pidfd.
  const sleeper = await spawn('sleep', ['30']);
  sleeper.kill('SIGTERM');
  console.log(`sleep: ${JSON.stringify((await sleeper.wait()).status)}`);

  // Node ignores SIGPIPE; our children do not, so `yes | head -1` ends quietly.
  const pipeline = await run('sh', ['-c', 'yes | head -1']);
  console.log(`yes | head -1: ${JSON.stringify(pipeline.stdout)}, stderr ${JSON.stringify(pipeline.stderr)}`);

  // Errors name the step that failed.
  for (const attempt of [
    () => spawn('/no/such/program'),
    () => spawn('true', [], { cwd: '/no/such/dir' }),
    () => spawn('true', [], { stdio: ['ignore', { path: '/no/such/dir/out.txt' }, 'inherit'] }),
  ]) {
    try {
      await attempt();
    } catch (error) {
      if (!(error instanceof SyscallError)) throw error;
      console.log(`failed at ${error.step}: ${error.message}`);
    }
  }
}

void main();
