// Where the gap between our spawn + wait and C's comes from (issue 19): the design replayed in C,
// one step at a time (bench/spawn_design_loop.c), beside ours, side by side in one run:
//   node bench/spawn-design.mjs [--json] [--quick]
// Subjects, each a loop of spawn + wait of /bin/true with fds 0-2 on /dev/null:
//   C                   glibc's posix_spawn + waitpid (the C loop of bench/spawn.mjs, with /dev/null)
//   C, vfork            clone(CLONE_VM | CLONE_VFORK) on a reused stack, waitpid
//   C, clone            clone(CLONE_VM | CLONE_PIDFD) without CLONE_VFORK: the parent goes on
//   C, pidfd wait       that, with the exit waited for through the pidfd in an epoll set
//   C, exec notice      that, with a close-on-exec pipe per child waited for first (our design)
//   C, our child        that, with the child doing what ours does before its exec
//   ours                spawn('/bin/true', [], { stdio: 'ignore' }) and wait()
// Rows: µs per spawn + wait (ratio to C per run), and the CPU time of the spawning process per
// spawn (getrusage; ours: process.cpuUsage, every thread, and its JS thread alone from
// /proc/thread-self/schedstat). The children's own time is not in it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emit, quick, row, say } from './_lib.mjs';

const require = createRequire(import.meta.url);
const { spawn } = require('../dist/index.js');
const here = new URL('.', import.meta.url).pathname;
const rounds = quick ? 100 : 500;
const runs = quick ? 2 : 9;

const VARIANTS = [
  ['C', 'posix_spawn'],
  ['C, vfork', 'vfork'],
  ['C, clone', 'clone'],
  ['C, pidfd wait', 'pidfd'],
  ['C, exec notice', 'notice'],
  ['C, our child', 'child'],
];

const build = mkdtempSync(join(tmpdir(), 'spawn-design-'));
execFileSync('cc', ['-O2', '-o', join(build, 'loop'), join(here, 'spawn_design_loop.c')]);
const cLoop = (variant) => execFileSync(join(build, 'loop'), [variant, String(rounds)], { encoding: 'utf8' }).trim().split(' ').map(Number);

// The JS thread's time on a CPU, µs (schedstat's first field is in ns).
const jsThreadTime = () => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1000;

async function ours() {
  const cpu = process.cpuUsage();
  const js = jsThreadTime();
  const start = performance.now();
  for (let i = 0; i < rounds; i++) await (await spawn('/bin/true', [], { stdio: 'ignore' })).wait();
  const used = process.cpuUsage(cpu);
  return [((performance.now() - start) * 1000) / rounds, (used.user + used.system) / rounds, (jsThreadTime() - js) / rounds];
}

for (let i = 0; i < 200; i++) await (await spawn('/bin/true', [], { stdio: 'ignore' })).wait(); // warm-up
const figures = new Map([...VARIANTS.map(([subject]) => subject), 'ours'].map((subject) => [subject, []]));
for (let run = 0; run < runs; run++) {
  for (const [subject, variant] of VARIANTS) figures.get(subject).push(cLoop(variant));
  figures.get('ours').push(await ours());
}
rmSync(build, { recursive: true, force: true });

const c = figures.get('C');
const rows = [];
for (const [subject, values] of figures) {
  const reference = subject === 'C' ? undefined : 'C';
  rows.push(row('spawn + wait, the design in C', subject, 'µs', values.map((v) => v[0]), reference, values.map((v, i) => v[0] / c[i][0])));
}
for (const [subject, values] of figures) {
  const reference = subject === 'C' ? undefined : 'C';
  rows.push(row('CPU of the spawning process per spawn', subject, 'µs', values.map((v) => v[1]), reference, values.map((v, i) => v[1] / c[i][1])));
}
const js = figures.get('ours').map((v) => v[2]);
rows.push(row('CPU of the spawning process per spawn', 'ours, JS thread', 'µs', js, 'C', js.map((v, i) => v / c[i][1])));

for (const r of rows) say(`${r.measure.padEnd(40)} ${r.subject.padEnd(16)} ${r.median.toFixed(0).padStart(6)} ${r.unit} (${r.min.toFixed(0)}-${r.max.toFixed(0)})${r.ratio === undefined ? '' : `  ${r.ratio.toFixed(2)}x C`}`);
emit('spawn-design', rows);
