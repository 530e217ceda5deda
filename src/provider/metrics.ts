/**
 * Provider request metrics: a counter and a latency histogram per status class, labelled with the
 * service, the version and the lane, on a prom-client registry; served at `metricsPath` when the provider opts in,
 * and advertised in the instance metadata so that `graykit rollout` finds them at
 * `http://<host>:<port><metricsPath>`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Counter, Histogram, Registry } from 'prom-client';
import { InvalidOptionError } from '../errors';
import { DEFAULT_DURATION_BUCKETS, laneLabel, PROVIDER_DURATION, PROVIDER_REQUESTS, promClient, reuseMetric, serveRegistry } from '../metrics';
import { DEFAULT_LANE_HEADER, parseLane, type Lane } from '../types';

/** The `metrics` option of `grayRegister()`. */
export interface ProviderMetricsOptions {
  /**
   * Registry to put the metrics on, e.g. the app's own so that one path serves everything. Default: a registry of
   * its own, so that two providers in one process never clash.
   */
  registry?: Registry;
  /** Latency histogram buckets, seconds. Default `defaults.durationBuckets` (5 ms to 10 s). */
  buckets?: readonly number[];
  /** Header the `lane` label is read from (else the instance's own gray flag). Default `x-gray-lane`. */
  laneHeader?: string;
}

type Labels = 'service' | 'version' | 'lane' | 'status_class';

/** What `grayRegister()` exposes as `middleware.metrics` when metrics are on. */
export interface ProviderMetrics {
  readonly registry: Registry;
  /** `graykit_http_requests_total{service,version,lane,status_class}`. */
  readonly requests: Counter<Labels>;
  /** `graykit_http_request_duration_seconds{service,version,lane,status_class}`. */
  readonly duration: Histogram<Labels>;
  /** The path the metrics are served at, when one was given. */
  readonly path?: string;
  /** Counts every request but the scrapes of `path`, and answers those with the registry's text. */
  readonly middleware: (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;
}

/** A path to serve metrics at: absolute, no query, fragment or spaces. */
export function checkMetricsPath(path: unknown): string {
  if (typeof path !== 'string' || !/^\/[^?#\s]*$/.test(path) || path.length > 256) {
    throw new InvalidOptionError('metricsPath', `expected an absolute path such as '/metrics' (no query, at most 256 characters), got ${JSON.stringify(path)}`);
  }
  return path;
}

function pathOf(req: IncomingMessage): string {
  // Express keeps the URL as the app received it in originalUrl; a sub-app sees req.url relative to its mount.
  const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

/**
 * Creates the metrics of one provider. `instance()` gives the instance's current metadata (its gray flag and
 * version may change live).
 */
export function createProviderMetrics(
  service: string,
  instance: () => { gray: boolean; lane?: string; version?: string },
  options: ProviderMetricsOptions = {},
  path?: string,
): ProviderMetrics {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('metrics', `expected true, false or an options object, got ${JSON.stringify(options)}`);
  const { Counter, Histogram, Registry } = promClient('provider metrics (grayRegister `metrics` or `metricsPath`)');
  if (options.registry !== undefined && !(options.registry instanceof Registry)) throw new InvalidOptionError('metrics.registry', 'expected a prom-client Registry');
  const buckets = options.buckets ?? DEFAULT_DURATION_BUCKETS;
  if (!Array.isArray(buckets) || buckets.some((b) => typeof b !== 'number' || !(b > 0))) {
    throw new InvalidOptionError('metrics.buckets', `expected an array of upper bounds > 0 (seconds), got ${JSON.stringify(buckets)}`);
  }
  const laneHeader = (options.laneHeader ?? DEFAULT_LANE_HEADER).toLowerCase();
  const registry = options.registry ?? new Registry();
  const labelNames: Labels[] = ['service', 'version', 'lane', 'status_class'];
  const requests = reuseMetric(
    registry,
    PROVIDER_REQUESTS,
    Counter<Labels>,
    () => new Counter({ name: PROVIDER_REQUESTS, help: 'HTTP requests served, by status class (2xx..5xx; aborted: the connection closed before the response was sent)', labelNames, registers: [registry] }),
    'metrics.registry',
  );
  const duration = reuseMetric(
    registry,
    PROVIDER_DURATION,
    Histogram<Labels>,
    () => new Histogram({ name: PROVIDER_DURATION, help: 'HTTP request latency in seconds, by status class', labelNames, buckets: [...buckets], registers: [registry] }),
    'metrics.registry',
  );

  const middleware = function grayMetricsMiddleware(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void {
    if (path !== undefined && (req.method === 'GET' || req.method === 'HEAD') && pathOf(req) === path) {
      serveRegistry(registry, req, res, next);
      return;
    }
    const started = process.hrtime.bigint();
    // An instance knows its own lane of the registry's: any other named lane counts as the lane that served it.
    const own: Lane = instance().lane ?? (instance().gray ? 'gray' : 'normal');
    const lane = laneLabel(parseLane(req.headers[laneHeader]), (named) => named === own, own);
    res.once('close', () => {
      const meta = instance();
      const labels = {
        service,
        version: meta.version ?? '',
        lane,
        status_class: res.writableFinished ? `${Math.floor(res.statusCode / 100)}xx` : 'aborted',
      };
      requests.inc(labels);
      duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
  return { registry, requests, duration, path, middleware };
}
