/**
 * What the console's charts plot, computed from providers' metrics pages: per lane, requests per second, error
 * rate and p50/p99 latency over the last scrape interval, and the gray share of traffic. The lanes charted are those
 * the service's registered instances are in (never a name a request carried), at most MAX_CHART_LANES of them. Counters become increases
 * through the shared metrics layer (scrape/counters.ts), as the rollout's do; quantiles are its histogramQuantile.
 * Pure.
 */
import { CounterFold, emptyIncrease, sumIncrease, type LaneIncrease, type MetricsRead } from '../scrape/counters';
import { histogramQuantile } from '../scrape/histogram';
import { BASE_LANE, GRAY_LANE, laneEntry, type Lane } from '../types';

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

/** One charted lane at one point. */
export interface ChartLane extends LanePoint {
  lane: Lane;
}

/** The lanes past the cap, summed into one series. */
export interface OtherLanes extends LanePoint {
  /** The lanes summed, by name. */
  lanes: Lane[];
}

/** One point of a service's charts. */
export interface MetricsPoint {
  /** Epoch ms of the scrape. */
  t: number;
  /** The configured ratio at the time (null: unset). */
  ratio: number | null;
  gray: LanePoint;
  normal: LanePoint;
  /**
   * Each lane charted: normal and gray always, then every other lane the service's instances are in, by name; with
   * more than MAX_CHART_LANES lanes, the first MAX_CHART_LANES - 1 of them, and the rest summed in `other`.
   */
  lanes: ChartLane[];
  /** The lanes past the cap, summed; null when every lane is charted. */
  other: OtherLanes | null;
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

/** Lanes charted as series of their own, `other` included: more would make a chart nobody can read. */
export const MAX_CHART_LANES = 8;

/**
 * The lanes charted, in order (normal, gray, then the rest by name), and the ones summed as `other` when there are
 * more than MAX_CHART_LANES.
 */
export function chartedLanes(lanes: Iterable<Lane>): { charted: Lane[]; other: Lane[] } {
  const named = [...new Set(lanes)].filter((lane) => lane !== BASE_LANE && lane !== GRAY_LANE).sort();
  const all = [BASE_LANE, GRAY_LANE, ...named];
  if (all.length <= MAX_CHART_LANES) return { charted: all, other: [] };
  return { charted: all.slice(0, MAX_CHART_LANES - 1), other: all.slice(MAX_CHART_LANES - 1) };
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
    const counts = new Map<Lane, number>();
    for (const [id, lane] of read.lanes) if (read.providers.has(id)) counts.set(lane, (counts.get(lane) ?? 0) + 1);
    const seconds = (at - lastAt) / 1000;
    const point = (lane: Lane) => lanePoint(laneEntry(increases, lane) ?? emptyIncrease(), counts.get(lane) ?? 0, seconds);
    const { charted, other } = chartedLanes(Object.keys(increases));
    const lanes = charted.map((lane) => ({ lane, ...point(lane) }));
    const gray = lanes[1];
    const normal = lanes[0];
    const listed = unavailable.length > MAX_UNAVAILABLE ? [...unavailable.slice(0, MAX_UNAVAILABLE), `… and ${unavailable.length - MAX_UNAVAILABLE} more`] : [...unavailable];
    return { t: at, ratio, gray: lanePointOf(gray), normal: lanePointOf(normal), lanes, other: sumLanes(other, increases, counts, seconds), grayShare: grayShare(gray, normal), unavailable: listed };
  }
}

/** A charted lane's point without its name (the `gray` and `normal` fields, as before lanes were charted). */
function lanePointOf({ lane: _lane, ...point }: ChartLane): LanePoint {
  return point;
}

/** The lanes past the cap as one point: their increases summed (a quantile of the summed histogram). */
function sumLanes(lanes: readonly Lane[], increases: Record<Lane, LaneIncrease>, counts: ReadonlyMap<Lane, number>, seconds: number): OtherLanes | null {
  if (lanes.length === 0) return null;
  const sum = emptyIncrease();
  let instances = 0;
  for (const lane of lanes) {
    const increase = laneEntry(increases, lane);
    if (increase) sumIncrease(sum, increase);
    instances += counts.get(lane) ?? 0;
  }
  return { lanes: [...lanes], ...lanePoint(sum, instances, seconds) };
}
