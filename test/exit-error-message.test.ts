// ExitError's message and fields for what a person reads first: a child the library killed (its
// timeout, an abort) says so, `shortMessage` is the first line, and the end of a Buffer output
// starts at a character.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitError, pipeline, run, runSync } from '../lib/index';
import { openFds, until, zombieChildren } from './helpers';

describe('ExitError for a child the library killed', () => {
  it('run, runSync and pipeline: a timeout says "timed out", not only the signal the library sent', async () => {
    const before = openFds();
    const expected = { name: 'ExitError', killedBy: 'timeout', signal: 'SIGTERM', message: expect.stringMatching(/^Command timed out after \d+ ms \(signal SIGTERM\): sleep 30$/) as string };
    // run's and pipeline's timeout also bound the spawn: long enough for it to have ended (a
    // spawn cut short by it rejects with ETIMEDOUT instead).
    await expect(run('sleep', ['30'], { timeout: 500, check: true })).rejects.toMatchObject(expected);
    expect(() => runSync('sleep', ['30'], { timeout: 100, check: true })).toThrow(expect.objectContaining(expected));
    await expect(pipeline([['sleep', ['30']], ['cat']], { timeout: 500, check: true, pipefail: true })).rejects.toMatchObject({
      killedBy: 'timeout',
      message: expect.stringMatching(/^Command timed out after \d+ ms \(signal SIGTERM\): sleep 30 \| cat$/) as string,
    });
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('an abort says "was aborted"; a child that failed on its own has killedBy null and the usual message', async () => {
    const controller = new AbortController();
    const started = path.join(os.tmpdir(), `posix-process-exit-error-${process.pid}`);
    const running = run('sh', ['-c', 'touch "$0"; exec sleep 30', started], { signal: controller.signal, check: true });
    // Aborted once the child runs (an abort during the spawn rejects with an AbortError).
    await until(() => fs.existsSync(started));
    fs.rmSync(started);
    controller.abort();
    await expect(running).rejects.toMatchObject({ killedBy: 'abort', message: expect.stringMatching(/^Command was aborted after \d+ ms \(signal SIGTERM\): sh -c/) as string });
    const failed = (await run('sh', ['-c', 'echo bad >&2; exit 3'], { check: true }).catch((error: unknown) => error)) as ExitError;
    expect(failed).toMatchObject({ killedBy: null, shortMessage: `Command failed with exit code 3 after ${Math.round(failed.durationMs)} ms: sh -c 'echo bad >&2; exit 3'` });
    expect(failed.message).toBe(`${failed.shortMessage}\nstderr (end):\nbad`);
    expect(zombieChildren()).toEqual([]);
  });
});

describe('ExitError of a pipeline', () => {
  it('with pipefail, pid is that of the stage whose status it has (it was the last stage’s)', async () => {
    const error = (await pipeline([['false'], ['cat']], { pipefail: true, check: true }).catch((caught: unknown) => caught)) as ExitError & { result: { pids: number[] } };
    expect(error).toMatchObject({ name: 'ExitError', exitCode: 1, killedBy: null });
    expect(error.pid).toBe(error.result.pids[0]);
  });
});

describe("pipeline's maxBuffer error", () => {
  it('has every stage’s status and wait result, as run’s has its status (it had only its code)', async () => {
    const error = (await pipeline([['yes'], ['cat', ['-', '/dev/zero']]], { maxBuffer: 1000 }).catch((caught: unknown) => caught)) as Record<string, unknown>;
    expect(error).toMatchObject({ code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', killedBy: 'maxBuffer' });
    expect(error.statuses).toHaveLength(2);
    expect((error.statuses as unknown[])[1]).toMatchObject({ kind: 'signaled', signal: 'SIGTERM' });
    expect((error.results as unknown[])[1]).toMatchObject({ killedBy: 'maxBuffer' });
    expect(zombieChildren()).toEqual([]);
  });
});

describe('ExitError built by hand', () => {
  it('the end of a Buffer output starts at a whole character (a cut one gave U+FFFD)', () => {
    // 4000 bytes from the end of these 6001 falls on the second byte of an 'é'.
    const stderr = Buffer.from(`${'é'.repeat(3000)}x`);
    const error = new ExitError({ command: 'c', pid: 1, status: { kind: 'exited', code: 1 }, stderr, durationMs: 1, result: {} });
    expect(error.message.split('\n')[2]).toBe(`${'é'.repeat(1999)}x`);
    expect(error.killedBy).toBeNull();
  });

  it.each<[string, unknown]>([
    ['stdout', 5],
    ['stderr', Symbol('s')],
    ['all', {}],
    ['stdout', 5n],
    ['stderr', Object.create(null)],
    ['stdout', ['line', Symbol('x')]],
    ['all', ['line', 7]],
  ])('details.%s of the wrong type is a coded TypeError (it was a bare TypeError from inside the message)', (key, value) => {
    const details = { command: 'c', pid: 1, status: { kind: 'exited', code: 1 }, durationMs: 1, result: {}, [key]: value };
    expect(() => new ExitError(details as never)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }) as Error);
  });

  it('a Uint8Array output is shown like a Buffer', () => {
    const error = new ExitError({ command: 'c', pid: 1, status: { kind: 'exited', code: 1 }, stderr: new TextEncoder().encode('oops\n') as Buffer, durationMs: 1, result: {} });
    expect(error.message).toBe('Command failed with exit code 1 after 1 ms: c\nstderr (end):\noops');
  });

  it("reads the status's kind, code and signal once: a getter that answers differently cannot make an exit read as a signal", () => {
    let reads = 0;
    const status = {
      get kind() {
        reads++;
        return reads === 1 ? 'exited' : 'signaled';
      },
      code: 3,
      signal: 'SIGTERM',
    };
    const error = new ExitError({ command: 'c', pid: 1, status: status as never, durationMs: 1, result: {} });
    expect(reads).toBe(1);
    expect(error.message).toBe('Command failed with exit code 3 after 1 ms: c');
    expect({ exitCode: error.exitCode, signal: error.signal }).toEqual({ exitCode: 3, signal: null });
  });

  it('killedBy other than timeout and abort names the reason', () => {
    const error = new ExitError({ command: 'c', pid: 1, status: { kind: 'signaled', signal: 'SIGKILL', signo: 9, coreDumped: false }, durationMs: 2, killedBy: 'dispose', result: {} });
    expect(error.message).toBe('Command was stopped (dispose) after 2 ms (signal SIGKILL): c');
  });
});

describe('the command line of a result and an ExitError', () => {
  it('is one line without control characters, and bash reads every word back as it was (a newline or an escape sequence was printed raw)', async () => {
    const words = ['', 'a b', "it's", 'new\nline', 'tab\there', 'cr\r', '$HOME', '*', '~', '#x', '-n', 'ü', 'esc\u001b[31m', 'c1\u009b', "both'\n\\", 'x,y', '!'];
    const { command } = await run('printf', ['%s|', ...words]);
    // eslint-disable-next-line no-control-regex -- control characters are what must not be there
    expect(command).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/u);
    expect(command).toContain("$'new\\nline'");
    const { stdout } = await run('bash', ['-c', command], { env: { LC_ALL: 'C' } });
    expect(stdout).toBe(`${words.join('|')}|`);
  });
});
