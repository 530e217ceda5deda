/** Jest runs TypeScript through ts-jest; integration tests share one throwaway ZooKeeper (test/support/global-*.ts). */
module.exports = {
  testEnvironment: '<rootDir>/test/support/node-environment.js',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: { warnOnly: false } }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 30000,
  // Integration files each open ZooKeeper sessions and servers; two workers fit the 2-core machine.
  maxWorkers: 2,
};
