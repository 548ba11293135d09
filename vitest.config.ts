import { defineConfig } from 'vitest/config';

// Unit, vector and end-to-end tests. End-to-end tests start real processes (the CLI, agents,
// Python children, a private D-Bus with gnome-keyring), so they run in forked workers with
// generous timeouts; none of them asserts on time.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/vectors/**/*.test.ts', 'test/e2e/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['test/setup/global.ts'],
    reporters: ['default'],
  },
});
