// ESLint for the whole workspace, run once from the root (`pnpm lint`). TypeScript files are
// linted with type information: the project service gives each file the nearest tsconfig.json
// that includes it (a package's own for its src, the root one for every test, fixture, example
// and script). The plain JavaScript scripts are linted without types.
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// A package's src is its own: other packages, apps and the root tests import it by name
// (`@aloft/core`, `@aloft/core/dag`, …), through the entry points its package.json exports.
const crossPackageSrc = {
  group: ['@aloft/*/src', '@aloft/*/src/**', '**/packages/*/src', '**/packages/*/src/**', '**/apps/*/src', '**/apps/*/src/**'],
  message: "Import the package by name (its package.json exports), not another package's src.",
};

// Import cycles across every file, workspace packages included: imports resolve as Node does
// with the `aloft-source` condition, `./x.js` finding `./x.ts`. Type-only imports are not
// followed (they vanish at run time).
const importCycles = {
  plugins: { 'import-x': importX },
  settings: {
    'import-x/extensions': ['.ts', '.tsx', '.js', '.mjs'],
    'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
    'import-x/resolver-next': [
      createNodeResolver({
        extensions: ['.ts', '.tsx', '.js', '.mjs', '.json'],
        extensionAlias: { '.js': ['.ts', '.tsx', '.js'] },
        conditionNames: ['aloft-source', 'import', 'node', 'default'],
      }),
    ],
  },
  rules: {
    'import-x/no-cycle': ['error', { ignoreExternal: true }],
    'import-x/no-unresolved': 'error',
  },
};

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '.turbo/**', '.test-results/**', '.data/**', '.bench/**', 'bench-results/**', 'scratch/**'] },
  // Each file there breaks one rule on purpose (tests/lint-rules.test.ts lints them).
  { ignores: ['tests/fixtures/lint/**'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  importCycles,
  {
    files: ['**/*.ts', '**/*.tsx'],
    extends: [tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      'no-restricted-imports': ['error', { patterns: [crossPackageSrc] }],
    },
  },
  {
    // Tests read JSON bodies and Kubernetes manifests loosely.
    files: ['tests/**/*.ts', '**/test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['apps/dashboard/ui/**/*.tsx', 'apps/dashboard/ui/**/*.ts'],
    plugins: { 'react-hooks': reactHooks },
    rules: { 'react-hooks/rules-of-hooks': 'error', 'react-hooks/exhaustive-deps': 'error' },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { ...globals.node } },
  },
);
