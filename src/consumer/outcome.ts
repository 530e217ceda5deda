/**
 * Outcomes of the attempts useGray sends: each attempt that reached an instance, or failed to, is one
 * `outcome` event on the consumer, which `consumerMetrics()` counts per instance and per lane.
 */
import type { Instance, Lane } from '../types';
import { safeEmit } from '../util/emit';
import type { GrayConsumer } from './consumer';

/**
 * `success`: a response below 500; `http_error`: a 5xx response; `connection_error`: no response (refused, reset,
 * connect timeout: see isConnectionError); `other_error`: no response for another reason (axios's request
 * timeout, a body that could not be read). Cancelled requests are no outcome.
 */
export type Outcome = 'success' | 'http_error' | 'connection_error' | 'other_error';

/** Payload of the consumer's `outcome` event: one per attempt, retries included. */
export interface OutcomeEvent {
  service: string;
  instance: Instance;
  /** The lane the request was routed in. */
  lane?: Lane;
  outcome: Outcome;
  /** The HTTP status, when there was a response. */
  status?: number;
}

/** The outcome of a response's status. */
export function outcomeOfStatus(status: number): Outcome {
  return status >= 500 ? 'http_error' : 'success';
}

/** Emits `outcome` when someone listens (nothing is allocated otherwise); a listener's exception is logged. */
export function emitOutcome(consumer: GrayConsumer, service: string, instance: Instance, lane: Lane | undefined, outcome: Outcome, status?: number): void {
  if (consumer.listenerCount('outcome') === 0) return;
  safeEmit(consumer, consumer.connection.logger, 'outcome', { service, instance, lane, outcome, status } satisfies OutcomeEvent);
}
