/**
 * Graceful shutdown ordering: deregister → drain (still accepting) → stop accepting → in-flight requests
 * finish, keep-alive connections closed → resolve. Real ZooKeeper, real servers on 127.0.0.1.
 */
import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Server, Socket } from 'node:net';
import express from 'express';
import { defaults, grayRegister, silentLogger, type ProviderRegistration } from '../../src';
import { startProviderProcess } from '../faults/children';
import { registryFixture, testZk } from '../support/helpers';

interface Answer {
  status?: number;
  connection?: string;
  error?: string;
  at: number;
}

/** One GET; never rejects: the outcome (status or error code) and when it came. */
function get(port: number, path: string, agent: http.Agent | false = false, onSocket?: (socket: Socket) => void): Promise<Answer> {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection, at: Date.now() }));
    });
    request.on('socket', (socket) => onSocket?.(socket));
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message, at: Date.now() }));
  });
}

/** An Express provider with a slow route and a route that never answers. */
async function slowProvider(root: string, options: { drainMs: number; shutdownTimeout?: number }) {
  const app = express();
  const gray = grayRegister({ zk: testZk(), root, service: 'demo', host: '127.0.0.1', logger: silentLogger, sessionTimeout: 4000, ...options });
  app.use(gray);
  app.get('/version', (_req, res) => void res.json({ ok: true }));
  const answered: number[] = [];
  // 'arrived' when a slow or hanging request has reached its handler: from then on it is in flight.
  const requests = new EventEmitter();
  app.get('/slow', (req, res) => {
    res.on('finish', () => answered.push(Date.now())); // when the server has handed the whole response to the socket
    setTimeout(() => res.json({ slow: true }), Number(req.query.ms));
    requests.emit('arrived');
  });
  app.get('/hang', () => void requests.emit('arrived'));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  await gray.registration.whenRegistered();
  /** Sends a request to a slow route and resolves once it is in flight, with its answer still to come. */
  const inFlight = async (path: string, agent: http.Agent | false = false): Promise<{ answer: Promise<Answer> }> => {
    const arrived = once(requests, 'arrived');
    const answer = get((server.address() as AddressInfo).port, path, agent);
    await arrived;
    return { answer };
  };
  return { server, port: (server.address() as AddressInfo).port, registration: gray.registration, answered, inFlight };
}

describe('graceful shutdown (real ZooKeeper, real servers)', () => {
  const fx = registryFixture();

  test('the default drainMs is 2000 ms', () => {
    expect(defaults.register.drainMs).toBe(2000);
  });

  test('shutdown(): deregister, drain while accepting, stop accepting, finish in-flight requests, close keep-alive connections, resolve', async () => {
    const drainMs = 400;
    const { server, port, registration, answered, inFlight: sendSlow } = await slowProvider(fx.root, { drainMs });
    const path = registration.path as string;
    const timeline: Array<[string, number]> = [];
    const mark = (label: string) => timeline.push([label, Date.now()]);
    const at = (label: string) => {
      const entry = timeline.find(([name]) => name === label);
      if (!entry) throw new Error(`no "${label}" in ${JSON.stringify(timeline)}`);
      return entry[1];
    };
    for (const event of ['deregistered', 'draining', 'closing', 'closed'] as const) registration.on(event, () => mark(event));

    // An idle keep-alive connection, and a slow request in flight on another keep-alive connection.
    const idleAgent = new http.Agent({ keepAlive: true });
    const busyAgent = new http.Agent({ keepAlive: true });
    let idleSocket: Socket | undefined;
    expect((await get(port, '/version', idleAgent, (socket) => (idleSocket = socket))).status).toBe(200);
    idleSocket!.once('close', () => mark('idle keep-alive connection closed'));
    const { answer: inFlight } = await sendSlow('/slow?ms=1200', busyAgent);

    // When the znode goes, the port must still accept; once closing, it must refuse.
    let duringDrain: Promise<Answer> | undefined;
    let onDeleted = () => {};
    const deleted = new Promise<void>((resolve) => (onDeleted = resolve));
    // Armed (awaited) before the shutdown starts, so that the deletion cannot slip past it.
    expect(
      await fx.admin.exists(path, (event) => {
        if (event.type !== 'deleted') return;
        mark('znode deleted');
        duringDrain = get(port, '/version');
        onDeleted();
      }),
    ).not.toBeNull();
    let afterClosing: Promise<Answer> | undefined;
    registration.once('closing', () => {
      afterClosing = get(port, '/version');
    });

    mark('shutdown called');
    await registration.shutdown();
    mark('resolved');
    await deleted;
    const drained = await duringDrain!;
    const refused = await afterClosing!;
    const slow = await inFlight;
    timeline.push(['in-flight answered', answered[0]]);

    expect(drained.status).toBe(200);
    expect(refused.error).toBe('ECONNREFUSED');
    expect(slow.status).toBe(200);
    expect(slow.connection).toBe('close'); // marked at shutdown: the client lets go of the connection
    expect(server.listening).toBe(false);
    expect(await fx.admin.exists(path)).toBeNull();

    // The order, and the drain's length.
    // The provider's delete completes before the drain; another session's watch learns of it a moment later, and
    // still well before the port closes.
    expect(at('deregistered')).toBeLessThanOrEqual(at('draining'));
    expect(at('znode deleted')).toBeLessThan(at('closing'));
    expect(at('closing') - at('draining')).toBeGreaterThanOrEqual(drainMs - 5);
    expect(at('idle keep-alive connection closed')).toBeGreaterThanOrEqual(at('closing'));
    expect(at('idle keep-alive connection closed') - at('closing')).toBeLessThan(1000); // not left to the 5 s keep-alive timeout
    expect(at('in-flight answered')).toBeGreaterThan(at('closing'));
    expect(at('in-flight answered')).toBeLessThanOrEqual(at('resolved'));
    expect(at('closed')).toBeLessThanOrEqual(at('resolved'));
    expect(at('resolved') - at('in-flight answered')).toBeLessThan(500);
    // Idempotent: the same promise, already settled.
    await expect(registration.shutdown()).resolves.toBeUndefined();
    idleAgent.destroy();
    busyAgent.destroy();
  });

  test('server.close(callback) runs the same sequence and calls back once the in-flight request is answered', async () => {
    const { server, registration, answered, inFlight: sendSlow } = await slowProvider(fx.root, { drainMs: 100 });
    const { answer: inFlight } = await sendSlow('/slow?ms=500');
    const events: string[] = [];
    for (const event of ['draining', 'closing', 'closed'] as const) (registration as ProviderRegistration).on(event, () => events.push(event));
    const closedAt = await new Promise<number>((resolve) => server.close(() => resolve(Date.now())));
    const slow = await inFlight;
    expect(slow.status).toBe(200);
    expect(answered[0]).toBeLessThanOrEqual(closedAt);
    expect(events).toEqual(['draining', 'closing', 'closed']);
  });

  test('in-flight requests get at most shutdownTimeout, then their connections are closed', async () => {
    const { registration, inFlight: sendSlow } = await slowProvider(fx.root, { drainMs: 0, shutdownTimeout: 300 });
    const { answer: hung } = await sendSlow('/hang');
    const started = Date.now();
    await registration.shutdown();
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2000);
    expect((await hung).error).toBe('ECONNRESET');
  });

  test('SIGTERM with handleSignals(): a provider process deregisters, drains, answers its in-flight request, then exits by SIGTERM', async () => {
    const provider = await startProviderProcess({ zk: testZk(), root: fx.root, drainMs: 500, name: 'signal-provider' });
    try {
      const port = provider.port!;
      const path = (await provider.waitFor('registered')).path as string;
      const inFlight = get(port, '/hold?delay=1500');
      await provider.waitFor('request');
      let duringDrain: Promise<Answer> | undefined;
      let deletedAt = 0;
      let onDeleted = () => {};
      const deleted = new Promise<void>((resolve) => (onDeleted = resolve));
      expect(
        await fx.admin.exists(path, (event) => {
          if (event.type !== 'deleted') return;
          deletedAt = Date.now();
          duringDrain = get(port, '/work');
          onDeleted();
        }),
      ).not.toBeNull();
      const signalledAt = Date.now();
      process.kill(provider.pid, 'SIGTERM');
      const exit = await provider.exited;
      const exitedAt = Date.now();
      await deleted;
      const slow = await inFlight;
      expect(exit.signal).toBe('SIGTERM');
      expect((await duringDrain!).status).toBe(200);
      expect(slow.status).toBe(200);
      expect(deletedAt).toBeGreaterThanOrEqual(signalledAt);
      const closing = provider.events.find((event) => event.event === 'closing')!;
      expect(closing.at - deletedAt).toBeGreaterThanOrEqual(450);
      expect(slow.at).toBeGreaterThan(closing.at);
      expect(slow.at).toBeLessThanOrEqual(exitedAt);
      expect(provider.events.map((event) => event.event)).toEqual(['listening', 'registered', 'request', 'draining', 'closing', 'closed']);
    } finally {
      await provider.kill();
    }
  });
});
