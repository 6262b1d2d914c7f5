// npm's install step: loads a prebuilt binary when one fits (node-gyp-build), and otherwise builds
// the addon from source against the headers of the running Node, which ship with it (include/node
// beside bin/node): nothing is downloaded, with or without an npm configuration.
'use strict';
const childProcess = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');

function prebuildFits() {
  try {
    require('node-gyp-build').resolve(root);
    return true;
  } catch {
    return false;
  }
}

const env = { ...process.env };
if (!prebuildFits()) {
  // node-gyp reads npm_config_nodedir; without it, it would download the headers.
  const nodedir = env.npm_config_nodedir || path.resolve(process.execPath, '..', '..');
  const headers = path.join(nodedir, 'include', 'node', 'node_api.h');
  if (fs.existsSync(headers)) {
    env.npm_config_nodedir = nodedir;
    console.error(`posix-process: no prebuilt binary for ${process.platform}-${process.arch}; building from source with node-gyp against ${path.dirname(headers)} (needs python3, make and g++)`);
  } else {
    console.error(`posix-process: no prebuilt binary for ${process.platform}-${process.arch}, and no Node headers at ${path.dirname(headers)}: node-gyp will try to download them. Install Node's headers (they ship with the official builds) or set npm_config_nodedir.`);
  }
}

const result = childProcess.spawnSync(process.execPath, [require.resolve('node-gyp-build/bin.js')], { cwd: root, env, stdio: 'inherit' });
if (result.status !== 0) {
  console.error('posix-process: the native build failed; it needs python3, make and a C++17 compiler (g++ or clang++).');
}
process.exitCode = result.status ?? 1;
