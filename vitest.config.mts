import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/setup.ts'],
    // Each test file runs in its own child process: tests fork, signal and reap real processes,
    // which must not share a process with other files.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
