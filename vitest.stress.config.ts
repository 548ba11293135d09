import { defineConfig } from 'vitest/config';

// npm run test:stress: the load and fault suite (issue 6). One file at a time, so the figures
// each test prints are not skewed by the others; generous timeouts (nothing asserts on time).
export default defineConfig({
  test: {
    include: ['test/stress/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 120_000,
    globalSetup: ['test/setup/global.ts'],
  },
});
