// Benchmark of the sandboxed spawn (issue: sandbox), measured side by side in one run:
//   node bench/sandbox.mjs [--json]
// spawn + wait of /bin/true, one after another, in new user + pid + net namespaces:
// - ours: spawn('/bin/true', [], { namespaces: ['user', 'pid', 'net'] }) (clone3 with the flags,
//   the id maps written by this process, the loopback brought up in the child);
// - unshare(1): `unshare --user --map-root-user --pid --net --fork /bin/true`, started by our plain
//   spawn (so both pay the same launcher), which does the same work: its own maps, a fork for
//   the pid namespace (no loopback: unshare leaves it down);
// - plain: spawn('/bin/true') with no namespace, the floor.
// Batches of each are interleaved so that a busy moment of the machine hits every subject alike;
// the figures are the median, min and max of the batches' mean time per spawn + wait.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { spawn } = require('../dist/index.js');

const json = process.argv.includes('--json');
const batches = Number(process.env.BATCHES ?? 15);
const perBatch = Number(process.env.PER_BATCH ?? 20);
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms
const unshare = execFileSync('sh', ['-c', 'command -v unshare'], { encoding: 'utf8' }).trim();

const subjects = {
  ours: () => spawn('/bin/true', [], { stdio: 'ignore', namespaces: ['user', 'pid', 'net'] }),
  'unshare(1)': () => spawn(unshare, ['--user', '--map-root-user', '--pid', '--net', '--fork', '/bin/true'], { stdio: 'ignore' }),
  plain: () => spawn('/bin/true', [], { stdio: 'ignore' }),
};

async function batch(start) {
  const begin = now();
  for (let i = 0; i < perBatch; i++) {
    const child = await start();
    const { status } = await child.wait();
    if (status.kind !== 'exited' || status.code !== 0) throw new Error(`a run ended ${JSON.stringify(status)}`);
  }
  return (now() - begin) / perBatch;
}

const samples = Object.fromEntries(Object.keys(subjects).map((name) => [name, []]));
for (const start of Object.values(subjects)) await batch(start); // warm-up
for (let b = 0; b < batches; b++) {
  for (const [name, start] of Object.entries(subjects)) samples[name].push(await batch(start));
}

const sorted = (values) => [...values].sort((a, b) => a - b);
const median = (values) => sorted(values)[Math.floor(values.length / 2)];
const row = (name, measure) => {
  const values = samples[name];
  return { measure, subject: name === 'unshare(1)' ? name : 'ours', unit: 'ms', median: +median(values).toFixed(3), min: +sorted(values)[0].toFixed(3), max: +sorted(values).at(-1).toFixed(3), runs: values.length };
};
const rows = [
  { ...row('ours', 'spawn + wait, user+pid+net namespaces'), ratio: +(median(samples.ours) / median(samples['unshare(1)'])).toFixed(2), ratioTo: 'unshare(1)' },
  row('unshare(1)', 'spawn + wait, user+pid+net namespaces'),
  row('plain', 'spawn + wait, no namespace'),
];
for (const r of rows) {
  console.log(`${r.measure}: ${r.subject} median ${r.median} ms (min ${r.min}, max ${r.max}, ${r.runs} batches of ${perBatch})${r.ratio === undefined ? '' : `, ${r.ratio}x ${r.ratioTo}`}`);
}
if (json) console.log(JSON.stringify({ name: 'sandbox', rows }));
