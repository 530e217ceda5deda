import type { AddressInfo, Server } from 'node:net';
import axios, { type AxiosInstance } from 'axios';
import express from 'express';
import { grayContext, grayRoute, NoInstanceError, RegistryUnavailableError, silentLogger, type GrayRouteInterceptor, type GrayRouteOptions } from '../../src';
import { configPath, instancePath, instancesPath } from '../../src/registry/paths';
import type { ZkSession } from '../../src/registry/zk-session';
import { eventually, forceExpiry, recordingLogger, registryFixture, startProvider, testZk, uniqueRoot, type TestProvider } from '../support/helpers';

interface VersionBody {
  version: string;
  port: number;
  gray: boolean;
}

describe('grayRoute (real ZooKeeper, real providers, real axios)', () => {
  const fx = registryFixture();
  const { open } = fx;

  async function providers(specs: Array<{ gray: boolean; version: string }>): Promise<TestProvider[]> {
    const started = await Promise.all(specs.map((spec) => startProvider({ root: fx.root, service: 'demo', ...spec })));
    open.push(...started);
    return started;
  }

  function client(options: GrayRouteOptions = {}): { http: AxiosInstance; route: GrayRouteInterceptor } {
    const route = grayRoute({ zk: testZk(), root: fx.root, logger: silentLogger, ...options });
    open.push(route);
    const http = axios.create();
    http.interceptors.request.use(route);
    return { http, route };
  }

  /** Sends `count` GETs, `concurrency` at a time, and counts the answers by port. */
  async function countCalls(http: AxiosInstance, count: number, url = 'http://demo/version', concurrency = 50) {
    const byPort = new Map<number, number>();
    const byVersion = new Map<string, number>();
    let sent = 0;
    async function worker() {
      while (sent < count) {
        sent++;
        const { data } = await http.get<VersionBody>(url);
        byPort.set(data.port, (byPort.get(data.port) ?? 0) + 1);
        byVersion.set(data.version, (byVersion.get(data.version) ?? 0) + 1);
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { byPort, byVersion };
  }

  test('a request to http://demo/version reaches a live instance, round-robin over the three', async () => {
    const started = await providers([
      { gray: false, version: 'v1' },
      { gray: false, version: 'v1' },
      { gray: false, version: 'v1' },
    ]);
    const { http } = client();
    const response = await http.get<VersionBody>('http://demo/version');
    expect(started.map((p) => p.port)).toContain(response.data.port);
    expect(response.config.gray?.service).toBe('demo');
    expect(response.config.gray?.instance?.port).toBe(response.data.port);
    expect(response.config.gray?.lane).toBe('normal');
    const { byPort } = await countCalls(http, 300, undefined, 1);
    expect([...byPort.values()].sort()).toEqual([100, 100, 100]);
  });

  test.each([
    [0, 0, 0],
    [33, 28, 38],
    [100, 100, 100],
  ])('ratio %p sends between %p%% and %p%% of 3000 calls to the gray instance', async (ratio, low, high) => {
    await providers([
      { gray: true, version: 'v2' },
      { gray: false, version: 'v1' },
      { gray: false, version: 'v1' },
    ]);
    const { http } = client({ ratio });
    const { byVersion } = await countCalls(http, 3000);
    const share = ((byVersion.get('v2') ?? 0) / 3000) * 100;
    expect(share).toBeGreaterThanOrEqual(low);
    expect(share).toBeLessThanOrEqual(high);
  });

  /** A service `echo` whose handler records the raw request headers it receives (name, value, name, value…). */
  async function echoService(): Promise<() => string[]> {
    const app = express();
    let seen: string[] = [];
    app.get('/echo', (req, res) => {
      seen = req.rawHeaders;
      res.json({});
    });
    const { grayRegister } = await import('../../src');
    const echo = grayRegister({ zk: testZk(), root: fx.root, service: 'echo', host: '127.0.0.1', gray: true, drainMs: 0, logger: silentLogger });
    app.use(echo);
    const server: Server = app.listen(0, '127.0.0.1');
    open.push({ close: () => new Promise((resolve) => server.close(resolve)) });
    await echo.registration.whenRegistered();
    return () => seen;
  }

  /** Values of every header named `name` (any case) in raw headers. */
  const headerValues = (raw: string[], name: string) => raw.flatMap((value, i) => (i % 2 === 0 && value.toLowerCase() === name ? [raw[i + 1]] : []));

  test('the lane goes out in the x-gray-lane header', async () => {
    const seen = await echoService();
    const { http } = client({ ratio: 100 });
    await http.get('http://echo/echo');
    expect(headerValues(seen(), 'x-gray-lane')).toEqual(['gray']);
  });

  test.each([['x-gray-lane'], ['X-Gray-Lane'], ['X-GRAY-LANE']])("a caller's own %s header is replaced by the lane, not sent twice", async (spelling) => {
    const seen = await echoService();
    const route = grayRoute({ zk: testZk(), root: fx.root, logger: silentLogger, ratio: 100 });
    open.push(route);
    const http = axios.create();
    // axios runs request interceptors last-registered first: this one sees the config grayRoute hands on.
    let handedOn: Array<[string, unknown]> = [];
    http.interceptors.request.use((config) => {
      handedOn = Object.entries(config.headers).filter(([name]) => name.toLowerCase() === 'x-gray-lane');
      return config;
    });
    http.interceptors.request.use(route);
    await http.get('http://echo/echo', { headers: { [spelling]: 'normal' } });
    expect(handedOn).toEqual([[spelling, 'gray']]);
    expect(headerValues(seen(), 'x-gray-lane')).toEqual(['gray']);
  });

  test('laneHeader names the header the lane goes out in', async () => {
    const seen = await echoService();
    const { http } = client({ ratio: 100, laneHeader: 'X-Lane' });
    await http.get('http://echo/echo');
    expect(headerValues(seen(), 'x-lane')).toEqual(['gray']);
    expect(headerValues(seen(), 'x-gray-lane')).toEqual([]);
  });

  test.each([['x lane'], [''], ['x-lane\r\nx-injected: 1'], ['é']])('laneHeader %p is refused when grayRoute is called', (laneHeader) => {
    expect(() => grayRoute({ zk: testZk(), root: fx.root, logger: silentLogger, laneHeader })).toThrow(expect.objectContaining({ code: 'ERR_GRAYKIT_INVALID_OPTION', option: 'laneHeader' }));
  });

  test('flipping a provider\'s gray flag live changes routing without restarts', async () => {
    const [a] = await providers([
      { gray: false, version: 'v1' },
      { gray: false, version: 'v1' },
    ]);
    const { http } = client({ ratio: 100 });
    // No gray instance yet: both serve.
    expect((await countCalls(http, 20, undefined, 1)).byPort.size).toBe(2);
    await a.registration.setGray(true);
    await eventually(async () => {
      const { byPort } = await countCalls(http, 10, undefined, 1);
      expect([...byPort.keys()]).toEqual([a.port]);
    });
  });

  test('the config znode\'s ratio overrides the local ratio live', async () => {
    const [gray] = await providers([
      { gray: true, version: 'v2' },
      { gray: false, version: 'v1' },
    ]);
    const { http, route } = client({ ratio: 0 });
    expect((await countCalls(http, 20)).byVersion.get('v2')).toBeUndefined();
    await fx.admin.mkdirp(`${fx.root}/services/demo`);
    await fx.admin.create(configPath(fx.root, 'demo'), JSON.stringify({ ratio: 100 }), 'persistent');
    await eventually(() => expect(route.consumer.ratioFor('demo')).toBe(100));
    const { byPort } = await countCalls(http, 20);
    expect([...byPort.keys()]).toEqual([gray.port]);
    await fx.admin.setData(configPath(fx.root, 'demo'), JSON.stringify({ ratio: 0 }));
    await eventually(() => expect(route.consumer.ratioFor('demo')).toBe(0));
    expect((await countCalls(http, 20)).byVersion.get('v2')).toBeUndefined();
  });

  test('an invalid config is logged naming the znode, and the last valid one is kept', async () => {
    await providers([{ gray: true, version: 'v2' }, { gray: false, version: 'v1' }]);
    const logger = recordingLogger();
    const { http, route } = client({ ratio: 0, logger });
    await fx.admin.mkdirp(`${fx.root}/services/demo`);
    await fx.admin.create(configPath(fx.root, 'demo'), JSON.stringify({ ratio: 100 }), 'persistent');
    await http.get('http://demo/version');
    await eventually(() => expect(route.consumer.ratioFor('demo')).toBe(100));
    await fx.admin.setData(configPath(fx.root, 'demo'), '{"ratio": "lots"}');
    await eventually(() => expect(logger.lines.join('\n')).toContain(configPath(fx.root, 'demo')));
    expect(route.consumer.ratioFor('demo')).toBe(100);
  });

  test('malformed instance data is skipped with a warning naming service and znode, never routed to', async () => {
    const [good] = await providers([{ gray: false, version: 'v1' }]);
    const bad = [
      ['127.0.0.1:1', 'not json'],
      ['127.0.0.1:2', '[]'],
      ['127.0.0.1:3', '{"gray":"maybe"}'],
      ['no-port', '{}'],
    ];
    for (const [id, data] of bad) await fx.admin.create(instancePath(fx.root, 'demo', id), data, 'ephemeral');
    const logger = recordingLogger();
    const { http } = client({ logger });
    const { byPort } = await countCalls(http, 40);
    expect([...byPort.keys()]).toEqual([good.port]);
    for (const [id] of bad) {
      expect(logger.lines.some((line) => line.includes('"demo"') && line.includes(instancePath(fx.root, 'demo', id)))).toBe(true);
    }
    for (const [id] of bad) await fx.admin.delete(instancePath(fx.root, 'demo', id));
  });

  test('a service with no instance gives NoInstanceError naming the service and the znode', async () => {
    const [provider] = await providers([{ gray: false, version: 'v1' }]);
    const { http } = client({ timeout: 3000 });
    await http.get('http://demo/version');
    await provider.close();
    const error = await eventually(async () => {
      const caught = await http.get('http://demo/version').catch((e: unknown) => e);
      expect(caught).toBeInstanceOf(NoInstanceError);
      return caught as NoInstanceError;
    });
    expect(error.code).toBe('ERR_GRAYKIT_NO_INSTANCE');
    expect(error.service).toBe('demo');
    expect(error.path).toBe(instancesPath(fx.root, 'demo'));
    expect(error.message).toContain(instancesPath(fx.root, 'demo'));
  });

  test('a listed service that was never registered gives NoInstanceError, not a hang', async () => {
    const { http } = client({ services: ['ghost'], timeout: 3000 });
    await expect(http.get('http://ghost/x')).rejects.toBeInstanceOf(NoInstanceError);
  });

  test('ZooKeeper unreachable and no snapshot: RegistryUnavailableError after the timeout, never a hang', async () => {
    const { http } = client({ zk: '127.0.0.1:1', services: ['demo'], timeout: 300 });
    const started = Date.now();
    const error = await http.get('http://demo/version').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryUnavailableError);
    expect((error as RegistryUnavailableError).code).toBe('ERR_GRAYKIT_REGISTRY_UNAVAILABLE');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test('requests to other hosts pass untouched', async () => {
    const [provider] = await providers([{ gray: false, version: 'v1' }]);
    const { http } = client();
    const response = await http.get<VersionBody>(`http://127.0.0.1:${provider.port}/version`);
    expect(response.config.url).toBe(`http://127.0.0.1:${provider.port}/version`);
    expect(response.config.gray).toBeUndefined();
    // `elsewhere` is not a registered service: not rewritten (and so it fails in DNS, as it would without graykit).
    const error = await http.get('http://elsewhere.invalid/x').catch((e: { code?: string; config?: { url?: string } }) => e);
    expect(error.config?.url).toBe('http://elsewhere.invalid/x');
  });

  test('works on an axios.create() instance with baseURL, and on the default axios', async () => {
    const [provider] = await providers([{ gray: false, version: 'v1' }]);
    const route = grayRoute({ zk: testZk(), root: fx.root, logger: silentLogger });
    open.push(route);
    const http = axios.create({ baseURL: 'http://demo' });
    http.interceptors.request.use(route);
    expect((await http.get<VersionBody>('/version', { params: { q: 1 } })).data.port).toBe(provider.port);
    const id = axios.interceptors.request.use(route);
    try {
      expect((await axios.get<VersionBody>('http://demo/version')).data.port).toBe(provider.port);
    } finally {
      axios.interceptors.request.eject(id);
    }
  });

  test.each(['als', 'cls'] as const)('sticky lane (%s): every outbound call of one incoming request stays in its lane', async (context) => {
    await providers([
      { gray: true, version: 'v2' },
      { gray: false, version: 'v1' },
      { gray: false, version: 'v1' },
    ]);
    const { http } = client({ ratio: 50, context });
    const app = express();
    app.use(grayContext({ context }));
    app.get('/fanout', async (_req, res) => {
      const versions: string[] = [];
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        versions.push((await http.get<VersionBody>('http://demo/version')).data.version);
      }
      res.json(versions);
    });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    open.push({ close: () => new Promise((resolve) => server.close(resolve)) });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const plain = axios.create();
    const lanes = { v1: 0, v2: 0 };
    const results = await Promise.all(Array.from({ length: 60 }, () => plain.get<string[]>(`${base}/fanout`)));
    for (const { data } of results) {
      expect(new Set(data).size).toBe(1); // never mixed inside one request
      lanes[data[0] as 'v1' | 'v2']++;
    }
    // Both lanes were used across requests (ratio 50): P(all 60 in one lane) = 2^-59.
    expect(lanes.v1).toBeGreaterThan(0);
    expect(lanes.v2).toBeGreaterThan(0);
    // An incoming lane header pins the lane for the whole request.
    for (const lane of ['gray', 'normal'] as const) {
      const { data } = await plain.get<string[]>(`${base}/fanout`, { headers: { 'x-gray-lane': lane } });
      expect(data).toEqual(Array(5).fill(lane === 'gray' ? 'v2' : 'v1'));
    }
  });

  test('a per-request pinned lane (config.gray.lane) wins over the ratio', async () => {
    await providers([{ gray: true, version: 'v2' }, { gray: false, version: 'v1' }]);
    const { http } = client({ ratio: 0 });
    const response = await http.get<VersionBody>('http://demo/version', { gray: { lane: 'gray' } });
    expect(response.data.version).toBe('v2');
  });
});

describe('consumer session loss (real ZooKeeper)', () => {
  test('after its session expires the consumer re-watches and still sees changes', async () => {
    const root = uniqueRoot();
    const provider = await startProvider({ root, service: 'demo', gray: false, version: 'v1' });
    const route = grayRoute({ zk: testZk(), root, logger: silentLogger });
    const http = axios.create();
    http.interceptors.request.use(route);
    try {
      expect((await http.get<VersionBody>('http://demo/version')).data.version).toBe('v1');
      const session = (route.consumer as unknown as { session: ZkSession }).session;
      const before = session.sessionId;
      await forceExpiry(session);
      await eventually(() => expect(session.sessionId && session.sessionId !== before).toBe(true), 15_000);
      // The snapshot survived the expiry, and the new session's watches see a live flag flip.
      expect((await http.get<VersionBody>('http://demo/version')).data.version).toBe('v1');
      await provider.registration.update({ version: 'v1.1' });
      await eventually(async () => expect(route.consumer.snapshot('demo')?.instances[0]?.version).toBe('v1.1'), 15_000);
    } finally {
      route.close();
      await provider.close();
    }
  });
});
