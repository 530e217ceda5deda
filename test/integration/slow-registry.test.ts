/**
 * A registry on a slow network: real ZooKeeper behind a proxy that delays every packet, so that one read takes
 * longer than the catalog's 500 ms retry tick. The first load must still read each znode once (the tick used to
 * queue a second read behind every read still in flight), and routing must come out right.
 */
import { silentLogger } from '../../src';
import { GrayConsumer } from '../../src/consumer/consumer';
import { instancePath, instancesPath } from '../../src/registry/paths';
import type { ZkSession } from '../../src/registry/zk-session';
import { adminSession, eventually, testZk, uniqueRoot } from '../support/helpers';
import { startSlowProxy, type SlowProxy } from '../support/slow-proxy';

type Read = 'getChildren' | 'exists' | 'getData';

/** Counts the reads a consumer's own session makes, by kind and path, and those in flight, calling the real methods. */
function countReads(session: ZkSession): { counts: Map<string, number>; inFlight: () => number } {
  const counts = new Map<string, number>();
  let pending = 0;
  for (const op of ['getChildren', 'exists', 'getData'] as Read[]) {
    const real = (session[op] as (...args: unknown[]) => Promise<unknown>).bind(session);
    (session as unknown as Record<Read, unknown>)[op] = (path: string, ...rest: unknown[]) => {
      counts.set(`${op} ${path}`, (counts.get(`${op} ${path}`) ?? 0) + 1);
      pending++;
      return real(path, ...rest).finally(() => pending--);
    };
  }
  return { counts, inFlight: () => pending };
}

/** Counts the registry mirror's periodic retry ticks (its private `retryStale(true)`), calling the real method. */
function countTicks(consumer: GrayConsumer): () => number {
  const mirror = (consumer as unknown as { catalog: { mirror: { retryStale(tick: boolean): void } } }).catalog.mirror;
  const real = mirror.retryStale.bind(mirror);
  let ticks = 0;
  mirror.retryStale = (tick: boolean) => {
    if (tick) ticks++;
    real(tick);
  };
  return () => ticks;
}

describe('a registry on a slow network (real ZooKeeper behind a delaying proxy)', () => {
  let admin: ZkSession;
  let proxy: SlowProxy;
  let consumer: GrayConsumer | undefined;

  beforeAll(async () => {
    admin = adminSession();
    await admin.whenConnected(10_000);
    // 400 ms each way: every read's round trip (800 ms) outlasts the 500 ms retry tick.
    proxy = await startSlowProxy(testZk(), 400);
  });
  afterAll(async () => {
    consumer?.close();
    await proxy.close();
    admin.close();
  });

  test('the first load reads every znode once, however long each read takes', async () => {
    const root = uniqueRoot();
    const ids = ['127.0.0.1:9001', '127.0.0.1:9002', '127.0.0.1:9003'];
    await admin.mkdirp(instancesPath(root, 'slow'));
    for (const id of ids) await admin.create(instancePath(root, 'slow', id), JSON.stringify({ gray: id.endsWith('1'), version: 'v1' }), 'ephemeral');
    consumer = new GrayConsumer({ zk: proxy.address, root, services: ['slow'], sessionTimeout: 20_000, timeout: 20_000, logger: silentLogger });
    const { counts: reads, inFlight } = countReads((consumer as unknown as { session: ZkSession }).session);
    const ticks = countTicks(consumer);
    const started = Date.now();
    await eventually(() => expect(consumer!.snapshot('slow')?.instances).toHaveLength(3), 30_000);
    const tookMs = Date.now() - started;
    // Any read a tick queued starts as soon as the read before it ends: wait for three more ticks, then for every
    // read to have come back, before counting.
    const ticksAtSnapshot = ticks();
    await eventually(() => expect(ticks()).toBeGreaterThanOrEqual(ticksAtSnapshot + 3), 10_000);
    await eventually(() => expect(inFlight()).toBe(0), 10_000);
    expect(tookMs).toBeGreaterThan(1000); // the network really was slower than the tick
    const repeated = [...reads].filter(([, n]) => n > 1);
    expect(repeated).toEqual([]);
    // instances and overrides listed, config and overrides probed, each instance read.
    expect([...reads.keys()].filter((key) => key.startsWith('getData'))).toHaveLength(3);
    expect(consumer.snapshot('slow')?.instances.filter((instance) => instance.gray).map((instance) => instance.id)).toEqual(['127.0.0.1:9001']);
  }, 60_000);
});
