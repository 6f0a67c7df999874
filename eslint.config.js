// One flat config for the whole monorepo. Boundary rules are errors from day one:
// apps may import packages; packages never import apps; sdk and eval never import
// the collector; nothing imports another workspace's internals (only its exports map).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';

const restrict = (patterns) => ['error', { patterns }];
const noAppImports = {
  group: ['@loupe/collector', '@loupe/collector/*', '@loupe/review-ui', '**/apps/**'],
  message: 'packages/* must not depend on apps/* (dependency direction: apps → packages).',
};
const noDeepImports = {
  group: ['@loupe/*/src/*', '@loupe/*/dist/*'],
  message: 'Import a workspace through its exports map, not its internals.',
};

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/.turbo/**',
      '**/.loupe/**',
      '**/coverage/**',
      'apps/collector/src/db/*.worker.mjs',
      // scratch files (git-ignored)
      '**/*.tmp.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', '*.ts', 'apps/collector/scripts/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [
        importX.createNodeResolver({
          conditionNames: ['loupe-source', 'types', 'import', 'default'],
        }),
      ],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // fastify plugins are async by contract even when they await nothing
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { arguments: false } },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'import-x/no-cycle': 'error',
      'import-x/no-self-import': 'error',
      'no-console': 'error',
      'no-restricted-imports': restrict([noDeepImports]),
    },
  },
  {
    files: ['packages/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict([noDeepImports, noAppImports]),
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ExportAllDeclaration',
          message: 'No `export *` in packages: export names explicitly.',
        },
      ],
    },
  },
  {
    files: ['packages/contracts/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict([
        noDeepImports,
        noAppImports,
        {
          group: ['@loupe/sdk', '@loupe/eval'],
          message: 'contracts depends on nothing in the repo.',
        },
      ]),
    },
  },
  {
    files: [
      'apps/collector/src/cli.ts',
      'apps/collector/src/server.ts',
      'apps/collector/src/cluster.ts',
      'test/**/*.ts',
      'apps/collector/scripts/**',
      'apps/collector/bench/**',
      'packages/*/bench/**',
      '**/*.config.ts',
      'vitest.shared.ts',
      'eslint.config.js',
    ],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/test/**/*.ts', '**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.js', '**/*.mjs'], languageOptions: { globals: globals.node } },
);
