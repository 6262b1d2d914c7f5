import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { nativeBuildSystem } from '../lib/index';
import { binding } from '../lib/native';
import { runNode, thrown } from './helpers';

const require = createRequire(import.meta.url);

describe('native build', () => {
  it('is the build this run was asked to test', () => {
    // .ci/run sets EXPECT_BUILD_SYSTEM so that the node-gyp and cmake-js runs really test each.
    const expected = process.env.EXPECT_BUILD_SYSTEM;
    expect(['node-gyp', 'cmake-js']).toContain(nativeBuildSystem);
    if (expected !== undefined) expect(nativeBuildSystem).toBe(expected);
  });

  it("binds every symbol at load; of its own functions it exports only Node-API's entry points", () => {
    // The spawn child runs while the thread that cloned it goes on: a lazily bound PLT entry on
    // its path would run the dynamic linker's resolver in the child (binding.gyp, CMakeLists.txt).
    // Weak symbols (C++ template instances the compiler emits) are not ours to hide.
    const file = (require('node-gyp-build') as { path(dir: string): string }).path(path.join(__dirname, '..'));
    expect(execFileSync('readelf', ['-d', file], { encoding: 'utf8' })).toMatch(/\(FLAGS\)\s+BIND_NOW/);
    const exported = execFileSync('readelf', ['--dyn-syms', '-W', file], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => / FUNC +GLOBAL +DEFAULT +\d+ /.test(line))
      .map((line) => line.trim().split(/\s+/).pop());
    expect(exported).toContain('napi_register_module_v1');
    for (const name of exported) expect(name).toMatch(/^(napi|node_api)_/);
  });

  it('turns a C++ exception out of a binding into a JavaScript Error, not std::terminate (NODE_ADDON_API_CPP_EXCEPTIONS_ALL)', () => {
    expect(() => binding.testing.throwStdException()).toThrow(/bad_alloc/);
  });

  for (const [kind, message] of [
    ['bad_alloc', 'std::bad_alloc'],
    ['other', 'posix-process: a native exception of unknown type'],
  ] as const) {
    it(`turns a C++ exception in a libuv callback (${kind}) into an uncaught JavaScript Error, not std::terminate`, () => {
      // In a Node process of its own: an uncaught exception is the end of the process that has it.
      const result = runNode(`
        const { spawn } = require('./dist/index.js');
        const { binding } = require('./dist/native.js');
        process.on('uncaughtException', (error) => {
          console.log(JSON.stringify({ message: error.message, isError: error instanceof Error }));
          process.exit(7);
        });
        (async () => {
          const child = await spawn('/bin/true', [], { stdio: 'ignore' });
          binding.testing.throwInNextWaitCallback('${kind}');
          await child.wait();
          console.log('the wait settled');
        })();
      `);
      expect(result.signal).toBeNull();
      expect(result.stderr).toBe('');
      expect(result.status).toBe(7);
      expect(JSON.parse(result.stdout)).toEqual({ message, isError: true });
    });
  }

  it('refuses an unknown kind of injected callback exception', () => {
    expect(thrown(() => binding.testing.throwInNextWaitCallback('x' as 'other'))).toBeInstanceOf(TypeError);
  });
});
