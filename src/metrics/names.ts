/**
 * Names of graykit's Prometheus metrics (issue 8). Providers, consumers and `graykit rollout` agree on these, so
 * they are a contract like the znode layout: renaming one breaks the rollouts of every version that reads it.
 */

/** Provider counter: requests served, by `service`, `version`, `lane` and `status_class` (`2xx`…`5xx`, `aborted`). */
export const PROVIDER_REQUESTS = 'graykit_http_requests_total';

/** Provider histogram: request latency in seconds, same labels as PROVIDER_REQUESTS. */
export const PROVIDER_DURATION = 'graykit_http_request_duration_seconds';

/** Consumer counter: attempts sent to an instance, by `service`, `instance` (`host:port`), `lane` and `outcome`. */
export const CONSUMER_OUTCOMES = 'graykit_client_requests_total';

/** Latency buckets (seconds) of PROVIDER_DURATION: 5 ms to 10 s, Prometheus's defaults. */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
