// pipeline()'s validation errors name what the caller wrote (options.stdin, stages[1][2].cwd...),
// never the spawn options the pipeline makes of it, and nothing starts before they are thrown.
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pipeline, type PipelineOptions, type PipelineStage } from '../lib/index';
import { openFds, zombieChildren } from './helpers';

// Stage 0's child opens this file (its stderr) before its exec: it exists only if a stage started.
const marker = `/tmp/pipeline-validation-started-${process.pid}`;
const starter: PipelineStage = ['true', [], { stderr: { path: marker } }];

interface Case {
  what: string;
  stages: readonly unknown[];
  options?: unknown;
  code: string;
  names: string;
  /** The index of the stage the error is about, when it is a stage's. */
  stage?: number;
}

/** A Proxy of an empty array that says its length is 2 ** 32 - 1. */
function hugeProxy(): unknown[] {
  return new Proxy<unknown[]>([], { get: (target, key): unknown => (key === 'length' ? 2 ** 32 - 1 : Reflect.get(target, key)) });
}

const cases: Case[] = [
  { what: 'stages not an array', stages: 'cat' as never, code: 'ERR_INVALID_ARG_TYPE', names: 'stages' },
  { what: 'no stage', stages: [], code: 'ERR_INVALID_ARG_VALUE', names: 'stages' },
  { what: 'a stage not a tuple', stages: [starter, 'cat'], code: 'ERR_INVALID_ARG_VALUE', names: 'stages[1]' },
  { what: 'args not an array', stages: [starter, ['cat', 'x']], code: 'ERR_INVALID_ARG_TYPE', names: 'stages[1][1]' },
  { what: "a stage's options not an object", stages: [starter, ['cat', [], 5]], code: 'ERR_INVALID_ARG_TYPE', names: 'stages[1][2]' },
  { what: "a stage's stdio", stages: [starter, ['cat', [], { stdio: 'inherit' }]], code: 'ERR_INVALID_ARG_VALUE', names: 'stages[1][2].stdio' },
  { what: "a stage's stderr 'pipe'", stages: [starter, ['cat', [], { stderr: 'pipe' }]], code: 'ERR_INVALID_ARG_VALUE', names: 'stages[1][2].stderr' },
  { what: "a stage's stderr not a stdio value", stages: [starter, ['cat', [], { stderr: 'bogus' }]], code: 'ERR_INVALID_ARG_VALUE', names: 'stages[1][2].stderr', stage: 1 },
  { what: "a stage's stderr file with bad flags", stages: [starter, ['cat', [], { stderr: { path: '/dev/null', flags: 'zz' } }]], code: 'ERR_INVALID_ARG_VALUE', names: 'stages[1][2].stderr.flags', stage: 1 },
  { what: "a stage's timeout", stages: [starter, ['cat', [], { timeout: 5 }]], code: 'ERR_INVALID_ARG_VALUE', names: 'stages[1][2].timeout' },
  { what: "a stage's pty", stages: [starter, ['cat', [], { pty: true }]], code: 'ERR_INVALID_ARG_VALUE', names: 'stages[1][2].pty' },
  { what: "a stage's fds 'pipe'", stages: [starter, ['cat', [], { fds: { 3: 'pipe' } }]], code: 'ERR_INVALID_ARG_VALUE', names: 'stages[1][2].fds[3]' },
  { what: "a stage's fds key", stages: [starter, ['cat', [], { fds: { x: 1 } }]], code: 'ERR_OUT_OF_RANGE', names: 'stages[1][2].fds key', stage: 1 },
  { what: "a stage's file", stages: [starter, [5]], code: 'ERR_INVALID_ARG_TYPE', names: 'stages[1][0]', stage: 1 },
  { what: "a stage's argument", stages: [starter, ['cat', ['a', 5]]], code: 'ERR_INVALID_ARG_TYPE', names: 'stages[1][1][1]', stage: 1 },
  { what: "a stage's nice", stages: [starter, ['cat', [], { nice: 100 }]], code: 'ERR_OUT_OF_RANGE', names: 'stages[1][2].nice', stage: 1 },
  { what: "a stage's cwd", stages: [starter, ['cat', [], { cwd: 5 }]], code: 'ERR_INVALID_ARG_TYPE', names: 'stages[1][2].cwd', stage: 1 },
  { what: "a stage's forceKillAfter", stages: [starter, ['cat', [], { forceKillAfter: -1 }]], code: 'ERR_OUT_OF_RANGE', names: 'stages[1][2].forceKillAfter', stage: 1 },
  { what: "a stage's env", stages: [starter, ['cat', [], { env: 5 }]], code: 'ERR_INVALID_ARG_TYPE', names: 'stages[1][2].env', stage: 1 },
  // eslint-disable-next-line no-sparse-arrays -- the hole is the case
  { what: 'a hole among the stages', stages: [starter, , ['cat']], code: 'ERR_INVALID_ARG_VALUE', names: 'stages[1]' },
  { what: 'too many stages', stages: new Array(4097).fill(['cat']), code: 'ERR_OUT_OF_RANGE', names: 'stages.length' },
  { what: 'an empty stage', stages: [starter, []], code: 'ERR_INVALID_ARG_VALUE', names: 'stages[1]' },
  { what: "a stage's argv0", stages: [starter, ['cat', [], { argv0: 5 }]], code: 'ERR_INVALID_ARG_TYPE', names: 'stages[1][2].argv0', stage: 1 },
  { what: "a stage's fd source", stages: [starter, ['cat', [], { fds: { 3: -1 } }]], code: 'ERR_OUT_OF_RANGE', names: 'stages[1][2].fds[3]', stage: 1 },
  { what: "a stage's rlimit", stages: [starter, ['cat', [], { rlimits: { nofile: -1 } }]], code: 'ERR_OUT_OF_RANGE', names: 'stages[1][2].rlimits.nofile[0]', stage: 1 },
  { what: "a stage's uid", stages: [starter, ['cat', [], { uid: -1 }]], code: 'ERR_OUT_OF_RANGE', names: 'stages[1][2].uid', stage: 1 },
  { what: "a stage's pgid with setsid", stages: [starter, ['cat', [], { setsid: true, pgid: 0 }]], code: 'ERR_INVALID_ARG_VALUE', names: 'stages[1][2].pgid', stage: 1 },
  { what: "a stage's contain", stages: [starter, ['cat', [], { contain: 'jail' }]], code: 'ERR_INVALID_ARG_VALUE', names: 'stages[1][2].contain', stage: 1 },
  { what: "stage 0's own option", stages: [['cat', [], { nice: 100 }], starter], code: 'ERR_OUT_OF_RANGE', names: 'stages[0][2].nice', stage: 0 },
  { what: 'options not an object', stages: [starter, ['cat']], options: 5, code: 'ERR_INVALID_ARG_TYPE', names: 'options' },
  { what: 'stdin not a stdio value', stages: [starter, ['cat']], options: { stdin: 'bogus' }, code: 'ERR_INVALID_ARG_VALUE', names: 'options.stdin' },
  { what: 'stdin a negative fd', stages: [starter, ['cat']], options: { stdin: -1 }, code: 'ERR_OUT_OF_RANGE', names: 'options.stdin' },
  { what: 'stdin a file without a path', stages: [starter, ['cat']], options: { stdin: { path: 5 } }, code: 'ERR_INVALID_ARG_TYPE', names: 'options.stdin.path' },
  { what: "stdin 'pipe'", stages: [starter, ['cat']], options: { stdin: 'pipe' }, code: 'ERR_INVALID_ARG_VALUE', names: 'options.stdin' },
  { what: 'stdin with input', stages: [starter, ['cat']], options: { stdin: 'inherit', input: 'x' }, code: 'ERR_INVALID_ARG_VALUE', names: 'options.stdin' },
  { what: 'stdout not a stdio value', stages: [starter, ['cat']], options: { stdout: 'bogus' }, code: 'ERR_INVALID_ARG_VALUE', names: 'options.stdout' },
  { what: 'stdout a file with bad flags', stages: [starter, ['cat']], options: { stdout: { path: '/dev/null', flags: 'zz' } }, code: 'ERR_INVALID_ARG_VALUE', names: 'options.stdout.flags' },
  { what: 'stdout a file with a bad mode', stages: [starter, ['cat']], options: { stdout: { path: '/dev/null', mode: -1 } }, code: 'ERR_OUT_OF_RANGE', names: 'options.stdout.mode' },
  { what: 'input of a bad type', stages: [starter, ['cat']], options: { input: 5 }, code: 'ERR_INVALID_ARG_TYPE', names: 'options.input' },
  { what: 'signal not an AbortSignal', stages: [starter, ['cat']], options: { signal: {} }, code: 'ERR_INVALID_ARG_TYPE', names: 'options.signal' },
  { what: 'timeout', stages: [starter, ['cat']], options: { timeout: -1 }, code: 'ERR_OUT_OF_RANGE', names: 'options.timeout' },
  { what: 'pipefail', stages: [starter, ['cat']], options: { pipefail: 1 }, code: 'ERR_INVALID_ARG_TYPE', names: 'options.pipefail' },
  { what: 'check', stages: [starter, ['cat']], options: { check: 'yes' }, code: 'ERR_INVALID_ARG_TYPE', names: 'options.check' },
  { what: 'maxBuffer', stages: [starter, ['cat']], options: { maxBuffer: -1 }, code: 'ERR_OUT_OF_RANGE', names: 'options.maxBuffer' },
  { what: 'encoding', stages: [starter, ['cat']], options: { encoding: 'nope' }, code: 'ERR_INVALID_ARG_VALUE', names: 'options.encoding' },
  { what: 'lines', stages: [starter, ['cat']], options: { lines: 1 }, code: 'ERR_INVALID_ARG_TYPE', names: 'options.lines' },
  { what: 'killSignal', stages: [starter, ['cat']], options: { killSignal: 1.5 }, code: 'ERR_OUT_OF_RANGE', names: 'options.killSignal' },
  // Each of these walked the whole array (minutes, then a fatal V8 error) before refusing it.
  { what: "a stage's args of length 2 ** 32 - 1", stages: [starter, ['cat', new Array(2 ** 32 - 1)]], code: 'ERR_OUT_OF_RANGE', names: 'stages[1][1].length' },
  { what: "a stage's args a Proxy of length 2 ** 32 - 1", stages: [starter, ['cat', hugeProxy()]], code: 'ERR_OUT_OF_RANGE', names: 'stages[1][1].length' },
  { what: "a stage's file a Proxy of length 2 ** 32 - 1", stages: [starter, [hugeProxy()]], code: 'ERR_INVALID_ARG_TYPE', names: 'stages[1][0]', stage: 1 },
];

/** The argument an error message names (the formats of lib/errors.ts, which are Node's). */
function named(message: string): string | undefined {
  return /(?:The "|The value of "|The argument ')(.*?)(?:" argument |" is out of range|' )/su.exec(message)?.[1];
}

describe('pipeline() validation', () => {
  it.each(cases)('$what: $code naming $names, and nothing starts', async ({ stages, options, code, names, stage }) => {
    const before = openFds();
    fs.rmSync(marker, { force: true });
    const error = await pipeline(stages as PipelineStage[], options as PipelineOptions).then(
      () => null,
      (thrown: unknown) => thrown as Error & { code?: string; stage?: number },
    );
    const started = fs.existsSync(marker);
    fs.rmSync(marker, { force: true });
    expect(error).toBeInstanceOf(Error);
    expect(error!.code).toBe(code);
    expect(named(error!.message)).toBe(names);
    // Only a stage's own option carries the stage; the pipeline's options (stdin, stdout) do not.
    expect(error!.stage).toBe(stage);
    if (stage !== undefined) expect(error!.message).toMatch(new RegExp(`^pipeline stage ${stage} \\(`, 'u'));
    expect(started).toBe(false);
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });

  it('the error of the first stage (also the last) names options.stdin and options.stdout', async () => {
    for (const [options, names] of [
      [{ stdin: 'bogus' }, 'options.stdin'],
      [{ stdout: 'bogus' }, 'options.stdout'],
      [{ stdin: { path: '/dev/null', flags: 'zz' } }, 'options.stdin.flags'],
    ] as const) {
      const error = await pipeline([['cat']], options as never).then(
        () => null,
        (thrown: unknown) => thrown as Error,
      );
      expect(named(error!.message)).toBe(names);
    }
  });

  it("a stage's error shows its first 32 arguments and counts the rest; a file or argument of another type shows as its type", async () => {
    const many = Array.from({ length: 40 }, (_, i) => `a${i}`);
    const error = (await pipeline([starter, ['cat', many, { nice: 100 }]]).catch((thrown: unknown) => thrown)) as Error & { stageCommand: string };
    expect(error.stageCommand).toBe(`cat ${many.slice(0, 32).join(' ')} ... (8 more arguments)`);
    const odd = (await pipeline([starter, [{ toString: () => 'x' }, ['a', { toString: () => 'y' }]]] as unknown as PipelineStage[]).catch((thrown: unknown) => thrown)) as Error & { stageCommand: string };
    expect(odd.stageCommand).toBe("'<object>' a '<object>'");
  });

  it('an aborted signal rejects with an AbortError before any stage starts, as spawn and run do', async () => {
    const before = openFds();
    fs.rmSync(marker, { force: true });
    const reason = new Error('stop');
    const error = await pipeline([starter, ['cat']], { signal: AbortSignal.abort(reason) }).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    const started = fs.existsSync(marker);
    fs.rmSync(marker, { force: true });
    expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: reason });
    expect(started).toBe(false);
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });
});

describe("pipeline(): a stage's options read once", () => {
  it('what the check of every stage saw is what its spawn runs: a getter in args, env or fds is read once', async () => {
    const before = openFds();
    const reads = { args: 0, env: 0, fds: 0 };
    const args = ['-c', 'cat; echo "$A"'];
    Object.defineProperty(args, 2, { enumerable: true, get: () => (reads.args++ === 0 ? 'x' : 'x\0') });
    const env = {
      get A() {
        return reads.env++ === 0 ? 'a' : 'a\0';
      },
    };
    const fds = {
      get 3() {
        return reads.fds++ === 0 ? 2 : -1;
      },
    };
    const result = await pipeline([['echo', ['y']], ['sh', args, { env, fds }]]);
    expect(result.stdout).toBe('y\na\n');
    expect(reads).toEqual({ args: 1, env: 1, fds: 1 });
    expect(openFds()).toEqual(before);
    expect(zombieChildren()).toEqual([]);
  });
});
