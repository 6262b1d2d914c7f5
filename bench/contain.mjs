// Benchmark of containment (issue 14).
//   node bench/contain.mjs [--json] [--runs N]
// 1. The same escaping tree (a setsid'd grandchild, a double-forked daemon, a process in a new
//    group, a loop forking short-lived processes) killed with SIGKILL by tree-kill (npm), by
//    execa's `killDescendants` (needs Node >= 22: run this with Node 22+ to get its rows), and by
//    `killTree` with each mechanism available here: how many processes of the tree are still
//    alive 300 ms after the kill returned, and how long the kill took.
// 2. The cost of containment: spawn + wait of /bin/true, contained by each mechanism, against the
//    uncontained spawn, interleaved, as a ratio.
// 3. The Node parent SIGKILLed: what of a contained tree is alive 1 s later, per mechanism.
// Figures are medians (min, max) of interleaved runs; compare ratios, not absolute times.
import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const root = path.join(path.dirname(new URL(import.meta.url).pathname), '..');
const { spawn, availableContainments } = require('../dist/index.js');
const treeKill = require('tree-kill');
let execa = null;
try {
  ({ execa } = await import('execa'));
} catch {
  // execa 10 needs Node 22: its rows are left out.
}

const args = process.argv.slice(2);
const json = args.includes('--json');
const runs = Number(args[args.indexOf('--runs') + 1]) || 7;
const log = (...words) => {
  if (!json) console.log(...words);
};
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted.at(-1), runs: sorted.length };
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-contain-'));
let marks = 0;
function tree() {
  const mark = `BENCH_CONTAIN_${process.pid}_${++marks}`;
  const script = [
    'setsid sleep 1000 &',
    '(sleep 1000 &)',
    `perl -e 'setpgrp(0, 0); exec "sleep", "1000"' &`,
    '(while :; do /bin/true & sleep 0.005; done) &',
    'sleep 0.2; echo ready; wait',
  ].join('\n');
  return { mark, script, env: { ...process.env, [mark]: '1' } };
}

function markedAlive(mark) {
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!fs.readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(`${mark}=1`)) continue;
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (!'ZX'.includes(stat.slice(stat.lastIndexOf(')') + 2)[0])) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

// What a peer left behind is cleaned up here: stopped first so that nothing forks away.
async function cleanUp(mark) {
  for (let round = 0; round < 50; round++) {
    const left = markedAlive(mark);
    if (left.length === 0) return;
    for (const signal of ['SIGSTOP', 'SIGKILL']) {
      for (const pid of left) {
        try {
          process.kill(pid, signal);
        } catch {
          // gone
        }
      }
    }
    await sleep(10);
  }
}

const ready = (stream) => new Promise((resolve) => stream.once('data', resolve));

const killers = {
  async 'tree-kill'() {
    const { mark, script, env } = tree();
    const child = child_process.spawn('/bin/sh', ['-c', script], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    await ready(child.stdout);
    const start = now();
    await new Promise((resolve) => treeKill(child.pid, 'SIGKILL', resolve));
    return { mark, ms: now() - start };
  },
  async 'execa killDescendants'() {
    const { mark, script, env } = tree();
    const subprocess = execa('/bin/sh', ['-c', script], { env, killDescendants: true, buffer: false, stdout: 'pipe', stderr: 'ignore' });
    subprocess.catch(() => {});
    await ready(subprocess.stdout);
    subprocess.stdout.destroy(); // else execa's promise waits for the escaped processes' stdout
    const exited = new Promise((resolve) => subprocess.nodeChildProcess.once('exit', resolve));
    const start = now();
    subprocess.kill('SIGKILL');
    await exited;
    return { mark, ms: now() - start };
  },
};
for (const kind of availableContainments()) {
  killers[`ours (${kind})`] = async () => {
    const { mark, script, env } = tree();
    const child = await spawn('/bin/sh', ['-c', script], { env, contain: kind, stdio: ['ignore', 'pipe', 'ignore'] });
    await ready(child.stdout);
    child.stdout.destroy();
    const start = now();
    await child.killTree('SIGKILL');
    return { mark, ms: now() - start };
  };
}
if (execa === null) delete killers['execa killDescendants'];

const rows = [];
const subjectOf = (name) => (name.startsWith('ours') ? 'ours' : name.split(' ')[0]);

log('1. SIGKILL of an escaping tree');
const killSamples = Object.fromEntries(Object.keys(killers).map((name) => [name, { ms: [], left: [] }]));
for (let run = 0; run < runs; run++) {
  for (const [name, kill] of Object.entries(killers)) {
    const { mark, ms } = await kill();
    await sleep(300);
    killSamples[name].ms.push(ms);
    killSamples[name].left.push(markedAlive(mark).length);
    await cleanUp(mark);
  }
}
for (const [name, { ms, left }] of Object.entries(killSamples)) {
  const time = stats(ms);
  const alive = stats(left);
  log(`  ${name.padEnd(24)} left alive ${alive.median} (${alive.min}..${alive.max})   took ${time.median.toFixed(2)} ms (${time.min.toFixed(2)}..${time.max.toFixed(2)})`);
  rows.push({ measure: `kill escaping tree, processes left alive: ${name}`, subject: subjectOf(name), unit: 'processes', ...alive });
  rows.push({ measure: `kill escaping tree, time: ${name}`, subject: subjectOf(name), unit: 'ms', ...time });
}

log('2. spawn + wait of /bin/true');
const costSubjects = [false, ...availableContainments()];
const costSamples = new Map(costSubjects.map((kind) => [kind, []]));
const batch = 20;
for (let run = 0; run < runs * 3; run++) {
  for (const kind of costSubjects) {
    const start = now();
    for (let i = 0; i < batch; i++) await (await spawn('/bin/true', [], kind === false ? {} : { contain: kind })).wait();
    costSamples.get(kind).push(((now() - start) / batch) * 1000);
  }
}
const base = stats(costSamples.get(false));
log(`  uncontained              ${base.median.toFixed(0)} us`);
rows.push({ measure: 'spawn + wait /bin/true: uncontained', subject: 'ours', unit: 'us', ...base });
for (const kind of availableContainments()) {
  const cost = stats(costSamples.get(kind));
  const ratio = cost.median / base.median;
  log(`  contain: ${kind.padEnd(15)} ${cost.median.toFixed(0)} us  (${cost.min.toFixed(0)}..${cost.max.toFixed(0)})  ratio ${ratio.toFixed(2)}`);
  rows.push({ measure: `spawn + wait /bin/true: contain ${kind}`, subject: 'ours', unit: 'us', ...cost, ratio, ratioTo: 'uncontained' });
}

log('3. the Node parent SIGKILLed');
for (const kind of availableContainments()) {
  const left = [];
  for (let run = 0; run < Math.min(runs, 3); run++) {
    const { mark, script, env } = tree();
    const parentScript = `
      const { spawn } = require('./dist/index.js');
      spawn('/bin/sh', ['-c', process.argv[1]], { contain: process.argv[2], stdio: ['ignore', 'pipe', 'ignore'] })
        .then((child) => child.stdout.once('data', () => console.log('ready')));
      setInterval(() => {}, 1000);`;
    const parent = child_process.spawn(process.execPath, ['-e', parentScript, script, kind], { cwd: root, env, stdio: ['ignore', 'pipe', 'ignore'] });
    await ready(parent.stdout);
    parent.kill('SIGKILL');
    await sleep(1000);
    left.push(markedAlive(mark).length);
    await cleanUp(mark);
  }
  const alive = stats(left);
  log(`  ${kind.padEnd(24)} left alive ${alive.median} (${alive.min}..${alive.max})`);
  rows.push({ measure: `parent SIGKILLed, processes left alive after 1 s: ${kind}`, subject: 'ours', unit: 'processes', ...alive });
}

fs.rmSync(tmp, { recursive: true, force: true });
if (json) console.log(JSON.stringify({ name: 'contain', rows }));
