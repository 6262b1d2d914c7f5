// Benchmark of the safe spawn (issue: spawn), measured side by side in one run:
//   node bench/spawn.mjs            (runs every part; takes about a minute)
// 1. spawn + wait of /bin/true one after another: ours, a C loop of posix_spawn + waitpid,
//    child_process.spawnSync and child_process.spawn.
// 2. the same with 2 GB resident in the Node process (Buffers that are touched), ours against
//    our own empty-heap figure, and child_process.spawnSync.
// 3. 200 children launched at once: the worst lateness of a 1 ms timer (the event-loop stall),
//    ours and child_process.spawn, with an empty heap and with 1 GB resident.
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

async function stall(launch, count) {
  let worst = 0;
  let expected = now() + 1000;
  const timer = setInterval(() => {
    const t = now();
    worst = Math.max(worst, t - expected);
    expected = t + 1000;
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  await launch(count);
  await new Promise((resolve) => setTimeout(resolve, 20));
  clearInterval(timer);
  return worst / 1000; // ms
}

async function launchOurs(count) {
  const { spawn } = require('../dist/index.js');
  const children = await Promise.all(Array.from({ length: count }, () => spawn('/bin/sleep', ['0.2'], { stdio: 'ignore' })));
  await Promise.all(children.map((child) => child.wait()));
}

async function launchTheirs(count) {
  const children = Array.from({ length: count }, () => cpSpawn('/bin/sleep', ['0.2'], { stdio: 'ignore' }));
  await Promise.all(children.map((child) => new Promise((resolve) => child.once('exit', resolve))));
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
  return Number(out.trim());
}

const rounds = Number(process.env.ROUNDS ?? 2000);
const build = mkdtempSync(join(tmpdir(), 'spawn-bench-'));
execFileSync('cc', ['-O2', '-o', join(build, 'spawn_loop'), join(here, 'spawn_loop.c')]);
const c = Number(execFileSync(join(build, 'spawn_loop'), [String(rounds)], { encoding: 'utf8' }));
const ourEmpty = await ours(rounds);
const sync = theirsSync(rounds);
const asyncCp = await theirsAsync(rounds);
const c2 = Number(execFileSync(join(build, 'spawn_loop'), [String(rounds)], { encoding: 'utf8' }));
const cBest = Math.min(c, c2);
console.log(`1. spawn + wait of /bin/true, ${rounds} in a row (µs each):`);
console.log(`   C posix_spawn+waitpid ${cBest.toFixed(0)} | ours ${ourEmpty.toFixed(0)} (${(ourEmpty / cBest).toFixed(2)}x C) | spawnSync ${sync.toFixed(0)} (${(sync / cBest).toFixed(2)}x C) | child_process.spawn ${asyncCp.toFixed(0)} (${(asyncCp / cBest).toFixed(2)}x C)`);

const ourEmptyChild = inChild('ours', 0, 1000);
const ourBig = inChild('ours', 2048, 1000);
const syncBig = inChild('spawnSync', 2048, 20);
console.log('2. the same with 2 GB resident in the Node process (µs each):');
console.log(`   ours ${ourBig.toFixed(0)} vs ours with an empty heap ${ourEmptyChild.toFixed(0)} (${(ourBig / ourEmptyChild).toFixed(2)}x) | spawnSync ${syncBig.toFixed(0)} (${(syncBig / ourEmptyChild).toFixed(1)}x our empty-heap figure)`);

console.log('3. 200 children launched at once, worst 1 ms timer lateness (ms):');
for (const resident of [0, 1024]) {
  const oursStall = inChild('stall-ours', resident, 200);
  const theirsStall = inChild('stall-theirs', resident, 200);
  console.log(`   ${resident === 0 ? 'empty heap' : '1 GB resident'}: ours ${oursStall.toFixed(1)} | child_process.spawn ${theirsStall.toFixed(1)}`);
}
