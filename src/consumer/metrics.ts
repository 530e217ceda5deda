/**
 * Consumer outcome metrics: one counter, `graykit_client_requests_total{service,instance,lane,outcome}`,
 * fed by the `outcome` events useGray emits for every attempt (retries included), on a prom-client registry the
 * consumer can serve. `graykit rollout --consumer-metrics <url>` adds its connection errors to the gray lane's
 * errors: requests that never reached a provider, so providers' own counters cannot see them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Counter, Registry } from 'prom-client';
import { InvalidOptionError } from '../errors';
import { CONSUMER_OUTCOMES, laneLabel, promClient, reuseMetric, serveRegistry } from '../metrics';
import type { GrayConsumer } from './consumer';
import type { OutcomeEvent } from './outcome';

export interface ConsumerMetricsOptions {
  /** Registry to put the counter on (e.g. the app's own). Default: a registry of its own. */
  registry?: Registry;
}

type Labels = 'service' | 'instance' | 'lane' | 'outcome';

export interface ConsumerMetrics {
  readonly registry: Registry;
  /** `graykit_client_requests_total{service,instance,lane,outcome}`. */
  readonly outcomes: Counter<Labels>;
  /**
   * A request handler that answers with the registry's text (for `app.get('/metrics', handler)` or
   * `http.createServer(handler)`).
   */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Stops counting (the counter keeps its values). */
  close(): void;
}

/**
 * Counts the outcomes of the requests a consumer routes through `useGray()` (not `grayRoute()` alone, which sees no
 * responses). Takes the consumer, or what useGray returned.
 *
 * @example
 * const gray = useGray(http, { services: ['demo'] });
 * const metrics = consumerMetrics(gray);
 * app.get('/metrics', metrics.handler);
 */
export function consumerMetrics(target: GrayConsumer | { consumer: GrayConsumer }, options: ConsumerMetricsOptions = {}): ConsumerMetrics {
  const consumer = target && 'consumer' in target ? target.consumer : target;
  if (!consumer || typeof (consumer as GrayConsumer).on !== 'function') {
    throw new InvalidOptionError('consumer', 'consumerMetrics takes a GrayConsumer or what useGray() returned');
  }
  const { Counter, Registry } = promClient('consumerMetrics()');
  if (options.registry !== undefined && !(options.registry instanceof Registry)) throw new InvalidOptionError('registry', 'expected a prom-client Registry');
  const registry = options.registry ?? new Registry();
  const outcomes = reuseMetric(
    registry,
    CONSUMER_OUTCOMES,
    Counter<Labels>,
    () =>
      new Counter<Labels>({
        name: CONSUMER_OUTCOMES,
        help: 'Attempts sent to an instance, by outcome: success (a response below 500), http_error (5xx), connection_error (no connection or no response), other_error (timeout)',
        labelNames: ['service', 'instance', 'lane', 'outcome'],
        registers: [registry],
      }),
    'registry',
  );
  const listener = (event: OutcomeEvent) => {
    const lane = laneLabel(event.lane, (named) => consumer.hasLane(event.service, named), event.instance.lane);
    outcomes.inc({ service: event.service, instance: event.instance.id, lane, outcome: event.outcome });
  };
  consumer.on('outcome', listener);
  const handler = function consumerMetricsHandler(req: IncomingMessage, res: ServerResponse): void {
    serveRegistry(registry, req, res);
  };
  return { registry, outcomes, handler, close: () => void consumer.off('outcome', listener) };
}
