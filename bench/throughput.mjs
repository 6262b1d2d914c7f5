// Throughput of the safe spawn (issue 19): spawns of /bin/true per second with 1, 4 and 16 in
// flight, side by side in one run:
//   node bench/throughput.mjs [--json] [--quick]
// Subjects: ours (`spawn` then `wait`, N callers each keeping one child in flight), a C loop that
// keeps as many in flight (bench/throughput_loop.c: posix_spawn, then waitpid(-1) and spawn the
// next; compiled by the script), child_process.spawn of this Node, and the anchors that are
// installed: child_process of Node 22/24/26 and Bun.spawn (bench/_throughput_anchor.mjs; found as
// in bench/spawn.mjs: BENCH_NODES, BENCH_BUN). Each Node and Bun subject runs in a fresh process
// of its own (a warm-up of 50 spawns, then the timed ones), so that no subject inherits another's
// state (libuv's SIGCHLD handler, a grown heap). Per run and in-flight count, the order is C, ours,
// C, then the others; ratios are to the mean of the two C figures around ours, per run.
// With an empty heap, and with 2 GB resident in the Node process (touched Buffers; C is unchanged,
// child_process forks with the whole heap mapped, so it does fewer spawns there, and the anchors
// are left out).
// Beside each rate, the CPU time (user + system, every thread) the spawning process spent per
// spawn, children not included (what the JS thread and its helpers cost, against C's loop), and
// the CPU time of the children themselves (clone to exit: what runs before the exec, the exec);
// all printed, and in the rows for 16 in flight with an empty heap.
// --quick: 200 spawns, one run, 256 MB instead of 2 GB (a smoke test).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { anchors } from './_anchors.mjs';
import { emit, holdResident, quick, row, say } from './_lib.mjs';

const require = createRequire(import.meta.url);
const here = new URL('.', import.meta.url).pathname;
const self = new URL(import.meta.url).pathname;
const seconds = () => Number(process.hrtime.bigint()) / 1e9;

// The CPU time of this process's reaped children, µs: cutime + cstime of /proc/self/stat (clock
// ticks, 100 a second: 5 µs a spawn over 2000 spawns).
function childrenCpu() {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 1e4;
}

// A child mode: ours, `total` spawns with `inFlight` at once, with `resident` MB held.
if (process.argv[2] === '--child') {
  const [total, inFlight, resident] = process.argv.slice(3).map(Number);
  const held = holdResident(resident);
  const { spawn } = require('../dist/index.js');
  const keep = async (count) => {
    let started = 0;
    const worker = async () => {
      while (started < count) {
        started++;
        await (await spawn('/bin/true', [], { stdio: 'ignore' })).wait();
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  };
  await keep(Math.min(50, total));
  const cpu = process.cpuUsage();
  const childrenBefore = childrenCpu();
  const start = seconds();
  await keep(total);
  const elapsed = seconds() - start;
  const used = process.cpuUsage(cpu);
  process.stdout.write(`${total / elapsed} ${(used.user + used.system) / total} ${(childrenCpu() - childrenBefore) / total}\n`);
  void held;
  process.exit(0);
}

const total = Number(process.env.SPAWNS ?? (quick ? 200 : 2000));
const inFlights = [1, 4, 16];
const build = mkdtempSync(join(tmpdir(), 'throughput-bench-'));
execFileSync('cc', ['-O2', '-o', join(build, 'throughput_loop'), join(here, 'throughput_loop.c')]);
// Each subject gives [spawns per second, CPU µs per spawn of the spawning process, of its children].
const pair = (text) => text.trim().split(' ').map(Number);
const cLoop = (n) => pair(execFileSync(join(build, 'throughput_loop'), [String(total), String(n)], { encoding: 'utf8' }));
const ours = (n, resident) => pair(execFileSync(process.execPath, [self, '--child', String(total), String(n), String(resident)], { encoding: 'utf8' }));
const peer = (runtime, count, n, resident) => JSON.parse(execFileSync(runtime, [join(here, '_throughput_anchor.mjs'), String(count), String(n), String(resident)], { encoding: 'utf8' }));

const big = quick ? 256 : 2048;
const heaps = [
  { resident: 0, label: 'empty heap', runs: quick ? 1 : 5, peers: [[`node ${process.version}`, process.execPath], ...anchors()], peerTotal: total },
  { resident: big, label: `${big >= 1024 ? `${big / 1024} GB` : `${big} MB`} resident`, runs: quick ? 1 : 3, peers: [[`node ${process.version}`, process.execPath]], peerTotal: quick ? 50 : 200 },
];
const rows = [];
for (const heap of heaps) {
  for (const n of inFlights) {
    const rates = new Map(); // subject -> { values, ratios }
    const cpus = new Map();
    const childCpus = new Map();
    const record = (figures, subject, value, reference) => {
      if (!figures.has(subject)) figures.set(subject, { values: [], ratios: [] });
      figures.get(subject).values.push(value);
      figures.get(subject).ratios.push(value / reference);
    };
    for (let run = 0; run < heap.runs; run++) {
      const c1 = cLoop(n);
      const o = ours(n, heap.resident);
      const c2 = cLoop(n);
      const c = c1.map((value, i) => (value + c2[i]) / 2);
      const both = (subject, [rate, cpu, childCpu]) => {
        record(rates, subject, rate, c[0]);
        record(cpus, subject, cpu, c[1]);
        record(childCpus, subject, childCpu, c[2]);
      };
      both('C', c);
      both('ours', o);
      for (const [label, runtime] of heap.peers) {
        for (const [way, value] of Object.entries(peer(runtime, heap.peerTotal, n, heap.resident))) both(`${label} ${way}`, value);
      }
    }
    const counts = `${total} spawns${heap.peerTotal === total ? '' : `, ${heap.peerTotal} for child_process`}, ${heap.runs} runs`;
    // The CPU figures barely move with N or the heap: all are printed, only 16 in flight with an
    // empty heap goes into the rows (the table and the chart).
    const cpuRows = n === 16 && heap.resident === 0;
    for (const [figures, measure, unit, digits, kept] of [
      [rates, `spawns/s of /bin/true, ${n} in flight, ${heap.label}`, 'spawns/s', 0, true],
      [cpus, `CPU time of the spawning process per spawn, ${n} in flight, ${heap.label}`, 'µs', 1, cpuRows],
      [childCpus, `CPU time of the children per spawn, ${n} in flight, ${heap.label}`, 'µs', 0, cpuRows],
    ]) {
      say(`${measure} (${counts}; median, min-max; ratio to C: median of the runs):`);
      for (const [subject, { values, ratios }] of figures) {
        const r = row(measure, subject, unit, values, subject === 'C' ? undefined : 'C', subject === 'C' ? undefined : ratios);
        if (kept) rows.push(r);
        say(`   ${subject.padEnd(28)} ${r.median.toFixed(digits).padStart(6)} (${r.min.toFixed(digits)}-${r.max.toFixed(digits)})${r.ratio === undefined ? '' : `  ${r.ratio.toFixed(2)}x C`}`);
      }
    }
  }
}
rmSync(build, { recursive: true, force: true });
emit('throughput', rows);
