/**
 * The lane on every hop, on a real ZooKeeper with real servers on 127.0.0.1: a cold consumer's first fan-out, Node's
 * built-in fetch (per call and global) mixed with axios in a three-tier chain, W3C baggage through a hop that is not
 * graykit, a gray instance's own lane, strict lanes, other HTTP clients by the consumer's resolve/report API, and
 * OpenTelemetry baggage.
 */
import http from 'node:http';
import { context as otelContext, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import axios, { type AxiosInstance } from 'axios';
import express from 'express';
import { createAdmin, createConsumer, grayContext, grayDispatcher, grayRegister, grayRoute, injectLane, installGrayDispatcher, isConnectionError, NoInstanceError, silentLogger, type ContextKind, type GrayRouteOptions, type Lane } from '../../src';
import { instancePath } from '../../src/registry/paths';
import type { ZkSession } from '../../src/registry/zk-session';
import { adminSession, closedPort, closeServer, eventually, listen, testZk, uniqueRoot } from '../support/helpers';

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 64 });
const laneOf = (version: string): Lane => (version === 'v2' ? 'gray' : 'normal');

interface Closable {
  close(): unknown;
}

describe('the lane on every hop (real ZooKeeper, real servers)', () => {
  let admin: ZkSession;
  let root: string;
  const open: Closable[] = [];

  beforeAll(async () => {
    admin = adminSession();
    await admin.whenConnected(10_000);
  });
  afterAll(() => {
    admin.close();
    keepAlive.destroy();
  });
  beforeEach(() => {
    root = uniqueRoot();
  });
  afterEach(async () => {
    for (const item of open.splice(0).reverse()) await item.close();
  }, 60_000);

  /** An instance of `service`: GET /who answers its version; GET /call/<next> calls `next` through `call`. */
  async function instance(service: string, version: 'v1' | 'v2', options: { call?: (url: string) => Promise<unknown>; laneFromInstance?: boolean; ratio?: number } = {}) {
    const app = express();
    const gray = grayRegister({ zk: testZk(), root, service, gray: version === 'v2', version, host: '127.0.0.1', logger: silentLogger, drainMs: 0, laneFromInstance: options.laneFromInstance });
    app.use(gray);
    app.get('/who', (_req, res) => void res.json({ service, version }));
    app.get('/call/:next', async (req, res) => {
      try {
        const below = (await options.call!(`http://${req.params.next}/${req.query.path ?? 'who'}`)) as unknown;
        res.json(Array.isArray(below) ? [`${service}:${version}`, ...below] : [`${service}:${version}`, below]);
      } catch (error) {
        res.status(502).json({ error: (error as Error).message, cause: ((error as Error).cause as Error | undefined)?.message });
      }
    });
    const { server, port, base } = await listen(app);
    open.push({ close: () => closeServer(server) });
    await gray.registration.whenRegistered();
    return { port, base, registration: gray.registration };
  }

  function axiosClient(options: GrayRouteOptions = {}): AxiosInstance {
    const route = grayRoute({ zk: testZk(), root, logger: silentLogger, ...options });
    open.push(route);
    const client = axios.create({ httpAgent: keepAlive });
    client.interceptors.request.use(route);
    return client;
  }

  describe('a cold consumer: the first request\'s fan-out stays in one lane', () => {
    test.each([
      ['als', false],
      ['als', true],
      ['cls', false],
      ['cls', true],
    ] as Array<[ContextKind, boolean]>)('context %s, services list %s: 6 fresh consumers, 10 parallel calls each at ratio 50', async (context, withList) => {
      await instance('svc', 'v1');
      await instance('svc', 'v2');
      const lanes: string[] = [];
      for (let trial = 0; trial < 6; trial++) {
        // A fresh consumer each time: nothing of `svc` (not even the service list) is in memory yet.
        const client = axiosClient({ ratio: 50, context, services: withList ? ['svc'] : undefined });
        const app = express();
        app.use(grayContext({ context }));
        app.get('/fan', async (_req, res) => {
          const answers = await Promise.all(Array.from({ length: 10 }, () => client.get<{ version: string }>('http://svc/who').then((r) => laneOf(r.data.version))));
          res.json(answers);
        });
        const { server, base } = await listen(app);
        try {
          const answers = (await axios.get<Lane[]>(`${base}/fan`)).data;
          expect(answers).toHaveLength(10);
          expect(new Set(answers).size).toBe(1); // before the fix: e.g. nGnnnGGGnn
          lanes.push(answers[0]);
        } finally {
          await closeServer(server);
        }
      }
      expect(lanes).toHaveLength(6);
    }, 60_000);
  });

  test('built-in fetch: a three-tier chain (axios edge -> fetch per call -> users), called through the global dispatcher: 300 requests, 0 mixed lanes', async () => {
    const perCall = grayDispatcher({ zk: testZk(), root, logger: silentLogger, ratio: 50 });
    open.push(perCall);
    const edgeClient = axiosClient({ ratio: 50 });
    for (const version of ['v1', 'v2'] as const) {
      await instance('users', version);
      await instance('orders', version, { call: async (url) => (await fetch(url, { dispatcher: perCall })).json() });
      await instance('edge', version, { call: async (url) => (await edgeClient.get(url)).data });
    }
    const global = installGrayDispatcher({ zk: testZk(), root, logger: silentLogger, ratio: 50 });
    open.push({ close: () => global.uninstall() });
    const counts: Record<string, number> = { gray: 0, normal: 0 };
    let mixed = 0;
    for (let i = 0; i < 300; i++) {
      const pinned: Lane | undefined = i % 3 === 0 ? 'gray' : i % 3 === 1 ? 'normal' : undefined;
      const response = await fetch('http://edge/call/orders?path=call/users', { headers: pinned ? { 'x-gray-lane': pinned } : {} });
      expect(response.status).toBe(200);
      const path = (await response.json()) as Array<string | { version: string }>;
      const versions = new Set(path.map((hop) => (typeof hop === 'string' ? hop.split(':')[1] : hop.version)));
      if (versions.size !== 1) mixed++;
      const lane = laneOf([...versions][0]);
      if (pinned) expect(lane).toBe(pinned);
      counts[lane]++;
    }
    expect(mixed).toBe(0);
    expect(counts.gray).toBeGreaterThan(100); // the pinned 100, and the ratio's share of the rest
    expect(counts.normal).toBeGreaterThan(100);
  }, 120_000);

  describe('W3C baggage through a hop that is not graykit', () => {
    /**
     * A (graykit) -> B (a plain Node proxy, registered by an operator's znode, forwarding only `baggage`) -> C
     * (graykit, one instance) -> D (v1 and gray v2). Returns the lane D served for each of 40 gray and 40 normal
     * requests sent to A.
     */
    async function chain(propagationAtA: 'both' | 'header'): Promise<{ expected: Lane; served: Lane }[]> {
      await instance('d', 'v1');
      await instance('d', 'v2');
      const cClient = axiosClient({ ratio: 50 });
      const c = await instance('c', 'v1', { call: async (url) => (await cClient.get(url)).data });
      const b = http.createServer((req, res) => {
        const headers: http.OutgoingHttpHeaders = {};
        if (req.headers.baggage) headers.baggage = req.headers.baggage; // everything else, x-gray-lane included, is dropped
        http.get({ host: '127.0.0.1', port: c.port, path: req.url, headers, agent: keepAlive }, (upstream) => {
          res.writeHead(upstream.statusCode ?? 502, { 'content-type': 'application/json' });
          upstream.pipe(res);
        });
      });
      const bAddress = await listen(b as unknown as express.Express);
      open.push({ close: () => closeServer(bAddress.server) });
      await admin.mkdirp(`${root}/services/b/instances`);
      await admin.create(instancePath(root, 'b', `127.0.0.1:${bAddress.port}`), JSON.stringify({ gray: false, version: 'proxy' }), 'ephemeral');
      const aClient = axiosClient({ ratio: 50, propagation: propagationAtA });
      await instance('a', 'v1', { call: async (url) => (await aClient.get(url)).data });
      const caller = axiosClient({ ratio: 0 });
      const results: { expected: Lane; served: Lane }[] = [];
      for (let i = 0; i < 80; i++) {
        const expected: Lane = i % 2 === 0 ? 'gray' : 'normal';
        const path = (await caller.get<Array<string | { version: string }>>('http://a/call/b?path=call/d', { gray: { lane: expected } })).data;
        const d = path[path.length - 1] as { version: string };
        results.push({ expected, served: laneOf(d.version) });
      }
      return results;
    }

    test('with baggage, 80 of 80 requests keep their lane through the hop that drops x-gray-lane', async () => {
      const results = await chain('both');
      expect(results.filter((r) => r.served !== r.expected)).toEqual([]);
    }, 60_000);

    test('control: with the lane header alone, the hop loses it and C draws by ratio', async () => {
      const results = await chain('header');
      const lost = results.filter((r) => r.served !== r.expected).length;
      // C draws at ratio 50: about half of the 80 end up in the other lane (all kept would be p = 2^-80).
      expect(lost).toBeGreaterThan(10);
    }, 60_000);
  });

  describe('a request that reaches a gray instance without a lane', () => {
    test('takes the gray lane downstream; a normal instance pins nothing; laneFromInstance: false and a promotion opt out', async () => {
      await instance('b', 'v1');
      await instance('b', 'v2');
      const client = axiosClient({ ratio: 0 });
      const call = async (url: string) => (await client.get(url)).data;
      const grayA = await instance('a', 'v2', { call });
      const normalA = await instance('a', 'v1', { call });
      const optedOut = await instance('a2', 'v2', { call, laneFromInstance: false });
      const plain = axios.create({ httpAgent: keepAlive }); // no graykit: as an ingress canary or a bare client sends
      const servedBy = async (base: string) => {
        const counts: Record<string, number> = { gray: 0, normal: 0 };
        for (let i = 0; i < 200; i++) {
          const path = (await plain.get<Array<string | { version: string }>>(`${base}/call/b`)).data;
          counts[laneOf((path[1] as { version: string }).version)]++;
        }
        return counts;
      };
      expect(await servedBy(grayA.base)).toEqual({ gray: 200, normal: 0 });
      expect(await servedBy(normalA.base)).toEqual({ gray: 0, normal: 200 }); // ratio 0 decides, nothing pinned
      expect(await servedBy(optedOut.base)).toEqual({ gray: 0, normal: 200 });
      // Promoted (an operator's override gray: false): the instance no longer counts as gray.
      const operator = createAdmin({ zk: testZk(), root, logger: silentLogger });
      open.push(operator);
      await operator.setOverride('a', `127.0.0.1:${grayA.port}`, { gray: false });
      await eventually(() => expect(grayA.registration.effectiveGray).toBe(false));
      expect(await servedBy(grayA.base)).toEqual({ gray: 0, normal: 200 });
    }, 90_000);
  });

  describe('strict lanes: "fallback": "none"', () => {
    test('a gray call with no gray instance fails with NoInstanceError (axios and fetch); with the default, the lane served is reported', async () => {
      await instance('s', 'v1');
      const operator = createAdmin({ zk: testZk(), root, logger: silentLogger });
      open.push(operator);
      const client = axiosClient({ ratio: 0 });
      const dispatcher = grayDispatcher({ zk: testZk(), root, logger: silentLogger });
      open.push(dispatcher);
      // Default fallback: the normal instance serves the gray call; the request keeps its own lane downstream.
      const fallback = await client.get('http://s/who', { gray: { lane: 'gray' } });
      expect(fallback.config.gray).toMatchObject({ lane: 'normal', stickyLane: 'gray' });
      expect(fallback.config.headers['x-gray-lane']).toBe('gray');
      await operator.setConfig('s', { fallback: 'none' });
      await eventually(() => expect(client.get('http://s/who', { gray: { lane: 'gray' } })).rejects.toBeInstanceOf(NoInstanceError));
      await expect(client.get('http://s/who', { gray: { lane: 'gray' } })).rejects.toThrow(/no gray instance, and the service's config says "fallback": "none"/);
      expect((await client.get('http://s/who', { gray: { lane: 'normal' } })).status).toBe(200);
      const failed = await fetch('http://s/who', { dispatcher, headers: { 'x-gray-lane': 'gray' } }).catch((error: Error) => error);
      // fetch's TypeError is the process realm's (Jest runs tests in a vm context): compared by name.
      expect({ name: (failed as Error).name, message: (failed as Error).message }).toEqual({ name: 'TypeError', message: 'fetch failed' });
      // Its cause is graykit's NoInstanceError; undici re-wraps an error of another realm (this test's) as an Error of
      // the same text, so the text is what is compared here.
      expect(String((failed as Error).cause)).toMatch(/NoInstanceError: graykit: service "s" has no instance to route to: no gray instance/);
    }, 30_000);
  });

  test('another HTTP client (node:http), by the consumer\'s resolveCall/report API: sticky lane, lane headers, ejection', async () => {
    const gray = await instance('svc', 'v2');
    await instance('svc', 'v1');
    const consumer = createConsumer({ zk: testZk(), root, logger: silentLogger, ratio: 50, outlier: { consecutiveFailures: 2 } });
    open.push(consumer);
    // The README's recipe.
    async function get(service: string, path: string, pin?: Lane): Promise<{ status: number; body: { version: string } }> {
      const { instance, lane } = await consumer.resolveCall(service, { lane: pin });
      const headers = injectLane({}, lane) as http.OutgoingHttpHeaders;
      return new Promise((resolve, reject) => {
        http
          .get({ host: instance.host, port: instance.port, path, headers, agent: keepAlive }, (res) => {
            consumer.reportSuccess(service, instance.id);
            let text = '';
            res.on('data', (chunk) => (text += chunk)).on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
          })
          .on('error', (error) => {
            if (isConnectionError(error)) consumer.reportFailure(service, instance.id);
            reject(error);
          });
      });
    }
    const app = express();
    app.use(grayContext());
    app.get('/twice', async (_req, res) => res.json([(await get('svc', '/who')).body.version, (await get('svc', '/who')).body.version]));
    const { server, base } = await listen(app);
    open.push({ close: () => closeServer(server) });
    for (let i = 0; i < 30; i++) {
      const versions = (await axios.get<string[]>(`${base}/twice`)).data;
      expect(new Set(versions).size).toBe(1); // one lane per request
      expect((await axios.get<string[]>(`${base}/twice`, { headers: { 'x-gray-lane': 'gray' } })).data).toEqual(['v2', 'v2']);
    }
    // The lane travels on: both the lane header and the baggage member.
    expect(injectLane({ baggage: 'user=1' }, 'gray')).toEqual({ 'x-gray-lane': 'gray', baggage: 'user=1,gray.lane=gray' });
    // Reported connection failures eject: a dead instance registered in the gray lane is taken out of rotation.
    const dead = await closedPort();
    await admin.create(instancePath(root, 'svc', `127.0.0.1:${dead}`), JSON.stringify({ gray: true }), 'ephemeral');
    await eventually(() => expect(consumer.snapshot('svc')?.instances).toHaveLength(3));
    let refused = 0;
    // Pinned to the gray lane: the rotation alternates between the dead instance and the live one.
    for (let i = 0; i < 10; i++) await get('svc', '/who', 'gray').catch(() => refused++);
    expect(refused).toBe(2); // two refusals in a row eject it; the eight calls after it go to the live one
    expect(consumer.ejected('svc').map((entry) => entry.id)).toContain(`127.0.0.1:${dead}`);
    expect(gray.port).toBeGreaterThan(0);
  }, 60_000);

  describe('OpenTelemetry baggage (when the app uses @opentelemetry/api)', () => {
    const manager = new AsyncLocalStorageContextManager();
    beforeAll(() => otelContext.setGlobalContextManager(manager.enable()));
    afterAll(() => {
      otelContext.disable();
      manager.disable();
    });

    test('a lane set as OpenTelemetry baggage pins routing; a lane a request brings is readable as baggage', async () => {
      await instance('svc', 'v1');
      await instance('svc', 'v2');
      const client = axiosClient({ ratio: 0 });
      const grayBaggage = propagation.setBaggage(otelContext.active(), propagation.createBaggage({ 'gray.lane': { value: 'gray' } }));
      const versions = await otelContext.with(grayBaggage, () => Promise.all(Array.from({ length: 20 }, () => client.get<{ version: string }>('http://svc/who').then((r) => r.data.version))));
      expect(new Set(versions)).toEqual(new Set(['v2']));
      expect((await client.get<{ version: string }>('http://svc/who')).data.version).toBe('v1'); // outside it: ratio 0
      const app = express();
      app.use(grayContext());
      app.get('/baggage', (_req, res) => void res.json(propagation.getActiveBaggage()?.getEntry('gray.lane')?.value ?? null));
      const { server, base } = await listen(app);
      open.push({ close: () => closeServer(server) });
      expect((await axios.get(`${base}/baggage`, { headers: { 'x-gray-lane': 'gray' } })).data).toBe('gray');
      expect((await axios.get(`${base}/baggage`, { headers: { baggage: 'gray.lane=normal' } })).data).toBe('normal');
      expect((await axios.get(`${base}/baggage`)).data).toBeNull();
    }, 30_000);
  });
});
