// Shared by bench/spawn.mjs (part 3) and bench/stalls.mjs: 200 children launched at once, ours and
// child_process. Each launcher resolves once every child has been started, with a function that
// waits for all of them to exit.
import { spawn as cpSpawn } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** `count` /bin/sleep children by spawn(), started at once. */
export async function launchOurs(count, seconds) {
  const { spawn } = require('../dist/index.js');
  const children = await Promise.all(Array.from({ length: count }, () => spawn('/bin/sleep', [String(seconds)], { stdio: 'ignore' })));
  return () => Promise.all(children.map((child) => child.wait()));
}

/** The same by child_process.spawn (started: its 'spawn' event). */
export async function launchTheirs(count, seconds) {
  const children = Array.from({ length: count }, () => cpSpawn('/bin/sleep', [String(seconds)], { stdio: 'ignore' }));
  const exits = children.map((child) => new Promise((resolve) => child.once('exit', resolve)));
  await Promise.all(children.map((child) => new Promise((resolve) => child.once('spawn', resolve))));
  return () => Promise.all(exits);
}
