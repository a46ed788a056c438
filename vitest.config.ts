import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // A ceiling, not a target: on a 2-core box beside CPU hogs (npm run test:soak) starting
    // `fastgpu up` alone can take half a minute.
    testTimeout: 120_000,
    // Tests run as root here and coordinate with their tasks through files in private (0700)
    // temporary folders, which a task of its own uid (a root agent's default) cannot reach: their
    // agents opt out. src/agent/run-as.test.ts tests the default itself.
    env: { FASTGPU_RUN_AS: 'root' },
    hookTimeout: 120_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
