/**
 * Reading the metrics a rollout judges by: each instance's provider metrics (its metadata's `metricsPath`) and,
 * optionally, consumers' outcome metrics. Counters are turned into increases over a step the way Prometheus's
 * `increase()` does: a counter that went down was reset (the process restarted) and counts from 0 again.
 */
import type { InstanceStatus } from '../admin/admin';
import { CONSUMER_OUTCOMES, PROVIDER_DURATION, PROVIDER_REQUESTS } from '../metrics';
import { urlHost } from '../registry/paths';
import type { Lane } from '../types';
import { parseExposition, type Sample } from './exposition';
import { latencyStats, parseLe, type LatencyStats } from './latency';

/** GETs a metrics page; rejects on a non-2xx status or after `timeoutMs`. */
export async function scrapeText(url: string, timeoutMs: number): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'text/plain' } });
  const text = await response.text();
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return text;
}

/** The URL of an instance's metrics, from its effective metadata, or undefined when it advertises none. */
export function metricsUrl(instance: InstanceStatus): string | undefined {
  const meta = instance.effective;
  const path = meta?.meta.metricsPath;
  if (!meta || typeof path !== 'string' || !path.startsWith('/')) return undefined;
  return `http://${urlHost(meta.host)}:${meta.port}${path}`;
}

/**
 * A provider's served requests (every status class but `aborted`: no response was sent), its 5xx, and its latency
 * histogram's cumulative buckets over the same requests (`le` in seconds, +Inf as Infinity).
 */
export interface ProviderCounts {
  requests: number;
  http5xx: number;
  buckets: Map<number, number>;
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
export function consumerConnectionErrors(samples: readonly Sample[], service: string): Array<{ instance: string; lane: Lane; value: number }> {
  const series: Array<{ instance: string; lane: Lane; value: number }> = [];
  for (const sample of samples) {
    if (sample.name !== CONSUMER_OUTCOMES || sample.labels.service !== service || sample.labels.outcome !== 'connection_error') continue;
    if (!Number.isFinite(sample.value)) continue;
    series.push({ instance: sample.labels.instance ?? '', lane: sample.labels.lane === 'gray' ? 'gray' : 'normal', value: sample.value });
  }
  return series;
}

/** The increase of a counter from `previous` to `current` (a decrease is a reset: the counter restarted at 0). */
export function increase(previous: number, current: number): number {
  return current >= previous ? current - previous : current;
}

/** One lane's totals over a step. */
export interface LaneStats {
  /** Instances of the lane at the last scrape. */
  instances: number;
  /** Requests: served by providers (not `aborted`), plus consumers' connection errors. */
  requests: number;
  /** 5xx plus connection errors. */
  errors: number;
  http5xx: number;
  connectionErrors: number;
  /** errors / requests, null without requests. */
  errorRate: number | null;
  /** Quantiles from the providers' latency histograms (their increase over the step); absent without histograms. */
  latency?: LatencyStats;
}

export function emptyLane(): LaneStats {
  return { instances: 0, requests: 0, errors: 0, http5xx: 0, connectionErrors: 0, errorRate: null };
}

/** Adds `from`'s buckets into `into`, bound by bound. */
function addBuckets(into: Map<number, number>, from: ReadonlyMap<number, number>, previous?: ReadonlyMap<number, number>): void {
  for (const [le, count] of from) into.set(le, (into.get(le) ?? 0) + increase(previous?.get(le) ?? 0, count));
}

/** What one scrape of everything read. */
export interface Scrape {
  /** Provider counts by instance id, for the instances that answered. */
  providers: Map<string, ProviderCounts>;
  /** Lane of every registered instance (effective gray flag), by id. */
  lanes: Map<string, Lane>;
  /** Consumers' connection-error series by consumer URL, for those that answered. */
  consumers: Map<string, Array<{ instance: string; lane: Lane; value: number }>>;
  /** `<id or url>: <why>` for each gray instance or consumer whose metrics could not be read. */
  grayUnavailable: string[];
  /** The same for normal instances (the normal lane is then judged on the others). */
  normalUnavailable: string[];
}

export async function scrapeAll(service: string, instances: readonly InstanceStatus[], consumerUrls: readonly string[], timeoutMs: number): Promise<Scrape> {
  const scrape: Scrape = { providers: new Map(), lanes: new Map(), consumers: new Map(), grayUnavailable: [], normalUnavailable: [] };
  const jobs: Array<Promise<void>> = [];
  for (const instance of instances) {
    if (!instance.effective) continue; // invalid data: consumers never route to it
    const lane: Lane = instance.effective.gray ? 'gray' : 'normal';
    scrape.lanes.set(instance.id, lane);
    const unavailable = lane === 'gray' ? scrape.grayUnavailable : scrape.normalUnavailable;
    const url = metricsUrl(instance);
    if (url === undefined) {
      unavailable.push(`${instance.id}: advertises no metricsPath`);
      continue;
    }
    jobs.push(
      scrapeText(url, timeoutMs).then(
        (text) => void scrape.providers.set(instance.id, providerCounts(parseExposition(text), service)),
        (error: unknown) => void unavailable.push(`${instance.id}: ${url}: ${(error as Error).message}`),
      ),
    );
  }
  for (const url of consumerUrls) {
    jobs.push(
      scrapeText(url, timeoutMs).then(
        (text) => void scrape.consumers.set(url, consumerConnectionErrors(parseExposition(text), service)),
        (error: unknown) => void scrape.grayUnavailable.push(`consumer ${url}: ${(error as Error).message}`),
      ),
    );
  }
  await Promise.all(jobs);
  return scrape;
}

/**
 * The increases over one step, per lane, from successive scrapes. The first scrape is the baseline. An instance
 * that registers later starts from 0 (its counters began with its process); one that was there but could not be
 * read at the baseline takes its first successful read as its baseline.
 */
export class StepCounter {
  private readonly previous = new Map<string, ProviderCounts>();
  private readonly previousConsumer = new Map<string, number>();
  private readonly known = new Set<string>();
  private readonly knownConsumers = new Set<string>();
  private readonly totals = { gray: emptyLane(), normal: emptyLane() };
  private readonly buckets = { gray: new Map<number, number>(), normal: new Map<number, number>() };
  private started = false;

  observe(scrape: Scrape): void {
    const baseline = !this.started;
    this.started = true;
    for (const [id, lane] of scrape.lanes) {
      const current = scrape.providers.get(id);
      const seenBefore = this.known.has(id);
      if (baseline) this.known.add(id);
      if (!current) continue;
      const previous = this.previous.get(id);
      this.previous.set(id, current);
      if (baseline) continue;
      if (!previous) {
        this.known.add(id);
        // Known at the baseline but unread until now: this read is its baseline. New since: it counts from 0.
        if (seenBefore) continue;
      }
      const totals = this.totals[lane];
      totals.requests += increase(previous?.requests ?? 0, current.requests);
      totals.http5xx += increase(previous?.http5xx ?? 0, current.http5xx);
      addBuckets(this.buckets[lane], current.buckets, previous?.buckets);
    }
    for (const [url, series] of scrape.consumers) {
      const firstRead = !this.knownConsumers.has(url);
      this.knownConsumers.add(url);
      for (const { instance, lane, value } of series) {
        const key = `${url}\n${instance}\n${lane}`;
        const previous = this.previousConsumer.get(key);
        this.previousConsumer.set(key, value);
        if (baseline || firstRead) continue;
        // A series first seen now was created by its first increment since the last read.
        const added = increase(previous ?? 0, value);
        const owner = scrape.lanes.get(instance) ?? lane;
        this.totals[owner].connectionErrors += added;
      }
    }
    for (const lane of ['gray', 'normal'] as const) {
      this.totals[lane].instances = [...scrape.lanes.values()].filter((l) => l === lane).length;
    }
  }

  /** The lanes' totals since the baseline. */
  stats(): { gray: LaneStats; normal: LaneStats } {
    const finish = (lane: LaneStats, buckets: Map<number, number>): LaneStats => {
      const requests = lane.requests + lane.connectionErrors;
      const errors = lane.http5xx + lane.connectionErrors;
      const stats: LaneStats = { ...lane, requests, errors, errorRate: requests > 0 ? errors / requests : null };
      if (buckets.size > 0) stats.latency = latencyStats(buckets);
      return stats;
    };
    return { gray: finish(this.totals.gray, this.buckets.gray), normal: finish(this.totals.normal, this.buckets.normal) };
  }
}
