// A peer of bench/throughput.mjs, run by a runtime of its own (this Node, Node 22/24/26, Bun):
// `total` spawns of /bin/true with `inFlight` running at once, after a warm-up of 50, with
// `resident` MB held (touched Buffers); prints { way: [spawns per second, CPU µs of this process
// per spawn, CPU µs of its reaped children per spawn] } as JSON.
//   <runtime> bench/_throughput_anchor.mjs <total> <inFlight> [resident MB]
const [total, inFlight, resident] = process.argv.slice(2).map(Number);
const now = () => Number(process.hrtime.bigint()) / 1e9; // s
const held = [];
for (let i = 0; i < (resident || 0) / 64; i++) held.push(Buffer.alloc(64 * 1024 * 1024, 1));

// `inFlight` workers, each spawning and waiting one child at a time until `count` have started.
async function keep(count, once) {
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      await once();
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}

let way;
let once;
if (globalThis.Bun !== undefined) {
  way = 'Bun.spawn';
  once = () => globalThis.Bun.spawn(['/bin/true'], { stdio: ['ignore', 'ignore', 'ignore'] }).exited;
} else {
  const { spawn } = await import('node:child_process');
  way = 'spawn';
  once = () => new Promise((resolve, reject) => spawn('/bin/true', { stdio: 'ignore' }).once('exit', resolve).once('error', reject));
}
await keep(Math.min(50, total), once);
// The CPU time of the reaped children, µs: cutime + cstime of /proc/self/stat (in clock ticks, 100 a
// second: 5 µs a spawn over 2000).
const { readFileSync } = await import('node:fs');
const children = () => {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 1e4;
};
const cpu = process.cpuUsage();
const childrenBefore = children();
const start = now();
await keep(total, once);
const elapsed = now() - start;
const used = process.cpuUsage(cpu);
process.stdout.write(`${JSON.stringify({ [way]: [total / elapsed, (used.user + used.system) / total, (children() - childrenBefore) / total] })}\n`);
void held;
