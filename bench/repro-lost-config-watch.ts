/**
 * Reproduces, deterministically, the lost config watch behind the change -> effect misses that `npm run bench`
 * records now and then on a loaded machine (see BENCHMARKS.md, Analysis, section 3).
 *
 * The catalog's 500 ms retry tick queues a second config read (`configAgain`) while a re-read is arming the watch.
 * That second read calls `exists` without a watcher (the flag says one is armed) and, when it returns, sets
 * `configWatch = true` even if the armed watch fired meanwhile: from then on no watch is armed, the flag says there
 * is one, and no later ratio write is ever seen. Here the tick is triggered at the right moment and the unwatched
 * read is slowed down, so that the write lands in the window every time.
 *
 *   ZK_CONNECT=127.0.0.1:2181 node -r ts-node/register/transpile-only bench/repro-lost-config-watch.ts
 *
 * Prints `LOST` (and exits 1) while the bug is there, `ok` once it is fixed. Uses private catalog internals.
 */
import { GrayConsumer, silentLogger } from '../src';
import type { ZkSession } from '../src/registry/zk-session';
import { benchRoot, deleteTree, openAdmin, registerSynthetic, syntheticInstances, writeConfig } from './zk';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface CatalogInternals {
  session: ZkSession;
  retryFailed(): void;
}

async function main(): Promise<boolean> {
  const zk = process.env.ZK_CONNECT;
  if (!zk) throw new Error('ZK_CONNECT is not set');
  const admin = await openAdmin(zk);
  const root = benchRoot();
  const path = `${root}/services/svc/config`;
  const consumer = new GrayConsumer({ zk, root, services: ['svc'], logger: silentLogger });
  try {
    await registerSynthetic(admin, root, 'svc', syntheticInstances(3, 1));
    await writeConfig(admin, root, 'svc', { ratio: 33 });
    const catalog = (consumer as unknown as { catalog: CatalogInternals }).catalog;
    const session = catalog.session;
    await consumer.resolve('svc');
    for (let i = 0; i < 200 && consumer.ratioFor('svc') !== 33; i++) await sleep(10);
    const exists = session.exists.bind(session);
    let tickOnNextArm = false;
    (session as unknown as { exists: typeof exists }).exists = async (p, watcher) => {
      if (p === path && watcher && tickOnNextArm) {
        tickOnNextArm = false;
        setImmediate(() => catalog.retryFailed()); // the retry tick, while the watch is being re-armed
      }
      const stat = await exists(p, watcher);
      if (p === path && !watcher) await sleep(100); // the queued, unwatched read: slow, so that a write lands in it
      return stat;
    };
    tickOnNextArm = true;
    await admin.setData(path, JSON.stringify({ ratio: 40 }));
    await sleep(30);
    await admin.setData(path, JSON.stringify({ ratio: 41 })); // fires the armed watch during the unwatched read
    await sleep(500);
    await admin.setData(path, JSON.stringify({ ratio: 42 }));
    for (let i = 0; i < 150 && consumer.ratioFor('svc') !== 42; i++) await sleep(10); // longer than 2 retry ticks
    const seen = consumer.ratioFor('svc');
    console.log(seen === 42 ? 'ok: the last ratio written (42) is in force' : `LOST: ratio ${seen} still in force 1.5 s after 42 was written`);
    return seen === 42;
  } finally {
    consumer.close();
    await deleteTree(admin, root);
    admin.close();
  }
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (error) => {
    console.error((error as Error).stack ?? error);
    process.exit(2);
  },
);
