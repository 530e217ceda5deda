/** Jest runs TypeScript through ts-jest; integration tests share one throwaway ZooKeeper (test/support/global-*.ts). */
module.exports = {
  testEnvironment: '<rootDir>/test/support/node-environment.js',
  // Transpile only (tsconfig's isolatedModules): type-checking every test file in every worker cost more CPU than the
  // tests themselves; `npm run typecheck` checks src/, test/, demo/ and bench/ in one pass (CI runs it once).
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 30000,
  // Integration files each open ZooKeeper sessions and servers; two workers fit the 2-core machine.
  maxWorkers: 2,
};
