/**
 * The catalog's rollout fold (its dead-man's switch) over the in-memory ZooKeeper double (test/support/fake-zookeeper),
 * where the ordering of watch events and reads can be forced: a rollout's lease read against its document's.
 */
import { demoCatalog, FakeZooKeeper, fakeSession } from '../support/fake-zookeeper';

describe("RegistryCatalog: the rollout's dead-man's switch over the double", () => {
  const service = '/g/services/demo';
  const rolloutPath = `${service}/rollout`;
  const leasePath = `${service}/rollout/lease`;
  const document = (state: string, onCrash = 'rollback') =>
    JSON.stringify({ id: 'r1', state, service: 'demo', services: ['demo'], steps: [50, 100], step: 1, startedAt: 't', by: { host: 'h', user: 'u', pid: 1 }, onCrash, history: [], updatedAt: 't', options: {} });
  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  };

  function start(onCrash = 'rollback') {
    const zk = new FakeZooKeeper();
    for (const path of ['/g', '/g/services', service, `${service}/instances`]) zk.set(path, '');
    zk.set(`${service}/config`, '{"ratio":50}');
    zk.set(rolloutPath, document('aborted', onCrash));
    // What the catalog needs of a ZkSession: the reads (the double) and the connection events.
    const session = fakeSession(zk);
    const catalog = demoCatalog(session);
    const crashed = () => catalog.snapshot('demo')?.rolloutCrashed;
    return { zk, session, catalog, crashed };
  }

  test('a starting rollout is never read as crashed while its lease read is pending; a deleted lease is a crash; a normal end is not', async () => {
    const { zk, catalog, crashed } = start();
    await settle();
    expect(crashed()).toBe(false);
    // Start: the lease is created, then the document says running — read while the lease's re-read is still held.
    const lease = zk.hold('exists', leasePath);
    zk.set(leasePath, '{}');
    await lease.made;
    zk.set(rolloutPath, document('running'));
    await settle();
    expect(crashed()).toBe(false);
    lease.release();
    await settle();
    expect(crashed()).toBe(false);
    // The process dies: its lease goes.
    zk.remove(leasePath);
    await settle();
    expect(crashed()).toBe(true);
    expect(catalog.snapshot('demo')?.config.ratio).toBe(50); // the config is untouched: the consumer acts alone
    // Resumed: a lease again.
    zk.set(leasePath, '{}');
    await settle();
    expect(crashed()).toBe(false);
    // A normal end: the outcome is written, then the lease deleted — seen while the document's re-read is held at
    // its exists, or at its data read after its watch was re-armed (the order that once flashed as a crash).
    for (const kind of ['exists', 'getData'] as const) {
      zk.set(leasePath, '{}');
      zk.set(rolloutPath, document('running'));
      await settle();
      const outcome = zk.hold(kind, rolloutPath);
      zk.set(rolloutPath, document('promoted'));
      await outcome.made;
      zk.remove(leasePath);
      await settle();
      expect(crashed()).toBe(false);
      outcome.release();
      await settle();
      expect(crashed()).toBe(false);
    }
    catalog.close();
  });

  test('with on-crash hold a dead rollout changes nothing; a new session keeps the last verdict until both are read again', async () => {
    const held = start('hold');
    await settle();
    held.zk.set(leasePath, '{}');
    held.zk.set(rolloutPath, document('running', 'hold'));
    await settle();
    held.zk.remove(leasePath);
    await settle();
    expect(held.crashed()).toBe(false);
    held.catalog.close();

    const { zk, session, catalog, crashed } = start();
    await settle();
    zk.set(leasePath, '{}');
    zk.set(rolloutPath, document('running'));
    await settle();
    zk.remove(leasePath);
    await settle();
    expect(crashed()).toBe(true);
    // A new session of the consumer (its own expiry): the verdict stands while the lease is read again ...
    const reread = zk.hold('exists', leasePath);
    zk.expireSession();
    session.emit('connected', true);
    await reread.made;
    zk.set(leasePath, '{}'); // resumed meanwhile
    await settle();
    expect(crashed()).toBe(true);
    // ... and follows what that read finds.
    reread.release();
    await settle();
    expect(crashed()).toBe(false);
    catalog.close();
  });
});
