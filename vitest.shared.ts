// Shared vitest settings: resolve workspace packages to their TypeScript sources
// (the `loupe-source` export condition), so tests never depend on a prior build.
import { defaultClientConditions, defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

export const loupeVitest = (overrides: { testTimeout?: number; include?: string[] } = {}) =>
  defineConfig({
    resolve: { conditions: ['loupe-source', ...defaultClientConditions] },
    ssr: { resolve: { conditions: ['loupe-source', ...defaultServerConditions] } },
    test: {
      include: overrides.include ?? ['test/**/*.test.ts', 'src/**/*.test.ts'],
      testTimeout: overrides.testTimeout ?? 30_000,
      hookTimeout: 120_000,
      pool: 'forks',
      fileParallelism: false,
    },
  });
