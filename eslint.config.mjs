// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/*
 * Boundaries (docs/ARCHITECTURE.md): an app never imports another app; libs/protocol stays free
 * of frameworks; a lib is used through its index (`@sync/x`, or its `@sync/x/testing` entry),
 * never a path inside it; only libs/kafka talks to kafkajs. One no-restricted-imports setting per
 * area, since a later setting of a rule replaces an earlier one for the same file.
 */
const APPS = ['cli', 'ingest', 'projector', 'query'];
const DEEP_IMPORT = {
  group: ['@sync/*/**', '!@sync/*/testing', '!@sync/*/node', '!@sync/*/browser'],
  message: 'Import a lib through its index (@sync/<lib>); export what you need from there.',
};
const KAFKAJS = {
  group: ['kafkajs', 'kafkajs/**'],
  message: 'Only libs/kafka talks to kafkajs: use (or add) what @sync/kafka exports.',
};
const FRAMEWORKS = {
  group: ['@nestjs/**', 'typeorm', 'typeorm/**', 'kafkajs', 'kafkajs/**', 'pg', 'pg/**', 'pg-*'],
  message: 'libs/protocol and libs/config are framework-free: no Nest, TypeORM, kafkajs or pg.',
};
const otherApps = (app) => ({
  group: APPS.filter((other) => other !== app).flatMap((other) => [
    `**/apps/${other}/**`,
    `../${other}/**`,
    `../../${other}/**`,
    `../../../${other}/**`,
  ]),
  message: `An app never imports another app (apps/${app}): move shared code into a lib.`,
});
const restrict = (...patterns) => ({
  'no-restricted-imports': ['error', { patterns }],
});
const boundaries = [
  {
    files: ['**/*.ts'],
    rules: restrict(DEEP_IMPORT),
  },
  ...APPS.map((app) => ({
    files: [`apps/${app}/**/*.ts`],
    rules: restrict(DEEP_IMPORT, KAFKAJS, otherApps(app)),
  })),
  {
    files: ['libs/**/*.ts'],
    ignores: ['libs/kafka/**', 'libs/protocol/**', 'libs/config/**'],
    rules: restrict(DEEP_IMPORT, KAFKAJS),
  },
  {
    files: ['libs/protocol/**/*.ts', 'libs/config/**/*.ts'],
    rules: restrict(DEEP_IMPORT, FRAMEWORKS),
  },
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.cache/**',
      'coverage/**',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  ...boundaries,
  prettier,
);
