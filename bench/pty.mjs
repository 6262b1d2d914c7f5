// Benchmark of spawn's `pty` option against node-pty, side by side in one run:
//   node bench/pty.mjs [--json] [--quick]
// 1. time from the spawn call to the first byte of `echo hi` read from the master;
// 2. throughput of 100 MB written by the child (`head -c 100M /dev/zero`) and read from the
//    master, from the spawn call to the end of the output; the bytes received are checked;
// 3. correctness of the exit code and of a signal (printed, and in the JSON as `checks`).
// Runs alternate between the two. node-pty is not a devDependency: its install script compiles
// it and, with no npm configuration, fetches Node's headers, which would break a fresh clone's
// `npm install` offline. The first run installs it from the npm registry into bench/.peers
// (scripts ignored) and builds it against the running Node's headers; if that fails its rows are
// left out, saying why.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const { spawn } = require('../dist/index.js');
const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const log = (...args) => {
  if (!json) console.log(...args);
};

const NODE_PTY = 'node-pty@1.1.0';
const peers = join(dirname(new URL(import.meta.url).pathname), '.peers');

// Installs node-pty into bench/.peers and builds its addon with this repository's node-gyp and
// this Node's headers (nothing but the npm registry is reached).
function installNodePty() {
  const dir = join(peers, 'node_modules', 'node-pty');
  if (existsSync(join(dir, 'build/Release/pty.node'))) return dir;
  console.error(`installing ${NODE_PTY} for the benchmark into bench/.peers (once)...`);
  execFileSync('npm', ['install', '--prefix', peers, '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', NODE_PTY], { stdio: ['ignore', 'ignore', 'inherit'] });
  const nodedir = resolve(process.execPath, '../..');
  execFileSync(process.execPath, [require.resolve('node-gyp/bin/node-gyp.js'), 'rebuild', `--nodedir=${nodedir}`], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  return dir;
}

let nodePty;
let nodePtySkipped;
try {
  nodePty = require(installNodePty());
} catch (error) {
  nodePtySkipped = `node-pty not available (${error.message.split('\n')[0]}): its rows are left out`;
  console.error(nodePtySkipped);
}

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms
const SIZE = 100 * 1024 * 1024;

async function oursFirstByte() {
  const start = now();
  const child = await spawn('echo', ['hi'], { pty: true });
  const first = await new Promise((resolve) => child.pty.once('data', () => resolve(now())));
  child.pty.resume();
  await new Promise((resolve) => child.pty.on('end', resolve));
  await child.wait();
  child.pty.destroy();
  return first - start;
}

function theirsFirstByte() {
  return new Promise((resolve) => {
    const start = now();
    const term = nodePty.spawn('echo', ['hi'], { encoding: null });
    let first;
    term.onData(() => (first ??= now()));
    term.onExit(() => resolve(first - start));
  });
}

async function oursThroughput() {
  const start = now();
  const child = await spawn('head', ['-c', String(SIZE), '/dev/zero'], { pty: true });
  let bytes = 0;
  child.pty.on('data', (chunk) => (bytes += chunk.length));
  await new Promise((resolve) => child.pty.on('end', resolve));
  const elapsed = now() - start;
  await child.wait();
  child.pty.destroy();
  return { mbps: SIZE / 1048576 / (elapsed / 1000), bytes };
}

function theirsThroughput() {
  return new Promise((resolve) => {
    const start = now();
    const term = nodePty.spawn('head', ['-c', String(SIZE), '/dev/zero'], { encoding: null });
    let bytes = 0;
    term.onData((chunk) => (bytes += chunk.length));
    // node-pty reports the exit once its own thread has reaped the child and the output has
    // been flushed as far as it knows: what it has then is what a user of it gets.
    term.onExit(() => resolve({ mbps: SIZE / 1048576 / ((now() - start) / 1000), bytes }));
  });
}

async function oursStatus(script) {
  const child = await spawn('/bin/sh', ['-c', script], { pty: true });
  child.pty.resume();
  const result = await child.wait();
  child.pty.destroy();
  return JSON.stringify(result.status);
}

function theirsStatus(script) {
  return new Promise((resolve) => {
    const term = nodePty.spawn('/bin/sh', ['-c', script], {});
    term.onExit((exit) => resolve(JSON.stringify(exit)));
  });
}

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted.at(-1), runs: sorted.length };
}

const round = (value) => Math.round(value * 1000) / 1000;
const rows = [];
function addRows(measure, unit, ours, theirs, higherIsBetter) {
  const o = stats(ours);
  rows.push({ measure, subject: 'ours', unit, median: round(o.median), min: round(o.min), max: round(o.max), runs: o.runs });
  if (theirs.length > 0) {
    const t = stats(theirs);
    const ratio = o.median / t.median; // ours / node-pty, as every benchmark's ratio (the unit says which way is better)
    rows.push({ measure, subject: 'node-pty', unit, median: round(t.median), min: round(t.min), max: round(t.max), runs: t.runs });
    rows.at(-2).ratio = round(ratio);
    rows.at(-2).ratioTo = 'node-pty';
  }
  log(`${measure}: ours ${round(o.median)} ${unit} (${round(o.min)}..${round(o.max)})` + (theirs.length > 0 ? `, node-pty ${round(stats(theirs).median)} ${unit} (${round(stats(theirs).min)}..${round(stats(theirs).max)}); ours / node-pty = ${round(rows.at(-2).ratio)}x ${higherIsBetter ? '(higher is better)' : '(lower is better)'}` : ''));
}

const firstRuns = quick ? 10 : 60;
const throughputRuns = quick ? 2 : 7;
// Warm-up: the first spawns load code and map stacks.
for (let i = 0; i < 5; i++) {
  await oursFirstByte();
  if (nodePty) await theirsFirstByte();
}
const oursFirst = [];
const theirsFirst = [];
for (let i = 0; i < firstRuns; i++) {
  oursFirst.push(await oursFirstByte());
  if (nodePty) theirsFirst.push(await theirsFirstByte());
}
addRows('spawn to first byte of `echo hi`', 'ms', oursFirst, theirsFirst, false);

const oursMbps = [];
const theirsMbps = [];
const received = { ours: [], 'node-pty': [] };
for (let i = 0; i < throughputRuns; i++) {
  const o = await oursThroughput();
  oursMbps.push(o.mbps);
  received.ours.push(o.bytes);
  if (nodePty) {
    const t = await theirsThroughput();
    theirsMbps.push(t.mbps);
    received['node-pty'].push(t.bytes);
  }
}
addRows('100 MB from the child through the pty', 'MB/s', oursMbps, theirsMbps, true);

const checks = {
  bytesReceived: Object.fromEntries(Object.entries(received).filter(([, list]) => list.length > 0).map(([subject, list]) => [subject, `${list.filter((n) => n === SIZE).length} of ${list.length} runs got all ${SIZE} bytes (min ${Math.min(...list)})`])),
  exit3: { ours: await oursStatus('exit 3'), ...(nodePty ? { 'node-pty': await theirsStatus('exit 3') } : {}) },
  sigterm: { ours: await oursStatus('kill -TERM $$'), ...(nodePty ? { 'node-pty': await theirsStatus('kill -TERM $$') } : {}) },
};
log('bytes received:', checks.bytesReceived);
log('exit 3:', checks.exit3);
log('killed by SIGTERM:', checks.sigterm);
const result = { name: 'pty', rows, checks };
if (nodePtySkipped !== undefined) result.skipped = nodePtySkipped;
if (json) console.log(JSON.stringify(result));
