/** @type {import('jest').Config} */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.test.json' }];
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  setupFiles: ['<rootDir>/test/helpers/host-realm.ts', '<rootDir>/test/helpers/quiet-logs.ts'],
  testTimeout: 120000,
  // Temporal's native runtime (loaded by @temporalio/testing and the worker) keeps threads alive after
  // the last test; every test stops its own servers in afterAll, so exiting here loses nothing.
  forceExit: true,
};
