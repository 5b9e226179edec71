import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['aloft-source'] },
  ssr: { resolve: { conditions: ['aloft-source'], externalConditions: ['aloft-source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'tests/**/*.test.ts', 'examples/test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
