// Tests are TypeScript compiled by swc (fast, and unlike esbuild it keeps the
// decorator metadata type-graphql and typeorm need).
// The webgpu tests' software GPU (Mesa EGL) needs this in the real environment,
// which jest's sandboxed process.env does not reach: set it before the workers start.
process.env.EGL_PLATFORM ??= 'surfaceless';

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.(t|j)s$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  testTimeout: 120000,
  maxWorkers: 2,
};
