/**
 * A Prometheus server as the rollout's source of metrics (`--prometheus <url>`), for fleets whose instances the
 * operator's machine cannot reach: the same raw counters and buckets a direct scrape reads, from instant PromQL
 * queries (`/api/v1/query`), grouped by the `instance` target label. StepCounter then turns them into increases
 * exactly as it does for direct scrapes, so the verdicts are the same (up to Prometheus's scrape interval: its
 * values are as old as its last scrape).
 *
 * Prometheus must scrape every instance at the address it registers (`instance` = `host:port`, its default for a
 * target `host:port`), once (one job). Consumers' metrics carry their own `instance` label (the instance they
 * called), which Prometheus keeps as `exported_instance`.
 */
import type { InstanceStatus } from '../admin/admin';
import { CONSUMER_OUTCOMES, PROVIDER_DURATION, PROVIDER_REQUESTS } from '../metrics';
import type { Lane } from '../types';
import { consumerConnectionErrors, providerCounts } from '../scrape/counters';
import type { Sample } from '../scrape/exposition';
import { rolloutRole, type Scrape } from './scrape';

/** A PromQL string literal. */
function literal(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The value of a sample as Prometheus's JSON gives it (a string; `NaN`, `+Inf` included). */
function sampleValue(text: unknown): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** Runs an instant query; resolves with its vector as samples, rejects with Prometheus's error or after `timeoutMs`. */
export async function queryPrometheus(base: string, query: string, timeoutMs: number): Promise<Sample[]> {
  const url = new URL('api/v1/query', base.endsWith('/') ? base : `${base}/`);
  url.searchParams.set('query', query);
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  const text = await response.text();
  let body: { status?: string; error?: string; errorType?: string; data?: { resultType?: string; result?: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`HTTP ${response.status}: not a Prometheus API answer`);
  }
  if (body.status !== 'success') throw new Error(`HTTP ${response.status}: ${body.errorType ?? 'error'}: ${body.error ?? 'no error message'}`);
  if (body.data?.resultType !== 'vector' || !Array.isArray(body.data.result)) throw new Error(`expected a vector, got ${body.data?.resultType}`);
  return body.data.result.map(({ metric, value }) => ({ name: metric.__name__ ?? '', labels: metric, value: sampleValue(value?.[1]) }));
}

/**
 * What one read of Prometheus gives for a service, in the shape of a direct scrape (scrape.ts). A registered
 * instance Prometheus has no series of (not scraped, or its target is down: Prometheus marks its series stale) is
 * unavailable, as an unreadable metrics page is.
 */
export async function scrapePrometheus(base: string, service: string, instances: readonly InstanceStatus[], withConsumers: boolean, timeoutMs: number, rolled = 'gray'): Promise<Scrape> {
  const scrape: Scrape = { providers: new Map(), lanes: new Map(), consumers: new Map(), grayUnavailable: [], normalUnavailable: [] };
  const providerQuery = `{__name__=~${literal(`${PROVIDER_REQUESTS}|${PROVIDER_DURATION}_bucket`)},service=${literal(service)}}`;
  // Every outcome, not only connection errors: a consumer is then known from its first request, so its first
  // connection error counts as an increase rather than as its baseline (StepCounter).
  const consumerQuery = `${CONSUMER_OUTCOMES}{service=${literal(service)}}`;
  const [providers, consumers] = await Promise.allSettled([
    queryPrometheus(base, providerQuery, timeoutMs),
    withConsumers ? queryPrometheus(base, consumerQuery, timeoutMs) : Promise.resolve([]),
  ]);
  const byInstance = new Map<string, Sample[]>();
  if (providers.status === 'fulfilled') {
    for (const sample of providers.value) {
      const id = sample.labels.instance ?? '';
      let list = byInstance.get(id);
      if (!list) byInstance.set(id, (list = []));
      list.push(sample);
    }
  }
  for (const instance of instances) {
    const lane: Lane | undefined = rolloutRole(instance, rolled);
    if (!lane) continue; // invalid, or a named lane: not the rollout's
    scrape.lanes.set(instance.id, lane);
    const unavailable = lane === 'gray' ? scrape.grayUnavailable : scrape.normalUnavailable;
    if (providers.status === 'rejected') {
      unavailable.push(`${instance.id}: Prometheus ${base}: ${(providers.reason as Error).message}`);
      continue;
    }
    const samples = byInstance.get(instance.id);
    if (!samples) {
      unavailable.push(`${instance.id}: no ${PROVIDER_REQUESTS} series in Prometheus ${base} (is it scraped as instance="${instance.id}"?)`);
      continue;
    }
    scrape.providers.set(instance.id, providerCounts(samples, service));
  }
  if (consumers.status === 'rejected') {
    scrape.grayUnavailable.push(`consumers: Prometheus ${base}: ${(consumers.reason as Error).message}`);
  } else if (withConsumers) {
    // One "consumer" per scraped consumer target, as a direct read has one per metrics URL.
    const byConsumer = new Map<string, Sample[]>();
    for (const sample of consumers.value) {
      const target = sample.labels.instance ?? '';
      let list = byConsumer.get(target);
      if (!list) byConsumer.set(target, (list = []));
      list.push({ ...sample, labels: { ...sample.labels, instance: sample.labels.exported_instance ?? '' } });
    }
    for (const [target, samples] of byConsumer) scrape.consumers.set(`prometheus:${target}`, consumerConnectionErrors(samples, service));
  }
  return scrape;
}
