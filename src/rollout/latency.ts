/**
 * Latency from Prometheus histograms (`graykit_http_request_duration_seconds`): the increase of each cumulative
 * bucket over a step, quantiles as Prometheus's `histogram_quantile()` computes them, and the comparison of the gray
 * lane's tail with the normal lane's. Pure.
 *
 * The comparison: a histogram keeps bucket counts, not samples, so a rank test on the raw latencies cannot be done.
 * What the buckets do give exactly is how many requests of each lane took longer than a bucket bound. graykit takes
 * the bound at or above the normal lane's p99 (the upper bound of the bucket that holds it: at most ~1 % of normal
 * requests are slower), and asks whether gray's share of requests slower than that is significantly higher than
 * normal's — the same one-sided two-proportion z-test as the error rates (judge.ts). It targets the tail, which is
 * where a canary's regressions show first (a slow dependency, a lock, a cold cache on some requests), and it needs no
 * threshold from the operator; `maxLatencyMs` is the absolute limit beside it.
 */

import { histogramQuantile, parseLe, sortedBuckets as sorted, type Buckets } from '../scrape/histogram';

export const QUANTILES = ['p50', 'p95', 'p99'] as const;
export type QuantileName = (typeof QUANTILES)[number];
export const QUANTILE_VALUE: Record<QuantileName, number> = { p50: 0.5, p95: 0.95, p99: 0.99 };

/** Quantiles of a lane over a step, seconds (null when the lane saw no request, or only slower than every bound). */
export interface LatencyStats {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  /** The cumulative bucket counts the quantiles were computed from, by `le` as exposed (`0.25`, `+Inf`). */
  buckets: Record<string, number>;
}

export function latencyStats(buckets: Buckets): LatencyStats {
  const exposed: Record<string, number> = {};
  for (const [le, count] of sorted(buckets)) exposed[le === Infinity ? '+Inf' : String(le)] = count;
  return { p50: histogramQuantile(0.5, buckets), p95: histogramQuantile(0.95, buckets), p99: histogramQuantile(0.99, buckets), buckets: exposed };
}

/** LatencyStats' buckets back to a map. */
export function bucketsOf(stats: LatencyStats): Map<number, number> {
  const map = new Map<number, number>();
  for (const [le, count] of Object.entries(stats.buckets)) {
    const bound = parseLe(le);
    if (bound !== undefined) map.set(bound, count);
  }
  return map;
}

/**
 * The bound for the tail comparison: the upper bound of the bucket that holds the normal lane's p99 (a finite one),
 * or undefined when the normal lane's p99 is beyond every finite bucket.
 */
export function tailBound(normal: Buckets): number | undefined {
  const list = sorted(normal);
  const total = list.at(-1)?.[1] ?? 0;
  if (!(total > 0)) return undefined;
  const found = list.find(([, count]) => count >= 0.99 * total);
  return found && found[0] !== Infinity ? found[0] : undefined;
}

/** Requests slower than `bound` (a bucket bound) and requests in all: counts for a two-proportion test. */
export function slowerThan(buckets: Buckets, bound: number): { requests: number; errors: number } {
  const total = buckets.get(Infinity) ?? 0;
  const within = buckets.get(bound) ?? 0;
  return { requests: total, errors: Math.max(0, total - within) };
}

/** `1.5` seconds → `1500ms`; `0.0123` → `12.3ms`. */
export function formatSeconds(seconds: number | null): string {
  if (seconds === null) return '-';
  const ms = seconds * 1000;
  return ms >= 100 ? `${Math.round(ms)}ms` : `${Number(ms.toPrecision(3))}ms`;
}
