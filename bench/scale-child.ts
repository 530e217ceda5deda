/**
 * Part 5, in a process of its own (run with --expose-gc) so that its memory figures are the consumer's alone:
 * one consumer watching S services x N instances (ephemeral znodes made here by a raw ZkSession).
 *
 * Measures: memory over the baseline (after GC), time to the first full snapshot of every service, and the
 * ZooKeeper reads (getData / getChildren / exists, counted by wrapping the consumer's session) caused by one change:
 * an instance's data rewritten, an instance added, an instance removed, a config written.
 *
 * env: ZK_CONNECT, BENCH_ROOT, BENCH_SCALE_SERVICES, BENCH_SCALE_INSTANCES, BENCH_SCALE_SETTLE_MS.
 * Prints `RESULT <json>`.
 */
import { performance } from 'node:perf_hooks';
import { silentLogger, type ServiceSnapshot } from '../src';
import { GrayConsumer } from '../src/consumer/consumer';
import { encodeInstance } from '../src/registry/codec';
import type { ZkSession } from '../src/registry/zk-session';
import { openAdmin, registerSynthetic, syntheticInstances } from './zk';

const gc = (globalThis as { gc?: () => void }).gc;

interface Memory {
  heapUsedMiB: number;
  rssMiB: number;
  externalMiB: number;
}

function memoryAfterGc(): Memory {
  if (gc) for (let i = 0; i < 4; i++) gc();
  const m = process.memoryUsage();
  const mib = (n: number) => Math.round((n / 2 ** 20) * 100) / 100;
  return { heapUsedMiB: mib(m.heapUsed), rssMiB: mib(m.rss), externalMiB: mib(m.external) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 5 ms until true or `timeoutMs`; resolves with whether it held. */
async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

export interface ReadCount {
  getData: number;
  getChildren: number;
  exists: number;
  total: number;
  /** Services with at least one read, and how many reads each. */
  byService: Record<string, number>;
}

export interface ChangeWork {
  change: string;
  service: string;
  /** Write -> the consumer's change event for the service, ms. */
  seenMs: number | null;
  reads: ReadCount;
  /** Services re-read (any read) because of the change. */
  servicesReRead: number;
  /** `change` events, by service. */
  changeEvents: Record<string, number>;
}

export interface ScaleResult {
  services: number;
  instancesPerService: number;
  znodes: number;
  createMs: number;
  connectMs: number;
  firstFullSnapshotMs: number;
  /** From connected to the last service's full snapshot. */
  loadAfterConnectMs: number;
  initialReads: ReadCount;
  memory: { baseline: Memory; withConsumer: Memory; heapUsedDeltaMiB: number; rssDeltaMiB: number; heapBytesPerInstance: number; gcExposed: boolean };
  changes: ChangeWork[];
}

async function main(): Promise<void> {
  const zk = process.env.ZK_CONNECT as string;
  const root = process.env.BENCH_ROOT as string;
  const serviceCount = Number(process.env.BENCH_SCALE_SERVICES ?? 50);
  const perService = Number(process.env.BENCH_SCALE_INSTANCES ?? 20);
  const settleMs = Number(process.env.BENCH_SCALE_SETTLE_MS ?? 300);
  if (!zk || !root) throw new Error('scale-child: ZK_CONNECT and BENCH_ROOT are required');

  const admin = await openAdmin(zk);
  const names = Array.from({ length: serviceCount }, (_, i) => `scale-${String(i).padStart(3, '0')}`);
  const createStart = performance.now();
  for (let s = 0; s < names.length; s++) await registerSynthetic(admin, root, names[s], syntheticInstances(perService, 100 + (s % 100)));
  const createMs = performance.now() - createStart;

  const baseline = memoryAfterGc();
  const t0 = performance.now();
  const consumer = new GrayConsumer({ zk, root, services: names, logger: silentLogger });
  const session = (consumer as unknown as { session: ZkSession }).session;

  // Count every read the consumer makes from here on.
  const prefix = `${root}/services/`;
  let counts: ReadCount = emptyCount();
  const spy = (op: 'getData' | 'getChildren' | 'exists') => {
    const original = (session[op] as (...args: unknown[]) => Promise<unknown>).bind(session);
    (session as unknown as Record<string, unknown>)[op] = (path: string, ...rest: unknown[]) => {
      counts[op]++;
      counts.total++;
      const service = path.startsWith(prefix) ? path.slice(prefix.length).split('/')[0] : '(root)';
      counts.byService[service] = (counts.byService[service] ?? 0) + 1;
      return original(path, ...rest);
    };
  };
  spy('getData');
  spy('getChildren');
  spy('exists');
  let events: Record<string, number> = {};
  consumer.on('change', (snapshot: ServiceSnapshot) => {
    events[snapshot.service] = (events[snapshot.service] ?? 0) + 1;
  });
  let connectedAt = NaN;
  session.once('connected', () => (connectedAt = performance.now()));

  const full = () => names.every((name) => consumer.snapshot(name)?.instances.length === perService);
  if (!(await until(full, 60_000))) throw new Error('scale-child: no full snapshot of every service within 60 s');
  const fullAt = performance.now();
  // The first load is over when the consumer has stopped reading (it may still be arming watches on other znodes).
  let lastTotal = -1;
  const quietDeadline = performance.now() + 10_000;
  while (counts.total !== lastTotal && performance.now() < quietDeadline) {
    lastTotal = counts.total;
    await sleep(Math.max(settleMs, 100));
  }
  const initialReads = counts;
  const withConsumer = memoryAfterGc();

  const changes: ChangeWork[] = [];
  const target = names[Math.floor(names.length / 2)];
  const dir = `${root}/services/${target}/instances`;
  const first = syntheticInstances(perService, 100 + (names.indexOf(target) % 100))[0];
  const measure = async (change: string, write: () => Promise<unknown>, seen: () => boolean) => {
    counts = emptyCount();
    events = {};
    const start = performance.now();
    await write();
    const ok = await until(seen, 5000);
    const seenMs = ok ? performance.now() - start : null;
    await sleep(settleMs);
    changes.push({ change, service: target, seenMs: seenMs === null ? null : round(seenMs), reads: counts, servicesReRead: Object.keys(counts.byService).length, changeEvents: events });
  };
  const instanceOf = (id: string) => consumer.snapshot(target)?.instances.find((instance) => instance.id === id);
  await measure(
    'one instance flips its gray flag (data rewritten)',
    () => admin.setData(`${dir}/${first.id}`, encodeInstance({ ...first.meta, gray: !first.meta.gray })),
    () => instanceOf(first.id)?.gray === !first.meta.gray,
  );
  const added = '10.250.0.1:8080';
  await measure(
    'one instance added',
    () => admin.create(`${dir}/${added}`, encodeInstance({ gray: false, weight: 100 }), 'ephemeral'),
    () => instanceOf(added) !== undefined,
  );
  await measure(
    'one instance removed',
    () => admin.delete(`${dir}/${added}`),
    () => instanceOf(added) === undefined && consumer.snapshot(target)?.instances.length === perService,
  );
  await measure(
    "one service's ratio written (config znode created)",
    () => admin.create(`${root}/services/${target}/config`, JSON.stringify({ ratio: 10 }), 'persistent'),
    () => consumer.ratioFor(target) === 10,
  );

  consumer.close();
  admin.close();
  const result: ScaleResult = {
    services: serviceCount,
    instancesPerService: perService,
    znodes: serviceCount * perService,
    createMs: round(createMs),
    connectMs: round(connectedAt - t0),
    firstFullSnapshotMs: round(fullAt - t0),
    loadAfterConnectMs: round(fullAt - connectedAt),
    initialReads,
    memory: {
      baseline,
      withConsumer,
      heapUsedDeltaMiB: round(withConsumer.heapUsedMiB - baseline.heapUsedMiB),
      rssDeltaMiB: round(withConsumer.rssMiB - baseline.rssMiB),
      heapBytesPerInstance: Math.round(((withConsumer.heapUsedMiB - baseline.heapUsedMiB) * 2 ** 20) / (serviceCount * perService)),
      gcExposed: gc !== undefined,
    },
    changes,
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  // Let the closes reach the server, then go.
  setTimeout(() => process.exit(0), 200);
}

function emptyCount(): ReadCount {
  return { getData: 0, getChildren: 0, exists: 0, total: 0, byService: {} };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

process.on('disconnect', () => process.exit(1));
const lifetime = setTimeout(() => {
  process.stderr.write('scale-child: gave up after 5 minutes\n');
  process.exit(1);
}, 5 * 60_000);
lifetime.unref();
main().catch((error) => {
  process.stderr.write(`scale-child: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
