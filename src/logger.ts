import type { Logger } from './types';

/**
 * The default logger: warnings and errors to the console with a `graykit:` prefix; debug and info are silent so
 * that a library never chats in its host's logs. Pass `logger: console` to see everything.
 */
export const defaultLogger: Logger = {
  debug() {},
  info() {},
  warn(message, ...args) {
    console.warn(`graykit: ${message}`, ...args);
  },
  error(message, ...args) {
    console.error(`graykit: ${message}`, ...args);
  },
};

/** A logger that says nothing; for tests and for callers that log elsewhere. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
