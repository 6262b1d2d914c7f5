// Compiled by test/output-types.test.ts (and by `npm run typecheck`): the types follow the
// options, so none of this needs a `!` or a cast.
import { pipeline, run, runSync, spawn, type ChildProcess, type EndStatus } from '../../lib/index';

/** Exhaustive over the status of a child that has ended: exited and signaled are all there is. */
export function describeStatus(status: EndStatus): string {
  switch (status.kind) {
    case 'exited':
      return `code ${status.code}`;
    case 'signaled':
      return `signal ${status.signal}`;
    default: {
      const impossible: never = status;
      return impossible;
    }
  }
}

export async function typedStreams(): Promise<string> {
  const child = await spawn('cat', [], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.end('x'); // Writable, not Writable | null
  child.stdout.setEncoding('utf8'); // Readable
  const stderr: null = child.stderr; // 'inherit': known to be null
  void stderr;
  const all = await spawn('cat', [], { stdio: 'pipe' });
  all.stderr.resume();
  const { status } = await child.finished();
  return describeStatus(status);
}

/** `fds: {N: 'pipe'}` makes `child.stdio[N]` a Duplex; stdio[0..2] follow the stdio option. */
export async function typedExtraFds(): Promise<void> {
  const child = await spawn('sh', ['-c', 'echo hi >&3'], { stdio: ['ignore', 'pipe', 'inherit'], fds: { 3: 'pipe', 4: 1 } });
  child.stdio[3].setEncoding('utf8'); // Duplex, not Duplex | null
  child.stdio[3].end();
  child.stdio[1].resume(); // stdout: Readable
  const stderr: null = child.stdio[2];
  void stderr;
}

/** A handle with typed streams is still a plain ChildProcess (a helper can return either). */
export async function plainHandle(): Promise<ChildProcess> {
  const child = await spawn('cat', [], { stdio: ['ignore', 'pipe', 'inherit'] });
  return child;
}

export async function typedResults(): Promise<number> {
  const text: string = (await run('echo', ['hi'])).stdout;
  const bytes: Buffer = (await run('echo', ['hi'], { encoding: 'buffer' })).stdout;
  const lines: string[] = (await run('ls', [], { lines: true })).stdout;
  const merged: string = (await run('ls', [], { all: true })).all;
  const sync: string = runSync('echo').stderr;
  const piped: string[] = (await pipeline([['ls'], ['sort']], { lines: true })).stdout;
  return text.length + bytes.length + lines.length + merged.length + sync.length + piped.length + describeStatus((await run('true')).status).length;
}

/** Options whose type is wider than one literal: the result says every output they may give. */
export async function wideResults(flag: boolean): Promise<number> {
  const maybeLines: string | string[] = (await run('ls', [], { lines: flag })).stdout;
  const maybeAll: string | undefined = (await run('ls', [], { all: flag })).all;
  const maybeBytes: string | Buffer = runSync('ls', [], { encoding: flag ? 'buffer' : 'utf8' }).stdout;
  const maybePiped: string | undefined = (await pipeline([['ls']], { stdout: flag ? 'pipe' : 'inherit' })).stdout;
  return maybeLines.length + (maybeAll?.length ?? 0) + maybeBytes.length + (maybePiped?.length ?? 0);
}
