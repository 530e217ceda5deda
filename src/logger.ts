import { debuglog } from 'node:util';
import type { Logger } from './types';

/**
 * graykit's debug channel, in Node's convention: `NODE_DEBUG=graykit node app.js` prints registry events (sessions,
 * registrations, snapshot changes) and every routing decision (service, lane and why, instance) to stderr. Off, it
 * costs one boolean test: `debugChannel.enabled`.
 */
export const debugChannel = debuglog('graykit');

/**
 * The default logger: warnings and errors to the console with a `graykit:` prefix; debug and info go to the
 * NODE_DEBUG=graykit channel only, so that a library never chats in its host's logs. Pass `logger: console` (or
 * pino, winston) to see everything there.
 */
export const defaultLogger: Logger = {
  debug(message, ...args) {
    debugChannel(message, ...args);
  },
  info(message, ...args) {
    debugChannel(message, ...args);
  },
  warn(message, ...args) {
    console.warn(`graykit: ${message}`, ...args);
  },
  error(message, ...args) {
    console.error(`graykit: ${message}`, ...args);
  },
};

/** A logger that says nothing; for tests and for callers that log elsewhere. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
