/**
 * Reading the metrics a rollout judges by: each instance's provider metrics (its metadata's `metricsPath`) and,
 * optionally, consumers' outcome metrics, read and folded into increases by the shared metrics layer (scrape/):
 * the same page limits and the same counter rules as the console's charts.
 */
import type { InstanceStatus } from '../admin/admin';
import { urlHost } from '../registry/paths';
import { CounterFold, emptyIncrease, sumIncrease, type ConsumerSeries, type LaneIncrease, type MetricsRead, type ProviderCounts } from '../scrape/counters';
import { readServicePages, type PageTarget } from '../scrape/service-pages';
import type { Lane } from '../types';
import { latencyStats, type LatencyStats } from './latency';

/** The URL of an instance's metrics, from its effective metadata, or undefined when it advertises none. */
/**
 * What an instance is to a rollout of `rolled` (default gray): the lane rolled out (`gray`, the role the judgment
 * calls it by), the base lane it is judged against (`normal`), or nothing (invalid, or another lane: a preview
 * build's errors must not count as the base version's).
 */
export function rolloutRole(instance: InstanceStatus, rolled = 'gray'): 'gray' | 'normal' | undefined {
  const lane = instance.effective?.lane;
  return lane === rolled ? 'gray' : lane === 'normal' ? 'normal' : undefined;
}

export function metricsUrl(instance: InstanceStatus): string | undefined {
  const meta = instance.effective;
  const path = meta?.meta.metricsPath;
  if (!meta || typeof path !== 'string' || !path.startsWith('/')) return undefined;
  return `http://${urlHost(meta.host)}:${meta.port}${path}`;
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

/** What one scrape of everything read. */
export interface Scrape extends MetricsRead {
  /** Provider counts by instance id, for the instances that answered. */
  providers: Map<string, ProviderCounts>;
  /** Lane of every registered instance (effective gray flag), by id. */
  lanes: Map<string, Lane>;
  /** Consumers' connection-error series by consumer URL, for those that answered. */
  consumers: Map<string, ConsumerSeries[]>;
  /** `<id or url>: <why>` for each gray instance or consumer whose metrics could not be read. */
  grayUnavailable: string[];
  /** The same for normal instances (the normal lane is then judged on the others). */
  normalUnavailable: string[];
}

export async function scrapeAll(service: string, instances: readonly InstanceStatus[], consumerUrls: readonly string[], timeoutMs: number, rolled = 'gray'): Promise<Scrape> {
  const scrape: Scrape = { providers: new Map(), lanes: new Map(), consumers: new Map(), grayUnavailable: [], normalUnavailable: [] };
  const targets: PageTarget[] = [];
  for (const instance of instances) {
    const role = rolloutRole(instance, rolled);
    if (!role) continue; // invalid data (consumers never route to it), or a named lane: not the rollout's
    scrape.lanes.set(instance.id, role);
    const url = metricsUrl(instance);
    if (url === undefined) unavailableOf(scrape, instance.id).push(`${instance.id}: advertises no metricsPath`);
    else targets.push({ id: instance.id, url });
  }
  const pages = await readServicePages(service, targets, consumerUrls, timeoutMs);
  scrape.providers = pages.providers;
  scrape.consumers = pages.consumers;
  for (const { id, url, why } of pages.failed) {
    if (id === undefined) scrape.grayUnavailable.push(`consumer ${url}: ${why}`);
    else unavailableOf(scrape, id).push(`${id}: ${url}: ${why}`);
  }
  return scrape;
}

/** The list an instance's unreadable metrics go in: a consumer's or a gray instance's fail gray, a normal one's not. */
function unavailableOf(scrape: Scrape, id: string): string[] {
  return scrape.lanes.get(id) === 'gray' ? scrape.grayUnavailable : scrape.normalUnavailable;
}

/** The increases over one step, per lane, from successive scrapes (CounterFold: the first scrape is the baseline). */
export class StepCounter {
  private readonly fold = new CounterFold();
  private readonly totals = { gray: emptyIncrease(), normal: emptyIncrease() };
  private readonly instances = { gray: 0, normal: 0 };

  observe(scrape: Scrape): void {
    const increases = this.fold.observe(scrape);
    for (const lane of ['gray', 'normal'] as const) {
      sumIncrease(this.totals[lane], increases[lane]);
      this.instances[lane] = [...scrape.lanes.values()].filter((l) => l === lane).length;
    }
  }

  /** The lanes' totals since the baseline. */
  stats(): { gray: LaneStats; normal: LaneStats } {
    const finish = (lane: LaneIncrease, instances: number): LaneStats => {
      const requests = lane.requests + lane.connectionErrors;
      const errors = lane.http5xx + lane.connectionErrors;
      const stats: LaneStats = { instances, requests, errors, http5xx: lane.http5xx, connectionErrors: lane.connectionErrors, errorRate: requests > 0 ? errors / requests : null };
      if (lane.buckets.size > 0) stats.latency = latencyStats(lane.buckets);
      return stats;
    };
    return { gray: finish(this.totals.gray, this.instances.gray), normal: finish(this.totals.normal, this.instances.normal) };
  }
}
