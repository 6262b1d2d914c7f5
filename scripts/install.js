// npm's install step: uses a prebuilt binary when one fits (node-gyp-build: linux-x64 and
// linux-arm64, glibc), and otherwise builds the addon from source against the headers of the
// running Node, which ship with it (include/node beside bin/node): nothing is downloaded, with or
// without an npm configuration. Without a compiler it says what to install.
'use strict';
const childProcess = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');

function isMusl() {
  try {
    return /\/ld-musl-|\/libc\.musl-/.test(fs.readFileSync('/proc/self/maps', 'latin1'));
  } catch {
    return false;
  }
}

// A local build, or a prebuild for this platform and libc (node-gyp-build tells musl only on
// Alpine, so a glibc prebuild is refused here on any musl system).
function binaryFits() {
  try {
    const file = require('node-gyp-build').resolve(root);
    return !(file.includes('.glibc.') && isMusl());
  } catch {
    return false;
  }
}

function onPath(program) {
  return (process.env.PATH || '').split(':').some((dir) => {
    try {
      fs.accessSync(path.join(dir || '.', program), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function fail(message) {
  console.error(`posix-process: ${message}`);
  process.exit(1);
}

if (process.platform !== 'linux') {
  // Nothing to build: the package binds Linux system calls, and its import says so elsewhere.
  process.exit(0);
}
if (binaryFits()) process.exit(0);

const libc = isMusl() ? 'musl' : 'glibc';
const platform = `linux-${process.arch} (${libc})`;
const missing = [
  ['python3', ['python3']],
  ['make', ['make']],
  ['a C++17 compiler', [process.env.CXX || 'g++', 'c++', 'clang++']],
].filter(([, programs]) => !programs.some((program) => onPath(program.split(' ')[0])));
if (missing.length > 0) {
  fail(
    `no prebuilt binary for ${platform} (prebuilds: linux-x64 and linux-arm64, glibc), and the build ` +
      `from source needs ${missing.map(([name]) => name).join(', ')}, not found on PATH. Install ` +
      '(Debian/Ubuntu) apt-get install python3 make g++, (Alpine) apk add python3 make g++, ' +
      '(Fedora) dnf install python3 make gcc-c++, then run npm rebuild posix-process.',
  );
}

const env = { ...process.env };
// node-gyp reads npm_config_nodedir; without it, it would download the headers.
const nodedir = env.npm_config_nodedir || path.resolve(process.execPath, '..', '..');
const headers = path.join(nodedir, 'include', 'node');
if (!fs.existsSync(path.join(headers, 'node_api.h'))) {
  fail(
    `no prebuilt binary for ${platform}, and no Node headers at ${headers} to build against ` +
      '(they ship with the official Node builds; some distribution packages put them in a ' +
      'separate package, e.g. Debian libnode-dev or nodejs-dev). Install them, or point ' +
      'npm_config_nodedir at a folder that has include/node.',
  );
}
env.npm_config_nodedir = nodedir;
console.error(`posix-process: no prebuilt binary for ${platform}; building from source with node-gyp against ${headers} (about a minute)`);

// node-gyp: this package's (a development install) or the one npm ships and names in
// npm_config_node_gyp for install scripts.
let nodeGyp = env.npm_config_node_gyp;
try {
  nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  // not installed here: npm's
}
if (!nodeGyp) fail('no prebuilt binary, and node-gyp was not found: run the install through npm (npm rebuild posix-process).');

const result = childProcess.spawnSync(process.execPath, [nodeGyp, 'rebuild'], { cwd: root, env, stdio: 'inherit' });
if (result.status !== 0) fail('the native build failed (see above); it needs python3, make and a C++17 compiler (g++ 8 or later, or clang++).');
