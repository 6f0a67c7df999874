// Shared vitest settings: resolve workspace packages to their TypeScript sources
// (the `loupe-source` export condition), so tests never depend on a prior build.
import { defaultClientConditions } from 'vite';
import { defineConfig } from 'vitest/config';

export const loupeVitest = (overrides: { testTimeout?: number; include?: string[] } = {}) =>
  defineConfig({
    resolve: { conditions: ['loupe-source', ...defaultClientConditions] },
    // No 'module' condition for Node-side code: some packages (the OTel JS SDK) ship a
    // 'module' build that only bundlers can load.
    ssr: { resolve: { conditions: ['loupe-source', 'node', 'development|production'] } },
    test: {
      include: overrides.include ?? ['test/**/*.test.ts', 'src/**/*.test.ts'],
      testTimeout: overrides.testTimeout ?? 30_000,
      hookTimeout: 120_000,
      pool: 'forks',
      fileParallelism: false,
    },
  });
