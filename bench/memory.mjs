// Memory of the safe spawn (issue 19), ours against child_process of this Node:
//   node bench/memory.mjs [--json] [--quick]
// 1. JS heap allocated per spawn + wait of /bin/true, and per run('/bin/echo', ['hi'])
//    (child_process: spawn + 'exit', and execFile): heapUsed after the operations minus before,
//    in a fresh process whose young generation (64 MB) holds them all without a collection
//    (checked: a run with a GC in it is refused), after a forced GC and a warm-up. heapUsed
//    counts what was allocated, garbage included, plus the unused tail of each young-generation
//    page: the same reading of a known allocation (new Array(100): 848 bytes without pointer
//    compression) is reported beside, as a check.
// 2. Resident memory per 1000 children held open: 1000 /bin/sleep children started and their
//    handles kept, RSS after minus before (after a forced GC each time), and the JS heap kept
//    alive per child; a fresh process a run.
// 3. Growth over 100 000 spawn + wait of /bin/true (4 in flight) in one process: heapUsed after a
//    forced GC, RSS and open fds at every 10 000 spawns; the rows are the growth per 1000 spawns
//    over each 10 000 after the first (so "runs" there are those intervals), flat when about 0.
//    RSS also grows while V8's young generation grows to its maximum under this allocation rate
//    (heapTotal: 8 to 38 MB in the first 20 000 to 40 000 spawns, then flat); RSS minus heapTotal
//    is the memory outside the JS heap (native, stacks, malloc).
// --quick: fewer operations and runs, 200 children, 2 000 spawns (a smoke test).
import { execFile, execFileSync, spawn as cpSpawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { PerformanceObserver } from 'node:perf_hooks';
import { emit, quick, row, say, summary } from './_lib.mjs';

const require = createRequire(import.meta.url);
const self = new URL(import.meta.url).pathname;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const heapUsed = () => process.memoryUsage().heapUsed;
const settle = async () => {
  globalThis.gc();
  globalThis.gc();
  await sleep(50); // the concurrent sweeper finishes; timers settle
};

// The operations measured, by name: one call, awaited.
function operation(name) {
  const { spawn, run } = require('../dist/index.js');
  return {
    'ours spawn+wait': async () => (await spawn('/bin/true', [], { stdio: 'ignore' })).wait(),
    'theirs spawn+wait': () => new Promise((resolve) => cpSpawn('/bin/true', { stdio: 'ignore' }).once('exit', resolve)),
    'ours run': () => run('/bin/echo', ['hi']),
    'theirs run': () => new Promise((resolve, reject) => execFile('/bin/echo', ['hi'], (error, stdout) => (error ? reject(error) : resolve(stdout)))),
    'known allocation': async () => {
      slots[next++] = new Array(100);
    },
    nothing: async () => {},
  }[name];
}
let slots = [];
let next = 0;

// Child mode 1: bytes of JS heap allocated per operation, `runs` times `count` operations.
async function allocated(name, count, runs) {
  let collections = 0;
  new PerformanceObserver((list) => (collections += list.getEntries().length)).observe({ entryTypes: ['gc'] });
  const once = operation(name);
  for (let i = 0; i < 100; i++) await once(); // warm-up: code compiled, caches filled
  const perOperation = [];
  for (let run = 0; run < runs; run++) {
    slots = new Array(count); // the known allocation's slots exist before it starts
    next = 0;
    await settle();
    const before = collections;
    const start = heapUsed();
    for (let i = 0; i < count; i++) await once();
    const end = heapUsed();
    await sleep(10); // the observer's entries arrive
    if (collections !== before) throw new Error(`${name}: a garbage collection ran during the measure; raise --min-semi-space-size`);
    perOperation.push((end - start) / count);
  }
  return perOperation;
}

// Child mode 2: RSS and heap kept per child while `count` /bin/sleep children are held open.
async function held(who, count) {
  const { spawn } = require('../dist/index.js');
  const start = who === 'ours' ? () => spawn('/bin/sleep', ['60'], { stdio: 'ignore' }) : () => new Promise((resolve) => {
    const child = cpSpawn('/bin/sleep', ['60'], { stdio: 'ignore' });
    child.once('spawn', () => resolve(child));
  });
  const end = who === 'ours' ? (child) => (child.kill('SIGKILL'), child.wait()) : (child) => new Promise((resolve) => (child.once('exit', resolve), child.kill('SIGKILL')));
  for (const child of await Promise.all(Array.from({ length: 20 }, start))) await end(child); // warm-up
  await settle();
  const before = process.memoryUsage();
  const children = await Promise.all(Array.from({ length: count }, start));
  await settle();
  const after = process.memoryUsage();
  await Promise.all(children.map(end));
  return { rss: (after.rss - before.rss) / count, heap: (after.heapUsed - before.heapUsed) / count };
}

// Child mode 3: spawn + wait `total` times, 4 in flight, with a checkpoint every `every`.
async function growth(total, every) {
  const { spawn } = require('../dist/index.js');
  const checkpoints = [];
  let done = 0;
  while (done < total) {
    let started = 0;
    const worker = async () => {
      while (started < every) {
        started++;
        await (await spawn('/bin/true', [], { stdio: 'ignore' })).wait();
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    done += every;
    await settle();
    const usage = process.memoryUsage();
    checkpoints.push({ spawns: done, heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, outside: usage.rss - usage.heapTotal, rss: usage.rss, fds: readdirSync('/proc/self/fd').length });
  }
  return checkpoints;
}

if (process.argv[2] === '--child') {
  const [mode, name, a, b] = process.argv.slice(3);
  const result = mode === 'allocated' ? await allocated(name, Number(a), Number(b)) : mode === 'held' ? await held(name, Number(a)) : await growth(Number(a), Number(b));
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

const inChild = (flags, ...args) => JSON.parse(execFileSync(process.execPath, [...flags, self, '--child', ...args.map(String)], { encoding: 'utf8', maxBuffer: 16 << 20 }));
const theirs = `node ${process.version}`;
const rows = [];

// 1. Allocation.
const young = ['--expose-gc', '--min-semi-space-size=64', '--max-semi-space-size=64'];
const count = quick ? 100 : 500;
const runs = quick ? 2 : 5;
const tagged = process.config.variables.v8_enable_pointer_compression ? 4 : 8;
const expected = 4 * tagged + 2 * tagged + 100 * tagged; // JSArray, FixedArray header, 100 slots
// Every figure is net of the measuring loop's own allocation (an empty async operation awaited
// the same way, measured in the same kind of process), per run.
const loop = inChild(young, 'allocated', 'nothing', count, runs);
const net = (values) => values.map((v, i) => v - loop[i]);
const known = net(inChild(young, 'allocated', 'known allocation', count, runs));
const check = `check: heap allocated per new Array(100), expected ${expected} B`;
rows.push(row(check, 'measured', 'B', known));
say(`1. JS heap allocated, ${count} operations a run, ${runs} runs (bytes each: median, min-max), net of the loop's own ${summary(loop).median.toFixed(0)} B;`);
say(`   ${check}: ${summary(known).median.toFixed(0)} (${summary(known).min.toFixed(0)}-${summary(known).max.toFixed(0)})`);
for (const [label, ourName, theirName, theirLabel] of [
  ['spawn + wait of /bin/true', 'ours spawn+wait', 'theirs spawn+wait', `${theirs} spawn`],
  ["run('/bin/echo', ['hi'])", 'ours run', 'theirs run', `${theirs} execFile`],
]) {
  const measure = `JS heap allocated per ${label}`;
  const ours = net(inChild(young, 'allocated', ourName, count, runs));
  const other = net(inChild(young, 'allocated', theirName, count, runs));
  rows.push(row(measure, 'ours', 'B', ours, theirLabel, ours.map((v, i) => v / other[i])));
  rows.push(row(measure, theirLabel, 'B', other));
  say(`   ${measure}: ours ${summary(ours).median.toFixed(0)} (${summary(ours).min.toFixed(0)}-${summary(ours).max.toFixed(0)}), ${theirLabel} ${summary(other).median.toFixed(0)} (${summary(other).min.toFixed(0)}-${summary(other).max.toFixed(0)})`);
}

// 2. Children held open, ours and theirs alternating.
const children = quick ? 200 : 1000;
const heldRuns = quick ? 1 : 3;
const heldBy = { ours: [], [`${theirs} spawn`]: [] };
for (let run = 0; run < heldRuns; run++) {
  heldBy.ours.push(inChild(['--expose-gc'], 'held', 'ours', children));
  heldBy[`${theirs} spawn`].push(inChild(['--expose-gc'], 'held', 'theirs', children));
}
say(`2. ${children} /bin/sleep children held open, ${heldRuns} runs: RSS and JS heap kept per child`);
for (const [field, measure, unit, scale] of [
  ['rss', 'resident memory per 1000 children held open', 'MB', 1000 / 2 ** 20],
  ['heap', 'JS heap kept per child held open', 'B', 1],
]) {
  const ours = heldBy.ours.map((r) => r[field] * scale);
  const other = heldBy[`${theirs} spawn`].map((r) => r[field] * scale);
  rows.push(row(measure, 'ours', unit, ours, `${theirs} spawn`, ours.map((v, i) => v / other[i])));
  rows.push(row(measure, `${theirs} spawn`, unit, other));
  say(`   ${measure}: ours ${summary(ours).median.toFixed(2)} ${unit} (${summary(ours).min.toFixed(2)}-${summary(ours).max.toFixed(2)}), child_process ${summary(other).median.toFixed(2)} (${summary(other).min.toFixed(2)}-${summary(other).max.toFixed(2)})`);
}

// 3. Growth.
const total = quick ? 2000 : 100_000;
const every = total / 10;
const checkpoints = inChild(['--expose-gc'], 'growth', '-', total, every);
say(`3. ${total} spawn + wait, 4 in flight; after a forced GC every ${every}:`);
const mb = (bytes) => (bytes / 2 ** 20).toFixed(1);
for (const c of checkpoints) say(`   ${String(c.spawns).padStart(6)} spawns: heapUsed ${(c.heapUsed / 2 ** 20).toFixed(2)} MB, heapTotal ${mb(c.heapTotal)} MB, RSS ${mb(c.rss)} MB (${mb(c.outside)} MB outside the JS heap), ${c.fds} fds open`);
const perThousand = (field) => checkpoints.slice(1).map((c, i) => ((c[field] - checkpoints[i][field]) * 1000) / every);
for (const [field, what, unit, scale] of [
  ['heapUsed', 'heapUsed after GC', 'B', 1],
  ['rss', 'RSS', 'KB', 1 / 1024],
  ['outside', 'RSS outside the JS heap (RSS - heapTotal)', 'KB', 1 / 1024],
  ['fds', 'open fds', 'fds', 1],
]) {
  const values = perThousand(field).map((v) => v * scale);
  rows.push(row(`growth of ${what} per 1000 spawns, each ${every} of ${total}`, 'ours', unit, values));
  const first = checkpoints[0][field] * scale;
  const last = checkpoints[checkpoints.length - 1][field] * scale;
  say(`   ${what}: ${(((last - first) * 1000) / (total - every)).toFixed(2)} ${unit} per 1000 spawns from ${every} to ${total}; per interval median ${summary(values).median.toFixed(2)}, ${summary(values).min.toFixed(2)} to ${summary(values).max.toFixed(2)}`);
}
emit('memory', rows);
