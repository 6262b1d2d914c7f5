// Prints the native sources, one per line, relative to the package root: the single list that
// binding.gyp (node-gyp, prebuildify) and CMakeLists.txt (cmake-js) both build.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const sources = [];
for (const dir of ['native', 'native/util']) {
  for (const name of fs.readdirSync(path.join(root, dir)).sort()) {
    if (name.endsWith('.cc')) sources.push(`${dir}/${name}`);
  }
}
process.stdout.write(sources.join('\n') + '\n');
