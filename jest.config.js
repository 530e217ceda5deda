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
  // Three workers on the 2-core machine: most integration files spend their time waiting (session timeouts, a killed
  // process, a scrape interval), so a third overlaps them (the whole suite: 260 s with two workers, 178 s with three).
  maxWorkers: 3,
};
