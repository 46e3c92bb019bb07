/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/spec'],
  testMatch: ['**/*.spec.ts'],
  globalSetup: '<rootDir>/spec/global-setup.js',
  setupFiles: ['<rootDir>/spec/support/dom-setup.ts'],
  // The obsidian package is type definitions only; specs use a small stand-in.
  moduleNameMapper: { '^obsidian$': '<rootDir>/spec/support/obsidian-mock.ts' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  collectCoverageFrom: ['src/core/**/*.ts'],
  coverageThreshold: {
    'src/core/': { lines: 90 },
  },
};
