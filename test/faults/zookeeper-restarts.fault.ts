/**
 * Fault 6: a ZooKeeper server restarted 10 times (data kept, down 5 s each, its clients' session timeout 4 s), under
 * three consumers and two providers in this process, while this process has child processes of its own (the
 * scripts that stop and start the server): a child that holds a copy of a client's socket used to make the
 * zookeeper addon's watchdog close live sessions after a restart (zk-session.ts). Every client must keep its
 * session id through every restart, and each consumer's snapshot must follow the registry again within the bound:
 * a change made after the server is back is seen within SNAPSHOT_BOUND_MS.
 */
import express from 'express';
import type { Server } from 'node:net';
import { createConsumer, grayRegister, type GrayConsumer, type Logger } from '../../src';
import type { ProviderRegistration } from '../../src/provider/registration';
import type { ZkSession } from '../../src/registry/zk-session';
import { eventually, listen, closeServer } from '../support/helpers';
import { note, ROOT, SERVICE } from './harness';
import { StandaloneZooKeeper } from './zookeeper';

const ROUNDS = 10;
const DOWN_MS = 5000;
const SESSION_TIMEOUT = 4000;
/**
 * How long after the server serves again a change must reach every consumer: the session timeout. The C client
 * retries every sessionTimeout/3; an attempt that lands in the first milliseconds of a starting server (which
 * accepts but does not answer yet) waits 2/3 of it before the next; then one watch notification and one read.
 */
const SNAPSHOT_BOUND_MS = SESSION_TIMEOUT;

const sessionOf = (owner: unknown): ZkSession => (owner as { session: ZkSession }).session;

describe('fault: a ZooKeeper server restarted 10 times', () => {
  const zk = new StandaloneZooKeeper();
  const consumers: GrayConsumer[] = [];
  const providers: Array<{ server: Server; registration: ProviderRegistration }> = [];
  const replaced: string[] = [];
  const logger: Logger = {
    debug() {},
    info: (message) => note(`client: ${message}`),
    warn: (message) => {
      if (message.includes('opening a new session')) replaced.push(message);
      note(`client: ${message}`);
    },
    error: (message) => note(`client error: ${message}`),
  };

  afterAll(async () => {
    for (const consumer of consumers) consumer.close();
    for (const provider of providers) await closeServer(provider.server);
    await zk.destroy();
  });

  test('every client keeps its session through every restart; snapshots follow the registry within the bound', async () => {
    const connect = await zk.start();
    for (const version of ['v1', 'v2']) {
      const app = express();
      const gray = grayRegister({ zk: connect, root: ROOT, service: SERVICE, host: '127.0.0.1', version, gray: version === 'v2', sessionTimeout: SESSION_TIMEOUT, drainMs: 0, logger });
      app.use(gray);
      const { server } = await listen(app);
      await gray.registration.whenRegistered(20_000);
      providers.push({ server, registration: gray.registration });
    }
    for (let i = 0; i < 3; i++) consumers.push(createConsumer({ zk: connect, root: ROOT, services: [SERVICE], sessionTimeout: SESSION_TIMEOUT, logger }));
    await eventually(() => consumers.forEach((consumer) => expect(consumer.snapshot(SERVICE)?.instances).toHaveLength(2)), 20_000);
    const clients = () => [...consumers.map((consumer) => sessionOf(consumer)), ...providers.map(({ registration }) => sessionOf(registration))];
    const ids = clients().map((session) => session.sessionId);
    expect(ids.every((id) => id !== undefined)).toBe(true);

    const lags: number[] = [];
    const rounds: Array<{ kept: number; lagMs: number }> = [];
    for (let round = 1; round <= ROUNDS; round++) {
      await zk.stop();
      await new Promise((resolve) => setTimeout(resolve, DOWN_MS)); // the outage itself, not a wait for an event
      await zk.start();
      const back = Date.now();
      // A change made once the server is back: the gray provider flips its weight; every consumer must see it.
      const weight = 100 + round;
      await eventually(() => providers[1].registration.update({ weight }), 20_000, 100);
      await eventually(() => consumers.forEach((consumer) => expect(consumer.snapshot(SERVICE)?.instances.find((i) => i.gray)?.weight).toBe(weight)), 20_000, 20);
      const lagMs = Date.now() - back;
      lags.push(lagMs);
      await eventually(() => expect(clients().every((session) => session.connected)).toBe(true), 20_000);
      const now = clients().map((session) => session.sessionId);
      const kept = now.filter((id, i) => id === ids[i]).length;
      rounds.push({ kept, lagMs });
      note(`restart ${round}: ${kept}/${ids.length} sessions kept; change seen by every consumer ${lagMs} ms after the server was back`);
    }
    const sorted = [...lags].sort((a, b) => a - b);
    const summary = `zookeeper-restarts: ${ROUNDS} restarts, sessions kept ${rounds.reduce((n, r) => n + r.kept, 0)}/${ROUNDS * ids.length}, ` +
      `rounds with an abandoned session ${rounds.filter((r) => r.kept < ids.length).length}, snapshot lag p50 ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted[sorted.length - 1]} ms (bound ${SNAPSHOT_BOUND_MS} ms)`;
    note(summary);
    process.stdout.write(`faults: ${summary}\n`);
    expect(replaced).toEqual([]);
    expect(rounds.filter((r) => r.kept < ids.length)).toEqual([]);
    expect(Math.max(...lags)).toBeLessThanOrEqual(SNAPSHOT_BOUND_MS);
  }, 300_000);
});
