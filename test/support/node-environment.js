/**
 * Jest's node environment, plus the one global it does not share: the built-in fetch's global dispatcher. Jest runs
 * tests in a vm context whose globalThis is not the process's; it copies string-keyed globals (fetch among them) but
 * not symbol-keyed ones, so `globalThis[Symbol.for('undici.globalDispatcher.1')]` (what undici's
 * setGlobalDispatcher and graykit's installGrayDispatcher write, and what fetch reads) would be undefined in tests
 * while the process's fetch reads the real one. These accessors make the test's globalThis read and write the
 * process's, as in a real app, where there is only one.
 */
const { TestEnvironment } = require('jest-environment-node');

const DISPATCHER_SYMBOLS = [Symbol.for('undici.globalDispatcher.1'), Symbol.for('undici.globalDispatcher.2')];

class GraykitTestEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    void globalThis.Headers; // loads the process's bundled undici, which installs its global dispatcher
    for (const symbol of DISPATCHER_SYMBOLS) {
      Object.defineProperty(this.global, symbol, {
        configurable: true,
        get: () => globalThis[symbol],
        set: (value) => {
          globalThis[symbol] = value;
        },
      });
    }
  }
}

module.exports = GraykitTestEnvironment;
