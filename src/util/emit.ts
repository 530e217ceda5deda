import type { EventEmitter } from 'node:events';
import type { Logger } from '../types';

/**
 * Emits without letting a listener's exception escape: graykit emits from native callbacks, request interceptors
 * and shutdown sequences, where a user's throwing listener must not crash the process or break the sequence.
 * The exception is logged instead. Returns whether the event had listeners.
 */
export function safeEmit(emitter: EventEmitter, logger: Logger, event: string, ...args: unknown[]): boolean {
  try {
    return emitter.emit(event, ...args);
  } catch (error) {
    logger.error(`a graykit '${event}' handler threw: ${(error as Error)?.stack ?? error}`);
    return true;
  }
}
