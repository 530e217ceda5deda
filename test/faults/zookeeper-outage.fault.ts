/**
 * Fault 3: ZooKeeper stops for 20 s and starts again on the same port and data directory, under ~200 GET/s.
 * While it is down one provider crashes (SIGKILL) and a new one starts: nobody can tell the registry. Consumers
 * must keep routing from their last snapshot (failover and ejection cover the crashed instance) and re-sync when
 * ZooKeeper is back: the crashed instance goes when its session expires, the new one is seen once it registers.
 */
import { ProviderProcess } from './children';
import { expectRealLoad, faultScenario, idOf, note, PROVIDER_SESSION_TIMEOUT, report, ROOT, seconds, untilSnapshot } from './harness';
import { StandaloneZooKeeper } from './zookeeper';

const OUTAGE_MS = 20_000;

describe('fault: ZooKeeper is down for 20 s', () => {
  const zk = new StandaloneZooKeeper();
  const scenario = faultScenario(zk);

  test('no client request fails; the snapshot is kept through the outage and re-synced after it', async () => {
    const { connect, providers, consumer, load, ids: before } = await scenario.begin();

    // Sample the snapshot all along: a disconnect must never empty it, and while ZooKeeper is away nothing can change
    // it. Once ZooKeeper is back the crashed instance may go (its session expires) before the newcomer is seen.
    let smallest = before.length;
    let smallestWhileDown = before.length;
    let down = true;
    const sampler = setInterval(() => {
      const size = consumer!.ids().length;
      smallest = Math.min(smallest, size);
      if (down) smallestWhileDown = Math.min(smallestWhileDown, size);
    }, 50);
    try {
      const downAt = Date.now();
      await zk.stop();
      note(`ZooKeeper stopped (${seconds(Date.now() - downAt)} to stop)`);
      // While it is down: a provider crashes, and a new one starts (it serves, and registers once it can).
      const crashed = providers[2];
      await crashed.kill();
      note(`SIGKILL ${crashed.name} (${idOf(crashed)}) during the outage`);
      const newcomer = new ProviderProcess({
        zk: connect,
        root: ROOT,
        sessionTimeout: PROVIDER_SESSION_TIMEOUT,
        name: 'p3',
      });
      providers.push(newcomer);
      await newcomer.waitFor('listening', 60_000);
      expect(newcomer.count('registered')).toBe(0);
      // The outage lasts OUTAGE_MS from the stop: the fault's length, not a wait for something.
      const remaining = OUTAGE_MS - (Date.now() - downAt);
      if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
      expect(consumer.connected()).toBe(false);
      expect(consumer.ids()).toEqual([...before].sort()); // routing from the last snapshot all along

      smallestWhileDown = Math.min(smallestWhileDown, consumer.ids().length);
      down = false;
      const restartAt = Date.now();
      await zk.start();
      const upAt = Date.now(); // serving again (it answered ruok)
      note(`ZooKeeper serving again on ${zk.connect} after ${seconds(upAt - downAt)} (restart took ${seconds(upAt - restartAt)})`);
      await newcomer.waitFor('registered', 60_000);
      const expected = [idOf(providers[0]), idOf(providers[1]), idOf(newcomer)];
      const convergedAt = await untilSnapshot(consumer, expected, PROVIDER_SESSION_TIMEOUT + 60_000);
      note(`consumer re-synced ${seconds(convergedAt - upAt)} after the restart: ${expected.join(', ')}`);
      const answered = load.stats.succeeded + load.stats.failed;
      await load.untilAnswered(answered + 400);
      const result = await load.stop();
      report('zookeeper-outage', result, `in ${seconds(convergedAt - upAt)} after ZooKeeper served again (${seconds(upAt - downAt)} down)`, consumer, {
        smallestSnapshot: smallest,
        smallestSnapshotWhileDown: smallestWhileDown,
        survivorsReRegistered: providers.slice(0, 2).map((provider) => provider.count('registered')),
      });

      expect(result.failures).toEqual([]);
      expect(result.failed).toBe(0);
      expectRealLoad(result);
      expect(smallestWhileDown).toBe(3); // never shrunk while ZooKeeper was away
      expect(smallest).toBeGreaterThanOrEqual(2); // never emptied: p0 and p1 were live throughout
      expect(result.byPort[newcomer.port!]).toBeGreaterThan(0); // the newcomer got traffic once seen
    } finally {
      clearInterval(sampler);
    }
  });
});
