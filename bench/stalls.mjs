// Event-loop stalls over many launches (issue 19): 200 children spawned at once, the worst
// lateness of a 1 ms timer while they start, over 40 launches, ours and child_process.spawn,
// with an empty heap and with 1 GB resident:
//   node bench/stalls.mjs [--json] [--quick]
// Each launch runs in a fresh Node process (hold the heap, a 20-child warm-up, then the 200),
// as bench/spawn.mjs part 3 does: every launch is then the same event, the first burst of a
// program that has just started (the worst case: its young generation still holds what loading
// allocated), and launches are independent, so their spread is the spread of that event; in one
// long-lived process later launches would see a heap shaped by the earlier ones. Ours and
// child_process alternate, launch by launch.
// Every launch process runs with --trace-gc --trace-gc-nvp and reads its JS thread's schedstat at
// each tick; for each launch of ours above 10 ms, the benchmark prints (stderr) how the JS thread
// spent its worst gap (on a CPU, runnable waiting for one, asleep or blocked) and the garbage
// collections that overlap it with their phases, to tell what the stall is (child_process's
// stall is its synchronous forks, one after another). child_process with 1 GB resident forks with the heap mapped (seconds a
// launch): it gets 10 launches. STALL_LAUNCHES and STALL_LAUNCHES_CP (both heaps) override the
// counts, to hunt for rare stalls.
// --quick: 4 launches of 50 children, 256 MB instead of 1 GB (a smoke test).
import { execFileSync } from 'node:child_process';
import { openSync, readSync } from 'node:fs';
import { launchOurs, launchTheirs } from './_launch.mjs';
import { emit, holdResident, quick, row, say, summary } from './_lib.mjs';

const self = new URL(import.meta.url).pathname;
const now = () => performance.now(); // ms since this process's time origin

// Child mode: one launch of `count` /bin/sleep children, by `who`, with `resident` MB held.
// Prints (after V8's GC trace lines) { worst, gap: [start, end], gapSched: [on a CPU, waiting for
// one], launch: [start, end], v8Start } in ms of performance.now(); V8's trace stamps are ms since the isolate started, which is
// performance.nodeTiming.v8Start within a millisecond.
async function child(who, resident, count) {
  const held = holdResident(resident);
  const launch = who === 'ours' ? launchOurs : launchTheirs;
  await (await launch(20, 0.05))(); // warm-up: both sides get their code compiled first
  let worst = 0;
  let gap = [0, 0];
  let expected;
  await new Promise((resolve) => setTimeout(resolve, 20));
  let last = now();
  let lastSched = sched();
  let gapSched = [0, 0];
  expected = last + 1;
  const timer = setInterval(() => {
    const t = now();
    const times = sched();
    if (t - expected > worst) {
      worst = t - expected;
      gap = [last, t];
      gapSched = [times[0] - lastSched[0], times[1] - lastSched[1]];
    }
    last = t;
    lastSched = times;
    expected = t + 1;
  }, 1);
  const started = now();
  const exited = await launch(count, 0.3);
  const launched = now();
  await new Promise((resolve) => setTimeout(resolve, 20));
  clearInterval(timer);
  await exited();
  void held;
  return { worst, gap, gapSched, launch: [started, launched], v8Start: performance.nodeTiming.v8Start };
}

// The JS thread's time on a CPU and time runnable but waiting for one, in ms
// (/proc/thread-self/schedstat, read through one fd: a few µs a tick).
const schedFd = process.argv[2] === '--child' ? openSync('/proc/thread-self/schedstat', 'r') : -1;
const schedBuffer = Buffer.alloc(128);
function sched() {
  const length = readSync(schedFd, schedBuffer, 0, schedBuffer.length, 0);
  const [onCpu, waiting] = schedBuffer.toString('latin1', 0, length).split(' ').map(Number);
  return [onCpu / 1e6, waiting / 1e6];
}

if (process.argv[2] === '--child') {
  const [, , , who, resident, count] = process.argv;
  const result = await child(who, Number(resident), Number(count));
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

/** One launch in a fresh process: its result and the GC events of its trace, in performance.now() ms. */
function launchOnce(who, resident, count) {
  const out = execFileSync(process.execPath, ['--trace-gc', '--trace-gc-nvp', self, '--child', who, String(resident), String(count)], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const lines = out.trim().split('\n');
  const result = JSON.parse(lines.pop());
  result.gcs = lines.flatMap((line) => {
    const match = /^\[\d+:0x[0-9a-f]+\]\s+(\d+) ms: (pause=.*)$/.exec(line);
    if (match === null) return [];
    const fields = Object.fromEntries(match[2].split(' ').map((pair) => pair.split('=')));
    const end = Number(match[1]) + result.v8Start;
    return [{ end, pause: Number(fields.pause), fields }];
  });
  return result;
}

// The fields of a GC trace line worth showing for a stall.
const shown = ['gc', 'pause', 'time_to_safepoint', 'scavenge', 'scavenge.parallel', 'background.scavenge.parallel', 'scavenge.roots', 'mark', 'sweep', 'evacuate', 'allocated', 'promoted', 'total_size_before', 'total_size_after'];
function describe(subject, heap, index, result) {
  const at = (t) => `${(t - result.launch[0]).toFixed(1)}`;
  const [onCpu, waiting] = result.gapSched;
  const asleep = result.gap[1] - result.gap[0] - onCpu - waiting;
  const lines = [
    `${subject}, ${heap}, launch ${index + 1}: worst lateness ${result.worst.toFixed(1)} ms, gap from ${at(result.gap[0])} to ${at(result.gap[1])} ms after the first spawn() (the launch took ${at(result.launch[1])} ms);`,
    `   the JS thread in the gap: ${onCpu.toFixed(1)} ms on a CPU, ${waiting.toFixed(1)} ms runnable waiting for a CPU, ${asleep.toFixed(1)} ms asleep or blocked;`,
    '   garbage collections within 5 ms of the gap (end, ms after the first spawn()):',
  ];
  const near = result.gcs.filter((gc) => gc.end >= result.gap[0] - 5 && gc.end - gc.pause <= result.gap[1] + 5);
  for (const gc of near) lines.push(`   ends at ${at(gc.end)}: ${shown.filter((k) => gc.fields[k] !== undefined).map((k) => `${k}=${gc.fields[k]}`).join(' ')}`);
  if (near.length === 0) lines.push('   none');
  return lines.join('\n');
}

const count = quick ? 50 : 200;
const launches = Number(process.env.STALL_LAUNCHES ?? (quick ? 4 : 40));
const theirsEmpty = Number(process.env.STALL_LAUNCHES_CP ?? launches);
const theirsBig = Number(process.env.STALL_LAUNCHES_CP ?? (quick ? 2 : 10));
const big = quick ? 256 : 1024;
const theirs = `node ${process.version} spawn`;
const rows = [];
const evidence = [];
for (const resident of [0, big]) {
  const heap = resident === 0 ? 'empty heap' : `${resident >= 1024 ? `${resident / 1024} GB` : `${resident} MB`} resident`;
  const worsts = { ours: [], [theirs]: [] };
  const cpLaunches = Math.min(launches, resident === 0 ? theirsEmpty : theirsBig);
  for (let i = 0; i < launches; i++) {
    for (const [subject, who] of [['ours', 'ours'], [theirs, 'theirs']]) {
      if (subject === theirs && i >= cpLaunches) continue;
      const result = launchOnce(who, resident, count);
      worsts[subject].push(result.worst);
      if (result.worst > 10 && subject === 'ours') evidence.push(describe(subject, heap, i, result));
    }
  }
  say(`${count} at once, ${heap}: worst 1 ms timer lateness per launch (ms), over fresh-process launches:`);
  for (const [subject, values] of Object.entries(worsts)) {
    if (values.length === 0) continue; // STALL_LAUNCHES_CP=0
    const measure = `${count} at once, worst lateness of a launch, ${heap}`;
    rows.push(row(measure, subject, 'ms', values, subject === 'ours' ? theirs : undefined));
    const over = values.filter((v) => v > 10).length;
    rows.push({ measure: `${count} at once, launches above 10 ms, ${heap}`, subject, unit: 'launches', median: over, min: over, max: over, runs: values.length, ratioTo: null });
    const s = summary(values);
    say(`   ${subject.padEnd(24)} median ${s.median.toFixed(1)}, worst ${s.max.toFixed(1)}, best ${s.min.toFixed(1)}; ${over} of ${values.length} above 10 ms`);
  }
}
if (evidence.length > 0) say(`Launches of ours above 10 ms, with V8's GC trace (--trace-gc-nvp) around their worst gap:\n${evidence.join('\n')}`);
emit('stalls', rows);
