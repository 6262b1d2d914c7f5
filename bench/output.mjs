// Benchmark of a child's output (issue 15), measured side by side in one run:
//   node bench/output.mjs [--json] [--quick]
// 1. Reading 1 GiB of `head -c 1073741824 /dev/zero` from a 'pipe' stdout: ours (spawn, 'data'
//    events), child_process.spawn, `head | cat >/dev/null` run by /bin/sh, and two C readers
//    (bench/read_loop.c, compiled here): a blocking read loop that drops the bytes, and an
//    event-loop reader (epoll, a read per event, a copy per chunk), the floor for Node readers.
// 2. A 3-stage pipeline moving 1 GiB (`head -c 1G /dev/zero | cat | cat >/dev/null`): ours
//    (pipeline()) against the same line run by /bin/sh -c.
// 3. run('/bin/echo', ['hi']) collecting its output, one after another: ours, a C loop of
//    posix_spawn + read + waitpid (bench/output_loop.c, compiled here), the same loop doing what
//    run() does (stdin /dev/null, stdout and stderr piped and polled), execa, and
//    child_process.execFile; plus runSync and child_process.execFileSync.
// Each measure alternates the subjects round by round, so that a busy machine hurts them alike.
import { execFile, execFileSync, spawn as cpSpawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
let execa = null;
try {
  ({ execa } = await import('execa'));
} catch {
  // execa 10 needs Node 22: its row is left out (as in bench/contain.mjs).
}

const require = createRequire(import.meta.url);
const { spawn, run, runSync, pipeline } = require('../dist/index.js');
const here = new URL('.', import.meta.url).pathname;
const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const GiB = 1024 * 1024 * 1024;
const bytes = quick ? GiB / 8 : GiB;
const log = (...args) => (json ? undefined : console.log(...args));
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted[sorted.length - 1], runs: sorted.length };
}

async function readOurs() {
  const child = await spawn('head', ['-c', String(bytes), '/dev/zero'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let total = 0;
  child.stdout.on('data', (chunk) => (total += chunk.length));
  await child.finished();
  if (total !== bytes) throw new Error(`read ${total}`);
}

function readChildProcess() {
  return new Promise((resolve, reject) => {
    const child = cpSpawn('head', ['-c', String(bytes), '/dev/zero'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let total = 0;
    child.stdout.on('data', (chunk) => (total += chunk.length));
    child.on('close', () => (total === bytes ? resolve() : reject(new Error(`read ${total}`))));
  });
}

const shell = (line) => () => new Promise((resolve, reject) => cpSpawn('/bin/sh', ['-c', line], { stdio: 'inherit' }).on('close', (code) => (code === 0 ? resolve() : reject(new Error(line)))));

async function pipelineOurs() {
  const { statuses } = await pipeline([['head', ['-c', String(bytes), '/dev/zero']], ['cat'], ['cat']], { stdout: { path: '/dev/null' } });
  if (statuses.some((status) => status.kind !== 'exited' || status.code !== 0)) throw new Error('pipeline failed');
}

// Runs every subject once per round, in turn, and returns each one's times (ms).
async function sideBySide(subjects, rounds) {
  const times = Object.fromEntries(Object.keys(subjects).map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, subject] of Object.entries(subjects)) {
      const start = now();
      await subject();
      times[name].push(now() - start);
    }
  }
  return times;
}

const rows = [];
function report(measure, unit, times, toValue, ratioTo) {
  const values = Object.fromEntries(Object.entries(times).map(([name, list]) => [name, stats(list.map(toValue))]));
  for (const [subject, value] of Object.entries(values)) {
    const row = { measure, subject, unit, ...value };
    if (ratioTo !== undefined && subject !== ratioTo) {
      row.ratio = Number((value.median / values[ratioTo].median).toFixed(3));
      row.ratioTo = ratioTo;
    }
    rows.push(row);
    log(`${measure.padEnd(34)} ${subject.padEnd(22)} median ${value.median.toFixed(1).padStart(8)} ${unit} (min ${value.min.toFixed(1)}, max ${value.max.toFixed(1)}, ${value.runs} runs)${row.ratio === undefined ? '' : ` = ${row.ratio}x ${ratioTo}`}`);
  }
}

const build = mkdtempSync(join(tmpdir(), 'bench-output-'));
const compile = (name) => execFileSync('cc', ['-O2', '-o', join(build, name), join(here, `${name}.c`)]);
compile('read_loop');
const readLoop = (mode) => () => new Promise((resolve, reject) => cpSpawn(join(build, 'read_loop'), [mode, String(bytes)], { stdio: 'inherit' }).on('close', (code) => (code === 0 ? resolve() : reject(new Error(`read_loop ${mode}`)))));

const rate = (ms) => bytes / 1e6 / (ms / 1000); // MB/s
const readRounds = quick ? 3 : 7;
report(
  `read ${bytes / GiB} GiB of a child's stdout`,
  'MB/s',
  await sideBySide(
    {
      ours: readOurs,
      child_process: readChildProcess,
      C: shell(`head -c ${bytes} /dev/zero | cat >/dev/null`),
      'C, read loop': readLoop('block'),
      'C, event loop': readLoop('epoll'),
    },
    readRounds,
  ),
  rate,
  'child_process',
);
report(
  `3-stage pipeline, ${bytes / GiB} GiB`,
  'MB/s',
  await sideBySide({ ours: pipelineOurs, C: shell(`head -c ${bytes} /dev/zero | cat | cat >/dev/null`) }, readRounds),
  rate,
  'C',
);

// Short commands: mean µs per run over a batch, batches side by side.
compile('output_loop');
const batch = quick ? 100 : 400;
const perRun = (fn) => async () => {
  for (let i = 0; i < batch; i++) await fn();
};
const execFileAsync = promisify(execFile);
const cLoopTimes = { plain: [], like: [] };
const cLoop = (mode) => async () => {
  cLoopTimes[mode].push(Number(execFileSync(join(build, 'output_loop'), [String(batch), ...(mode === 'like' ? ['like'] : [])], { encoding: 'utf8' })));
};
const likeRun = 'C, like run';
const echoSubjects = {
  ours: perRun(async () => {
    if ((await run('/bin/echo', ['hi'])).stdout !== 'hi\n') throw new Error('run');
  }),
  C: cLoop('plain'),
  [likeRun]: cLoop('like'),
  ...(execa === null
    ? {}
    : {
        execa: perRun(async () => {
          if ((await execa('/bin/echo', ['hi'])).stdout !== 'hi') throw new Error('execa');
        }),
      }),
  'child_process.execFile': perRun(async () => {
    if ((await execFileAsync('/bin/echo', ['hi'])).stdout !== 'hi\n') throw new Error('execFile');
  }),
  runSync: perRun(() => {
    if (runSync('/bin/echo', ['hi']).stdout !== 'hi\n') throw new Error('runSync');
  }),
  'child_process.execFileSync': perRun(() => {
    if (execFileSync('/bin/echo', ['hi'], { encoding: 'utf8' }) !== 'hi\n') throw new Error('execFileSync');
  }),
};
await perRun(() => run('/bin/echo', ['hi']))(); // warm-up
const echoTimes = await sideBySide(echoSubjects, quick ? 3 : 7);
// The loops' own clocks, without their exec.
echoTimes.C = cLoopTimes.plain.map((us) => (us * batch) / 1000);
echoTimes[likeRun] = cLoopTimes.like.map((us) => (us * batch) / 1000);
const perEcho = (ms) => (ms * 1000) / batch;
report("run('/bin/echo hi'), collected", 'µs', echoTimes, perEcho, 'C');
// Like for like: the C loop that pipes stderr too and gives the child /dev/null, as run() does.
report("run('/bin/echo hi'), to C like run", 'µs', { ours: echoTimes.ours, [likeRun]: echoTimes[likeRun] }, perEcho, likeRun);

log('\nFigures taken on a shared, busy machine are noisy: compare ratios from one run only.');
if (json) console.log(JSON.stringify({ name: 'output', rows }));
