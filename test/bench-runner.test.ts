// bench/run-all.mjs (npm run bench), run in quick mode on a tiny benchmark of the test's own: the
// shape of what it writes (results.json, chart.svg, README.md), not any speed.
import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from './helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-runner-'));
const benchDir = path.join(dir, 'bench');
const outDir = path.join(dir, 'out');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// A benchmark that reports what it was given: two measures, one with its own ratios.
const tiny = `import { emit, json, quick, row, say } from ${JSON.stringify(path.join(repoRoot, 'bench', '_lib.mjs'))};
say('a note for people');
if (!json || !quick) throw new Error('run without --json --quick');
emit('tiny', [
  row('copy <1 & 2>', 'C', 'MB/s', [100, 110, 90]),
  row('copy <1 & 2>', 'ours', 'MB/s', [50, 60, 55]),
  row('copy <1 & 2>', 'peer', 'MB/s', [200, 190, 210]),
  row('start', 'ours', 'ms', [2, 4], 'peer', [0.5, 0.25]),
  row('start', 'peer', 'ms', [8, 8]),
  row('alone', 'ours', 'threads', [3]),
  row('stall', 'ours', 'ms', [2, 3], 'peer'),
  row('stall', 'peer', 'ms', [800, 900]),
  row('over 10 ms', 'ours', 'launches', [0]),
  row('over 10 ms', 'peer', 'launches', [4]),
  row('counted', 'ours', 'launches', [2], null),
  row('counted', 'peer', 'launches', [4]),
]);
`;

interface Results {
  machine: { cpu: string; date: string } & Record<string, unknown>;
  benchmarks: { name: string; ok: boolean; error?: string; rows: Record<string, unknown>[] }[];
}
const results = (): Results => JSON.parse(fs.readFileSync(path.join(outDir, 'results.json'), 'utf8')) as Results;

function runBench(): child_process.SpawnSyncReturns<string> {
  return child_process.spawnSync(process.execPath, [path.join(repoRoot, 'bench', 'run-all.mjs'), '--quick', '--no-build', '--dir', benchDir, '--out', outDir], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

describe('npm run bench (bench/run-all.mjs --quick)', () => {
  fs.mkdirSync(benchDir);
  fs.writeFileSync(path.join(benchDir, 'tiny.mjs'), tiny);
  fs.writeFileSync(path.join(benchDir, 'broken.mjs'), "console.error('no luck'); process.exit(3);\n");
  fs.writeFileSync(path.join(benchDir, 'nojson.mjs'), "console.log('just words');\n");
  // Not a benchmark: a helper, which must not be run.
  fs.writeFileSync(path.join(benchDir, '_helper.mjs'), `require('fs').writeFileSync(${JSON.stringify(path.join(dir, 'ran'))}, '');\n`);
  const result = runBench();

  it('runs every benchmark, goes on past the failed ones, and says so in its exit code', () => {
    expect(result.status, result.stderr).toBe(1);
    expect(fs.existsSync(path.join(dir, 'ran'))).toBe(false);
    expect(result.stderr).toContain('[tiny] a note for people');
    const { benchmarks } = results();
    expect(benchmarks.map((b) => [b.name, b.ok])).toEqual([['broken', false], ['nojson', false], ['tiny', true]]);
    expect(benchmarks[0]!.error).toMatch(/exited with 3: no luck/);
    expect(benchmarks[1]!.error).toMatch(/not JSON: just words/);
  });

  it('results.json: the machine, and each row with its spread, runs and ratio', () => {
    const { machine, benchmarks } = results();
    expect(machine).toMatchObject({ cores: os.cpus().length, node: process.version, kernel: `${os.type()} ${os.release()}`, quick: true });
    expect(typeof machine.cpu).toBe('string');
    expect(Number.isNaN(Date.parse(machine.date))).toBe(false);
    const rows = benchmarks[2]!.rows;
    expect(rows).toEqual([
      { measure: 'copy <1 & 2>', subject: 'C', unit: 'MB/s', median: 100, min: 90, max: 110, runs: 3, ratio: 1, ratioTo: 'C' },
      { measure: 'copy <1 & 2>', subject: 'ours', unit: 'MB/s', median: 55, min: 50, max: 60, runs: 3, ratio: 0.55, ratioTo: 'C' },
      { measure: 'copy <1 & 2>', subject: 'peer', unit: 'MB/s', median: 200, min: 190, max: 210, runs: 3, ratio: 2, ratioTo: 'C' },
      // the benchmark's own ratio (the median of its per-run ratios) is kept
      { measure: 'start', subject: 'ours', unit: 'ms', median: 3, min: 2, max: 4, runs: 2, ratio: 0.375, ratioTo: 'peer' },
      { measure: 'start', subject: 'peer', unit: 'ms', median: 8, min: 8, max: 8, runs: 2, ratio: 1, ratioTo: 'peer' },
      { measure: 'alone', subject: 'ours', unit: 'threads', median: 3, min: 3, max: 3, runs: 1 },
      { measure: 'stall', subject: 'ours', unit: 'ms', median: 2.5, min: 2, max: 3, runs: 2, ratio: 2.5 / 850, ratioTo: 'peer' },
      { measure: 'stall', subject: 'peer', unit: 'ms', median: 850, min: 800, max: 900, runs: 2, ratio: 1, ratioTo: 'peer' },
      // a reference of 0 (a count): no ratio for any row of the measure
      { measure: 'over 10 ms', subject: 'ours', unit: 'launches', median: 0, min: 0, max: 0, runs: 1 },
      { measure: 'over 10 ms', subject: 'peer', unit: 'launches', median: 4, min: 4, max: 4, runs: 1 },
      // ratioTo: null on a row: no ratio for any row of the measure
      { measure: 'counted', subject: 'ours', unit: 'launches', median: 2, min: 2, max: 2, runs: 1 },
      { measure: 'counted', subject: 'peer', unit: 'launches', median: 4, min: 4, max: 4, runs: 1 },
    ]);
  });

  it('prints one table of every row', () => {
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^benchmark\s+measure\s+subject\s+median\s+spread \(min–max\)\s+runs\s+ratio$/);
    expect(lines.filter((line) => line.startsWith('tiny '))).toHaveLength(12);
    expect(result.stdout).toMatch(/tiny\s+copy <1 & 2>\s+ours\s+55 MB\/s\s+50–60\s+3\s+0\.55x C/);
    expect(result.stdout).toMatch(/broken\s+FAILED/);
    // A small ratio keeps two significant digits.
    expect(result.stdout).toMatch(/tiny\s+stall\s+ours\s+2\.50 ms\s+2–3\s+2\s+0\.0029x peer/);
  });

  it('chart.svg: one bar per row with a ratio, labels escaped, the machine in the title', () => {
    const svg = fs.readFileSync(path.join(outDir, 'chart.svg'), 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    const bars = [...svg.matchAll(/<rect x="\d+" y="[\d.]+" width="([\d.]+)" height="\d+" class="(\w+)"\/>/g)];
    expect(bars.map((bar) => bar[2])).toEqual(['reference', 'ours', 'other', 'ours', 'reference', 'ours', 'reference']);
    // Bars of a measure are to scale: ours 0.55 and peer 2 (the longest) in the first.
    expect(Number(bars[1]![1]) / Number(bars[2]![1])).toBeCloseTo(0.55 / 2, 2);
    expect(svg).toContain('tiny: copy &lt;1 &amp; 2&gt;');
    expect(svg).toContain('ratio to C, higher is better');
    expect(svg).toContain('ratio to peer, lower is better');
    expect(svg).toContain('0.55x · 55 MB/s (50–60, 3 runs)');
    expect(svg).toContain(`Node ${process.version}`);
    expect(svg).toContain('failed, not shown: broken, nojson');
    // Well formed as far as text goes: every text element closed, no raw markup inside one.
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)];
    expect(texts.length).toBe(svg.split('<text').length - 1);
  });

  it('README.md: a table made from the JSON, and the chart', () => {
    const page = fs.readFileSync(path.join(outDir, 'README.md'), 'utf8');
    expect(page).toContain('![chart](chart.svg)');
    expect(page).toContain('A quick run');
    expect(page).toContain('| copy <1 & 2> | ours | 55 MB/s | 50–60 | 3 | 0.55x C |');
    expect(page).toContain('| start | peer | 8 ms | 8–8 | 2 | 1 (reference) |');
    expect(page).toContain('| alone | ours | 3 threads | 3–3 | 1 | — |');
    expect(page).toMatch(/## broken .*\n\nFailed: exited with 3/);
  });
});
