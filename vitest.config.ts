import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    // Tests run as root here and coordinate with their tasks through files in private (0700)
    // temporary folders, which a task of its own uid (a root agent's default) cannot reach: their
    // agents opt out. src/agent/run-as.test.ts tests the default itself.
    env: { FASTGPU_RUN_AS: 'root' },
    hookTimeout: 60_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
