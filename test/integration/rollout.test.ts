/**
 * Progressive rollout, in-process: runRollout against a real ZooKeeper, real providers with metrics on
 * 127.0.0.1 and a real consumer (axios + useGray) sending bounded traffic. Intervals are compressed to ~1.5 s.
 */
import { rolloutExitCode } from '../../src/cli/exit';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import {
  InvalidOptionError,
  consumerMetrics,
  createAdmin,
  grayRegister,
  runRollout,
  silentLogger,
  type GrayAdmin,
  type RolloutEvent,
  type RolloutOptions,
} from '../../src';
import { configPath } from '../../src/registry/paths';
import { eventually, registryFixture, startProvider, testZk, uniqueRoot } from '../support/helpers';
import { startMetricsProvider, startTraffic, type MetricsProvider, type Traffic } from '../support/rollout-helpers';

jest.setTimeout(90_000);

describe('runRollout (real ZooKeeper, real providers and consumer)', () => {
  const fx = registryFixture();
  const { open } = fx;

  /** The ratio as ZooKeeper holds it, read on a session of its own (not the rollout's). */
  async function ratioInZk(): Promise<number | undefined> {
    return JSON.parse(String((await fx.admin.getData(configPath(fx.root, 'demo'))).data)).ratio;
  }

  async function setup(options: { fail?: { every: number; how: '500' | 'reset' }; rps?: number }): Promise<{
    normal: MetricsProvider;
    gray: MetricsProvider;
    admin: GrayAdmin;
    traffic: Traffic;
  }> {
    const normal = await startMetricsProvider({ root: fx.root, gray: false, version: 'v1' });
    open.push(normal);
    const gray = await startMetricsProvider({ root: fx.root, gray: true, version: 'v2', fail: options.fail });
    open.push(gray);
    const admin = createAdmin({ zk: testZk(), root: fx.root, logger: silentLogger });
    open.push(admin);
    await admin.setRatio('demo', 0);
    const traffic = await startTraffic({ root: fx.root, rps: options.rps ?? 100 });
    open.push({ close: () => traffic.stop() });
    await eventually(() => expect(traffic.gray.consumer.snapshot('demo')?.instances).toHaveLength(2));
    return { normal, gray, admin, traffic };
  }

  // scrapeTimeoutMs: the providers share this (possibly CPU-starved) process with the traffic and the rollout.
  const base: Omit<RolloutOptions, 'steps'> = { service: 'demo', intervalMs: 1500, maxErrorRate: 0.01, minRequests: 15, maxExtensions: 8, refreshMs: 500, scrapeTimeoutMs: 10_000 };

  test('a healthy gray version is promoted after all steps', async () => {
    const { gray, admin, traffic } = await setup({});
    const events: RolloutEvent[] = [];
    const report = await runRollout(admin, { ...base, steps: [20, 60, 100] }, { onProgress: (event) => events.push(event) });

    expect({ outcome: report.outcome, exitCode: rolloutExitCode(report), reason: report.reason }).toMatchObject({ outcome: 'promoted', exitCode: 0 });
    expect(report.history.map((step) => [step.ratio, step.verdict?.result])).toEqual([
      [20, 'pass'],
      [60, 'pass'],
      [100, 'pass'],
    ]);
    for (const step of report.history) {
      expect(step.gray.requests).toBeGreaterThanOrEqual(15);
      expect(step.gray.errors).toBe(0);
      expect(step.durationMs).toBeGreaterThanOrEqual(1500);
    }
    // The ratio was in force at each step: the gray share of what the providers served follows it. Wide bounds: a
    // ratio not applied gives 0 or 1, while on a CPU-starved machine the lanes' metrics are read up to seconds
    // apart, which skews a share measured over ~100 requests well beyond binomial noise.
    const share = (i: number) => report.history[i].gray.requests / (report.history[i].gray.requests + report.history[i].normal.requests);
    const within = (i: number, low: number, high: number) => (share(i) > low && share(i) < high ? 'within' : { share: share(i), step: report.history[i], ejections: traffic.ejections, failed: traffic.failed });
    expect(within(0, 0.03, 0.7)).toBe('within');
    expect(within(2, 0.85, 1.01)).toBe('within');
    expect(report.promoted).toEqual([gray.id]);
    expect(await ratioInZk()).toBe(0);
    const status = await admin.status('demo');
    expect(status.instances.find((i) => i.id === gray.id)?.effective?.gray).toBe(false);
    // Events: start, one step event per step, live progress with time left, a verdict per interval, the report.
    expect(events[0].type).toBe('start');
    expect(events.filter((e) => e.type === 'step').map((e) => (e as { ratio: number }).ratio)).toEqual([20, 60, 100]);
    expect(events.some((e) => e.type === 'progress' && e.remainingMs > 0)).toBe(true);
    expect(events[events.length - 1]).toEqual({ type: 'report', report });
  });

  test('a gray version failing 10 % of requests is aborted at the first step and the ratio returns to 0', async () => {
    const { gray, admin, traffic } = await setup({ fail: { every: 10, how: '500' } });
    const events: RolloutEvent[] = [];
    const report = await runRollout(admin, { ...base, steps: [20, 60, 100] }, { onProgress: (event) => events.push(event) });

    expect({ outcome: report.outcome, exitCode: rolloutExitCode(report), step: report.step }).toEqual({ outcome: 'aborted', exitCode: 10, step: 1 });
    expect(report.history).toHaveLength(1);
    expect(report.history[0].verdict?.result).toBe('breach');
    expect(report.reason).toMatch(/^step 1\/3 \(ratio 20\): gray error rate \d+\.\d\d% > max 1\.00%/);
    // Every 10th gray response is a 500: over >= 15 requests that is 5-15 %, whatever the window.
    expect(report.gray.requests).toBeGreaterThanOrEqual(15);
    expect(report.gray.http5xx).toBeGreaterThanOrEqual(1);
    expect(report.gray.errorRate).toBeGreaterThanOrEqual(0.04);
    expect(report.gray.errorRate).toBeLessThanOrEqual(0.16);
    expect(report.normal.errors).toBe(0);
    expect(report.normal.requests).toBeGreaterThan(0);
    expect({ ratio: report.ratio, verified: report.ratioVerified }).toEqual({ ratio: 0, verified: true });
    expect(events.find((e) => e.type === 'rollback')).toMatchObject({ ratio: 0, verified: true });
    expect(await ratioInZk()).toBe(0);
    // And it takes effect: once the consumer has seen ratio 0 (and what it had sent before has completed), the
    // gray version serves nothing more.
    await eventually(() => expect(traffic.gray.consumer.ratioFor('demo')).toBe(0));
    await traffic.settled();
    const servedAtZero = gray.served();
    const sentAtZero = traffic.sent;
    await eventually(() => expect(traffic.sent).toBeGreaterThanOrEqual(sentAtZero + 100), 30_000);
    expect(gray.served()).toBe(servedAtZero);
  });

  test('a named lane (--lane canary) is rolled out by its share and judged against base only: a healthy canary is promoted, a failing one rolled back to share 0', async () => {
    // The gray instance fails every 5th request: were it counted as base, or as the canary, the verdicts would differ.
    const normal = await startMetricsProvider({ root: fx.root, gray: false, version: 'v1' });
    open.push(normal);
    open.push(await startMetricsProvider({ root: fx.root, gray: true, version: 'v2', fail: { every: 5, how: '500' } }));
    const canary = await startMetricsProvider({ root: fx.root, gray: false, lane: 'canary', version: 'v3' });
    open.push(canary);
    const failing = await startMetricsProvider({ root: fx.root, gray: false, lane: 'bad', version: 'v4', fail: { every: 10, how: '500' } });
    open.push(failing);
    const admin = createAdmin({ zk: testZk(), root: fx.root, logger: silentLogger });
    open.push(admin);
    await admin.setRatio('demo', 0);
    const traffic = await startTraffic({ root: fx.root, rps: 100 });
    open.push({ close: () => traffic.stop() });
    await eventually(() => expect(traffic.gray.consumer.snapshot('demo')?.instances).toHaveLength(4));

    const report = await runRollout(admin, { ...base, lane: 'canary', steps: [30, 60] });
    expect({ outcome: report.outcome, reason: report.reason }).toMatchObject({ outcome: 'promoted' });
    expect(report.history.map((step) => [step.ratio, step.verdict?.result])).toEqual([
      [30, 'pass'],
      [60, 'pass'],
    ]);
    expect(report.normal.errors).toBe(0); // base only: the failing gray and "bad" instances are not the baseline
    expect(report.promoted).toEqual([canary.id]);
    const status = await admin.status('demo');
    expect(status.instances.find((i) => i.id === canary.id)?.effective?.lane).toBe('normal');
    expect(status.config.config.lanes).toBeUndefined();

    const failed = await runRollout(admin, { ...base, lane: 'bad', steps: [30, 60] });
    expect({ outcome: failed.outcome, step: failed.step, ratio: failed.ratio, verified: failed.ratioVerified }).toEqual({ outcome: 'aborted', step: 1, ratio: 0, verified: true });
    expect(failed.reason).toMatch(/gray error rate/);
    expect((await admin.getConfig('demo')).config.lanes).toBeUndefined();
    expect((await admin.status('demo')).instances.find((i) => i.id === failing.id)?.effective?.lane).toBe('bad');
  }, 90_000);

  test('too little traffic: the step waits up to 1 + maxExtensions intervals, then fails closed to ratio 0', async () => {
    const { admin } = await setup({ rps: 4 });
    const verdicts: Array<Extract<RolloutEvent, { type: 'verdict' }>> = [];
    const report = await runRollout(
      admin,
      { ...base, steps: [50, 100], intervalMs: 1000, minRequests: 1000, maxExtensions: 2 },
      { onProgress: (event) => event.type === 'verdict' && verdicts.push(event) },
    );
    expect({ outcome: report.outcome, exitCode: rolloutExitCode(report), step: report.step }).toEqual({ outcome: 'inconclusive', exitCode: 11, step: 1 });
    expect(verdicts.map((v) => [v.result, v.extended])).toEqual([
      ['insufficient', true],
      ['insufficient', true],
      ['insufficient', false],
    ]);
    expect(report.history[0].intervals).toBe(3);
    expect(report.history[0].durationMs).toBeGreaterThanOrEqual(3000);
    expect(report.gray.requests).toBeGreaterThan(0); // traffic was seen, just not enough
    expect(report.gray.requests).toBeLessThan(1000);
    expect(report.reason).toMatch(/too little gray traffic to judge: \d+ requests, 1000 needed; failing closed/);
    expect({ ratio: report.ratio, verified: report.ratioVerified }).toEqual({ ratio: 0, verified: true });
    expect(await ratioInZk()).toBe(0);
  });

  test('connection errors seen by the consumer count against the gray lane with consumer metrics', async () => {
    const { admin, traffic } = await setup({ fail: { every: 10, how: 'reset' } });
    const metrics = consumerMetrics(traffic.gray);
    const server: Server = createServer(metrics.handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    open.push({ close: () => new Promise((resolve) => server.close(resolve)) });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;

    const report = await runRollout(admin, { ...base, steps: [30, 100], consumerMetrics: [url] });
    expect({ outcome: report.outcome, exitCode: rolloutExitCode(report), step: report.step }).toEqual({ outcome: 'aborted', exitCode: 10, step: 1 });
    // The provider answered none of the reset requests, so its own metrics hold no error: only the consumer's do.
    expect(report.gray.http5xx).toBe(0);
    expect(report.gray.connectionErrors).toBeGreaterThanOrEqual(1);
    expect(report.gray.errorRate).toBeGreaterThan(0.01);
    expect(await ratioInZk()).toBe(0);
    const text = await (await fetch(url)).text();
    expect(text).toMatch(/graykit_client_requests_total\{service="demo",instance="127\.0\.0\.1:\d+",lane="gray",outcome="connection_error"\} [1-9]/);
    expect(text).toMatch(/graykit_client_requests_total\{service="demo",instance="127\.0\.0\.1:\d+",lane="normal",outcome="success"\} [1-9]/);
  });

  test('interrupted (signal): rolls back to ratio 0 and verifies it; with onInterrupt hold the ratio stays', async () => {
    const { admin } = await setup({ rps: 20 });
    for (const onInterrupt of ['rollback', 'hold'] as const) {
      const controller = new AbortController();
      const report = await runRollout(
        admin,
        { ...base, steps: [20, 100], intervalMs: 60_000, refreshMs: 200, onInterrupt },
        { signal: controller.signal, onProgress: (event) => event.type === 'progress' && controller.abort() },
      );
      expect({ outcome: report.outcome, exitCode: rolloutExitCode(report) }).toEqual({ outcome: 'interrupted', exitCode: 130 });
      expect(report.durationMs).toBeLessThan(60_000);
      expect(await ratioInZk()).toBe(onInterrupt === 'rollback' ? 0 : 20);
      expect(report.ratio).toBe(onInterrupt === 'rollback' ? 0 : 20);
    }
  });

  test('someone else changing the ratio stops the rollout and leaves their ratio', async () => {
    const { admin } = await setup({ rps: 20 });
    const operator = createAdmin({ zk: testZk(), root: fx.root, logger: silentLogger });
    open.push(operator);
    let changed = false;
    const report = await runRollout(
      admin,
      { ...base, steps: [20, 100], intervalMs: 60_000, refreshMs: 200 },
      {
        onProgress: (event) => {
          if (event.type === 'progress' && !changed) {
            changed = true;
            void operator.setRatio('demo', 33);
          }
        },
      },
    );
    expect({ outcome: report.outcome, exitCode: rolloutExitCode(report) }).toEqual({ outcome: 'conflict', exitCode: 3 });
    expect(report.reason).toMatch(/changed by someone else to 33/);
    expect(await ratioInZk()).toBe(33);
  });

  test('refuses to start, changing nothing, without gray metrics or without a normal instance', async () => {
    const blind = await startProvider({ root: fx.root, service: 'demo', gray: true, version: 'v2' });
    open.push(blind);
    const admin = createAdmin({ zk: testZk(), root: fx.root, logger: silentLogger });
    open.push(admin);
    await admin.setRatio('demo', 0);
    // Only a gray instance: no normal lane to move traffic from.
    await expect(runRollout(admin, { ...base, steps: [10] })).rejects.toThrow(/has no normal instance/);
    const normal = await startMetricsProvider({ root: fx.root, gray: false, version: 'v1' });
    open.push(normal);
    await expect(runRollout(admin, { ...base, steps: [10] })).rejects.toThrow(InvalidOptionError);
    await expect(runRollout(admin, { ...base, steps: [10] })).rejects.toThrow(/advertise no metricsPath/);
    await expect(runRollout(admin, { ...base, steps: [50, 10] })).rejects.toThrow(/steps must increase/);
    expect(await ratioInZk()).toBe(0);
  });
});

describe('provider metrics (grayRegister metricsPath)', () => {
  let root: string;
  const open: Array<{ close(): unknown }> = [];
  afterEach(async () => {
    for (const item of open.splice(0).reverse()) await item.close();
  });

  test('counts by lane and status class, serves them at metricsPath, advertises it, and never counts scrapes', async () => {
    root = uniqueRoot();
    const gray = await startMetricsProvider({ root, gray: true, version: 'v2', fail: { every: 4, how: '500' } });
    open.push(gray);
    const admin = createAdmin({ zk: testZk(), root, logger: silentLogger });
    open.push(admin);
    const status = await admin.status('demo');
    expect(status.instances[0].own).toMatchObject({ gray: true, version: 'v2', metricsPath: '/metrics' });

    const http = axios.create({ validateStatus: () => true });
    for (let i = 0; i < 8; i++) await http.get(`http://127.0.0.1:${gray.port}/work`, { headers: i < 2 ? { 'x-gray-lane': 'normal' } : {} });
    for (let i = 0; i < 3; i++) await http.get(`http://127.0.0.1:${gray.port}/metrics`);
    const text = String((await http.get(`http://127.0.0.1:${gray.port}/metrics`)).data);
    const count = (lane: string, statusClass: string) =>
      Number(new RegExp(`graykit_http_requests_total\\{service="demo",version="v2",lane="${lane}",status_class="${statusClass}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    // Requests 1-2 carried x-gray-lane: normal; the others take the instance's own flag. Every 4th is a 500.
    expect({ normal2xx: count('normal', '2xx'), gray2xx: count('gray', '2xx'), gray5xx: count('gray', '5xx') }).toEqual({ normal2xx: 2, gray2xx: 4, gray5xx: 2 });
    expect(text).toMatch(/graykit_http_request_duration_seconds_count\{service="demo",version="v2",lane="gray",status_class="5xx"\} 2/);
    expect(text).not.toMatch(/status_class="4xx"/);
  });

  test('an invalid metricsPath is refused when grayRegister is called', () => {
    for (const metricsPath of ['metrics', '/metrics?x=1', '/a b', 42]) {
      expect(() => grayRegister({ zk: testZk(), service: 'demo', metricsPath: metricsPath as string, logger: silentLogger })).toThrow(InvalidOptionError);
    }
  });
});
