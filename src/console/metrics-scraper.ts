/**
 * Reads the metrics pages behind the console's charts, on an interval: each instance's provider metrics (its
 * metadata's `metricsPath`, as `graykit rollout` finds them) and the consumers' pages given in `consumerMetrics`.
 *
 * Only services that a page is showing are scraped (and for `historyMs` after the last such page closed, so that
 * coming back shows the recent past): the console never turns into a load generator against services nobody
 * looks at. One scrape of a service at a time; a slow one makes the next tick skip it rather than pile up.
 */
import { EventEmitter } from 'node:events';
import { readServicePages, type PageTarget } from '../scrape/service-pages';
import type { Lane, Logger } from '../types';
import { safeEmit } from '../util/emit';
import { ChartFold, type MetricsPoint } from './lane-metrics';

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

interface ServiceScrape {
  viewers: number;
  /** When an unviewed service stops being scraped. */
  lingerUntil: number;
  busy: boolean;
  /** When the last read began (a tick right after it would make a point of a few milliseconds). */
  lastAt?: number;
  fold: ChartFold;
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
      state = { viewers: 0, lingerUntil: 0, busy: false, fold: new ChartFold(this.options.intervalMs), points: [] };
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
      const unavailable: string[] = [];
      const withUrl: PageTarget[] = [];
      for (const { id, url } of targets.instances) {
        if (url === undefined) unavailable.push(`${id}: advertises no metricsPath`);
        else withUrl.push({ id, url });
      }
      const pages = await readServicePages(service, withUrl, this.options.consumerMetrics, this.options.timeoutMs);
      for (const { id, url, why } of pages.failed) unavailable.push(id === undefined ? `consumer ${url}: ${why}` : `${id}: ${why}`);
      if (this.closed || this.services.get(service) !== state) return;
      const lanes = new Map<string, Lane>(targets.instances.map((instance) => [instance.id, instance.lane]));
      state.lastAt = at;
      const point = state.fold.observe({ lanes, providers: pages.providers, consumers: pages.consumers }, at, targets.ratio, unavailable);
      if (!point) return;
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
