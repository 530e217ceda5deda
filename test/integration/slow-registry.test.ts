/**
 * A registry on a slow network: real ZooKeeper behind a proxy that delays every packet, so that one read takes
 * longer than the catalog's 500 ms retry tick. The first load must still read each znode once (issue 6: the tick
 * used to queue a second read behind every read still in flight), and routing must come out right.
 */
import { GrayConsumer, instancePath, instancesPath, silentLogger } from '../../src';
import type { ZkSession } from '../../src/registry/zk-session';
import { adminSession, eventually, testZk, uniqueRoot } from '../support/helpers';
import { startSlowProxy, type SlowProxy } from '../support/slow-proxy';

type Read = 'getChildren' | 'exists' | 'getData';

/** Counts the reads a consumer's own session makes, by kind and path, calling the real methods. */
function countReads(session: ZkSession): Map<string, number> {
  const counts = new Map<string, number>();
  for (const op of ['getChildren', 'exists', 'getData'] as Read[]) {
    const real = (session[op] as (...args: unknown[]) => unknown).bind(session);
    (session as unknown as Record<Read, unknown>)[op] = (path: string, ...rest: unknown[]) => {
      counts.set(`${op} ${path}`, (counts.get(`${op} ${path}`) ?? 0) + 1);
      return real(path, ...rest);
    };
  }
  return counts;
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
    for (const id of ids) await admin.create(instancePath(root, 'slow', id), JSON.stringify({ gray: id.endsWith('1'), version: 'v1' }), 'persistent');
    consumer = new GrayConsumer({ zk: proxy.address, root, services: ['slow'], sessionTimeout: 20_000, timeout: 20_000, logger: silentLogger });
    const reads = countReads((consumer as unknown as { session: ZkSession }).session);
    const started = Date.now();
    await eventually(() => expect(consumer!.snapshot('slow')?.instances).toHaveLength(3), 30_000);
    const tookMs = Date.now() - started;
    // Let any read the tick might have queued show up before counting (three more ticks).
    await new Promise((resolve) => setTimeout(resolve, 1600));
    expect(tookMs).toBeGreaterThan(1000); // the network really was slower than the tick
    const repeated = [...reads].filter(([, n]) => n > 1);
    expect(repeated).toEqual([]);
    // instances and overrides listed, config and overrides probed, each instance read.
    expect([...reads.keys()].filter((key) => key.startsWith('getData'))).toHaveLength(3);
    expect(consumer.snapshot('slow')?.instances.filter((instance) => instance.gray).map((instance) => instance.id)).toEqual(['127.0.0.1:9001']);
  }, 60_000);
});
