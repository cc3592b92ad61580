// `pnpm lint` runs `tsc` first, then this. typescript-eslint's syntactic `recommended` set, plus the
// type-aware rules that catch real async and throw bugs. `recommendedTypeChecked` costs no more time here
// (the root tsconfig program is built either way) but its extra ~220 findings were noise for this code:
// `require-await` on async methods that implement Promise-returning contracts, `no-unsafe-*` on parsed
// JSON that is then validated, `restrict-template-expressions` on URLSearchParams, and
// `no-base-to-string` on deliberate String(unknown) in error messages.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores([
    '**/dist/',
    '**/node_modules/',
    '**/coverage/',
    '.tools/',
    '.cache/',
    'packages/testkit/kube-apiserver/', // Go
    'e2e/artifacts/',
  ]),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    rules: {
      // Every control-character class in this code is a deliberate sanitizer of untrusted input
      // (header values, redirect targets, request paths); the rule only ever flagged those.
      'no-control-regex': 'off',
      // A leading underscore marks a binding kept on purpose: an unused callback parameter, or a
      // property dropped from an object by destructuring it out before `...rest`.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    // One program for every linted .ts file: the root tsconfig includes src, test, examples,
    // e2e, bench and the vitest configs.
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        project: './tsconfig.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/only-throw-error': 'error',
    },
  },
);
