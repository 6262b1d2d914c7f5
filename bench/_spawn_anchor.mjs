// An anchor of bench/spawn.mjs, run by another runtime (Node 22/24/26, Bun): spawn + wait of
// /bin/true, `rounds` in a row, each way the runtime offers; prints { way: mean µs } as JSON.
//   <runtime> bench/_spawn_anchor.mjs <rounds>
const rounds = Number(process.argv[2] ?? 1000);
const now = () => Number(process.hrtime.bigint()) / 1e3;
const result = {};

if (globalThis.Bun !== undefined) {
  const start = now();
  for (let i = 0; i < rounds; i++) await globalThis.Bun.spawn(['/bin/true'], { stdio: ['ignore', 'ignore', 'ignore'] }).exited;
  result['Bun.spawn'] = (now() - start) / rounds;
} else {
  const { spawn, spawnSync } = await import('node:child_process');
  let start = now();
  for (let i = 0; i < rounds; i++) spawnSync('/bin/true', { stdio: 'ignore' });
  result.spawnSync = (now() - start) / rounds;
  start = now();
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => spawn('/bin/true', { stdio: 'ignore' }).once('exit', resolve));
  result.spawn = (now() - start) / rounds;
}
process.stdout.write(`${JSON.stringify(result)}\n`);
