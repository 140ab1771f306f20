// ESLint for the whole repository (`npm run lint`, and in CI through .ci/run): typescript-eslint's
// recommended rules plus the few the house adds. Formatting is Prettier's job (.prettierrc.json),
// so eslint-config-prettier comes last and turns off every rule that would argue with it.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    // Built or generated output, installed packages, and the plugin fixtures that are broken on
    // purpose (test/fixtures/plugins: a plugin whose module throws, one with a bad schema, ...).
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      'native/build/**',
      'web/src/gql/**',
      'coverage/**',
      '.promptgen/**',
      '.gpu-bench/**',
      'tmp/**',
    ],
  },
  {
    // A `// eslint-disable` that no longer disables anything is an error, so none outlive their reason.
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      globals: { ...globals.node },
      parserOptions: {
        // As tsconfig.json: legacy decorators with metadata (type-graphql, typeorm). Told to the
        // parser so consistent-type-imports leaves alone the imports decorator metadata needs.
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
      },
    },
    rules: {
      // An unused name is an error; a leading underscore marks one kept on purpose (a positional
      // parameter an interface requires, a rest sibling that drops a key).
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
      // `import type` for what only types use; `typeof import('x')` stays allowed, it types a lazy
      // require (a backend or addon loaded only when chosen).
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      // Small modules with one job each (the house guide): about 400 lines of code at most.
      'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    // Plain JavaScript run by Node as CommonJS: scripts, the native addon's build, and the built-in
    // plugins (plugins/*: a user's plugin may be plain JavaScript, and the built-in ones become
    // TypeScript, which the rules above cover).
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module' },
  },
  {
    // The Studio (web/src) runs in the browser, built by Vite.
    files: ['web/src/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
    },
  },
  {
    // Tests read GraphQL responses and plugin internals as untyped JSON and check their shape with
    // assertions; typing every response there would restate the schema in each test.
    files: ['test/**/*.ts', 'web/e2e/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  prettier,
);
