// `npm run prebuild`: builds the binaries shipped in the npm tarball, one per platform in
// PLATFORMS, into prebuilds/linux-<arch>/posix-process.glibc.node (tagged by libc, so that
// node-gyp-build never picks them on musl). linux-arm64 is cross-compiled with Debian's
// g++-aarch64-linux-gnu. Both build against the headers of the running Node (Node-API's headers
// are the same on every architecture): nothing is downloaded.
//   node scripts/prebuild.js [arch...]      (default: every arch of PLATFORMS)
'use strict';
const childProcess = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');

// The prebuilds every published tarball carries (scripts/check-prebuilds.js checks them).
const PLATFORMS = {
  x64: { triplet: 'x86_64-linux-gnu', apt: 'g++' },
  arm64: { triplet: 'aarch64-linux-gnu', apt: 'g++-aarch64-linux-gnu' },
};

function hostArch() {
  return process.arch;
}

function which(program) {
  return (process.env.PATH || '').split(':').some((dir) => dir && fs.existsSync(path.join(dir, program)));
}

function build(arch) {
  const target = PLATFORMS[arch];
  if (!target) throw new Error(`no prebuild is made for ${arch}: choose from ${Object.keys(PLATFORMS).join(', ')}`);
  const env = { ...process.env };
  const nodedir = env.npm_config_nodedir || path.resolve(process.execPath, '..', '..');
  if (!fs.existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) {
    throw new Error(`no Node headers at ${nodedir}/include/node: set npm_config_nodedir`);
  }
  env.npm_config_nodedir = nodedir;
  const args = ['--napi', '--strip', '--tag-libc', '--libc', 'glibc', '--arch', arch];
  if (arch !== hostArch()) {
    const cxx = `${target.triplet}-g++`;
    if (!which(cxx)) throw new Error(`cross-compiling for ${arch} needs ${cxx} (Debian: apt-get install ${target.apt})`);
    env.CC = `${target.triplet}-gcc`;
    env.CXX = cxx;
    env.LINK = cxx;
    env.AR = `${target.triplet}-ar`;
    // gyp builds nothing for the host here, but it needs the host tools named.
    env.CC_host = 'gcc';
    env.CXX_host = 'g++';
    args.push('--strip-bin', `${target.triplet}-strip`);
  }
  console.error(`posix-process: prebuild for linux-${arch} (glibc)`);
  const prebuildify = require.resolve('prebuildify/bin.js');
  const result = childProcess.spawnSync(process.execPath, [prebuildify, ...args], { cwd: root, env, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`prebuild for linux-${arch} failed (status ${result.status})`);
}

module.exports = { PLATFORMS };

if (require.main === module) {
  const arches = process.argv.slice(2);
  try {
    // The host's last: node-gyp leaves its build in build/Release, which the loader takes first.
    const all = arches.length > 0 ? arches : Object.keys(PLATFORMS);
    for (const arch of [...all.filter((a) => a !== hostArch()), ...all.filter((a) => a === hostArch())]) build(arch);
  } catch (error) {
    console.error(`posix-process: ${error.message}`);
    process.exitCode = 1;
  }
}
