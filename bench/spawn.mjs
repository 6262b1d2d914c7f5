// Benchmark of the safe spawn (issue: spawn), measured side by side in one run:
//   node bench/spawn.mjs            (runs every part; takes about a minute)
// 1. spawn + wait of /bin/true one after another: ours, a C loop of posix_spawn + waitpid,
//    child_process.spawnSync and child_process.spawn.
// 2. the same with 2 GB resident in the Node process (Buffers that are touched), ours against
//    our own empty-heap figure, and child_process.spawnSync.
// 3. 200 children launched at once: the worst lateness of a 1 ms timer (the event-loop stall)
//    while they start and, separately, while they exit together and are reaped, ours and
//    child_process.spawn, with an empty heap and with 1 GB resident, after a 20-child warm-up.
// Parts 2 and 3 run in fresh Node processes so that each heap is what it claims to be.
import { execFileSync, spawn as cpSpawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const here = new URL('.', import.meta.url).pathname;
const now = () => Number(process.hrtime.bigint()) / 1e3; // µs

function holdResident(megabytes) {
  const chunks = [];
  for (let i = 0; i < megabytes / 64; i++) chunks.push(Buffer.alloc(64 * 1024 * 1024, 1));
  return chunks;
}

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

// Each launcher resolves once every child has been started, with a function that waits for all
// of them to exit.
async function launchOurs(count, seconds) {
  const { spawn } = require('../dist/index.js');
  const children = await Promise.all(Array.from({ length: count }, () => spawn('/bin/sleep', [String(seconds)], { stdio: 'ignore' })));
  return () => Promise.all(children.map((child) => child.wait()));
}

async function launchTheirs(count, seconds) {
  const children = Array.from({ length: count }, () => cpSpawn('/bin/sleep', [String(seconds)], { stdio: 'ignore' }));
  const exits = children.map((child) => new Promise((resolve) => child.once('exit', resolve)));
  await Promise.all(children.map((child) => new Promise((resolve) => child.once('spawn', resolve))));
  return () => Promise.all(exits);
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

const rounds = Number(process.env.ROUNDS ?? 1000);
const build = mkdtempSync(join(tmpdir(), 'spawn-bench-'));
execFileSync('cc', ['-O2', '-o', join(build, 'spawn_loop'), join(here, 'spawn_loop.c')]);
const cLoop = () => Number(execFileSync(join(build, 'spawn_loop'), [String(rounds)], { encoding: 'utf8' }));
// Ours and the C loop alternate, 5 times: the machine drifts, a ratio taken side by side holds.
const ratios = [];
let ourEmpty = 0;
let cMean = 0;
for (let i = 0; i < 5; i++) {
  const c = cLoop();
  const o = await ours(rounds);
  const c2 = cLoop();
  ratios.push(o / ((c + c2) / 2));
  ourEmpty += o / 5;
  cMean += (c + c2) / 10;
}
ratios.sort((a, b) => a - b);
const sync = theirsSync(rounds);
const asyncCp = await theirsAsync(rounds);
console.log(`1. spawn + wait of /bin/true, ${rounds} in a row, 5 alternating runs (µs each, mean):`);
console.log(`   C posix_spawn+waitpid ${cMean.toFixed(0)} | ours ${ourEmpty.toFixed(0)}: median ${ratios[2].toFixed(2)}x C (runs ${ratios.map((r) => r.toFixed(2)).join(', ')})`);
console.log(`   spawnSync ${sync.toFixed(0)} (${(sync / cMean).toFixed(2)}x C) | child_process.spawn ${asyncCp.toFixed(0)} (${(asyncCp / cMean).toFixed(2)}x C)`);

const ourEmptyChild = Number(inChild('ours', 0, 1000));
const ourBig = Number(inChild('ours', 2048, 1000));
const syncBig = Number(inChild('spawnSync', 2048, 20));
console.log('2. the same with 2 GB resident in the Node process (µs each):');
console.log(`   ours ${ourBig.toFixed(0)} vs ours with an empty heap ${ourEmptyChild.toFixed(0)} (${(ourBig / ourEmptyChild).toFixed(2)}x) | spawnSync ${syncBig.toFixed(0)} (${(syncBig / ourEmptyChild).toFixed(1)}x our empty-heap figure)`);

// Each stall figure is the median of 5 fresh processes, launching/reaping.
const medianStall = (what, resident) => {
  const runs = Array.from({ length: 5 }, () => inChild(what, resident, 200).split('/').map(Number));
  const median = (i) => runs.map((r) => r[i]).sort((a, b) => a - b)[2].toFixed(1);
  return `${median(0)}/${median(1)}`;
};
console.log('3. 200 children launched at once (after a 20-child warm-up), worst 1 ms timer lateness in ms,');
console.log('   launching/reaping, median of 5 runs:');
for (const resident of [0, 1024]) {
  console.log(`   ${resident === 0 ? 'empty heap' : '1 GB resident'}: ours ${medianStall('stall-ours', resident)} | child_process.spawn ${medianStall('stall-theirs', resident)}`);
}
