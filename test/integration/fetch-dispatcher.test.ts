/**
 * grayDispatcher with Node's built-in fetch, on a real ZooKeeper and real servers on 127.0.0.1: what grayRoute and
 * useGray do for axios — failover on refused connections (GET, and a POST whose body was never sent), outlier
 * ejection, `outcome` events counted by consumerMetrics, `retry` events — and everything else passed on untouched.
 */
import express from 'express';
import { consumerMetrics, grayDispatcher, grayRegister, silentLogger, type OutcomeEvent, type RetryEvent } from '../../src';
import { instancePath } from '../../src/registry/paths';
import { closedPort, closeServer, eventually, listen, registryFixture, testZk } from '../support/helpers';

describe('grayDispatcher with the built-in fetch (real ZooKeeper, real servers)', () => {
  const fx = registryFixture();
  const { open } = fx;

  /** A provider of `demo` that echoes the method, body and lane headers it got. */
  /** Requests the providers of this file have answered. */
  let served = 0;

  async function provider(gray: boolean) {
    const app = express();
    const register = grayRegister({ zk: testZk(), root: fx.root, service: 'demo', gray, version: gray ? 'v2' : 'v1', host: '127.0.0.1', logger: silentLogger, drainMs: 0 });
    app.use(register);
    app.use(express.text({ type: '*/*' }));
    app.all('/echo', (req, res) => void (served++, res.json({ version: gray ? 'v2' : 'v1', method: req.method, body: req.body, lane: req.headers['x-gray-lane'], baggage: req.headers.baggage })));
    const { server, port } = await listen(app);
    open.push({ close: () => closeServer(server) });
    await register.registration.whenRegistered();
    return port;
  }

  async function registerDead(gray = false): Promise<string> {
    const id = `127.0.0.1:${await closedPort()}`;
    await fx.admin.mkdirp(`${fx.root}/services/demo/instances`);
    await fx.admin.create(instancePath(fx.root, 'demo', id), JSON.stringify({ gray, version: 'dead' }), 'ephemeral');
    return id;
  }

  test('a refused instance: GETs and a POST whose body was never sent fail over; the instance is ejected; outcomes are counted', async () => {
    await provider(false);
    const dead = await registerDead();
    const dispatcher = grayDispatcher({ zk: testZk(), root: fx.root, logger: silentLogger, outlier: { consecutiveFailures: 2, baseEjectionMs: 60_000 } });
    open.push(dispatcher);
    const retries: RetryEvent[] = [];
    const outcomes: OutcomeEvent[] = [];
    dispatcher.consumer.on('retry', (event: RetryEvent) => retries.push(event));
    dispatcher.consumer.on('outcome', (event: OutcomeEvent) => outcomes.push(event));
    const metrics = consumerMetrics(dispatcher.consumer);
    open.push(metrics);
    await eventually(async () => expect((await fetch('http://demo/echo', { dispatcher })).status).toBe(200));
    await eventually(() => expect(dispatcher.consumer.snapshot('demo')?.instances).toHaveLength(2));
    const answers = await Promise.all(Array.from({ length: 20 }, () => fetch('http://demo/echo', { dispatcher }).then((r) => r.json() as Promise<{ version: string }>)));
    expect(answers.every((answer) => answer.version === 'v1')).toBe(true);
    const posted = await (await fetch('http://demo/echo', { dispatcher, method: 'POST', body: 'payload' })).json();
    expect(posted).toMatchObject({ method: 'POST', body: 'payload' });
    expect(retries.length).toBeGreaterThanOrEqual(2);
    expect(retries.every((event) => event.instance.id === dead && event.attempt === 2)).toBe(true);
    expect(dispatcher.consumer.ejected('demo').map((entry) => entry.id)).toEqual([dead]);
    expect(outcomes.filter((event) => event.outcome === 'connection_error').map((event) => event.instance.id)).toEqual(retries.map(() => dead));
    expect(outcomes.filter((event) => event.outcome === 'success')).toHaveLength(22);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(new RegExp(`graykit_client_requests_total\\{service="demo",instance="${dead.replace(/\./g, '\\.')}",lane="normal",outcome="connection_error"\\} ${retries.length}`));
  }, 30_000);

  test('lane header and baggage go out; a caller\'s own baggage keeps its members; other hosts pass untouched', async () => {
    const grayPort = await provider(true);
    await provider(false);
    const dispatcher = grayDispatcher({ zk: testZk(), root: fx.root, logger: silentLogger, ratio: 0 });
    open.push(dispatcher);
    const pinned = await (await fetch('http://demo/echo', { dispatcher, headers: { 'X-Gray-Lane': 'gray', baggage: 'user=42;p=1, tenant=a' } })).json();
    expect(pinned).toMatchObject({ version: 'v2', lane: 'gray', baggage: 'user=42;p=1, tenant=a,gray.lane=gray' });
    const byRatio = await (await fetch('http://demo/echo', { dispatcher })).json();
    expect(byRatio).toMatchObject({ version: 'v1', lane: 'normal', baggage: 'gray.lane=normal' });
    // An address is never looked up: the request goes as it is, headers untouched.
    const direct = (await (await fetch(`http://127.0.0.1:${grayPort}/echo`, { dispatcher })).json()) as { version: string; lane?: string };
    expect(direct).toMatchObject({ version: 'v2' });
    expect(direct.lane).toBeUndefined();
  }, 30_000);

  test('undici\'s request() on a GrayDispatcher (its API borrowed from the built-in Dispatcher) routes too', async () => {
    await provider(false);
    const dispatcher = grayDispatcher({ zk: testZk(), root: fx.root, logger: silentLogger });
    open.push(dispatcher);
    const { statusCode, body } = await dispatcher.request({ origin: 'http://demo', path: '/echo', method: 'GET' });
    expect(statusCode).toBe(200);
    expect(await body.json()).toMatchObject({ version: 'v1', lane: 'normal' });
  }, 30_000);

  /**
   * A request dispatched with a new-style (controller) handler, as Node 26's fetch and undici 7+'s request() may pass:
   * status, headers and body as that style gives them. `pause` pauses the response at its head and resumes it on the
   * next turn of the event loop.
   */
  function controllerRequest(dispatcher: { dispatch(opts: object, handler: object): boolean }, pause = false) {
    return new Promise<{ status: number; headers: Record<string, unknown>; rawHeaders: unknown; body: string }>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let head: { status: number; headers: Record<string, unknown>; rawHeaders: unknown } | undefined;
      dispatcher.dispatch({ origin: 'http://demo', path: '/echo', method: 'GET', headers: { 'x-trace': 't1' } }, {
        onRequestStart() {},
        onResponseStart(controller: { pause(): void; resume(): void; rawHeaders: unknown }, status: number, headers: Record<string, unknown>) {
          head = { status, headers, rawHeaders: controller.rawHeaders };
          if (pause) {
            controller.pause();
            setImmediate(() => controller.resume());
          }
        },
        onResponseData(_controller: unknown, chunk: Buffer) {
          chunks.push(chunk);
        },
        onResponseEnd() {
          resolve({ ...head!, body: Buffer.concat(chunks).toString() });
        },
        onResponseError(_controller: unknown, error: Error) {
          reject(error);
        },
      });
    });
  }

  test('a new-style (controller) handler is routed, fails over a refused instance, and can pause the response', async () => {
    await provider(false);
    const dead = await registerDead();
    const dispatcher = grayDispatcher({ zk: testZk(), root: fx.root, logger: silentLogger, outlier: false });
    open.push(dispatcher);
    const retries: RetryEvent[] = [];
    dispatcher.consumer.on('retry', (event: RetryEvent) => retries.push(event));
    await eventually(async () => {
      await dispatcher.consumer.whenReady('demo');
      expect(dispatcher.consumer.snapshot('demo')?.instances).toHaveLength(2);
    });
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => controllerRequest(dispatcher, i % 2 === 0)));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toMatch(/application\/json/);
      expect(Array.isArray(answer.rawHeaders)).toBe(true);
      expect(JSON.parse(answer.body)).toMatchObject({ version: 'v1', method: 'GET', lane: 'normal' });
    }
    // Round-robin over two instances: half the requests met the dead one first, and went on to the live one.
    expect(retries.length).toBe(3);
    expect(retries.every((event) => event.instance.id === dead && event.attempt === 2)).toBe(true);
  }, 30_000);

  test('an abort while the first request waits for the registry ends it at once, and nothing reaches an instance', async () => {
    await provider(false);
    const servedBefore = served;
    // Not a registered service name yet, and the service list is being read: the request waits.
    const dispatcher = grayDispatcher({ zk: '127.0.0.1:1', root: fx.root, logger: silentLogger, timeout: 5000 });
    open.push(dispatcher);
    const started = Date.now();
    const failure = await fetch('http://demo/echo', { dispatcher, signal: AbortSignal.timeout(200) }).catch((error: Error) => error);
    expect((failure as Error).name).toMatch(/AbortError|TimeoutError/);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(served).toBe(servedBefore);
  }, 30_000);
});
