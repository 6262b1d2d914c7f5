// Benchmark of the safe spawn (issue: spawn), measured side by side in one run:
//   node bench/spawn.mjs [--json] [--quick]     (runs every part; takes a few minutes)
// 1. spawn + wait of /bin/true one after another: ours, a C loop of posix_spawn + waitpid (and
//    the same loop opening /dev/null on the child's fds 0 to 2, as ours does for 'ignore': the
//    like-for-like figure), child_process.spawnSync and child_process.spawn of this Node, and the anchors that are
//    installed: child_process of Node 22/24/26 (/work/nodes/n{22,24,26}/package/bin/node, or the
//    binaries named in BENCH_NODES, separated by ':') and Bun.spawn (the `bun` devDependency, or
//    BENCH_BUN), each in a process of its own (bench/_spawn_anchor.mjs). Ratios are to C, per run.
// 2. the same with 2 GB resident in the Node process (Buffers that are touched), ours against
//    our own empty-heap figure, and child_process.spawnSync.
// 3. 200 children launched at once: the worst lateness of a 1 ms timer (the event-loop stall)
//    while they start and, separately, while they exit together and are reaped, ours and
//    child_process.spawn, with an empty heap and with 1 GB resident, after a 20-child warm-up.
// Parts 2 and 3 run in fresh Node processes so that each heap is what it claims to be.
// --quick: fewer rounds, runs and children, and 256 MB instead of 1-2 GB (a smoke test).
import { execFileSync, spawn as cpSpawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { anchors } from './_anchors.mjs';
import { launchOurs, launchTheirs } from './_launch.mjs';
import { emit, holdResident, quick, row, say, summary } from './_lib.mjs';

const require = createRequire(import.meta.url);
const here = new URL('.', import.meta.url).pathname;
const now = () => Number(process.hrtime.bigint()) / 1e3; // µs

async function ours(rounds) {
  const { spawn } = require('../dist/index.js');
  const start = now();
  for (let i = 0; i < rounds; i++) await (await spawn('/bin/true', [], { stdio: 'ignore' })).wait();
  return (now() - start) / rounds;
}

function theirsSync(rounds) {
  const start = now();
  for (let i = 0; i < rounds; i++) spawnSync('/bin/true', { stdio: 'ignore' });
  return (now() - start) / rounds;
}

async function theirsAsync(rounds) {
  const start = now();
  for (let i = 0; i < rounds; i++) {
    await new Promise((resolve) => cpSpawn('/bin/true', { stdio: 'ignore' }).once('exit', resolve));
  }
  return (now() - start) / rounds;
}

// Worst lateness of a 1 ms timer (ms) while `count` children are launched (until every handle
// or spawn event is there) and, separately, while they exit together and are reaped.
async function stall(launch, count) {
  let worst = 0;
  let expected = 0;
  let timer;
  const watch = () => {
    worst = 0;
    expected = now() + 1000;
    timer = setInterval(() => {
      const t = now();
      worst = Math.max(worst, t - expected);
      expected = t + 1000;
    }, 1);
  };
  const stop = async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    clearInterval(timer);
    return worst / 1000;
  };
  await (await launch(20, 0.05))(); // warm-up: both sides get their code compiled first
  watch();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const exited = await launch(count, 0.3);
  const launching = await stop();
  watch();
  await exited();
  const reaping = await stop();
  return `${launching.toFixed(1)}/${reaping.toFixed(1)}`;
}

// A child mode: one measurement in a fresh process with `resident` MB held.
if (process.argv[2] === '--child') {
  const [, , , what, resident, rounds] = process.argv;
  const held = holdResident(Number(resident));
  let result;
  if (what === 'ours') result = await ours(Number(rounds));
  else if (what === 'spawnSync') result = theirsSync(Number(rounds));
  else if (what === 'stall-ours') result = await stall(launchOurs, Number(rounds));
  else if (what === 'stall-theirs') result = await stall(launchTheirs, Number(rounds));
  process.stdout.write(`${result}\n`);
  void held;
  process.exit(0);
}

function inChild(what, resident, rounds) {
  const out = execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--child', what, String(resident), String(rounds)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return out.trim();
}

const rounds = Number(process.env.ROUNDS ?? (quick ? 100 : 1000));
const runs = quick ? 2 : 5;
const build = mkdtempSync(join(tmpdir(), 'spawn-bench-'));
execFileSync('cc', ['-O2', '-o', join(build, 'spawn_loop'), join(here, 'spawn_loop.c')]);
const cLoop = (...mode) => Number(execFileSync(join(build, 'spawn_loop'), [String(rounds), ...mode], { encoding: 'utf8' }));

// 1. Every subject once per run, the C loop before and after ours: the machine drifts, a ratio
// taken side by side holds.
const figures = new Map(); // subject -> { values, ratios }
const record = (subject, value, c) => {
  if (!figures.has(subject)) figures.set(subject, { values: [], ratios: [] });
  figures.get(subject).values.push(value);
  figures.get(subject).ratios.push(value / c);
};
const others = anchors();
const devNullSubject = 'C, stdio /dev/null';
const oursToDevNull = 'ours, to C with /dev/null';
for (let i = 0; i < runs; i++) {
  const c1 = cLoop();
  const n1 = cLoop('devnull');
  const o = await ours(rounds);
  const n2 = cLoop('devnull');
  const c2 = cLoop();
  const c = (c1 + c2) / 2;
  const n = (n1 + n2) / 2;
  record('C', c, c);
  record('ours', o, c);
  record(devNullSubject, n, c);
  record(oursToDevNull, o, n);
  record(`node ${process.version} spawnSync`, theirsSync(rounds), c);
  record(`node ${process.version} spawn`, await theirsAsync(rounds), c);
  for (const [label, runtime] of others) {
    const out = JSON.parse(execFileSync(runtime, [join(here, '_spawn_anchor.mjs'), String(rounds)], { encoding: 'utf8' }));
    for (const [way, value] of Object.entries(out)) record(`${label} ${way}`, value, c);
  }
}
rmSync(build, { recursive: true, force: true });
const rows = [];
const spawnMeasure = 'spawn + wait of /bin/true';
const referenceOf = (subject) => (subject === 'C' ? undefined : subject === oursToDevNull ? devNullSubject : 'C');
for (const [subject, { values, ratios }] of figures) rows.push(row(spawnMeasure, subject, 'µs', values, referenceOf(subject), ratios));
say(`1. ${spawnMeasure}, ${rounds} in a row, ${runs} runs (µs each: median, min-max; ratio to C: median of the runs):`);
for (const r of rows) say(`   ${r.subject.padEnd(28)} ${r.median.toFixed(0).padStart(6)} (${r.min.toFixed(0)}-${r.max.toFixed(0)})${r.ratio === undefined ? '' : `  ${r.ratio.toFixed(2)}x ${r.ratioTo}`}`);

// 2. A big heap.
const bigRuns = quick ? 1 : 3;
const big = quick ? 256 : 2048;
const bigMeasure = `spawn + wait, ${big >= 1024 ? `${big / 1024} GB` : `${big} MB`} resident`;
const empty = [];
const ourBig = [];
const syncBig = [];
for (let i = 0; i < bigRuns; i++) {
  empty.push(Number(inChild('ours', 0, rounds)));
  ourBig.push(Number(inChild('ours', big, rounds)));
  syncBig.push(Number(inChild('spawnSync', big, quick ? 5 : 20)));
}
const emptyMedian = summary(empty).median;
rows.push(row(bigMeasure, 'ours, empty heap', 'µs', empty));
rows.push(row(bigMeasure, 'ours', 'µs', ourBig, 'ours, empty heap', ourBig.map((v, i) => v / empty[i])));
rows.push(row(bigMeasure, `node ${process.version} spawnSync`, 'µs', syncBig, 'ours, empty heap', syncBig.map((v, i) => v / empty[i])));
say(`2. the same with ${big} MB resident in the Node process (µs each, median of ${bigRuns}):`);
say(`   ours ${summary(ourBig).median.toFixed(0)} vs ours with an empty heap ${emptyMedian.toFixed(0)} (${(summary(ourBig).median / emptyMedian).toFixed(2)}x) | spawnSync ${summary(syncBig).median.toFixed(0)} (${(summary(syncBig).median / emptyMedian).toFixed(1)}x our empty-heap figure)`);

// 3. Stalls: each figure from `stallRuns` fresh processes, launching/reaping.
const stallRuns = quick ? 2 : 5;
const count = quick ? 50 : 200;
say(`3. ${count} children launched at once (after a 20-child warm-up), worst 1 ms timer lateness in ms,`);
say(`   launching/reaping, median (min-max) of ${stallRuns} runs:`);
for (const resident of [0, quick ? 256 : 1024]) {
  const heap = resident === 0 ? 'empty heap' : `${resident >= 1024 ? `${resident / 1024} GB` : `${resident} MB`} resident`;
  const results = {};
  for (const [subject, what] of [['ours', 'stall-ours'], [`node ${process.version} spawn`, 'stall-theirs']]) {
    results[subject] = Array.from({ length: stallRuns }, () => inChild(what, resident, count).split('/').map(Number));
  }
  const line = [];
  for (const [phase, index] of [['launch', 0], ['reap', 1]]) {
    const measure = `${count} at once, ${phase} stall, ${heap}`;
    const theirs = results[`node ${process.version} spawn`].map((r) => r[index]);
    for (const [subject, runsOf] of Object.entries(results)) {
      const values = runsOf.map((r) => r[index]);
      const isOurs = subject === 'ours';
      rows.push(row(measure, subject, 'ms', values, isOurs ? `node ${process.version} spawn` : undefined, isOurs ? values.map((v, i) => v / Math.max(theirs[i], 0.01)) : undefined));
      const s = summary(values);
      line.push(`${phase} ${subject} ${s.median.toFixed(1)} (${s.min.toFixed(1)}-${s.max.toFixed(1)})`);
    }
  }
  say(`   ${heap}: ${line.join(' | ')}`);
}
emit('spawn', rows);
