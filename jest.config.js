/** @type {import('jest').Config} */
const transform = {
  '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }],
};
// The workspace packages from their TypeScript sources (no build step; tsconfig.json's paths agree).
const moduleNameMapper = {
  '^@docbatch/sdk$': '<rootDir>/packages/sdk/src/index.ts',
  '^@docbatch/cli$': '<rootDir>/packages/cli/src/index.ts',
};

// The reliability suite (test/chaos) runs only when asked: `npm run test:chaos` (full sizes) or
// `npm run test:chaos -- --ci` (the small CI form). A plain `npx jest` does not include it.
if (process.env.DOCBATCH_CHAOS && process.argv.includes('--ci')) process.env.DOCBATCH_CHAOS = 'ci';
const chaos = process.env.DOCBATCH_CHAOS
  ? [
      {
        displayName: 'chaos',
        testEnvironment: 'node',
        transform,
        moduleNameMapper,
        testMatch: ['<rootDir>/test/chaos/**/*.test.ts'],
        globalSetup: '<rootDir>/test/support/global-setup.ts',
        testTimeout: 600000,
      },
    ]
  : [];

module.exports = {
  // testTimeout is a global option (jest ignores it inside a project): integration tests need it.
  testTimeout: 120000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      moduleNameMapper,
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform,
      moduleNameMapper,
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      testTimeout: 120000,
    },
    ...chaos,
  ],
};
