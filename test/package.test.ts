// The package as users get it (issue 18): what the loader says with no binary, what the install
// step does with a prebuild and with no compiler, what publish refuses, and the shipped types.
import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repoRoot } from './helpers';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

// A copy of the package's files (no build/, no prebuilds/) with node-gyp-build beside it.
function packageCopy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-process-package-'));
  made.push(dir);
  fs.cpSync(path.join(repoRoot, 'dist'), path.join(dir, 'dist'), { recursive: true });
  fs.cpSync(path.join(repoRoot, 'scripts'), path.join(dir, 'scripts'), { recursive: true });
  fs.copyFileSync(path.join(repoRoot, 'package.json'), path.join(dir, 'package.json'));
  fs.cpSync(path.join(repoRoot, 'node_modules', 'node-gyp-build'), path.join(dir, 'node_modules', 'node-gyp-build'), { recursive: true });
  return dir;
}

// The sanitizer run's settings (npm run test:sanitize: leaks not checked, reports to files) for
// a Node started with an otherwise empty environment.
function sanitizerOptions(): Record<string, string> {
  const names = ['ASAN_OPTIONS', 'UBSAN_OPTIONS'] as const;
  return Object.fromEntries(names.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]]])));
}

// A folder with only `node` in it, for a PATH where no compiler, make or python can be found.
function nodeOnlyPath(dir: string): string {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  return bin;
}

describe('loading with no binary', () => {
  it('throws ERR_POSIX_PROCESS_NO_BINARY, naming the prebuilt platforms and how to build', () => {
    const dir = packageCopy();
    const result = child_process.spawnSync(process.execPath, ['-e', `
      try { require(${JSON.stringify(dir)}); console.log('loaded'); }
      catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }`], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    const { code, message } = JSON.parse(result.stdout) as { code: string; message: string };
    expect(code).toBe('ERR_POSIX_PROCESS_NO_BINARY');
    expect(message).toContain(`no native binary for linux-${process.arch} (glibc)`);
    expect(message).toContain('linux-x64 (glibc) and linux-arm64 (glibc)');
    expect(message).toContain('npm rebuild posix-process');
  });
});

describe('scripts/install.js', () => {
  it('uses a prebuild that fits and builds nothing', () => {
    const dir = packageCopy();
    const prebuild = path.join(dir, 'prebuilds', `linux-${process.arch}`, 'posix-process.glibc.node');
    fs.mkdirSync(path.dirname(prebuild), { recursive: true });
    fs.writeFileSync(prebuild, '');
    const result = child_process.spawnSync(process.execPath, ['scripts/install.js'], { cwd: dir, encoding: 'utf8', env: { PATH: nodeOnlyPath(dir), ...sanitizerOptions() } });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(fs.existsSync(path.join(dir, 'build'))).toBe(false);
  });

  it('without a prebuild and without a compiler, fails saying what to install', () => {
    const dir = packageCopy();
    const result = child_process.spawnSync(process.execPath, ['scripts/install.js'], { cwd: dir, encoding: 'utf8', env: { PATH: nodeOnlyPath(dir), ...sanitizerOptions() } });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`no prebuilt binary for linux-${process.arch} (glibc)`);
    expect(result.stderr).toContain('needs python3, make, a C++17 compiler, not found on PATH');
    expect(result.stderr).toContain('apt-get install python3 make g++');
    expect(fs.existsSync(path.join(dir, 'build'))).toBe(false);
  });
});

describe('scripts/check-prebuilds.js (prepublishOnly)', () => {
  it('refuses a missing prebuild and a binary for the wrong machine', () => {
    const dir = packageCopy();
    const x64 = path.join(dir, 'prebuilds', 'linux-x64', 'posix-process.glibc.node');
    fs.mkdirSync(path.dirname(x64), { recursive: true });
    // An ELF header whose e_machine (offset 18) is EM_AARCH64 (183), not EM_X86_64 (62).
    const header = Buffer.alloc(64);
    header.write('\x7fELF', 0, 'latin1');
    header.writeUInt16LE(183, 18);
    fs.writeFileSync(x64, header);
    const result = child_process.spawnSync(process.execPath, ['scripts/check-prebuilds.js'], { cwd: dir, encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('prebuilds/linux-x64/posix-process.glibc.node is not a linux-x64 binary');
    expect(result.stderr).toContain('missing prebuilds/linux-arm64/posix-process.glibc.node');
  });
});

describe('the published types', () => {
  it('carry no @internal declaration', () => {
    const files = fs.readdirSync(path.join(repoRoot, 'dist'), { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.d.ts'));
    expect(files.length).toBeGreaterThan(10);
    const internal = files.filter((name) => fs.readFileSync(path.join(repoRoot, 'dist', name), 'utf8').includes('@internal'));
    expect(internal).toEqual([]);
  });

  it('type-check in a strict consumer without skipLibCheck (nothing refers to a stripped declaration)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-process-types-'));
    made.push(dir);
    const entry = JSON.stringify(path.join(repoRoot, 'dist', 'index.js'));
    fs.writeFileSync(
      path.join(dir, 'consumer.ts'),
      `import { spawn, run, waitpid, ChildProcess, type WaitStatus } from ${entry};
       export async function f(): Promise<WaitStatus> { const child: ChildProcess = await spawn('true'); await run('true'); waitpid(child.pid, { nohang: true }); return (await child.wait()).status; }\n`,
    );
    const tsc = require.resolve('typescript/bin/tsc');
    const result = child_process.spawnSync(
      process.execPath,
      [tsc, '--noEmit', '--strict', '--skipLibCheck', 'false', '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022', '--lib', 'es2023,esnext.disposable', '--types', 'node', '--typeRoots', path.join(repoRoot, 'node_modules', '@types'), path.join(dir, 'consumer.ts')],
      { cwd: repoRoot, encoding: 'utf8' },
    );
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  }, 60_000);
});
