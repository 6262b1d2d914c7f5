// Benchmark of the wait family (issue: wait and status decoding).
//   node bench/wait.mjs [rounds] [--json] [--quick]
// 1. Wake-up latency: from SIGKILL of a child (its exit) to waitAsync's promise resolving, against
//    child_process's 'exit' event for the same kind of child.
// 2. 1000 children waited at once: threads of this process (/proc/self/task) and the worst
//    lateness of a 1 ms timer while the waits are pending and resolving.
// Figures are medians of many runs, measured side by side in one process: compare ratios.
// Part 2 is repeated (3 runs, 1 with --quick) for its spread.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';

import { emit, quick, row, say } from './_lib.mjs';

const require = createRequire(import.meta.url);
const { posixSpawnp, waitAsync, kill } = require('../dist/index.js');

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const percentile = (values, p) => [...values].sort((a, b) => a - b)[Math.floor(values.length * p)];
const threads = () => readdirSync('/proc/self/task').length;
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

async function ourLatency(rounds) {
  const samples = [];
  for (let i = 0; i < rounds; i++) {
    const pid = posixSpawnp('sleep', ['sleep', '30']);
    const waiting = waitAsync(pid);
    await settle();
    const start = now();
    kill(pid, 'SIGKILL');
    await waiting;
    samples.push(now() - start);
  }
  return samples;
}

async function childProcessLatency(rounds) {
  const samples = [];
  for (let i = 0; i < rounds; i++) {
    const child = spawn('sleep', ['30']);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await settle();
    const start = now();
    child.kill('SIGKILL');
    await exited;
    samples.push(now() - start);
  }
  return samples;
}

async function thousandWaits() {
  const before = threads();
  const pids = Array.from({ length: 1000 }, () => posixSpawnp('sleep', ['sleep', '0.5']));
  const waits = pids.map((pid) => waitAsync(pid));
  const during = threads();
  let worst = 0;
  let expected = now() + 1;
  const timer = setInterval(() => {
    const t = now();
    worst = Math.max(worst, t - expected);
    expected = t + 1;
  }, 1);
  const started = now();
  await Promise.all(waits);
  clearInterval(timer);
  return { before, during, after: threads(), worstLateness: worst, allDone: now() - started };
}

const rounds = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? (quick ? 20 : 200));
const ours = await ourLatency(rounds);
const theirs = await childProcessLatency(rounds);
say(`wake-up latency, ${rounds} rounds (ms): waitAsync median ${median(ours).toFixed(3)} p90 ${percentile(ours, 0.9).toFixed(3)}; child_process 'exit' median ${median(theirs).toFixed(3)} p90 ${percentile(theirs, 0.9).toFixed(3)}`);
const manyRuns = [];
for (let i = 0; i < (quick ? 1 : 3); i++) {
  const many = await thousandWaits();
  manyRuns.push(many);
  say(`1000 concurrent waitAsync: threads before ${many.before}, while waiting ${many.during}, after ${many.after}; worst 1 ms timer lateness ${many.worstLateness.toFixed(2)} ms; all resolved ${many.allDone.toFixed(0)} ms after the last spawn`);
}
const cp = `node ${process.version} 'exit' event`;
// The latency ratio is of the medians: each sample is one child, the two series side by side.
const theirRow = row('wake-up after SIGKILL', cp, 'ms', theirs);
const ourRow = row('wake-up after SIGKILL', 'ours', 'ms', ours);
emit('wait', [
  { ...ourRow, ratioTo: cp, ratio: ourRow.median / theirRow.median },
  theirRow,
  row('1000 waits at once: threads added', 'ours', 'threads', manyRuns.map((m) => m.during - m.before)),
  row('1000 waits at once: worst 1 ms timer lateness', 'ours', 'ms', manyRuns.map((m) => m.worstLateness)),
]);
