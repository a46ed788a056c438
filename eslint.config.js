// Lint rules that keep the layers honest: `core` is pure (no Node, no I/O, no clock),
// promises are never left floating.
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['fs', 'path', 'os', 'child_process', 'http', 'https', 'net', 'crypto', 'process', 'stream', 'events', 'worker_threads', 'dgram', 'dns', 'tls', 'url', 'util', 'zlib', 'readline', 'timers'];

// Globals that reach the clock, randomness, timers, the process or the outside world.
const coreBannedGlobals = [
  { name: 'setTimeout', message: 'core has no timers: take time as an argument.' },
  { name: 'setInterval', message: 'core has no timers.' },
  { name: 'setImmediate', message: 'core has no timers.' },
  { name: 'queueMicrotask', message: 'core schedules nothing: it is called and returns.' },
  { name: 'clearTimeout', message: 'core has no timers.' },
  { name: 'clearInterval', message: 'core has no timers.' },
  { name: 'process', message: 'core does not touch the process.' },
  { name: 'fetch', message: 'core does no I/O.' },
  { name: 'console', message: 'core does no I/O: return what happened, the caller logs it.' },
  { name: 'performance', message: 'core takes `now` as an argument.' },
  { name: 'crypto', message: 'core takes randomness and ids as arguments.' },
  { name: 'globalThis', message: 'core reaches no globals through globalThis.' },
  { name: 'global', message: 'core reaches no globals through global.' },
  { name: 'window', message: 'core reaches no globals through window.' },
  { name: 'self', message: 'core reaches no globals through self.' },
  { name: 'require', message: 'core imports statically.' },
];

// Clock and randomness reached by syntax that the name- and property-based rules do not see.
const coreClockSyntax = [
  { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'core takes `now` as an argument.' },
  { selector: "CallExpression[callee.name='Date']", message: 'Date() reads the clock: core takes `now` as an argument.' },
  { selector: "VariableDeclarator[init.name=/^(Date|Math|Reflect)$/]", message: 'core takes `now` and randomness as arguments (no aliasing Date, Math or Reflect).' },
  { selector: "MemberExpression[object.name=/^(Date|Math)$/][computed=true]", message: 'core reads Date and Math members by name only.' },
  { selector: 'ImportExpression', message: 'core imports statically (a dynamic import escapes the import rules).' },
];

// Module-level mutable state (see the block that uses it).
const moduleStateSyntax = [
  { selector: "Program > VariableDeclaration[kind!='const']", message: 'core keeps no module-level state: `let`/`var` at module level.' },
  { selector: "Program > ExportNamedDeclaration > VariableDeclaration[kind!='const']", message: 'core keeps no module-level state: exported `let`/`var`.' },
  {
    selector: 'Program > VariableDeclaration > VariableDeclarator > NewExpression.init:not([callee.name=/^Weak(Map|Set)$/])',
    message: 'core keeps no module-level state: an object built at load (hold it in a value the caller owns; a read-only table needs an eslint-disable comment saying so).',
  },
  {
    selector: 'Program > ExportNamedDeclaration > VariableDeclaration > VariableDeclarator > NewExpression.init:not([callee.name=/^Weak(Map|Set)$/])',
    message: 'core keeps no module-level state: an exported object built at load.',
  },
  { selector: 'Program > VariableDeclaration > VariableDeclarator > ArrayExpression.init[elements.length=0]', message: 'core keeps no module-level state: an empty array at module level.' },
  { selector: 'Program > VariableDeclaration > VariableDeclarator > ObjectExpression.init[properties.length=0]', message: 'core keeps no module-level state: an empty object at module level.' },
  { selector: 'PropertyDefinition[static=true][readonly!=true]', message: 'core keeps no module-level state: a mutable static field.' },
];

// Every room above core, protocol and util.
const outerLayers = ['**/store/**', '**/server/**', '**/agent/**', '**/cli/**', '**/sdk/**', '**/sim/**', '**/dashboard/**', '**/web/**', 'better-sqlite3', 'pg', 'fastify'];

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
          { group: ['**/store/**', '**/server/**', '**/agent/**', '**/cli/**', '**/sdk/**', '**/sim/**', '**/protocol/**', '**/dashboard/**', '**/util/**', '**/web/**', '**/solver/**', 'highs', 'better-sqlite3', 'pg', 'fastify'], message: 'core imports nothing from outer layers or I/O libraries.' },
        ],
      }],
      'no-restricted-globals': ['error', ...coreBannedGlobals],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'core takes `now` as an argument.' },
        { object: 'Math', property: 'random', message: 'core takes randomness as an injected function.' },
      ],
      'no-restricted-syntax': ['error', ...coreClockSyntax],
    },
  },
  {
    // Module-level mutable state makes a call depend on the calls before it (issue 19: the
    // SeenWorkload singletons). Caches a caller needs belong to an object the caller holds
    // (PlacementMemos, WorkloadEstimator). WeakMap/WeakSet memos keyed by the caller's objects are
    // allowed: they hold nothing once the key is gone and only derive from it. A read-only table
    // built once at load needs an eslint-disable comment that says so.
    files: ['src/core/**/*.ts'],
    ignores: ['src/core/**/*.test.ts'],
    rules: {
      'no-restricted-syntax': ['error', ...coreClockSyntax, ...moduleStateSyntax],
    },
  },
  {
    // Layers: protocol and util sit just above core and import nothing above it.
    files: ['src/protocol/**/*.ts', 'src/util/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: outerLayers, message: 'protocol and util import only core (and each other).' }] }],
    },
  },
  {
    // The store, the agent and the SDK run without the server (and the SDK ships to users).
    files: ['src/store/**/*.ts', 'src/agent/**/*.ts', 'src/sdk/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/server/**', '**/cli/**', '**/dashboard/**', '**/web/**'], message: 'store, agent and sdk never import the server (or the CLI, dashboard, web).' }] }],
    },
  },
  {
    // The dashboard's browser bundle: only types, and only from the SDK and the wire protocol.
    files: ['web/**/*.ts', 'web/**/*.tsx'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/src/**', '!**/src/sdk', '!**/src/sdk/**', '!**/src/protocol', '!**/src/protocol/**'], message: 'web imports only types from src/sdk and src/protocol.' }] }],
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ group: ['**/src/sdk', '**/src/sdk/**', '**/src/protocol', '**/src/protocol/**'], allowTypeImports: true, message: 'web imports only types (import type) from src/sdk and src/protocol.' }] }],
    },
  },
);
