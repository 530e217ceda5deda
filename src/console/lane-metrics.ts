/**
 * What the console's charts plot, computed from providers' metrics pages: per lane, requests per second, error
 * rate and p50/p99 latency over the last scrape interval, and the gray share of traffic. Pure.
 *
 * Counters become increases the way Prometheus's `increase()` does: a counter that went down was reset (its
 * process restarted) and counts from 0. Latency quantiles come from the increases of the latency histogram's
 * buckets, interpolated linearly inside a bucket as Prometheus's `histogram_quantile()` does.
 */
import { PROVIDER_DURATION, PROVIDER_REQUESTS } from '../metrics';
import type { Sample } from '../rollout/exposition';
import type { Lane } from '../types';

/** One provider's counters at one scrape (cumulative since its process started). */
export interface ProviderCounters {
  /** Requests served (every status class but `aborted`). */
  requests: number;
  /** 5xx responses. */
  http5xx: number;
  /** Latency histogram: cumulative count per bucket upper bound (seconds; Infinity for `+Inf`). */
  buckets: Map<number, number>;
}

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

const BUCKET = `${PROVIDER_DURATION}_bucket`;

function parseLe(text: string | undefined): number | undefined {
  if (text === '+Inf') return Infinity;
  const value = Number(text);
  return text !== undefined && text !== '' && Number.isFinite(value) ? value : undefined;
}

/** A provider's counters for `service` from its metrics page's samples. */
export function providerCounters(samples: readonly Sample[], service: string): ProviderCounters {
  const counters: ProviderCounters = { requests: 0, http5xx: 0, buckets: new Map() };
  for (const sample of samples) {
    if (sample.labels.service !== service || !Number.isFinite(sample.value) || sample.labels.status_class === 'aborted') continue;
    if (sample.name === PROVIDER_REQUESTS) {
      counters.requests += sample.value;
      if (sample.labels.status_class === '5xx') counters.http5xx += sample.value;
    } else if (sample.name === BUCKET) {
      const le = parseLe(sample.labels.le);
      if (le !== undefined) counters.buckets.set(le, (counters.buckets.get(le) ?? 0) + sample.value);
    }
  }
  return counters;
}

export function emptyIncrease(): LaneIncrease {
  return { requests: 0, errors: 0, buckets: new Map() };
}

/**
 * Adds what `current` counted since `previous` to `into`. A request counter that went down means the process
 * restarted: everything `current` holds is new.
 */
export function addIncrease(into: LaneIncrease, previous: ProviderCounters, current: ProviderCounters): void {
  const reset = current.requests < previous.requests || current.http5xx < previous.http5xx;
  into.requests += reset ? current.requests : current.requests - previous.requests;
  into.errors += reset ? current.http5xx : current.http5xx - previous.http5xx;
  for (const [le, count] of current.buckets) {
    const before = reset ? 0 : (previous.buckets.get(le) ?? 0);
    into.buckets.set(le, (into.buckets.get(le) ?? 0) + Math.max(0, count - before));
  }
}

/**
 * The `q` quantile (0..1) of a histogram given as cumulative counts per upper bound, in the bound's unit; null when
 * it holds no observation. Inside a bucket the value is interpolated linearly; a quantile in the `+Inf` bucket is
 * the highest finite bound (all that can be said of it).
 */
export function histogramQuantile(q: number, buckets: ReadonlyMap<number, number>): number | null {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  if (bounds.length === 0) return null;
  const total = buckets.get(bounds[bounds.length - 1]) ?? 0;
  if (!(total > 0)) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bound of bounds) {
    const count = buckets.get(bound) ?? 0;
    if (count >= rank) {
      if (bound === Infinity) return lowerBound;
      if (count === lowerCount) return bound;
      return lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / (count - lowerCount);
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
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

