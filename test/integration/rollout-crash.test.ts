/**
 * The rollout's dead-man's switch, with `graykit rollout` spawned as users run it (compiled) and killed with
 * SIGKILL by its pid: real ZooKeeper, real providers with metrics, a real consumer (useGray) sending ~150 GET/s.
 * Measures the time from `kill -9` to the consumer routing 0 % to gray, over 10 trials; then `--on-crash hold`,
 * `--resume`, and `graykit abort` from another process.
 */
import { abortRollout, createAdmin, silentLogger, type GrayAdmin, type ServiceSnapshot } from '../../src';
import type { Child } from '../../scripts/children';
import { eventually, testZk, uniqueRoot } from '../support/helpers';
import { compileCli, jsonLines, spawnCli, startMetricsProvider, startTraffic, waitForType, type MetricsProvider, type Traffic } from '../support/rollout-helpers';

jest.setTimeout(180_000);

/** The rollout's session timeout in these tests: the dead-man's switch fires this long after the kill, plus the bound. */
const SESSION_TIMEOUT_MS = 2000;
/** What the README states on top of the session timeout (ZooKeeper's expiry tick, the watch, the consumer's read). */
const BOUND_MS = 1000;

describe('rollout dead-man\'s switch (spawned CLI, kill -9)', () => {
  let cli: string;
  const root = uniqueRoot();
  let normal: MetricsProvider;
  let gray: MetricsProvider;
  let admin: GrayAdmin;
  let traffic: Traffic;
  const children: Child[] = [];

  beforeAll(async () => {
    cli = compileCli('rollout-crash');
    normal = await startMetricsProvider({ root, gray: false, version: 'v1' });
    gray = await startMetricsProvider({ root, gray: true, version: 'v2' });
    admin = createAdmin({ zk: testZk(), root, logger: silentLogger });
    await admin.setRatio('demo', 0);
    traffic = await startTraffic({ root, rps: 150, maxMs: 170_000, maxRequests: 30_000 });
    await eventually(() => expect(traffic.gray.consumer.snapshot('demo')?.instances).toHaveLength(2));
  }, 120_000);

  afterAll(async () => {
    for (const child of children) await child.stop();
    await traffic?.stop();
    admin?.close();
    await gray?.close();
    await normal?.close();
  });

  function rollout(...args: string[]): Child {
    const child = spawnCli(cli, testZk(), root, ['--json', 'rollout', 'demo', '--max-error-rate', '1%', '--min-requests', '10', '--session-timeout', `${SESSION_TIMEOUT_MS}ms`, ...args], 'rollout');
    children.push(child);
    return child;
  }

  /** Resolves with the time of the consumer's first snapshot of `demo` that satisfies `accept`. */
  function nextSnapshot(accept: (snapshot: ServiceSnapshot) => boolean): Promise<number> {
    return new Promise((resolve) => {
      const consumer = traffic.gray.consumer;
      const listener = (snapshot: ServiceSnapshot) => {
        if (snapshot.service !== 'demo' || !accept(snapshot)) return;
        consumer.off('change', listener);
        resolve(Date.now());
      };
      consumer.on('change', listener);
    });
  }

  /** Whether gray takes no request any more: what the consumer sent from now on never reached it. */
  async function expectNoGrayTraffic(requests: number): Promise<void> {
    await traffic.settled();
    const servedBefore = gray.served();
    const sentBefore = traffic.sent;
    await eventually(() => expect(traffic.sent).toBeGreaterThanOrEqual(sentBefore + requests), 20_000);
    await traffic.settled();
    expect(gray.served()).toBe(servedBefore);
  }

  test('kill -9 mid-step: within the session timeout + 1 s every request goes to normal, with no failed request; status says crashed (10 trials)', async () => {
    const delays: number[] = [];
    for (let trial = 1; trial <= 10; trial++) {
      const child = rollout('--steps', '50,100', '--interval', '60s');
      await waitForType(child, 'step', 30_000);
      await eventually(() => expect(traffic.gray.consumer.ratioFor('demo')).toBe(50), 10_000);
      // Gray takes traffic while the rollout lives.
      const before = gray.served();
      await eventually(() => expect(gray.served()).toBeGreaterThan(before + 5), 10_000);

      const crashed = nextSnapshot((snapshot) => snapshot.rolloutCrashed);
      const killedAt = Date.now();
      const exit = await child.kill();
      expect(exit.signal).toBe('SIGKILL');
      const routedToNormalAt = await Promise.race([crashed, new Promise<number>((_resolve, reject) => setTimeout(() => reject(new Error('no crash seen within 15 s')), 15_000))]);
      delays.push(routedToNormalAt - killedAt);
      expect(traffic.gray.consumer.ratioFor('demo')).toBe(0);
      expect(traffic.gray.consumer.snapshot('demo')?.config.ratio).toBe(50); // nobody wrote the ratio: consumers acted alone
      await expectNoGrayTraffic(trial === 1 ? 150 : 40);

      const status = await admin.rollout('demo');
      expect({ state: status.document?.state, crashed: status.crashed, leaseHeld: status.leaseHeld, consumersAtZero: status.consumersAtZero, step: status.document?.step }).toEqual({
        state: 'running',
        crashed: true,
        leaseHeld: false,
        consumersAtZero: true,
        step: 1,
      });
      if (trial === 1) {
        // `graykit status` says so too, and what to run.
        const shown = spawnCli(cli, testZk(), root, ['status', 'demo'], 'status');
        children.push(shown);
        expect((await shown.exited).code).toBe(0);
        expect(shown.lines.join('\n')).toMatch(/rollout [0-9a-f-]+: CRASHED at step 1\/2 \(ratio 50\): its process is gone \(no lease\); consumers route at ratio 0 \(on-crash rollback\); continue it with `graykit rollout --resume demo`/);
      }
      // Reset for the next trial: the crashed rollout is aborted (ratio 0 first, then the state).
      const aborted = await abortRollout(admin, 'demo');
      expect(aborted).toMatchObject({ ratioVerified: true, acknowledged: true, byService: { demo: { was: 'crashed', state: 'aborted' } } });
      await eventually(() => expect(traffic.gray.consumer.snapshot('demo')?.rolloutCrashed).toBe(false), 10_000);
    }
    const sorted = [...delays].sort((a, b) => a - b);
    const p50 = sorted[Math.floor(sorted.length / 2)];
    console.log(`kill -9 -> 0 % gray at the consumer, session timeout ${SESSION_TIMEOUT_MS} ms, ${delays.length} trials: p50 ${p50} ms, max ${sorted.at(-1)} ms (${delays.join(', ')})`);
    expect(sorted.at(-1)).toBeLessThanOrEqual(SESSION_TIMEOUT_MS + BOUND_MS);
    // Not before the session could have ended: the server expires it a session timeout after it last heard from the
    // client, which pings every third of the timeout — so never sooner than two thirds of it after the kill.
    expect(sorted[0]).toBeGreaterThanOrEqual((SESSION_TIMEOUT_MS * 2) / 3 - 100);
    expect(traffic.failed).toBe(0);
  });

  test('--on-crash hold keeps the ratio after a kill -9; --resume then completes the rollout from its step', async () => {
    const child = rollout('--steps', '50,100', '--interval', '3s', '--on-crash', 'hold');
    await waitForType(child, 'step', 30_000);
    await eventually(() => expect(traffic.gray.consumer.ratioFor('demo')).toBe(50), 10_000);
    await child.kill();
    // The lease is definitely gone (read on a connected session) ...
    await eventually(async () => expect((await admin.rollout('demo')).crashed).toBe(true), SESSION_TIMEOUT_MS + 5000, 100);
    // ... and once the consumer has read it too, it still routes by the ratio: gray keeps its share.
    await eventually(() => expect(traffic.gray.consumer.snapshot('demo')?.config.ratio).toBe(50));
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the consumer's watch has fired by now (bound above)
    expect(traffic.gray.consumer.snapshot('demo')?.rolloutCrashed).toBe(false);
    expect(traffic.gray.consumer.ratioFor('demo')).toBe(50);
    const before = gray.served();
    await eventually(() => expect(gray.served()).toBeGreaterThan(before + 20), 10_000);
    expect((await admin.rollout('demo')).consumersAtZero).toBe(false);

    // Two rollouts at once are refused: a new one over a crashed one too (exit 3, nothing changed).
    const second = rollout('--steps', '10,100', '--interval', '3s');
    expect((await second.exited).code).toBe(3);
    expect(second.stderr()).toMatch(/crashed at step 1\/2 .*--resume demo/);
    expect((await admin.getConfig('demo')).config.ratio).toBe(50);

    const resumed = spawnCli(cli, testZk(), root, ['--json', 'rollout', '--resume', 'demo', '--session-timeout', `${SESSION_TIMEOUT_MS}ms`], 'resume');
    children.push(resumed);
    expect((await resumed.exited).code).toBe(0);
    const events = jsonLines(resumed);
    expect(events[0]).toMatchObject({ type: 'start', resumedFrom: 1, steps: [50, 100], onCrash: 'hold' });
    expect(events.filter((e) => e.type === 'step').map((e) => e.ratio)).toEqual([50, 100]);
    expect(events.at(-1)).toMatchObject({ type: 'report', outcome: 'promoted', resumedFrom: 1, exitCode: 0 });
    const status = await admin.rollout('demo');
    expect(status.document).toMatchObject({ state: 'promoted', step: 2, onCrash: 'hold' });
    expect(status.document?.resumed).toHaveLength(1);
    expect(status.document?.history.map((h) => [h.step, h.ratio, h.verdict])).toEqual([
      [1, 50, 'pass'],
      [2, 100, 'pass'],
    ]);
    expect(status.leaseHeld).toBe(false);
    // Promotion made the gray instance formal: put it back in the gray lane for the next test.
    await admin.clearOverride('demo', gray.id);
  });

  test('graykit abort from another process stops a running rollout: it ends aborted (exit 10), ratio 0 verified', async () => {
    const child = rollout('--steps', '30,100', '--interval', '60s');
    await waitForType(child, 'step', 30_000);
    await eventually(async () => expect((await admin.getConfig('demo')).config.ratio).toBe(30));
    const abort = spawnCli(cli, testZk(), root, ['abort', 'demo'], 'abort');
    children.push(abort);
    expect((await abort.exited).code).toBe(0);
    expect(abort.lines.join('\n')).toMatch(/demo: running rollout aborted; ratio 0 \(read back from ZooKeeper\); rollout aborted/);
    expect((await child.exited).code).toBe(10);
    const report = jsonLines(child).at(-1);
    expect(report).toMatchObject({ type: 'report', outcome: 'aborted', ratio: 0, ratioVerified: true, exitCode: 10 });
    expect(String(report?.reason)).toMatch(/aborted by .+ \(graykit abort\) at step 1\/2/);
    expect(await admin.rollout('demo')).toMatchObject({ leaseHeld: false, crashed: false, document: { state: 'aborted' } });
    expect((await admin.getConfig('demo')).config.ratio).toBe(0);
    // Nothing is running now: abort says so (exit 4).
    const again = spawnCli(cli, testZk(), root, ['abort', 'demo'], 'abort');
    children.push(again);
    expect((await again.exited).code).toBe(4);
    expect(traffic.failed).toBe(0);
  });
});
