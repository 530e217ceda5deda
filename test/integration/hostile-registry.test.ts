/**
 * Hostile input end to end: a registry holding hostile znodes (names a URL parser reads as other
 * addresses, data nested deep enough to break JSON.stringify, oversized data) next to good ones, a real consumer
 * reading it, and the real interceptor deciding on 10 000 generated request URLs against that fixed snapshot.
 * The fuzz calls the interceptor itself and nothing is sent; requests through axios are captured by an adapter where
 * they would leave, so no request goes to a generated or unreachable address.
 */
import axios, { AxiosHeaders, type AxiosAdapter, type InternalAxiosRequestConfig } from 'axios';
import fc from 'fast-check';
import { createConsumer, grayRoute, NoInstanceError, type GrayConsumer, type GrayRouteInterceptor } from '../../src';
import { instancePath } from '../../src/registry/paths';
import { combineUrl } from '../../src/consumer/rewrite';
import type { ZkSession } from '../../src/registry/zk-session';
import { effectivePort, FUZZ_RUNS, requestish } from '../support/hostile';
import { adminSession, eventually, recordingLogger, startProvider, uniqueRoot, testZk, type TestProvider } from '../support/helpers';

/** Znode names that must never be routed to: each means another address than it seems, or none. */
const HOSTILE_IDS = ['2130706433:80', '0x7f.1:80', '010.0.0.1:80', '1.2.3:80', '[fe80::1%eth0]:80', 'xn--a:80', 'evil.example@x:80', 'a:0', 'a:65536', 'nohost'];
/** Valid names whose data is hostile. */
const HOSTILE_DATA: Array<[string, string]> = [
  ['10.9.9.1:80', `{"gray":${'['.repeat(6000)}${']'.repeat(6000)}}`],
  ['10.9.9.2:80', JSON.stringify({ gray: false, pad: 'x'.repeat(17_000) })],
  ['10.9.9.3:80', '{"weight":1e308}'],
  ['10.9.9.4:80', '{"gray":"yes"}'],
  ['10.9.9.5:80', 'not json'],
];
/** Valid instances, routable, but never called: the fuzz below captures requests before they leave. */
const VALID: Record<string, string[]> = {
  demo: ['127.0.0.1:18081', '[::1]:18082', 'host-a.internal:18083'],
  'api.internal': ['127.0.0.1:18084'],
};

function isGrayKitNoInstance(error: unknown, service: string): boolean {
  return error instanceof NoInstanceError && error.service === service;
}

describe('a hostile registry (real ZooKeeper, real consumer)', () => {
  let root: string;
  let raw: ZkSession;
  let consumer: GrayConsumer;
  let route: GrayRouteInterceptor;
  let provider: TestProvider;
  const log = recordingLogger();

  beforeAll(async () => {
    root = uniqueRoot();
    raw = adminSession();
    await raw.whenConnected(10_000);
    provider = await startProvider({ root, service: 'demo', version: 'v1' });
    const write = async (service: string, id: string, data: string) => {
      await raw.mkdirp(`${root}/services/${service}/instances`);
      await raw.create(instancePath(root, service, id), data, 'ephemeral');
    };
    for (const id of HOSTILE_IDS) await write('demo', id, '{"gray":false}');
    for (const [id, data] of HOSTILE_DATA) await write('demo', id, data);
    for (const [service, ids] of Object.entries(VALID)) for (const id of ids) await write(service, id, '{"gray":false}');
    await raw.mkdirp(`${root}/services/empty/instances`);
    consumer = createConsumer({ zk: testZk(), root, logger: log });
    route = grayRoute(consumer);
    await consumer.resolve('demo');
    await consumer.resolve('api.internal');
    await consumer.resolve('empty').catch((error) => {
      if (!isGrayKitNoInstance(error, 'empty')) throw error;
    });
    await consumer.servicesReady();
  }, 60_000);

  afterAll(async () => {
    consumer.close();
    raw.close();
    await provider.close();
  });

  test('only the valid instances are in the snapshot; each hostile znode is warned about once, naming service and znode', async () => {
    const ids = consumer.snapshot('demo')!.instances.map((i) => i.id);
    expect(ids.sort()).toEqual([...VALID.demo, `127.0.0.1:${provider.port}`].sort());
    for (const id of [...HOSTILE_IDS, ...HOSTILE_DATA.map(([hostile]) => hostile)]) {
      const path = instancePath(root, 'demo', id);
      expect(log.lines.filter((line) => line.startsWith('warn:') && line.includes('service "demo"') && line.includes(path))).toHaveLength(1);
    }
  });

  test('a deeply nested value does not stall the service: later changes still reach the snapshot', async () => {
    await raw.create(instancePath(root, 'demo', '10.9.9.9:80'), `{"version":${'{"a":'.repeat(2500)}1${'}'.repeat(2500)}}`, 'ephemeral');
    await raw.setData(instancePath(root, 'demo', 'host-a.internal:18083'), '{"gray":true}');
    await eventually(() => expect(consumer.snapshot('demo')!.instances.find((i) => i.id === 'host-a.internal:18083')?.gray).toBe(true));
    expect(consumer.snapshot('demo')!.instances.some((i) => i.id === '10.9.9.9:80')).toBe(false);
    // A real request through the interceptor, pinned to the gray lane: host-a.internal is its only instance.
    const seen: string[] = [];
    const http = axios.create({ adapter: captureTo(seen) });
    http.interceptors.request.use(route);
    await http.get('http://demo/version?x=1', { gray: { lane: 'gray' } });
    expect(seen).toEqual(['http://host-a.internal:18083/version?x=1']);
    await raw.setData(instancePath(root, 'demo', 'host-a.internal:18083'), '{"gray":false}');
    await eventually(() => expect(consumer.snapshot('demo')!.instances.find((i) => i.id === 'host-a.internal:18083')?.gray).toBe(false));
  });

  test(`fuzz: on ${FUZZ_RUNS} generated requests the interceptor throws nothing but NoInstanceError for an empty service, and rewrites only registered names to validated host:port over http(s)`, async () => {
    const services = ['demo', 'api.internal', 'empty'];
    const routable = new Map(services.map((service) => [service, new Set((consumer.snapshot(service)?.instances ?? []).map((i) => `${i.host.includes(':') ? `[${i.host}]` : i.host}:${i.port}`))]));
    let unrouted = 0;
    let rewritten = 0;
    await fc.assert(
      fc.asyncProperty(requestish(['demo', 'api.internal', 'empty', 'not-registered', 'localhost']), async ({ url, baseURL }) => {
        const config = { url, baseURL, method: 'get', headers: new AxiosHeaders() } as InternalAxiosRequestConfig;
        // What axios would request without graykit, for comparison (core/buildFullPath.js).
        const absolute = url !== undefined && /^([a-z][a-z\d+\-.]*:)?\/\//i.test(url);
        const before = baseURL && !absolute ? combineUrl(baseURL, url ?? '') : url;
        let result: InternalAxiosRequestConfig;
        try {
          result = await route(config);
        } catch (error) {
          if (isGrayKitNoInstance(error, 'empty')) return;
          throw error;
        }
        if (result.url === url && result.baseURL === baseURL) {
          unrouted++;
          expect(result.gray?.instance).toBeUndefined();
          return;
        }
        rewritten++;
        // Rewritten: the original's real host was a registered service, and the new URL is one of its instances.
        const original = new URL(before!);
        expect(services).toContain(original.hostname);
        expect(result.baseURL).toBeUndefined();
        const after = new URL(result.url!);
        expect(['http:', 'https:']).toContain(after.protocol);
        expect(after.protocol).toBe(original.protocol);
        expect(routable.get(original.hostname)!.has(`${after.hostname}:${effectivePort(after)}`)).toBe(true);
        expect([after.pathname, after.search, after.hash]).toEqual([original.pathname, original.search, original.hash]);
        expect(result.gray?.service).toBe(original.hostname);
      }),
      { numRuns: FUZZ_RUNS },
    );
    // The generator reached both outcomes often (a fuzz that never rewrites would prove nothing).
    expect(rewritten).toBeGreaterThan(FUZZ_RUNS / 20);
    expect(unrouted).toBeGreaterThan(FUZZ_RUNS / 20);
    // Nothing unregistered was turned into a registry lookup: only the three services are known to the consumer.
    for (const host of ['not-registered', 'evil.example', 'localhost']) expect(consumer.snapshot(host)).toBeUndefined();
    // And the hostile znodes were still warned about only once each, after all those routings.
    expect(log.lines.filter((line) => line.includes(instancePath(root, 'demo', '2130706433:80')))).toHaveLength(1);
  }, 120_000);

  test('through axios: a parser-differential URL and an unregistered host pass untouched, a baseURL request is rewritten', async () => {
    const seen: string[] = [];
    const http = axios.create({ adapter: captureTo(seen) });
    http.interceptors.request.use(route);
    await http.get('http://evil.example\\@demo/x');
    await http.get('http://not-registered/x');
    await http.get('/x', { baseURL: 'http://api.internal/v1/' });
    expect(seen).toEqual(['http://evil.example\\@demo/x', 'http://not-registered/x', 'http://127.0.0.1:18084/v1/x']);
  });
});

/** An axios adapter that records the URL a request would be sent to, and answers 204 without any I/O. */
function captureTo(seen: string[]): AxiosAdapter {
  return async (config) => {
    seen.push(String(config.url));
    return { data: null, status: 204, statusText: 'No Content', headers: {}, config };
  };
}
