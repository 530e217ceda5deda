/**
 * The fault-injection suite (npm run test:faults): real provider processes, ZooKeeper servers the suite starts
 * itself, ~200 GET/s on 127.0.0.1. One scenario at a time: they measure re-convergence, and share two cores.
 */
module.exports = {
  testEnvironment: 'node',
  // Transpile only (tsconfig's isolatedModules): type-checking every test file in every worker cost more CPU than the
  // tests themselves; `npm run typecheck` checks src/, test/, demo/ and bench/ in one pass (CI runs it once).
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/test/faults/**/*.fault.ts'],
  globalSetup: '<rootDir>/test/faults/global-setup.ts',
  globalTeardown: '<rootDir>/test/faults/global-teardown.ts',
  testTimeout: 180_000,
  maxWorkers: 1,
};
