// Runs every benchmark of the project (issue 19), one after another, and gathers their figures:
//   npm run bench [-- --quick] [--only spawn,wait] [--dir bench] [--out docs/bench] [--no-build]
// A benchmark is bench/<name>.mjs (not run-all.mjs, not a name starting with '_'), run as
// `node bench/<name>.mjs --json [--quick]`; its last line of stdout is `{ name, rows }` (the
// row fields are in bench/_lib.mjs). This prints one table (measure, subject, median,
// spread, runs, ratio) and writes, into --out: results.json (the rows and the machine),
// chart.svg (the ratios, one group of bars a measure) and README.md (the table, made from the
// JSON). A benchmark that fails is reported and the others still run; the exit code is then 1.
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.join(path.dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(name);
  return index === -1 ? fallback : args[index + 1];
};
const quick = args.includes('--quick');
const benchDir = path.resolve(option('--dir', path.join(root, 'bench')));
const outDir = path.resolve(option('--out', path.join(root, 'docs', 'bench')));
const only = option('--only')?.split(',');
// A benchmark that takes longer than this is stopped and reported as failed.
const timeoutMs = Number(process.env.BENCH_TIMEOUT_MS ?? (quick ? 10 : 60) * 60_000);

function discover() {
  return fs
    .readdirSync(benchDir)
    .filter((file) => file.endsWith('.mjs') && !file.startsWith('_') && file !== 'run-all.mjs')
    .map((file) => ({ name: file.slice(0, -'.mjs'.length), file: path.join(benchDir, file) }))
    .filter(({ name }) => only === undefined || only.includes(name))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The machine the figures come from. */
function machine() {
  const cpus = os.cpus();
  let commit;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    commit = undefined;
  }
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    arch: process.arch,
    node: process.version,
    date: new Date().toISOString(),
    loadAverage: os.loadavg().map((load) => Number(load.toFixed(2))),
    commit,
  };
}

/** Runs one benchmark with --json; resolves with its rows, or with the reason it failed. */
function runOne({ name, file }) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file, '--json', ...(quick ? ['--quick'] : [])], {
      cwd: root,
      env: { ...process.env, ...(quick ? { BENCH_QUICK: '1' } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderrTail = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      process.stderr.write(chunk.replace(/^(?=.)/gm, `  [${name}] `));
      stderrTail = (stderrTail + chunk).slice(-2000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      const fail = (error) => resolve({ name, ok: false, seconds, error, rows: [] });
      if (code !== 0) return fail(`exited with ${signal ?? code}${signal === 'SIGKILL' ? ` (over ${timeoutMs / 60_000} min?)` : ''}: ${stderrTail.trim().split('\n').slice(-3).join(' / ')}`);
      const last = stdout.trim().split('\n').pop() ?? '';
      let parsed;
      try {
        parsed = JSON.parse(last);
      } catch {
        return fail(`its last line of stdout is not JSON: ${last.slice(0, 200)}`);
      }
      const problem = checkRows(parsed);
      if (problem !== undefined) return fail(problem);
      resolve({ name, ok: true, seconds, rows: withRatios(parsed.rows) });
    });
  });
}

/** What is wrong with a benchmark's JSON, if anything. */
function checkRows(parsed) {
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray(parsed.rows)) return 'its JSON has no rows array';
  for (const [i, row] of parsed.rows.entries()) {
    for (const key of ['measure', 'subject', 'unit']) if (typeof row[key] !== 'string') return `rows[${i}].${key} is not a string`;
    for (const key of ['median', 'min', 'max']) if (typeof row[key] !== 'number' || !Number.isFinite(row[key])) return `rows[${i}].${key} is not a finite number`;
    if (!Number.isInteger(row.runs) || row.runs < 1) return `rows[${i}].runs is not a positive integer`;
    if (row.ratio !== undefined && (typeof row.ratio !== 'number' || !Number.isFinite(row.ratio))) return `rows[${i}].ratio is not a finite number`;
  }
  return undefined;
}

/**
 * Every row of a measure gets a ratio to one reference subject: the benchmark's own `ratio` and
 * `ratioTo` when it gives them (measured side by side), else median / the reference's median,
 * the reference being the `ratioTo` of the row or of another row of the same measure, else 'C',
 * else 'ours'. Rows of a measure
 * with no reference, whose reference's median is 0, or with a row whose ratioTo is null, have none.
 */
function withRatios(rows) {
  return rows.map((row) => {
    const same = rows.filter((other) => other.measure === row.measure);
    if (same.length === 1) return { ...row }; // nothing to compare with
    if (same.some((other) => other.ratioTo === null)) return { ...row, ratio: undefined, ratioTo: undefined }; // a count: no ratios
    const named = row.ratioTo ?? same.find((other) => other.ratioTo !== undefined)?.ratioTo;
    const referenceName = named ?? ['C', 'ours'].find((subject) => same.some((other) => other.subject === subject));
    const reference = same.find((other) => other.subject === referenceName);
    // A count that is 0 for the reference (launches above a limit...) has no ratios at all.
    if (reference !== undefined && reference.median === 0 && row.ratio === undefined) return { ...row };
    if (row.ratio !== undefined) return { ...row, ratioTo: referenceName };
    if (referenceName === undefined) return { ...row };
    if (referenceName === row.subject) return { ...row, ratio: 1, ratioTo: referenceName };
    if (reference === undefined) return { ...row };
    return { ...row, ratio: row.median / reference.median, ratioTo: referenceName };
  });
}

// Formatting shared by the table, the page and the chart.
const figure = (value) => (Number.isInteger(value) ? String(value) : Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 10 ? value.toFixed(1) : value.toFixed(2));
const spread = (row) => `${figure(row.min)}–${figure(row.max)}`;
const higherIsBetter = (unit) => /\/s$/.test(unit);
// Two decimals, or two significant digits below 0.1 (ours 2 ms against child_process 800 ms).
const ratioFigure = (ratio) => (ratio >= 0.1 ? ratio.toFixed(2) : ratio === 0 ? '0' : ratio.toPrecision(2));
const ratioText = (row) => (row.ratio === undefined ? '—' : row.subject === row.ratioTo ? '1 (reference)' : `${ratioFigure(row.ratio)}x ${row.ratioTo}`);

function printTable(results) {
  const lines = [['benchmark', 'measure', 'subject', 'median', 'spread (min–max)', 'runs', 'ratio']];
  for (const result of results) {
    if (!result.ok) lines.push([result.name, 'FAILED', result.error, '', '', '', '']);
    for (const row of result.rows) lines.push([result.name, row.measure, row.subject, `${figure(row.median)} ${row.unit}`, spread(row), String(row.runs), ratioText(row)]);
  }
  const widths = lines[0].map((_, column) => Math.min(60, Math.max(...lines.map((line) => line[column].length))));
  for (const [i, line] of lines.entries()) {
    console.log(line.map((cell, column) => (column === 3 || column === 5 ? cell.padStart(widths[column]) : cell.padEnd(widths[column]))).join('  ').trimEnd());
    if (i === 0) console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  }
}

const escapeXml = (text) => String(text).replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]);

/** Horizontal bars of the ratios, one group a measure, each scaled to its own largest ratio. */
export function chartSvg(results, facts) {
  const width = 980;
  const labelWidth = 290;
  const barWidth = 330;
  const rowHeight = 20;
  const parts = [];
  let y = 80;
  for (const result of results) {
    const measures = [...new Set(result.rows.filter((row) => row.ratio !== undefined).map((row) => row.measure))];
    for (const measure of measures) {
      const rows = result.rows.filter((row) => row.measure === measure && row.ratio !== undefined);
      const reference = rows.find((row) => row.subject === row.ratioTo)?.subject ?? rows[0].ratioTo;
      const better = higherIsBetter(rows[0].unit) ? 'higher is better' : 'lower is better';
      parts.push(`<text x="10" y="${y}" class="measure">${escapeXml(`${result.name}: ${measure}`)}</text>`);
      parts.push(`<text x="${width - 10}" y="${y}" class="note" text-anchor="end">${escapeXml(`ratio to ${reference}, ${better}`)}</text>`);
      y += 8;
      const top = y;
      const firstOfGroup = parts.length;
      const largest = Math.max(1, ...rows.map((row) => row.ratio));
      for (const row of rows) {
        const length = Math.max(1, (row.ratio / largest) * barWidth);
        const kind = row.subject === 'ours' ? 'ours' : row.subject === row.ratioTo ? 'reference' : 'other';
        parts.push(`<text x="${labelWidth - 8}" y="${y + 14}" text-anchor="end">${escapeXml(row.subject)}</text>`);
        parts.push(`<rect x="${labelWidth}" y="${y + 3}" width="${length.toFixed(1)}" height="${rowHeight - 6}" class="${kind}"/>`);
        const label = `${ratioFigure(row.ratio)}x · ${figure(row.median)} ${row.unit} (${spread(row)}, ${row.runs} run${row.runs === 1 ? '' : 's'})`;
        parts.push(`<text x="${labelWidth + length + 6}" y="${y + 14}" class="value">${escapeXml(label)}</text>`);
        y += rowHeight;
      }
      // The 1x line goes under the bars and labels of its group.
      const one = labelWidth + (1 / largest) * barWidth;
      parts.splice(firstOfGroup, 0, `<line x1="${one.toFixed(1)}" y1="${top}" x2="${one.toFixed(1)}" y2="${y + 2}" class="one"/>`);
      y += 22;
    }
  }
  const failed = results.filter((result) => !result.ok).map((result) => result.name);
  if (failed.length > 0) {
    parts.push(`<text x="10" y="${y}" class="note">${escapeXml(`failed, not shown: ${failed.join(', ')}`)}</text>`);
    y += 20;
  }
  const title = `npm run bench${facts.quick ? ' --quick (a smoke test, not a measurement)' : ''}, ${facts.date.slice(0, 10)}`;
  const machineLine = `${facts.cpu}, ${facts.cores} cores, ${facts.kernel}, Node ${facts.node}${facts.commit ? `, commit ${facts.commit}` : ''}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif" font-size="12">
<style>
  text { fill: #222; } .title { font-size: 14px; font-weight: bold; } .measure { font-weight: bold; }
  .note, .value { fill: #555; font-size: 11px; } .one { stroke: #888; stroke-dasharray: 3 3; }
  .ours { fill: #d9480f; } .reference { fill: #868e96; } .other { fill: #4c6ef5; }
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="22" class="title">${escapeXml(title)}</text>
<text x="10" y="40" class="note">${escapeXml(machineLine)}</text>
<text x="10" y="56" class="note">Each bar: median ratio to the reference subject of its measure (dashed line: 1x); after it the median, the spread min–max and the number of runs.</text>
${parts.join('\n')}
</svg>
`;
}

/** docs/bench/README.md: the machine and one table a benchmark, made from results.json. */
export function resultsPage(results, facts) {
  const lines = [
    '# Benchmark results',
    '',
    `Made by \`npm run bench${facts.quick ? ' -- --quick' : ''}\` (bench/run-all.mjs) from [results.json](results.json); do not edit by hand.`,
    facts.quick ? '**A quick run: fewer rounds and runs, a smoke test of the benchmarks, not a measurement.**' : '',
    '',
    `Machine: ${facts.cpu}, ${facts.cores} cores, ${facts.memoryGB} GB, ${facts.kernel} (${facts.arch}); Node ${facts.node}; ` +
      `${facts.date}; load average ${facts.loadAverage.join(', ')} at the start${facts.commit ? `; commit ${facts.commit}` : ''}.`,
    '',
    'Compare ratios, measured side by side in one run, not absolute figures across runs or machines.',
    'Spread is the lowest and highest of the runs; a ratio is to the reference subject of its measure.',
    '',
    '![chart](chart.svg)',
    '',
  ];
  for (const result of results) {
    lines.push(`## ${result.name} (bench/${result.name}.mjs, ${result.seconds} s)`, '');
    if (!result.ok) {
      lines.push(`Failed: ${result.error}`, '');
      continue;
    }
    lines.push('| measure | subject | median | spread (min–max) | runs | ratio |', '| --- | --- | ---: | --- | ---: | --- |');
    for (const row of result.rows) {
      lines.push(`| ${[row.measure, row.subject, `${figure(row.median)} ${row.unit}`, spread(row), row.runs, ratioText(row)].map((cell) => String(cell).replace(/\|/g, '\\|')).join(' | ')} |`);
    }
    lines.push('');
  }
  return lines.filter((line, i, all) => !(line === '' && all[i - 1] === '')).join('\n');
}

async function main() {
  if (!args.includes('--no-build')) {
    // The benchmarks load dist/: build it from the current sources (the addon is the installed one).
    execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
    execFileSync(process.execPath, ['scripts/write-esm-entry.mjs'], { cwd: root, stdio: 'inherit' });
  }
  const facts = { ...machine(), quick };
  const benchmarks = discover();
  if (benchmarks.length === 0) throw new Error(`no benchmark in ${benchDir}${only ? ` named ${only.join(', ')}` : ''}`);
  const results = [];
  for (const benchmark of benchmarks) {
    console.error(`running ${benchmark.name}${quick ? ' (quick)' : ''}...`);
    results.push(await runOne(benchmark));
  }
  printTable(results);
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'results.json'), `${JSON.stringify({ machine: facts, benchmarks: results }, null, 2)}\n`);
  fs.writeFileSync(path.join(outDir, 'chart.svg'), chartSvg(results, facts));
  fs.writeFileSync(path.join(outDir, 'README.md'), `${resultsPage(results, facts)}\n`);
  console.error(`wrote results.json, chart.svg and README.md in ${path.relative(process.cwd(), outDir) || '.'}`);
  if (results.some((result) => !result.ok)) process.exitCode = 1;
}

if (process.argv[1] === new URL(import.meta.url).pathname) await main();
