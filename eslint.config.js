// Lint rules that keep the layers honest: `core` is pure (no Node, no I/O, no clock),
// promises are never left floating.
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['fs', 'path', 'os', 'child_process', 'http', 'https', 'net', 'crypto', 'process', 'stream', 'events', 'worker_threads', 'dgram', 'dns', 'tls', 'url', 'util', 'zlib', 'readline', 'timers'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'web/dist/**', 'coverage/**', '**/*.js', '**/*.mjs', '**/*.cjs', 'vitest.config.ts'] },
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
    },
  },
  {
    // The dashboard's browser code has its own tsconfig (DOM types, JSX).
    files: ['web/**/*.ts', 'web/**/*.tsx'],
    languageOptions: { parserOptions: { project: './web/tsconfig.json', tsconfigRootDir: import.meta.dirname } },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', ...nodeBuiltins], message: 'core is pure: no Node built-ins.' },
          { group: ['**/store/**', '**/server/**', '**/agent/**', '**/cli/**', '**/sdk/**', '**/sim/**', 'better-sqlite3', 'pg', 'fastify'], message: 'core imports nothing from outer layers or I/O libraries.' },
        ],
      }],
      'no-restricted-globals': ['error',
        { name: 'setTimeout', message: 'core has no timers: take time as an argument.' },
        { name: 'setInterval', message: 'core has no timers.' },
        { name: 'process', message: 'core does not touch the process.' },
        { name: 'fetch', message: 'core does no I/O.' },
      ],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'core takes `now` as an argument.' },
        { object: 'Math', property: 'random', message: 'core takes randomness as an injected function.' },
      ],
      'no-restricted-syntax': ['error', { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'core takes `now` as an argument.' }],
    },
  },
);
