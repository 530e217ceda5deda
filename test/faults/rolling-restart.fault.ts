/**
 * Fault 2: all three providers restart one by one, each stopped gracefully by SIGTERM (handleSignals: deregister,
 * drain, stop accepting, finish in-flight, exit) and started again on the same port, under ~200 GET/s.
 */
import { startProviderProcess, type ProviderProcess } from './children';
import { expectRealLoad, faultScenario, note, PROVIDER_SESSION_TIMEOUT, report, ROOT, seconds, untilSnapshot } from './harness';
import { StandaloneZooKeeper } from './zookeeper';

describe('fault: rolling restart with graceful shutdown', () => {
  const scenario = faultScenario(new StandaloneZooKeeper());

  test('no client request fails while every provider is restarted in turn', async () => {
    const { connect, providers, consumer, load, ids } = await scenario.begin();

    const restarts: number[] = [];
    for (let i = 0; i < providers.length; i++) {
      const old = providers[i];
      const port = old.port!;
      const stoppedAt = Date.now();
      const exit = await old.stop();
      expect(exit.signal).toBe('SIGTERM'); // handleSignals re-raised it after a clean shutdown
      expect(old.events.map((event) => event.event)).toEqual(['listening', 'registered', 'draining', 'closing', 'closed']);
      // The default drain was kept: still serving for 2 s after its znode was gone.
      const at = (name: string) => old.events.find((event) => event.event === name)!.at;
      expect(at('closing') - at('draining')).toBeGreaterThanOrEqual(1950);
      note(`p${i} stopped gracefully in ${seconds(Date.now() - stoppedAt)}; starting it again on ${port}`);
      providers[i] = await startProviderProcess({ zk: connect, root: ROOT, port, sessionTimeout: PROVIDER_SESSION_TIMEOUT, name: `p${i}'` });
      const backAt = await untilSnapshot(consumer, ids);
      restarts.push(backAt - stoppedAt);
      note(`p${i} back in the consumer's snapshot ${seconds(backAt - stoppedAt)} after its SIGTERM`);
    }
    const answered = load.stats.succeeded + load.stats.failed;
    await load.untilAnswered(answered + 400);
    const result = await load.stop();
    report('rolling-restart', result, `per restart ${restarts.map(seconds).join(', ')} (SIGTERM to back in the snapshot)`, consumer);

    expect(result.failures).toEqual([]);
    expect(result.failed).toBe(0);
    expectRealLoad(result);
    // Every instance got traffic again after its restart: all three ports answered.
    expect(Object.keys(result.byPort).map(Number).sort()).toEqual(ids.map((id) => Number(id.split(':')[1])).sort());
    // A sanity bound, not the proof of the drain (test/integration/shutdown.test.ts orders it exactly): on a quiet
    // machine a graceful restart needs no retry at all (without the drain: a few resets per restart), and a
    // consumer starved of CPU for seconds may still route to a closed port; a storm of retries means something broke.
    expect(result.retries).toBeLessThanOrEqual(Math.ceil(result.sent * 0.05));
  });
});
