/**
 * The console's charts from consumers' metrics too: a gray instance that resets every 5th connection serves no
 * response for it (its own metrics count those requests as `aborted`, which the charts leave out), so only the
 * consumer sees the failures. A console given the consumer's metrics page charts them as the gray lane's errors;
 * one without it cannot. Real ZooKeeper, real providers, a real consumer sending traffic.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { consumerMetrics, createAdmin, createConsole, silentLogger, type GrayConsole } from '../../src';
import type { MetricsPoint } from '../../src/console/lane-metrics';
import { eventually, testZk, uniqueRoot } from '../support/helpers';
import { startMetricsProvider, startTraffic, type MetricsProvider, type Traffic } from '../support/rollout-helpers';

jest.setTimeout(90_000);

/** Opens a page's live stream on `service` (the console scrapes what a page shows); returns how to close it. */
function view(base: string, service: string): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}api/stream?service=${service}`, (res) => {
      res.once('data', () => resolve(() => req.destroy()));
      res.resume();
    });
    req.on('error', (error) => ((error as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(error)));
    req.end();
  });
}

async function points(base: string): Promise<MetricsPoint[]> {
  return ((await (await fetch(`${base}api/services/demo`)).json()) as { metrics: MetricsPoint[] }).metrics;
}

function totals(list: MetricsPoint[]) {
  const sum = (pick: (p: MetricsPoint) => number) => list.reduce((total, p) => total + pick(p), 0);
  return { grayRequests: sum((p) => p.gray.requests), grayErrors: sum((p) => p.gray.errors), normalRequests: sum((p) => p.normal.requests), normalErrors: sum((p) => p.normal.errors) };
}

describe('console charts with consumers\' metrics (real ZooKeeper, providers, consumer)', () => {
  const root = uniqueRoot();
  let providers: MetricsProvider[];
  let traffic: Traffic;
  let metricsServer: Server;
  let withConsumer: GrayConsole;
  let providersOnly: GrayConsole;
  const closers: Array<() => void> = [];

  beforeAll(async () => {
    providers = [await startMetricsProvider({ root, gray: true, version: 'v2', fail: { every: 5, how: 'reset' } }), await startMetricsProvider({ root, gray: false, version: 'v1' })];
    const admin = createAdmin({ zk: testZk(), root, logger: silentLogger });
    await admin.setRatio('demo', 50);
    admin.close();
    traffic = await startTraffic({ root, rps: 60, maxMs: 80_000 });
    const metrics = consumerMetrics(traffic.gray);
    metricsServer = createServer((req, res) => metrics.handler(req, res));
    await new Promise<void>((resolve) => metricsServer.listen(0, '127.0.0.1', resolve));
    const consumerUrl = `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}/metrics`;
    withConsumer = createConsole({ zk: testZk(), root, logger: silentLogger, scrapeIntervalMs: 500, consumerMetrics: [consumerUrl] });
    providersOnly = createConsole({ zk: testZk(), root, logger: silentLogger, scrapeIntervalMs: 500 });
  }, 60_000);

  afterAll(async () => {
    for (const close of closers) close();
    await traffic?.stop();
    await withConsumer?.close();
    await providersOnly?.close();
    await new Promise((resolve) => metricsServer?.close(resolve));
    for (const provider of providers ?? []) await provider.close();
  });

  test('connection errors seen by the consumer count against the gray lane; without its page they cannot be seen', async () => {
    const bases = await Promise.all([withConsumer, providersOnly].map(async (c) => (await c.listen(0)).url.replace(/#.*$/, '')));
    for (const base of bases) closers.push(await view(base, 'demo'));
    const [consumerSide, providerSide] = await eventually(
      async () => {
        const both = await Promise.all(bases.map(async (base) => totals((await points(base)).slice(1))));
        for (const t of both) if (t.grayRequests < 150 || t.normalRequests < 150) throw new Error(`not enough traffic yet: ${JSON.stringify(t)}`);
        return both;
      },
      60_000,
      250,
    );
    // Every 5th connection to the gray instance is reset: about a fifth of its requests fail, none of normal's.
    const rate = consumerSide.grayErrors / consumerSide.grayRequests;
    expect(rate).toBeGreaterThan(0.1);
    expect(rate).toBeLessThan(0.3);
    expect(consumerSide.normalErrors).toBe(0);
    expect(providerSide.grayErrors).toBe(0);
    expect(providerSide.normalErrors).toBe(0);
  });
});
