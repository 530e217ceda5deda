/**
 * What the console's charts plot, computed from providers' metrics pages: per lane, requests per second, error
 * rate and p50/p99 latency over the last scrape interval, and the gray share of traffic. Counters become increases
 * through the shared metrics layer (scrape/counters.ts), as the rollout's do; quantiles are its histogramQuantile.
 * Pure.
 */
import { CounterFold, type LaneIncrease, type MetricsRead } from '../scrape/counters';
import { histogramQuantile } from '../scrape/histogram';
import type { Lane } from '../types';

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

/** A lane's point from its increases over `seconds`. */
export function lanePoint(increase: LaneIncrease, instances: number, seconds: number): LanePoint {
  const toMs = (value: number | null) => (value === null ? null : Math.round(value * 1000 * 100) / 100);
  // A connection error reached no provider: it counts as a request and an error of the lane it was meant for.
  const requests = increase.requests + increase.connectionErrors;
  const errors = increase.http5xx + increase.connectionErrors;
  return {
    instances,
    requests,
    errors,
    rps: seconds > 0 ? requests / seconds : 0,
    errorRate: requests > 0 ? errors / requests : null,
    p50: requests > 0 ? toMs(histogramQuantile(0.5, increase.buckets)) : null,
    p99: requests > 0 ? toMs(histogramQuantile(0.99, increase.buckets)) : null,
  };
}

/** The gray share of the requests of both lanes; null without requests. */
export function grayShare(gray: { requests: number }, normal: { requests: number }): number | null {
  const total = gray.requests + normal.requests;
  return total > 0 ? gray.requests / total : null;
}


/** Unreadable pages listed per point (the count of the rest is given). */
const MAX_UNAVAILABLE = 20;

/**
 * One service's reads folded into chart points: the first read is the baseline, each later one makes a point of
 * the increases since the read before. An instance whose last read is older than 2.5 intervals is read afresh: its
 * increase would span several intervals.
 */
export class ChartFold {
  private readonly fold: CounterFold;
  private lastAt?: number;

  constructor(intervalMs: number) {
    this.fold = new CounterFold({ staleAfterMs: 2.5 * intervalMs });
  }

  /** Folds in a read made at `at`; the point it makes, or undefined for the baseline. */
  observe(read: MetricsRead, at: number, ratio: number | null, unavailable: readonly string[]): MetricsPoint | undefined {
    const increases = this.fold.observe(read, at);
    const lastAt = this.lastAt;
    this.lastAt = at;
    if (lastAt === undefined) return undefined;
    const counts: Record<Lane, number> = { gray: 0, normal: 0 };
    for (const [id, lane] of read.lanes) if (read.providers.has(id) && (lane === 'gray' || lane === 'normal')) counts[lane]++;
    const seconds = (at - lastAt) / 1000;
    const gray = lanePoint(increases.gray, counts.gray, seconds);
    const normal = lanePoint(increases.normal, counts.normal, seconds);
    const listed = unavailable.length > MAX_UNAVAILABLE ? [...unavailable.slice(0, MAX_UNAVAILABLE), `… and ${unavailable.length - MAX_UNAVAILABLE} more`] : [...unavailable];
    return { t: at, ratio, gray, normal, grayShare: grayShare(gray, normal), unavailable: listed };
  }
}
