/**
 * Prometheus counters turned into increases, the one way both the rollout and the console count: what a provider's
 * page holds for a service, what a consumer's page holds, and the fold of successive reads into per-lane increases.
 *
 * The reset rule is Prometheus's `increase()`: each counter on its own; one that went down was reset (its process
 * restarted) and counts from 0, so its whole current value is the increase. A counter (a histogram bucket
 * included) first seen on a page already read was created by its first increment since that read: it counts from 0
 * too. A bucket missing from one page keeps its last value for the next. Pure.
 */
import { CONSUMER_OUTCOMES, PROVIDER_DURATION, PROVIDER_REQUESTS } from '../metrics';
import { laneEntry, type Lane } from '../types';
import type { Sample } from './exposition';
import { parseLe } from './histogram';

/**
 * A provider's served requests (every status class but `aborted`: no response was sent), its 5xx, and its latency
 * histogram's cumulative buckets over the same requests (`le` in seconds, +Inf as Infinity).
 */
export interface ProviderCounts {
  requests: number;
  http5xx: number;
  buckets: Map<number, number>;
}

/** One consumer series of connection errors: the instance it called and the lane it meant. */
export interface ConsumerSeries {
  instance: string;
  lane: Lane;
  value: number;
}

const DURATION_BUCKET = `${PROVIDER_DURATION}_bucket`;

export function providerCounts(samples: readonly Sample[], service: string): ProviderCounts {
  const counts: ProviderCounts = { requests: 0, http5xx: 0, buckets: new Map() };
  for (const sample of samples) {
    if (sample.labels.service !== service || !Number.isFinite(sample.value) || sample.labels.status_class === 'aborted') continue;
    if (sample.name === PROVIDER_REQUESTS) {
      counts.requests += sample.value;
      if (sample.labels.status_class === '5xx') counts.http5xx += sample.value;
    } else if (sample.name === DURATION_BUCKET) {
      const le = parseLe(sample.labels.le);
      if (le !== undefined) counts.buckets.set(le, (counts.buckets.get(le) ?? 0) + sample.value);
    }
  }
  return counts;
}

/** A consumer's connection errors per (instance, lane) series. */
export function consumerConnectionErrors(samples: readonly Sample[], service: string): ConsumerSeries[] {
  const series: ConsumerSeries[] = [];
  for (const sample of samples) {
    if (sample.name !== CONSUMER_OUTCOMES || sample.labels.service !== service || sample.labels.outcome !== 'connection_error') continue;
    if (!Number.isFinite(sample.value)) continue;
    series.push({ instance: sample.labels.instance ?? '', lane: sample.labels.lane ?? 'normal', value: sample.value });
  }
  return series;
}

/** The increase of a counter from `previous` to `current` (a decrease is a reset: the counter restarted at 0). */
export function increase(previous: number, current: number): number {
  return current >= previous ? current - previous : current;
}

/** A lane's increases between two reads. */
export interface LaneIncrease {
  /** Requests providers served (not `aborted`). */
  requests: number;
  http5xx: number;
  /** Consumers' connection errors meant for the lane (requests that reached no provider). */
  connectionErrors: number;
  /** The latency histogram's bucket increases. */
  buckets: Map<number, number>;
}

export function emptyIncrease(): LaneIncrease {
  return { requests: 0, http5xx: 0, connectionErrors: 0, buckets: new Map() };
}

/** Adds `into` what `current` counted since `previous` (undefined: a process that began since the last read). */
export function addIncrease(into: LaneIncrease, previous: ProviderCounts | undefined, current: ProviderCounts): void {
  into.requests += increase(previous?.requests ?? 0, current.requests);
  into.http5xx += increase(previous?.http5xx ?? 0, current.http5xx);
  for (const [le, count] of current.buckets) into.buckets.set(le, (into.buckets.get(le) ?? 0) + increase(previous?.buckets.get(le) ?? 0, count));
}

/** Adds `from`'s increases to `into` (a rollout step's totals; the console's lanes past its cap). */
export function sumIncrease(into: LaneIncrease, from: LaneIncrease): void {
  into.requests += from.requests;
  into.http5xx += from.http5xx;
  into.connectionErrors += from.connectionErrors;
  for (const [le, count] of from.buckets) into.buckets.set(le, (into.buckets.get(le) ?? 0) + count);
}

/** What one read of a service's metrics gave. */
export interface MetricsRead {
  /** The lane of every instance registered at the read (read or not), by id. */
  lanes: ReadonlyMap<string, Lane>;
  /** Provider counts by instance id, for the instances whose page was read. */
  providers: ReadonlyMap<string, ProviderCounts>;
  /** Consumers' connection-error series by consumer (its page URL), for those read. */
  consumers: ReadonlyMap<string, readonly ConsumerSeries[]>;
}

export interface CounterFoldOptions {
  /**
   * A provider read longer ago than this is not a baseline any more: its next read starts afresh (counts nothing),
   * so that one increase never spans several intervals. Default: no limit.
   */
  staleAfterMs?: number;
}

/**
 * Successive reads of one service folded into per-lane increases (the lanes of the read's instances: a rollout
 * gives its two roles, the console every lane). The first read is the baseline. An instance
 * registered since the last read counts from 0 (its counters began with its process); one that was registered but
 * unread (or read too long ago: `staleAfterMs`) takes its next read as its baseline. A consumer's first read is its
 * baseline; a series new on a consumer read before counts from 0. A connection error counts for the lane of the
 * instance it was meant for, as registered now, else the lane the consumer recorded.
 */
export class CounterFold {
  private readonly previous = new Map<string, { at: number; counts: ProviderCounts }>();
  /** The read (0: the baseline) and the time at which each instance was first registered. */
  private readonly listed = new Map<string, { read: number; at: number }>();
  private readonly previousConsumer = new Map<string, number>();
  private readonly knownConsumers = new Set<string>();
  private reads = 0;

  constructor(private readonly options: CounterFoldOptions = {}) {}

  /**
   * Folds in one read made at `at` (epoch ms); returns each lane's increases since the previous read: gray, normal,
   * and every other lane an instance of the read is in. Only those lanes: a consumer series labelled with a lane no
   * instance of the read is in (a header's, say) counts for none, so a request can never make a lane of the result.
   */
  observe(read: MetricsRead, at = Date.now()): Record<Lane, LaneIncrease> {
    const lanes: Record<Lane, LaneIncrease> = { gray: emptyIncrease(), normal: emptyIncrease() };
    for (const lane of read.lanes.values()) if (!laneEntry(lanes, lane)) lanes[lane] = emptyIncrease();
    const baseline = this.reads++ === 0;
    const stale = this.options.staleAfterMs === undefined ? -Infinity : at - this.options.staleAfterMs;
    this.foldProviders(read, at, stale, baseline, lanes);
    this.foldConsumers(read, baseline, lanes);
    return lanes;
  }

  private foldProviders(read: MetricsRead, at: number, stale: number, baseline: boolean, lanes: Record<Lane, LaneIncrease>): void {
    for (const [id, lane] of read.lanes) {
      if (!this.listed.has(id)) this.listed.set(id, { read: this.reads - 1, at });
      const current = read.providers.get(id);
      if (!current) continue;
      const previous = this.previous.get(id);
      const fresh = previous !== undefined && previous.at >= stale;
      // A bucket missing from this page keeps its last value: it was not reset, the page just lacked it.
      const kept = fresh ? { ...current, buckets: new Map([...previous.counts.buckets, ...current.buckets]) } : current;
      this.previous.set(id, { at, counts: kept });
      if (baseline) continue;
      if (previous) {
        const into = laneEntry(lanes, lane);
        if (fresh && into) addIncrease(into, previous.counts, current);
        continue;
      }
      // First read: new since the baseline, it counts from 0; registered at the baseline (or long ago), it is the baseline.
      const listed = this.listed.get(id)!;
      const into = laneEntry(lanes, lane);
      if (listed.read > 0 && listed.at >= stale && into) addIncrease(into, undefined, current);
    }
    for (const [id, { at: readAt }] of this.previous) if (readAt < stale) this.previous.delete(id);
  }

  private foldConsumers(read: MetricsRead, baseline: boolean, lanes: Record<Lane, LaneIncrease>): void {
    for (const [url, series] of read.consumers) {
      const firstRead = !this.knownConsumers.has(url);
      this.knownConsumers.add(url);
      for (const { instance, lane, value } of series) {
        const key = `${url}\n${instance}\n${lane}`;
        const previous = this.previousConsumer.get(key);
        this.previousConsumer.set(key, value);
        if (baseline || firstRead) continue;
        // A lane is folded when an instance of the read is in it (a rollout reads only its two roles).
        const into = laneEntry(lanes, read.lanes.get(instance) ?? lane);
        if (into) into.connectionErrors += increase(previous ?? 0, value);
      }
    }
  }
}
