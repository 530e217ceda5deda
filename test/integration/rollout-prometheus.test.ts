/**
 * A real Prometheus server (Debian's package, started here with a scrape config listing the test's providers) as the
 * rollout's source of metrics: the same traffic reaches the same verdicts through PromQL as by scraping the
 * instances directly — a healthy gray is promoted both ways, a gray failing 10 % is aborted both ways.
 */
import { rolloutExitCode } from '../../src/cli/exit';
import { createAdmin, runRollout, silentLogger, type GrayAdmin, type RolloutOptions, type RolloutReport } from '../../src';
import { queryPrometheus } from '../../src/rollout/prometheus';
import { eventually, testZk, uniqueRoot } from '../support/helpers';
import { startPrometheus, type TestPrometheus } from '../support/prometheus';
import { startMetricsProvider, startTraffic, type MetricsProvider } from '../support/rollout-helpers';

jest.setTimeout(120_000);

describe('runRollout with --prometheus (a real Prometheus server)', () => {
  const roots = { healthy: uniqueRoot(), failing: uniqueRoot() };
  const providers: Record<'healthy' | 'failing', { normal: MetricsProvider; gray: MetricsProvider }> = {} as never;
  let prometheus: TestPrometheus;
  const admins: GrayAdmin[] = [];

  beforeAll(async () => {
    for (const kind of ['healthy', 'failing'] as const) {
      providers[kind] = {
        normal: await startMetricsProvider({ root: roots[kind], gray: false, version: 'v1' }),
        gray: await startMetricsProvider({ root: roots[kind], gray: true, version: 'v2', fail: kind === 'failing' ? { every: 10, how: '500' } : undefined }),
      };
    }
    const targets = Object.values(providers).flatMap(({ normal, gray }) => [normal.id, gray.id]);
    prometheus = await startPrometheus(targets);
    await prometheus.whenScraped(targets);
  }, 90_000);

  afterAll(async () => {
    for (const admin of admins) admin.close();
    await prometheus?.stop();
    for (const { normal, gray } of Object.values(providers)) {
      await normal?.close();
      await gray?.close();
    }
  });

  const base: Omit<RolloutOptions, 'steps'> = { service: 'demo', intervalMs: 2500, maxErrorRate: 0.01, minRequests: 15, maxExtensions: 8, refreshMs: 500, scrapeTimeoutMs: 10_000 };

  async function bothWays(kind: 'healthy' | 'failing', steps: number[]): Promise<{ viaPrometheus: RolloutReport; direct: RolloutReport }> {
    const root = roots[kind];
    const admin = createAdmin({ zk: testZk(), root, logger: silentLogger });
    admins.push(admin);
    await admin.setRatio('demo', 0);
    const traffic = await startTraffic({ root, rps: 100 });
    try {
      await eventually(() => expect(traffic.gray.consumer.snapshot('demo')?.instances).toHaveLength(2));
      const viaPrometheus = await runRollout(admin, { ...base, steps, prometheus: prometheus.url });
      // Promotion made the gray instance formal: back to gray for the second run on the same traffic.
      if (viaPrometheus.outcome === 'promoted') await admin.clearOverride('demo', providers[kind].gray.id);
      const direct = await runRollout(admin, { ...base, steps });
      if (kind === 'healthy') expect(traffic.failed).toBe(0); // the failing gray's 500s fail their requests, by design
      return { viaPrometheus, direct };
    } finally {
      await traffic.stop();
    }
  }

  test('healthy: promoted through PromQL and by direct scrapes alike', async () => {
    const { viaPrometheus, direct } = await bothWays('healthy', [50, 100]);
    for (const report of [viaPrometheus, direct]) {
      expect({ outcome: report.outcome, exitCode: rolloutExitCode(report) }).toEqual({ outcome: 'promoted', exitCode: 0 });
      expect(report.history.map((step) => step.verdict?.result)).toEqual(['pass', 'pass']);
      expect(report.history[0].gray.requests).toBeGreaterThanOrEqual(15);
      expect(report.history[0].gray.latency?.p99).not.toBeNull();
    }
    // Prometheus saw the providers' counters under their registered ids.
    const samples = await queryPrometheus(prometheus.url, `graykit_http_requests_total{instance="${providers.healthy.gray.id}"}`, 5000);
    expect(samples.length).toBeGreaterThan(0);
  });

  test('a gray failing 10 %: aborted at step 1 through PromQL and by direct scrapes alike, with the same error rate', async () => {
    const { viaPrometheus, direct } = await bothWays('failing', [20, 60, 100]);
    for (const report of [viaPrometheus, direct]) {
      expect({ outcome: report.outcome, exitCode: rolloutExitCode(report), step: report.step }).toEqual({ outcome: 'aborted', exitCode: 10, step: 1 });
      expect(report.reason).toMatch(/gray error rate \d+\.\d\d% > max 1\.00%/);
      // Every 10th gray response is a 500: 5-15 % over >= 15 requests, whichever window each source saw.
      expect(report.gray.errorRate).toBeGreaterThanOrEqual(0.04);
      expect(report.gray.errorRate).toBeLessThanOrEqual(0.16);
      expect(report.normal.errors).toBe(0);
      expect({ ratio: report.ratio, verified: report.ratioVerified }).toEqual({ ratio: 0, verified: true });
    }
  });

  test('an instance Prometheus does not scrape is unavailable: the step cannot be judged and fails closed', async () => {
    const root = uniqueRoot();
    const normal = await startMetricsProvider({ root, gray: false, version: 'v1' });
    const gray = await startMetricsProvider({ root, gray: true, version: 'v2' });
    const admin = createAdmin({ zk: testZk(), root, logger: silentLogger });
    admins.push(admin);
    try {
      await admin.setRatio('demo', 0);
      const report = await runRollout(admin, { ...base, steps: [50], intervalMs: 500, maxExtensions: 1, prometheus: prometheus.url });
      expect({ outcome: report.outcome, exitCode: rolloutExitCode(report) }).toEqual({ outcome: 'inconclusive', exitCode: 11 });
      expect(report.reason).toContain(`${gray.id}: no graykit_http_requests_total series in Prometheus ${prometheus.url} (is it scraped as instance="${gray.id}"?)`);
      expect((await admin.getConfig('demo')).config.ratio).toBe(0);
    } finally {
      await gray.close();
      await normal.close();
    }
  });
});
