/**
 * A rollout that starts or ends normally is never read as crashed (README "State in ZooKeeper and the dead-man's
 * switch"). Real ZooKeeper; rollouts of six services started and ended in a loop by several writers at once, with
 * graykit's own rollout records (admin/rollout-record.ts, in the order rollout.ts uses them: lease then `running`;
 * outcome then the lease deleted) — single services, groups, aborted ones, and crashed ones resumed. A consumer
 * counts every snapshot that says `rolloutCrashed` and every crash warning it logs while no rollout of that service
 * had crashed, and the console's model every crash event: zero.
 */
import { createAdmin, createConsumer, silentLogger, type GrayAdmin, type GrayConsumer, type Logger, type RolloutDocument, type RolloutState, type ServiceSnapshot } from '../../src';
import { currentActor } from '../../src/admin/rollout-record';
import type { ConsoleEvent } from '../../src/console/events';
import { ConsoleModel } from '../../src/console/model';
import { adminSession, eventually, testZk, uniqueRoot } from '../support/helpers';
import { rolloutDocument } from '../support/rollout-document';

jest.setTimeout(120_000);

const SERVICES = ['svc-a', 'svc-b', 'svc-c', 'svc-d', 'svc-e', 'svc-f'];
/** Each writer owns two services and walks them (alone or as a group) this many times. */
const ROUNDS = 64;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A random pause of 0 to `max` ms, so that the writers' events interleave differently with the consumer's reads. */
const jitter = (max: number) => pause(Math.floor(Math.random() * (max + 1)));

describe('rollout transitions: no false crash verdict', () => {
  const root = uniqueRoot();
  const writers: GrayAdmin[] = [];
  let consumer: GrayConsumer;
  const consoleSession = adminSession();
  let model: ConsoleModel;
  const falseConsoleEvents: string[] = [];
  const trueConsoleEvents: string[] = [];
  const falseWarnings: string[] = [];
  const trueWarnings: string[] = [];
  /** Sorts each crash warning by whether that service's rollout had crashed on purpose when it was logged. */
  const logger: Logger = {
    ...silentLogger,
    warn(message: string) {
      if (!message.includes('crashed')) return;
      const service = /^service "([^"]+)"/.exec(message)?.[1] ?? '';
      (crashedOnPurpose.has(service) ? trueWarnings : falseWarnings).push(message);
    },
  };
  /** Services whose rollout this test crashed on purpose: a crash verdict there is the truth. */
  const crashedOnPurpose = new Set<string>();
  const falseSnapshots: string[] = [];
  const trueSnapshots: string[] = [];
  let transitions = 0;

  beforeAll(async () => {
    consumer = createConsumer({ zk: testZk(), root, services: SERVICES, logger });
    consumer.on('change', (snapshot: ServiceSnapshot) => {
      if (!snapshot.rolloutCrashed) return;
      (crashedOnPurpose.has(snapshot.service) ? trueSnapshots : falseSnapshots).push(snapshot.service);
    });
    model = new ConsoleModel({ session: consoleSession, root, logger: silentLogger, eventLimit: 1000 });
    model.on('service', (service: string, events: ConsoleEvent[]) => {
      for (const event of events) {
        if (event.kind === 'rollout' && event.text.includes('crashed')) (crashedOnPurpose.has(service) ? trueConsoleEvents : falseConsoleEvents).push(`${service}: ${event.text}`);
      }
    });
    for (let i = 0; i < 3; i++) writers.push(createAdmin({ zk: testZk(), root, logger: silentLogger }));
    for (const service of SERVICES) await writers[0].setRatio(service, 0);
    await eventually(() => expect(SERVICES.every((service) => consumer.snapshot(service) !== undefined && model.detail(service) !== undefined)).toBe(true));
  });

  afterAll(() => {
    consumer?.close();
    model?.close();
    consoleSession.close();
    for (const writer of writers) writer.close();
  });

  /** Takes every service's lease and records the rollout running, as rollout.ts does; the versions to write against. */
  async function start(writer: GrayAdmin, documents: RolloutDocument[], resume = false): Promise<Map<string, number>> {
    const versions = new Map<string, number>();
    for (const document of documents) {
      versions.set(document.service, (await writer.acquireRollout(document, resume)).version);
      transitions++;
    }
    return versions;
  }

  /** Records each service's outcome, then deletes the leases, as rollout.ts does. */
  async function end(writer: GrayAdmin, documents: RolloutDocument[], versions: Map<string, number>, state: RolloutState): Promise<void> {
    for (const document of documents) {
      const current = await writer.rollout(document.service); // an abort may have been written meanwhile
      await writer.writeRollout({ ...document, ...(current.document?.abort ? { abort: current.document.abort } : {}), state, reason: 'test', endedAt: new Date().toISOString() }, current.version);
      versions.delete(document.service);
    }
    for (const document of documents) {
      await writer.releaseRollout(document.service);
      transitions++;
    }
  }

  /** Moves every service one step on (a step's records, as the rollout writes them while it runs). */
  async function step(writer: GrayAdmin, documents: RolloutDocument[], versions: Map<string, number>): Promise<void> {
    for (const document of documents) {
      document.step = 1;
      versions.set(document.service, await writer.writeRollout({ ...document, updatedAt: new Date().toISOString() }, versions.get(document.service) as number));
    }
  }

  function documentsFor(id: string, services: string[]): RolloutDocument[] {
    return services.map((service) => rolloutDocument({ id, state: 'running', service, services, step: 0, steps: [10, 100], by: currentActor() }));
  }

  /** A rollout whose process dies (its session closed: the leases go at once), then resumed by `writer`. */
  async function crashAndResume(writer: GrayAdmin, services: string[], id: string): Promise<void> {
    const doomed = createAdmin({ zk: testZk(), root, logger: silentLogger });
    for (const service of services) crashedOnPurpose.add(service);
    const documents = documentsFor(id, services);
    await start(doomed, documents);
    await step(doomed, documents, new Map(await Promise.all(services.map(async (service) => [service, (await doomed.rollout(service)).version] as const))));
    doomed.close();
    transitions += services.length; // a start and a crash each
    await eventually(() => expect(services.every((service) => consumer.snapshot(service)?.rolloutCrashed && model.detail(service)?.summary.rollout?.status === 'crashed')).toBe(true), 10_000, 5);
    const resumed = documents.map((document) => ({ ...document, resumed: [{ at: new Date().toISOString(), by: currentActor(), step: 1 }] }));
    const versions = await start(writer, resumed, true);
    // Routing by the config's ratio again: from here on, a crash verdict would be false.
    await eventually(() => expect(services.every((service) => consumer.snapshot(service)?.rolloutCrashed === false && model.detail(service)?.summary.rollout?.status === 'running')).toBe(true), 10_000, 5);
    for (const service of services) crashedOnPurpose.delete(service);
    await jitter(5);
    await end(writer, resumed, versions, 'promoted');
  }

  /** One writer's loop over its two services: alone, together, aborted, crashed and resumed. */
  async function walk(writer: GrayAdmin, services: string[], w: number): Promise<void> {
    for (let round = 0; round < ROUNDS; round++) {
      const id = `w${w}-r${round}`;
      const kind = round % 8;
      if (kind === 7) {
        await crashAndResume(writer, round % 16 === 7 ? services : [services[0]], id);
        continue;
      }
      const group = kind % 3 === 2 ? services : [services[round % 2]];
      const documents = documentsFor(id, group);
      const versions = await start(writer, documents);
      await jitter(3);
      if (kind % 2 === 1) await step(writer, documents, versions);
      await jitter(3);
      if (kind === 4 || kind === 5) {
        // `graykit abort` from another process; the rollout notices and ends `aborted`.
        await writers[(w + 1) % writers.length].requestRolloutAbort(group[0], currentActor());
        await end(writer, documents, versions, 'aborted');
      } else {
        await end(writer, documents, versions, (['promoted', 'inconclusive', 'interrupted', 'conflict'] as const)[round % 4]);
      }
      await jitter(2);
    }
  }

  test('a few hundred starts and ends of rollouts (single, grouped, aborted, resumed): no snapshot says crashed, no crash is logged', async () => {
    const startedAt = Date.now();
    await Promise.all(writers.map((writer, w) => walk(writer, SERVICES.slice(w * 2, w * 2 + 2), w)));
    // Every rollout has ended: the consumer settles on no crash anywhere.
    await eventually(() => expect(SERVICES.filter((service) => consumer.snapshot(service)?.rolloutCrashed !== false)).toEqual([]));
    console.log(
      `rollout transitions: ${transitions} driven in ${Date.now() - startedAt} ms; false crash snapshots ${falseSnapshots.length} (${[...new Set(falseSnapshots)].join(', ')}), ` +
        `false crash warnings ${falseWarnings.length}, false console crash events ${falseConsoleEvents.length}; true crashes seen ${trueSnapshots.length} (warned ${trueWarnings.length}, console ${trueConsoleEvents.length})`,
    );
    expect(transitions).toBeGreaterThanOrEqual(300);
    // The consumer did see the crashes that happened: the count below could fail.
    expect(trueSnapshots.length).toBeGreaterThan(0);
    expect(trueWarnings.length).toBeGreaterThan(0);
    expect(falseSnapshots).toEqual([]);
    expect(falseWarnings).toEqual([]);
    expect(trueConsoleEvents.length).toBeGreaterThan(0);
    expect(falseConsoleEvents).toEqual([]);
  });
});
