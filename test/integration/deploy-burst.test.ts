/**
 * A rolling deploy seen by a consumer, on a real ZooKeeper: 200 instances of one service appear and then vanish at
 * once (their owner's session closes, so ZooKeeper deletes every ephemeral znode in one go and fires a watch event
 * per znode). The consumer must end with the right snapshot and must not rebuild the service once per event.
 */
import { createConsumer, silentLogger, type ServiceSnapshot } from '../../src';
import { instancePath, instancesPath } from '../../src/registry/paths';
import { adminSession, eventually, testZk, uniqueRoot } from '../support/helpers';

const INSTANCES = 200;

test(`${INSTANCES} instances removed at once: one consumer sees them all go, in far fewer snapshots than events`, async () => {
  const root = uniqueRoot();
  const owner = adminSession();
  const consumer = createConsumer({ zk: testZk(), root, services: ['burst'], logger: silentLogger });
  try {
    await owner.whenConnected(10_000);
    await owner.mkdirp(instancesPath(root, 'burst'));
    await owner.create(instancePath(root, 'burst', '127.0.0.1:1'), JSON.stringify({ gray: false, version: 'v1' }), 'ephemeral');
    const keeper = adminSession(); // one instance that stays, owned by another session
    try {
      await keeper.whenConnected(10_000);
      await keeper.create(instancePath(root, 'burst', '127.0.0.2:1'), JSON.stringify({ gray: false, version: 'v1' }), 'ephemeral');
      for (let i = 2; i <= INSTANCES; i++) {
        await owner.create(instancePath(root, 'burst', `127.0.0.1:${i}`), JSON.stringify({ gray: false, version: 'v1' }), 'ephemeral');
      }
      await eventually(async () => expect((await consumer.resolve('burst')) && consumer.snapshot('burst')?.instances).toHaveLength(INSTANCES + 1), 20_000);

      const snapshots: ServiceSnapshot[] = [];
      consumer.on('change', (snapshot: ServiceSnapshot) => snapshots.push(snapshot));
      owner.close(); // every one of its ephemeral znodes is deleted at once
      await eventually(() => expect(consumer.snapshot('burst')?.instances.map((i) => i.id)).toEqual(['127.0.0.2:1']), 20_000);
      // One event per removed znode reaches the consumer; before coalescing, each made a snapshot (201 here).
      console.log(`deploy burst: ${INSTANCES} removals, ${snapshots.length} snapshots`);
      expect(snapshots.length).toBeGreaterThan(0);
      expect(snapshots.length).toBeLessThan(INSTANCES / 10);
    } finally {
      keeper.close();
    }
  } finally {
    owner.close();
    consumer.close();
  }
}, 60_000);
