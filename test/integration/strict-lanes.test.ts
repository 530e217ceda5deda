/**
 * The README's "Strict lanes" section, through every way of calling: one normal instance, a config of
 * `{"ratio":100,"fallback":"none"}`. Every call is drawn into the gray lane, which has no instance, and strict
 * lanes forbid the normal one: each client fails with NoInstanceError saying so, never that an instance failed.
 * Real ZooKeeper, a real provider on 127.0.0.1.
 */
import axios from 'axios';
import express from 'express';
import { createAdmin, createConsumer, grayDispatcher, grayRegister, grayRoute, NoInstanceError, silentLogger, useGray } from '../../src';
import { closeServer, eventually, listen, registryFixture, testZk } from '../support/helpers';

const STRICT = /no gray instance, and the service's config says "fallback": "none"/;

describe('strict lanes: the error says the lane has no instance, from every client (real ZooKeeper, real server)', () => {
  const fx = registryFixture();
  const { open } = fx;

  test('consumer.route(), resolveCall(), grayRoute, useGray and grayDispatcher (fetch, request(), cold): NoInstanceError, ERR_GRAYKIT_NO_INSTANCE, the documented message', async () => {
    let served = 0;
    const app = express();
    const register = grayRegister({ zk: testZk(), root: fx.root, service: 's', gray: false, version: 'v1', host: '127.0.0.1', logger: silentLogger, drainMs: 0 });
    app.use(register);
    app.get('/version', (_req, res) => void (served++, res.json({ version: 'v1' })));
    const { server } = await listen(app);
    open.push({ close: () => closeServer(server) });
    await register.registration.whenRegistered();
    const operator = createAdmin({ zk: testZk(), root: fx.root, logger: silentLogger });
    open.push(operator);
    await operator.setConfig('s', { ratio: 100, fallback: 'none' });
    const options = { zk: testZk(), root: fx.root, logger: silentLogger };
    const consumer = createConsumer(options);
    open.push(consumer);
    // The consumer has the strict config and the instance: from here on every call is decided in memory.
    await eventually(async () => {
      await consumer.whenReady('s');
      expect(consumer.snapshot('s')).toMatchObject({ config: { ratio: 100, fallback: 'none' }, instances: [{ gray: false }] });
    });

    const failures: Record<string, unknown> = {};
    try {
      consumer.route('s');
    } catch (error) {
      failures.route = error;
    }
    failures.resolveCall = await consumer.resolveCall('s').catch((error: unknown) => error);

    const routed = axios.create();
    routed.interceptors.request.use(grayRoute(consumer));
    failures.grayRoute = await routed.get('http://s/version').catch((error: unknown) => error);

    const resilient = axios.create();
    const gray = useGray(resilient, { consumer });
    open.push(gray);
    failures.useGray = await resilient.get('http://s/version').catch((error: unknown) => error);

    const dispatcher = grayDispatcher({ consumer });
    open.push(dispatcher);
    // undici's request() on the dispatcher gets graykit's error itself, through the handler's error callback.
    failures.grayDispatcher = await dispatcher.request({ origin: 'http://s', path: '/version', method: 'GET' }).catch((error: unknown) => error);
    const fetched = (await fetch('http://s/version', { dispatcher }).catch((error: unknown) => error)) as Error;
    // fetch rejects with its own TypeError, whose cause is graykit's error. Jest runs tests in a vm context, whose
    // realm differs from the process's: undici re-wraps an error of another realm as an Error of the same text
    // (`NoInstanceError: …`), so for fetch the class is read from that text, and request() above checks the code.
    expect({ name: fetched.name, message: fetched.message }).toEqual({ name: 'TypeError', message: 'fetch failed' });
    expect(String(fetched.cause)).toMatch(/NoInstanceError: graykit: service "s" has no instance to route to: no gray instance, and the service's config says "fallback": "none" \(strict lanes\)/);
    // A cold dispatcher (its own consumer, nothing in memory yet) takes the slow path, waiting for the snapshot: the same error.
    const cold = grayDispatcher(options);
    open.push(cold);
    failures.coldDispatcher = await cold.request({ origin: 'http://s', path: '/version', method: 'GET' }).catch((error: unknown) => error);

    for (const [client, error] of Object.entries(failures)) {
      expect({ client, error }).toEqual({ client, error: expect.any(NoInstanceError) });
      expect({ client, code: (error as NoInstanceError).code, message: (error as Error).message }).toEqual({ client, code: 'ERR_GRAYKIT_NO_INSTANCE', message: expect.stringMatching(STRICT) });
    }
    expect(served).toBe(0); // no instance was tried: the lane has none
  }, 30_000);
});
