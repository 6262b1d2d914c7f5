// `npm publish` runs this first (prepublishOnly): it refuses to publish unless every prebuild of
// scripts/prebuild.js is there, for the right machine, and the TypeScript build is in dist/.
'use strict';
const fs = require('fs');
const path = require('path');
const { PLATFORMS } = require('./prebuild.js');

const root = path.join(__dirname, '..');
// ELF e_machine of each architecture (elf(5)).
const MACHINES = { x64: 62, arm64: 183 };
const problems = [];
for (const arch of Object.keys(PLATFORMS)) {
  const file = path.join(root, 'prebuilds', `linux-${arch}`, 'posix-process.glibc.node');
  let header;
  try {
    header = fs.readFileSync(file).subarray(0, 20);
  } catch {
    problems.push(`missing ${path.relative(root, file)} (npm run prebuild)`);
    continue;
  }
  const elf = header.subarray(0, 4).toString('latin1') === '\x7fELF';
  if (!elf || header.readUInt16LE(18) !== MACHINES[arch]) problems.push(`${path.relative(root, file)} is not a linux-${arch} binary`);
}
for (const file of ['dist/index.js', 'dist/index.mjs', 'dist/index.d.ts']) {
  if (!fs.existsSync(path.join(root, file))) problems.push(`missing ${file} (npm run build:ts)`);
}
if (problems.length > 0) {
  console.error(`posix-process: not publishing:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.error(`posix-process: prebuilds for ${Object.keys(PLATFORMS).map((a) => `linux-${a}`).join(', ')} are in place`);
