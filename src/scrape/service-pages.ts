/** One read of a service's metrics pages — its providers' and the consumers' — through the page reader's limits. */
import { consumerConnectionErrors, providerCounts, type ConsumerSeries, type ProviderCounts } from './counters';
import { parseExposition } from './exposition';
import { PAGE_CONCURRENCY, pool, readMetricsPage } from './page';

/** A provider instance's metrics page. */
export interface PageTarget {
  id: string;
  url: string;
}

export interface ServicePages {
  /** Provider counts by instance id, for the pages that were read. */
  providers: Map<string, ProviderCounts>;
  /** Connection-error series by consumer page URL, for the pages that were read. */
  consumers: Map<string, ConsumerSeries[]>;
  /** The pages that could not be read: the instance's id (none for a consumer's page), the URL, and why. */
  failed: Array<{ id?: string; url: string; why: string }>;
}

/** Reads every page of `service` (at most PAGE_CONCURRENCY at once); a page that fails is listed, never thrown. */
export async function readServicePages(service: string, instances: readonly PageTarget[], consumerUrls: readonly string[], timeoutMs: number): Promise<ServicePages> {
  const pages: ServicePages = { providers: new Map(), consumers: new Map(), failed: [] };
  const jobs: Array<{ id?: string; url: string }> = [...instances, ...consumerUrls.map((url) => ({ url }))];
  await pool(jobs, PAGE_CONCURRENCY, async ({ id, url }) => {
    try {
      const samples = parseExposition(await readMetricsPage(url, timeoutMs));
      if (id === undefined) pages.consumers.set(url, consumerConnectionErrors(samples, service));
      else pages.providers.set(id, providerCounts(samples, service));
    } catch (error) {
      pages.failed.push({ id, url, why: (error as Error).message });
    }
  });
  return pages;
}
