/**
 * What providers' and consumers' metrics share: the names of graykit's Prometheus metrics, and prom-client, loaded
 * when metrics are first turned on. Providers, consumers and `graykit rollout` agree on the names, so they are a
 * contract like the znode layout: renaming one breaks the rollouts of every version that reads it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { InvalidOptionError } from './errors';
import { loadOptional } from './util/load';

/**
 * The `lane` label of a request: its lane when that lane is one the registry knows for the service (`known`: base,
 * gray, and lanes some instance of the service is in), else the lane of the instance that served it. Lanes arrive in
 * headers anyone can send; a label value per name sent would let one client create series without bound.
 */
export function laneLabel(lane: string | undefined, known: (lane: string) => boolean, served: string): string {
  return lane !== undefined && (lane === 'normal' || lane === 'gray' || known(lane)) ? lane : served;
}

/** Provider counter: requests served, by `service`, `version`, `lane` and `status_class` (`2xx`…`5xx`, `aborted`). */
export const PROVIDER_REQUESTS = 'graykit_http_requests_total';

/** Provider histogram: request latency in seconds, same labels as PROVIDER_REQUESTS. */
export const PROVIDER_DURATION = 'graykit_http_request_duration_seconds';

/** Consumer counter: attempts sent to an instance, by `service`, `instance` (`host:port`), `lane` and `outcome`. */
export const CONSUMER_OUTCOMES = 'graykit_client_requests_total';

/** Latency buckets (seconds) of PROVIDER_DURATION: 5 ms to 10 s, Prometheus's defaults. */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

/** prom-client, loaded at the first use of metrics; MissingDependencyError names `feature` when it is not installed. */
export function promClient(feature: string): typeof import('prom-client') {
  return loadOptional<typeof import('prom-client')>('prom-client', feature);
}

/** The metric of that name already on `registry` (a second provider or consumer sharing it), or a new one. */
export function reuseMetric<T>(registry: Registry, name: string, kind: new (...args: never[]) => T, make: () => T, option: string): T {
  const existing = registry.getSingleMetric(name);
  if (existing === undefined) return make();
  if (!(existing instanceof kind)) throw new InvalidOptionError(option, `the registry already has a metric "${name}" of another type`);
  return existing;
}

/** Answers a request with the registry's text exposition (500 with the error when collecting fails). */
export function serveRegistry(registry: Registry, req: IncomingMessage, res: ServerResponse, onError?: (error: unknown) => void): void {
  registry.metrics().then(
    (text) => {
      res.statusCode = 200;
      res.setHeader('Content-Type', registry.contentType);
      res.end(req.method === 'HEAD' ? undefined : text);
    },
    (error: unknown) => {
      if (onError) return onError(error);
      res.statusCode = 500;
      res.end(String(error));
    },
  );
}
