/**
 * Fault 5: ZooKeeper sessions expire under ~200 GET/s. A provider's session ends (its ephemeral znode goes with it)
 * and it must register again by itself; then the consumer's own session ends, and it must re-read everything and
 * swap its snapshot in whole, without routing from an empty one in between.
 */
import { expectRealLoad, faultScenario, note, report, seconds, untilSnapshot } from './harness';
import { eventually, forceExpiry } from '../support/helpers';
import type { ZkSession } from '../../src/registry/zk-session';
import { StandaloneZooKeeper } from './zookeeper';

describe('fault: ZooKeeper sessions expire', () => {
  const scenario = faultScenario(new StandaloneZooKeeper());

  test('a provider re-registers and the consumer re-syncs after their sessions expire; no client request fails', async () => {
    const { connect, providers, consumer, load, ids } = await scenario.begin();
    process.env.GRAYKIT_TEST_ZK = connect; // forceExpiry's twin client connects here

    let smallest = ids.length;
    const sampler = setInterval(() => (smallest = Math.min(smallest, consumer!.ids().length)), 20);
    try {
      // 1. A provider's session expires: its znode goes, the consumer drops it, it registers again, it is back.
      const provider = providers[0];
      const expiredAt = Date.now();
      await provider.expireSession();
      note(`${provider.name}'s session expired`);
      await provider.waitFor('registered', 30_000, 2);
      const reRegisteredAt = Date.now();
      const providerBackAt = await untilSnapshot(consumer, ids);
      note(`${provider.name} registered again after ${seconds(reRegisteredAt - expiredAt)}; in the consumer's snapshot after ${seconds(providerBackAt - expiredAt)}`);

      // 2. The consumer's own session expires: it opens a new one, re-reads, and swaps the snapshot in whole.
      const session = (consumer.gray.consumer as unknown as { session: ZkSession }).session;
      const before = session.sessionId;
      const consumerExpiredAt = Date.now();
      await forceExpiry(session);
      await eventually(() => expect(session.sessionId && session.sessionId !== before).toBe(true), 30_000, 20);
      // A change after the expiry shows that the new session's watches work: a provider leaves gracefully.
      const leaving = providers[2];
      await leaving.stop();
      const consumerBackAt = await untilSnapshot(consumer, [ids[0], ids[1]]);
      note(`consumer: new session and a live change seen ${seconds(consumerBackAt - consumerExpiredAt)} after its expiry`);

      const answered = load.stats.succeeded + load.stats.failed;
      await load.untilAnswered(answered + 400);
      const result = await load.stop();
      report(
        'session-expiry',
        result,
        `provider back in ${seconds(providerBackAt - expiredAt)}; consumer re-synced in ${seconds(consumerBackAt - consumerExpiredAt)}`,
        consumer,
        { smallestSnapshot: smallest },
      );

      expect(result.failures).toEqual([]);
      expect(result.failed).toBe(0);
      expectRealLoad(result);
      expect(provider.count('registered')).toBe(2);
      expect(smallest).toBeGreaterThanOrEqual(2); // one instance away at a time, the snapshot never emptied
    } finally {
      clearInterval(sampler);
    }
  });
});
