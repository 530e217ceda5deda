/**
 * What the console's charts plot, computed from providers' metrics pages: per lane, requests per second, error
 * rate and p50/p99 latency over the last scrape interval, and the gray share of traffic. Pure.
 *
 * Counters become increases the way Prometheus's `increase()` does: a counter that went down was reset (its
 * process restarted) and counts from 0. Latency quantiles come from the increases of the latency histogram's
 * buckets, interpolated linearly inside a bucket as Prometheus's `histogram_quantile()` does.
 */
import { histogramQuantile } from '../rollout/latency';
import type { ProviderCounts } from '../rollout/scrape';
import type { Lane } from '../types';

/** A lane's increases over one interval. */
export interface LaneIncrease {
  requests: number;
  errors: number;
  buckets: Map<number, number>;
}

/** One lane at one point of a chart. */
export interface LanePoint {
  /** Instances of the lane that were read. */
  instances: number;
  requests: number;
  errors: number;
  /** Requests per second over the interval. */
  rps: number;
  /** errors / requests; null without requests. */
  errorRate: number | null;
  /** Latency quantiles, ms; null without requests (or without a latency histogram). */
  p50: number | null;
  p99: number | null;
}

/** One point of a service's charts. */
export interface MetricsPoint {
  /** Epoch ms of the scrape. */
  t: number;
  /** The configured ratio at the time (null: unset). */
  ratio: number | null;
  gray: LanePoint;
  normal: LanePoint;
  /** Gray requests / all requests over the interval; null without requests. */
  grayShare: number | null;
  /** Metrics pages that could not be read, as `<instance or url>: <why>` (capped). */
  unavailable: string[];
}

export function emptyIncrease(): LaneIncrease {
  return { requests: 0, errors: 0, buckets: new Map() };
}

/**
 * Adds what `current` counted since `previous` to `into`. A request counter that went down means the process
 * restarted: everything `current` holds is new.
 */
export function addIncrease(into: LaneIncrease, previous: ProviderCounts, current: ProviderCounts): void {
  const reset = current.requests < previous.requests || current.http5xx < previous.http5xx;
  into.requests += reset ? current.requests : current.requests - previous.requests;
  into.errors += reset ? current.http5xx : current.http5xx - previous.http5xx;
  for (const [le, count] of current.buckets) {
    const before = reset ? 0 : (previous.buckets.get(le) ?? 0);
    into.buckets.set(le, (into.buckets.get(le) ?? 0) + Math.max(0, count - before));
  }
}

/** A lane's point from its increases over `seconds`. */
export function lanePoint(increase: LaneIncrease, instances: number, seconds: number): LanePoint {
  const toMs = (value: number | null) => (value === null ? null : Math.round(value * 1000 * 100) / 100);
  const requests = increase.requests;
  return {
    instances,
    requests,
    errors: increase.errors,
    rps: seconds > 0 ? requests / seconds : 0,
    errorRate: requests > 0 ? increase.errors / requests : null,
    p50: requests > 0 ? toMs(histogramQuantile(0.5, increase.buckets)) : null,
    p99: requests > 0 ? toMs(histogramQuantile(0.99, increase.buckets)) : null,
  };
}

/** The gray share of the requests of both lanes; null without requests. */
export function grayShare(gray: { requests: number }, normal: { requests: number }): number | null {
  const total = gray.requests + normal.requests;
  return total > 0 ? gray.requests / total : null;
}

