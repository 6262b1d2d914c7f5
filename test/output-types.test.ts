// The types of issue 15, checked with tsc: test/types/output-types.ts compiles (an exhaustive
// switch over the status, piped streams without `!`), and what the types must refuse is refused.
import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from './helpers';

const dir = fs.mkdtempSync(path.join(repoRoot, 'test', 'types', 'tmp-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** tsc's diagnostics for `files` (with the repository's compiler options), '' when they compile. */
function compile(files: string[]): string {
  const config = path.join(dir, `tsconfig-${path.basename(files[0]!)}.json`);
  fs.writeFileSync(config, JSON.stringify({ extends: '../../../tsconfig.json', include: [], files }));
  const result = child_process.spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', config], { cwd: repoRoot, encoding: 'utf8' });
  return result.stdout + result.stderr;
}

describe('types that follow the options', () => {
  it('compiles the exhaustive switch and the piped streams without `!`', () => {
    expect(compile([path.join(repoRoot, 'test', 'types', 'output-types.ts')])).toBe('');
  }, 120_000);

  it('refuses a stream that is not piped, a status case that cannot happen, and a Buffer where a string comes', () => {
    const file = path.join(dir, 'refused.ts');
    fs.writeFileSync(
      file,
      [
        "import { run, spawn } from '../../../lib/index';",
        'export async function refused(): Promise<void> {',
        "  const child = await spawn('true', [], { stdio: ['ignore', 'inherit', 'pipe'] });",
        '  child.stdout.resume();', // line 4: stdout is null
        '  const { status } = await child.wait();',
        "  if (status.kind === 'stopped') return;", // line 6: no such case
        "  const bytes: Buffer = (await run('true')).stdout;", // line 7: a string by default
        '  void bytes;',
        "  const other = await spawn('true', [], { fds: { 3: 4 } });",
        '  other.stdio[3].resume();', // line 10: fd 3 is not a pipe: possibly null
        '}',
        "import { pipeline, runSync, type PipelineOptions, type RunOptions } from '../../../lib/index';",
        'export async function wide(flag: boolean, options: RunOptions, piped: PipelineOptions): Promise<void> {',
        "  const a: string = (await run('ls', [], { lines: flag })).stdout;", // line 14: lines may be true
        "  const b: string = (await run('ls', [], options)).stdout;", // line 15: any of the three
        "  const c: undefined = (await run('ls', [], options)).all;", // line 16: all may be true
        "  const d: string = (await pipeline([['ls']], piped)).stdout;", // line 17: stdout may go elsewhere
        "  const e: string = runSync('ls', [], { encoding: flag ? 'buffer' : 'utf8' }).stdout;", // line 18
        '  void [a, b, c, d, e];',
        '}',
        'export function notForRunSync(): void {',
        "  runSync('ls', [], { timeout: 100, contain: true });", // line 22: a key runSync refuses
        "  runSync('ls', [], { pty: true });", // line 23
        "  runSync('ls', [], { timeout: 100, stdin: 'inherit', encoding: 'buffer', maxBuffer: 10, check: true, all: false, forceKillAfter: false });",
        '}',
      ].join('\n'),
    );
    const errors = compile([file]);
    expect(errors).toMatch(/refused\.ts\(4,\d+\): error TS18047: 'child\.stdout' is possibly 'null'|refused\.ts\(4,\d+\): error TS2531/);
    expect(errors).toMatch(/refused\.ts\(6,\d+\): error TS2367/);
    expect(errors).toMatch(/refused\.ts\(7,\d+\): error TS2322: Type 'string' is not assignable to type 'Buffer/);
    expect(errors).toMatch(/refused\.ts\(10,\d+\): error TS(18047|2531|2533|2339)/);
    // Options whose type is not one literal: the result's type is every output they may give.
    expect(errors).toMatch(/refused\.ts\(14,\d+\): error TS2322: Type 'string \| string\[\]' is not assignable to type 'string'/);
    expect(errors).toMatch(/refused\.ts\(15,\d+\): error TS2322: Type 'string \| string\[\] \| Buffer/);
    expect(errors).toMatch(/refused\.ts\(16,\d+\): error TS2322: Type 'string \| string\[\] \| Buffer<ArrayBufferLike> \| undefined' is not assignable to type 'undefined'/);
    expect(errors).toMatch(/refused\.ts\(17,\d+\): error TS2322: Type 'string \| string\[\] \| Buffer<ArrayBufferLike> \| undefined' is not assignable to type 'string'/);
    expect(errors).toMatch(/refused\.ts\(18,\d+\): error TS2322: Type 'string \| Buffer/);
    // runSync's options: a key it refuses at run time is refused by the types too.
    expect(errors).toMatch(/refused\.ts\(22,\d+\): error TS2322: Type '(boolean|true)' is not assignable to type 'never'/);
    expect(errors).toMatch(/refused\.ts\(23,\d+\): error TS2353: Object literal may only specify known properties, and 'pty' does not exist/);
    expect(errors).not.toMatch(/refused\.ts\(24,/);
  }, 120_000);
});
