/**
 * ZooKeeper stopped for 10 s in the middle of a rollout step (a private server, since this test stops it): the
 * consumer keeps routing by the ratio it had — a lost connection is not a dead rollout — and the rollout holds its
 * step while ZooKeeper is unreachable, then goes on and completes once it is back. Real providers with metrics, a
 * real consumer (useGray, ~100 GET/s), runRollout in-process.
 */
import { createAdmin, runRollout, silentLogger, type RolloutEvent } from '../../src';
import { StandaloneZooKeeper } from '../faults/zookeeper';
import { eventually, uniqueRoot } from '../support/helpers';
import { startMetricsProvider, startTraffic } from '../support/rollout-helpers';

jest.setTimeout(120_000);

test('ZooKeeper down 10 s mid-step: consumers keep the ratio (no drop to 0), the rollout waits and completes', async () => {
  const zk = new StandaloneZooKeeper();
  const connect = await zk.start();
  const root = uniqueRoot();
  const open: Array<{ close(): unknown } | { stop(): Promise<void> }> = [];
  try {
    const normal = await startMetricsProvider({ root, zk: connect, gray: false, version: 'v1' });
    open.push(normal);
    const gray = await startMetricsProvider({ root, zk: connect, gray: true, version: 'v2' });
    open.push(gray);
    // The rollout's session outlives the outage: ZooKeeper gives restored sessions their full timeout again.
    const admin = createAdmin({ zk: connect, root, logger: silentLogger, sessionTimeout: 20_000 });
    open.push(admin);
    await admin.setRatio('demo', 0);
    const traffic = await startTraffic({ root, zk: connect, rps: 100 });
    open.push(traffic);
    await eventually(() => expect(traffic.gray.consumer.snapshot('demo')?.instances).toHaveLength(2));

    const events: RolloutEvent[] = [];
    let outage: Promise<void> | undefined;
    const ratiosWhileDown: number[] = [];
    let grayServedWhileDown = 0;
    const run = runRollout(
      admin,
      { service: 'demo', steps: [30, 100], intervalMs: 4000, maxErrorRate: 0.01, minRequests: 15, maxExtensions: 8, refreshMs: 500, scrapeTimeoutMs: 10_000 },
      {
        onProgress: (event) => {
          events.push(event);
          if (event.type !== 'progress' || outage) return;
          outage = (async () => {
            await zk.stop();
            await eventually(() => expect(traffic.gray.consumer.connected).toBe(false));
            const servedAtStop = gray.served();
            const until = Date.now() + 10_000;
            while (Date.now() < until) {
              ratiosWhileDown.push(traffic.gray.consumer.ratioFor('demo'));
              await new Promise((resolve) => setTimeout(resolve, 250));
            }
            grayServedWhileDown = gray.served() - servedAtStop;
            await zk.start();
          })();
        },
      },
    );
    const report = await run;
    await outage;

    // Consumers: the ratio stayed 30 all along, and gray kept its share of requests.
    expect(ratiosWhileDown.length).toBeGreaterThanOrEqual(30);
    expect(new Set(ratiosWhileDown)).toEqual(new Set([30]));
    expect(grayServedWhileDown).toBeGreaterThan(100); // ~30 % of ~1000 requests
    // The rollout: held step 1 while ZooKeeper was away, then went on and promoted.
    const registry = events.filter((e): e is Extract<RolloutEvent, { type: 'registry' }> => e.type === 'registry');
    expect(registry.map((e) => e.available)).toEqual([false, true]);
    expect({ outcome: report.outcome, reason: report.reason }).toMatchObject({ outcome: 'promoted' });
    expect(report.history.map((step) => [step.ratio, step.verdict?.result])).toEqual([
      [30, 'pass'],
      [100, 'pass'],
    ]);
    expect(report.history[0].durationMs).toBeGreaterThan(10_000);
    expect(await admin.rollout('demo')).toMatchObject({ leaseHeld: false, document: { state: 'promoted' } });
    expect(traffic.failed).toBe(0);
  } finally {
    for (const item of open.reverse()) await ('stop' in item ? item.stop() : item.close());
    await zk.destroy();
  }
});
