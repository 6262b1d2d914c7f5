// A worker whose spawn rejects with nobody to catch it ends with that error (its 'error' event),
// as for any unhandled rejection: the process goes on. The rejection is settled from the
// addon's dispatcher, during which the worker starts terminating; that once aborted the whole
// process (node-addon-api's "FATAL ERROR: Error::Error napi_define_properties").
import { describe, expect, it } from 'vitest';
import { runNode } from './helpers';

describe('an unhandled spawn rejection in a worker', () => {
  for (const call of ["p.spawn('/no/such/program')", "p.daemon('/no/such/program')", "p.run('true', [], { cwd: '/no/such/dir' })"]) {
    it(`ends the worker, not the process: ${call}`, () => {
      const result = runNode(`
        const { Worker } = require('worker_threads');
        const worker = new Worker("const p = require('./dist/index.js'); ${call.replace(/"/g, '\\"')};", { eval: true });
        worker.on('error', (error) => console.log('error', error.code, error.step));
        worker.on('exit', (code) => console.log('exit', code));`);
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/^error ENOENT (exec|chdir)\nexit 1\n$/);
    });
  }
});
