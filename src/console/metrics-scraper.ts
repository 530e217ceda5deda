/**
 * Reads the metrics pages behind the console's charts, on an interval: each instance's provider metrics (its
 * metadata's `metricsPath`, as `graykit rollout` finds them) and the consumers' pages given in `consumerMetrics`.
 *
 * Only services that a page is showing are scraped (and for `historyMs` after the last such page closed, so that
 * coming back shows the recent past): the console never turns into a load generator against services nobody
 * looks at. One scrape of a service at a time; a slow one makes the next tick skip it rather than pile up.
 */
import { EventEmitter } from 'node:events';
import { consumerConnectionErrors, increase, providerCounts, type ProviderCounts } from '../rollout/scrape';
import { parseExposition } from '../rollout/exposition';
import type { Lane, Logger } from '../types';
import { safeEmit } from '../util/emit';
import { addIncrease, emptyIncrease, grayShare, lanePoint, type LaneIncrease, type MetricsPoint } from './lane-metrics';

/** An instance to read: its lane now, and its metrics URL (undefined: it advertises none). */
export interface ScrapeTarget {
  id: string;
  lane: Lane;
  url?: string;
}

export interface MetricsScraperOptions {
  intervalMs: number;
  timeoutMs: number;
  historyMs: number;
  consumerMetrics: readonly string[];
  /** The service's instances and ratio now; undefined when the service is unknown. */
  targets(service: string): { ratio: number | null; instances: readonly ScrapeTarget[] } | undefined;
  logger: Logger;
}

/** A metrics page larger than this is not read: graykit's pages are a few KiB, even with many series. */
const MAX_PAGE_BYTES = 4 * 1024 * 1024;
/** Pages read at once, per service. */
const CONCURRENCY = 32;
/** Unreadable pages listed per point (the count of the rest is given). */
const MAX_UNAVAILABLE = 20;

/** GETs a metrics page's text; rejects on a non-2xx status, after `timeoutMs`, or past MAX_PAGE_BYTES. */
export async function readMetricsPage(url: string, timeoutMs: number): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'text/plain' }, redirect: 'error' });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`HTTP ${response.status}`);
  }
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_PAGE_BYTES) {
      await reader.cancel();
      throw new Error(`page over ${MAX_PAGE_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs `jobs` with at most `limit` at once. */
async function pool<T>(items: readonly T[], limit: number, job: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await job(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

interface ServiceScrape {
  viewers: number;
  /** When an unviewed service stops being scraped. */
  lingerUntil: number;
  busy: boolean;
  lastAt?: number;
  previous: Map<string, { at: number; counters: ProviderCounts }>;
  consumerPrevious: Map<string, number>;
  consumersRead: Set<string>;
  points: MetricsPoint[];
}

/** Events: `point` (service: string, point: MetricsPoint) after each scrape of a service but its first. */
export class MetricsScraper extends EventEmitter {
  private readonly services = new Map<string, ServiceScrape>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: MetricsScraperOptions) {
    super();
    this.timer = setInterval(() => this.tick(), options.intervalMs);
    this.timer.unref();
  }

  /** A page shows `service`: scrape it (at once if it is new). Returns the function that ends the viewing. */
  view(service: string): () => void {
    let state = this.services.get(service);
    if (!state) {
      state = { viewers: 0, lingerUntil: 0, busy: false, previous: new Map(), consumerPrevious: new Map(), consumersRead: new Set(), points: [] };
      this.services.set(service, state);
      void this.scrape(service, state); // the baseline, so the first point comes one interval later
    }
    state.viewers++;
    let ended = false;
    const viewed = state;
    return () => {
      if (ended) return;
      ended = true;
      viewed.viewers--;
      if (viewed.viewers === 0) viewed.lingerUntil = Date.now() + this.options.historyMs;
    };
  }

  /** The points kept for `service`, oldest first. */
  history(service: string): readonly MetricsPoint[] {
    return this.services.get(service)?.points ?? [];
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.services.clear();
    this.removeAllListeners();
  }

  private tick(): void {
    const now = Date.now();
    for (const [service, state] of this.services) {
      if (state.viewers === 0 && now > state.lingerUntil) {
        this.services.delete(service);
        continue;
      }
      if (!state.busy) void this.scrape(service, state);
    }
  }

  private async scrape(service: string, state: ServiceScrape): Promise<void> {
    // A tick right after a page opened (its baseline just read) would make a point of a few milliseconds.
    if (state.lastAt !== undefined && Date.now() - state.lastAt < this.options.intervalMs / 2) return;
    const targets = this.options.targets(service);
    if (!targets || this.closed) return;
    state.busy = true;
    try {
      const at = Date.now();
      const read = new Map<string, ProviderCounts>();
      const unavailable: string[] = [];
      const withUrl = targets.instances.filter((instance) => {
        if (instance.url === undefined) unavailable.push(`${instance.id}: advertises no metricsPath`);
        return instance.url !== undefined;
      });
      const consumerSeries = new Map<string, ReturnType<typeof consumerConnectionErrors>>();
      await Promise.all([
        pool(withUrl, CONCURRENCY, async (instance) => {
          try {
            read.set(instance.id, providerCounts(parseExposition(await readMetricsPage(instance.url!, this.options.timeoutMs)), service));
          } catch (error) {
            unavailable.push(`${instance.id}: ${(error as Error).message}`);
          }
        }),
        pool(this.options.consumerMetrics, CONCURRENCY, async (url) => {
          try {
            consumerSeries.set(url, consumerConnectionErrors(parseExposition(await readMetricsPage(url, this.options.timeoutMs)), service));
          } catch (error) {
            unavailable.push(`consumer ${url}: ${(error as Error).message}`);
          }
        }),
      ]);
      if (this.closed || this.services.get(service) !== state) return;
      const lanes: Record<Lane, LaneIncrease> = { gray: emptyIncrease(), normal: emptyIncrease() };
      const counts: Record<Lane, number> = { gray: 0, normal: 0 };
      const laneOf = new Map(targets.instances.map((instance) => [instance.id, instance.lane]));
      // An instance unread for longer than this is read afresh: its increase would span several intervals.
      const stale = at - 2.5 * this.options.intervalMs;
      for (const instance of targets.instances) {
        const current = read.get(instance.id);
        if (!current) continue;
        counts[instance.lane]++;
        const previous = state.previous.get(instance.id);
        if (previous && previous.at >= stale) addIncrease(lanes[instance.lane], previous.counters, current);
        state.previous.set(instance.id, { at, counters: current });
      }
      for (const id of state.previous.keys()) if (!laneOf.has(id)) state.previous.delete(id);
      for (const [url, series] of consumerSeries) {
        const firstRead = !state.consumersRead.has(url);
        state.consumersRead.add(url);
        for (const { instance, lane, value } of series) {
          const key = `${url}\n${instance}\n${lane}`;
          const previous = state.consumerPrevious.get(key);
          state.consumerPrevious.set(key, value);
          if (firstRead) continue;
          const added = increase(previous ?? 0, value);
          // A connection error reached no provider: it counts as a request and an error of the lane it was meant for.
          const owner = lanes[laneOf.get(instance) ?? lane];
          owner.requests += added;
          owner.errors += added;
        }
      }
      const lastAt = state.lastAt;
      state.lastAt = at;
      if (lastAt === undefined) return;
      const seconds = (at - lastAt) / 1000;
      const gray = lanePoint(lanes.gray, counts.gray, seconds);
      const normal = lanePoint(lanes.normal, counts.normal, seconds);
      const point: MetricsPoint = {
        t: at,
        ratio: targets.ratio,
        gray,
        normal,
        grayShare: grayShare(gray, normal),
        unavailable: unavailable.length > MAX_UNAVAILABLE ? [...unavailable.slice(0, MAX_UNAVAILABLE), `… and ${unavailable.length - MAX_UNAVAILABLE} more`] : unavailable,
      };
      state.points.push(point);
      const keepFrom = at - this.options.historyMs;
      while (state.points.length > 0 && state.points[0].t < keepFrom) state.points.shift();
      safeEmit(this, this.options.logger, 'point', service, point);
    } catch (error) {
      this.options.logger.warn(`console: scraping the metrics of service "${service}" failed: ${(error as Error).message}`);
    } finally {
      state.busy = false;
    }
  }
}
