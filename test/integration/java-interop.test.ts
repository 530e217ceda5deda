/**
 * Java services on the same ZooKeeper, both ways, with the real Java client: Apache Curator 5.4's service discovery
 * (Debian's jars) in a JVM the test compiles and drives (test/support/java.ts), graykit providers and consumers,
 * real HTTP on 127.0.0.1. JVMs start slowly: one serves every test of the file, a second is started to be killed.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import express from 'express';
import { createAdmin, createConsole, createConsumer, currentLane, grayContext, grayDispatcher, grayRegister, grayRoute, runInLane, silentLogger, type GrayConsumer } from '../../src';
import type { ZkSession } from '../../src/registry/zk-session';
import { eventually, forceExpiry, recordingLogger, registryFixture, startProvider, testZk } from '../support/helpers';
import { compileJava, JavaProcess, type JavaReply } from '../support/java';

const JAVA_USER = 'java-team:s3cret';
const PROTECTED_BASE = `/services-acl-${randomBytes(4).toString('hex')}`;

interface Described {
  id: string;
  address: string;
  port: number;
  serviceType: string;
  payloadClass: string;
  metadata: Record<string, string>;
}

function instances(reply: JavaReply): Described[] {
  return reply.instances as Described[];
}

/** A Curator base path of the running test's own. */
function uniqueBase(): string {
  return `/services-${randomBytes(5).toString('hex')}`;
}

describe('Java services through Curator service discovery (real Curator 5.4, real ZooKeeper)', () => {
  const fx = registryFixture();
  let compiled: ReturnType<typeof compileJava>;
  let java: JavaProcess;

  beforeAll(async () => {
    compiled = compileJava();
    java = new JavaProcess(compiled.classpath, [testZk(), JAVA_USER, PROTECTED_BASE]);
    const ready = await java.ready;
    expect(ready).toMatchObject({ event: 'ready' });
  }, 60_000);

  afterAll(async () => {
    await java?.close();
    compiled?.dispose();
  });

  function consumerFor(base: string, extra: Parameters<typeof createConsumer>[0] = {}): GrayConsumer {
    const consumer = createConsumer({ zk: testZk(), root: fx.root, logger: silentLogger, sessionTimeout: 4000, curator: { basePath: base }, ...extra });
    fx.open.push(consumer);
    return consumer;
  }

  test('Java discovers graykit providers with ServiceDiscovery, reads the Spring payload, calls them through a ServiceProvider, and sees promotion, shutdown and session loss', async () => {
    const base = uniqueBase();
    const v1 = await startProvider({ root: fx.root, service: 'demo', version: 'v1', gray: false, curator: { basePath: base } });
    const v2 = await startProvider({ root: fx.root, service: 'demo', version: 'v2', gray: true, curator: { basePath: base } });
    fx.open.push(v1, v2);
    const found = await eventually(async () => {
      const list = instances(await java.send(`discover ${base} demo`));
      expect(list).toHaveLength(2);
      return list;
    });
    const byPort = new Map(found.map((instance) => [instance.port, instance]));
    expect(byPort.get(v1.port)).toMatchObject({
      address: '127.0.0.1',
      serviceType: 'DYNAMIC',
      payloadClass: 'org.springframework.cloud.zookeeper.discovery.ZookeeperInstance',
      metadata: { version: 'v1', hint: 'normal', gray: 'false', weight: '100', instance_status: 'UP' },
    });
    expect(byPort.get(v2.port)?.metadata).toEqual({ version: 'v2', hint: 'gray', gray: 'true', weight: '100', instance_status: 'UP' });

    // Curator's ServiceProvider (round-robin over its ServiceCache) reaches both graykit providers over HTTP.
    await java.send(`watch ${base} demo`);
    const reached = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const call = await java.send(`call ${base} demo /version`);
      expect(call.status).toBe(200);
      reached.add(JSON.parse(call.body as string).port);
    }
    expect(reached).toEqual(new Set([v1.port, v2.port]));

    // The operator's promotion (override gray: false) shows in the Java view.
    const admin = createAdmin({ zk: testZk(), root: fx.root, logger: silentLogger });
    fx.open.push(admin);
    await admin.setOverride('demo', `127.0.0.1:${v2.port}`, { gray: false });
    await eventually(async () => {
      const list = instances(await java.send(`discover ${base} demo`));
      expect(list.find((instance) => instance.port === v2.port)?.metadata).toMatchObject({ hint: 'normal', gray: 'false' });
    });

    // Session loss: the Curator znode goes with the session and comes back with the new one; Java's ServiceCache
    // sees both (a state without it, then one with it again).
    const v2Id = byPort.get(v2.port)!.id;
    const v2Session = (v2.registration as unknown as { session: ZkSession }).session;
    const owner = (await fx.admin.exists(`${base}/demo/${v2Id}`))!.ephemeralOwner;
    const before = ((await java.send(`history ${base} demo`)).history as string[][]).length;
    const recreated: string[] = [];
    v2.registration.on('javaRegistered', (path: string) => recreated.push(path));
    await forceExpiry(v2Session);
    await eventually(async () => {
      const stat = await fx.admin.exists(`${base}/demo/${v2Id}`);
      expect(stat?.ephemeralOwner).not.toBe(owner);
      const history = ((await java.send(`history ${base} demo`)).history as string[][]).slice(before);
      const gone = history.findIndex((ids) => !ids.includes(v2Id));
      expect(gone).toBeGreaterThanOrEqual(0);
      expect(history.slice(gone).some((ids) => ids.includes(v2Id))).toBe(true);
    }, 20_000);
    expect(recreated).toEqual([`${base}/demo/${v2Id}`]);
    // The override is read again by the new session: still promoted in the Java view.
    expect(instances(await java.send(`discover ${base} demo`)).find((i) => i.port === v2.port)?.metadata.hint).toBe('normal');

    // Shutdown: the Curator znode is removed before the port closes; the ServiceProvider stops offering it.
    await v1.close();
    await eventually(async () => {
      const held = instances(await java.send(`provider ${base} demo`));
      expect(held.map((instance) => instance.port)).toEqual([v2.port]);
    });
    for (let i = 0; i < 4; i++) expect(JSON.parse((await java.send(`call ${base} demo /version`)).body as string).port).toBe(v2.port);
  });

  test('curator.only registers where Java looks alone; a provider in both layouts is one instance to a graykit consumer', async () => {
    const base = uniqueBase();
    const logger = recordingLogger();
    const only = await startProvider({ root: fx.root, service: 'mixed', version: 'v3', gray: true, curator: { basePath: base, only: true } });
    const both = await startProvider({ root: fx.root, service: 'mixed', version: 'v1', curator: { basePath: base } });
    fx.open.push(only, both);
    expect(only.registration.path).toMatch(new RegExp(`^${base}/mixed/[0-9a-f-]{36}$`));
    expect(await fx.admin.exists(`${fx.root}/services/mixed/instances/127.0.0.1:${only.port}`)).toBeNull();
    await eventually(async () => expect(instances(await java.send(`discover ${base} mixed`)).map((i) => i.port).sort()).toEqual([only.port, both.port].sort()));
    const consumer = consumerFor(base, { logger });
    await consumer.whenReady('mixed');
    const routed = consumer.snapshot('mixed')!.instances;
    expect(routed.map((i) => [i.port, i.gray, i.version]).sort()).toEqual([[only.port, true, 'v3'], [both.port, false, 'v1']].sort());
    expect(routed.find((i) => i.port === both.port)?.path).toBe(`${fx.root}/services/mixed/instances/127.0.0.1:${both.port}`);
    expect(logger.lines).toEqual([]);

    // The console, with the same option, shows the Curator-only instance in its lane beside graykit's own.
    const grayConsole = createConsole({ zk: testZk(), root: fx.root, readOnly: true, logger: silentLogger, curator: { basePath: base } });
    fx.open.push(grayConsole);
    const { port } = await grayConsole.listen(0, '127.0.0.1');
    await eventually(async () => {
      const detail = (await (await fetch(`http://127.0.0.1:${port}/api/services/mixed`)).json()) as { instances: Array<{ id: string; lane: string | null; version?: string }> };
      expect(detail.instances.map((i) => [i.id, i.lane, i.version]).sort()).toEqual([[`127.0.0.1:${only.port}`, 'gray', 'v3'], [`127.0.0.1:${both.port}`, 'normal', 'v1']].sort());
    });
  });

  test('a graykit consumer routes to Java servers at the ratio, moves with the ratio, drops a killed JVM and skips OUT_OF_SERVICE', async () => {
    const base = uniqueBase();
    const logger = recordingLogger();
    const v1 = await java.send(`serve ${base} orders v1 normal UP`);
    const second = new JavaProcess(compiled.classpath, [testZk()]);
    fx.open.push({ close: () => second.kill() });
    await second.ready;
    const v2 = await second.send(`serve ${base} orders v2 gray UP`);
    const admin = createAdmin({ zk: testZk(), root: fx.root, logger: silentLogger });
    fx.open.push(admin);
    await admin.setRatio('orders', 20);
    const consumer = consumerFor(base, { logger });
    const http = axios.create();
    http.interceptors.request.use(grayRoute(consumer));
    await eventually(async () => {
      await consumer.whenReady('orders');
      expect(consumer.snapshot('orders')?.instances.map((i) => i.port).sort()).toEqual([v1.port, v2.port].sort());
      expect(consumer.ratioFor('orders')).toBe(20);
    });

    /** n requests, 8 at a time: how many reached the v2 (gray) server. */
    async function grayShare(n: number): Promise<number> {
      let gray = 0;
      for (let i = 0; i < n; i += 8) {
        const versions = await Promise.all(Array.from({ length: Math.min(8, n - i) }, () => http.get('http://orders/version').then((res) => res.data.version as string)));
        gray += versions.filter((version) => version === 'v2').length;
      }
      return gray;
    }
    // 400 draws at p: the count is within 4 standard deviations of 400p (a false failure about 1 in 16 000).
    const n = 400;
    const bounds = (p: number) => [n * p - 4 * Math.sqrt(n * p * (1 - p)), n * p + 4 * Math.sqrt(n * p * (1 - p))];
    const at20 = await grayShare(n);
    expect(at20).toBeGreaterThanOrEqual(bounds(0.2)[0]);
    expect(at20).toBeLessThanOrEqual(bounds(0.2)[1]);
    await admin.setRatio('orders', 80);
    await eventually(() => expect(consumer.ratioFor('orders')).toBe(80));
    const at80 = await grayShare(n);
    expect(at80).toBeGreaterThanOrEqual(bounds(0.8)[0]);
    expect(at80).toBeLessThanOrEqual(bounds(0.8)[1]);
    process.stdout.write(`java-interop split: ratio 20 -> ${at20}/${n} to v2, ratio 80 -> ${at80}/${n} to v2\n`);

    // The JVM serving v2 is killed: its ephemeral znode goes with its session, and the consumer stops routing to it.
    await second.kill();
    await eventually(() => expect(consumer.snapshot('orders')?.instances.map((i) => i.port)).toEqual([v1.port]), 20_000);
    for (let i = 0; i < 10; i++) expect((await http.get('http://orders/version')).data.port).toBe(v1.port);

    // A server whose instance_status turns OUT_OF_SERVICE is skipped, with one warning naming its znode.
    const extra = await java.send(`serve ${base} orders v1 normal UP`);
    await eventually(() => expect(consumer.snapshot('orders')?.instances.map((i) => i.port).sort()).toEqual([v1.port, extra.port].sort()));
    await java.send(`status ${base} ${extra.id} OUT_OF_SERVICE`);
    await eventually(() => expect(consumer.snapshot('orders')?.instances.map((i) => i.port)).toEqual([v1.port]));
    const warned = logger.lines.filter((line) => line.includes(`${base}/orders/${extra.id}`));
    expect(warned).toEqual([expect.stringContaining('instance_status is "OUT_OF_SERVICE", not UP')]);
    for (let i = 0; i < 10; i++) expect((await http.get('http://orders/version')).data.port).toBe(v1.port);
  });

  test('a mixed chain Node -> Java -> Node keeps one lane end to end', async () => {
    const base = uniqueBase();
    // Two graykit providers of the tail, registered for Java too; each answers with the lane its request carried.
    const tails: Array<{ port: number; close(): Promise<void> }> = [];
    for (const gray of [false, true]) {
      const app = express();
      const register = grayRegister({ zk: testZk(), root: fx.root, service: 'tail', host: '127.0.0.1', gray, version: gray ? 'v2' : 'v1', logger: silentLogger, sessionTimeout: 4000, drainMs: 0, curator: { basePath: base }, javaHeaders: true, laneFromInstance: false });
      app.use(register);
      app.get('/lane', (_req, res) => res.json({ gray, lane: currentLane() ?? null }));
      const server = await new Promise<import('node:http').Server>((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
      await register.registration.whenRegistered();
      const tail = { port: (server.address() as AddressInfo).port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
      tails.push(tail);
      fx.open.push(tail);
    }
    // The Java hop: a normal and a gray instance, in the Curator layout.
    const hop1 = await java.send(`serve ${base} hop v1 normal UP`);
    const hop2 = await java.send(`serve ${base} hop v2 gray UP`);
    const admin = createAdmin({ zk: testZk(), root: fx.root, logger: silentLogger });
    fx.open.push(admin);
    await admin.setRatio('hop', 50);
    const interceptor = grayRoute({ zk: testZk(), root: fx.root, logger: silentLogger, sessionTimeout: 4000, curator: { basePath: base }, javaHeaders: true });
    fx.open.push(interceptor);
    const { consumer } = interceptor;
    const http = axios.create();
    http.interceptors.request.use(interceptor);
    await eventually(async () => {
      await consumer.whenReady('hop');
      expect(consumer.snapshot('hop')?.instances.map((i) => i.port).sort()).toEqual([hop1.port, hop2.port].sort());
      expect(consumer.ratioFor('hop')).toBe(50);
      expect(instances(await java.send(`provider ${base} tail`))).toHaveLength(2);
    });

    type Chain = { hint: string; headers: Record<string, string>; downstream: { gray: boolean; lane: string | null } };
    const keeps = (sent: string, body: Chain) =>
      body.hint === sent && body.headers['x-gray-lane'] === sent && body.headers['x-sc-lb-hint'] === sent && (body.downstream.gray ? 'gray' : 'normal') === sent && body.downstream.lane === sent;
    const n = 40;
    let kept = 0;
    const lanes = new Set<string>();
    for (let i = 0; i < n; i++) {
      const res = await http.get('http://hop/chain?to=tail');
      const sent = res.config.gray?.stickyLane as string;
      lanes.add(sent);
      if (keeps(sent, res.data as Chain)) kept++;
    }
    // Node's fetch through grayDispatcher, on the same consumer: each lane pinned in turn.
    const dispatcher = grayDispatcher({ consumer, javaHeaders: true });
    fx.open.push({ close: () => dispatcher.close() });
    let keptByFetch = 0;
    for (let i = 0; i < 10; i++) {
      const lane = i % 2 === 0 ? 'gray' : 'normal';
      const body = await runInLane(lane, async () => (await fetch('http://hop/chain?to=tail', { dispatcher } as RequestInit)).json());
      if (keeps(lane, body as Chain)) keptByFetch++;
    }
    process.stdout.write(`java-interop chain: ${kept}/${n} (axios) and ${keptByFetch}/10 (fetch) requests kept one lane over Node -> Java -> Node (lanes seen: ${[...lanes].join(', ')})\n`);
    expect(lanes).toEqual(new Set(['gray', 'normal']));
    expect(kept).toBe(n);
    expect(keptByFetch).toBe(10);

    // A request from a Java service that brings its lane in X-SC-LB-Hint alone: taken under trust, ignored without.
    const direct = async (port: number) => (await fetch(`http://127.0.0.1:${port}/lane`, { headers: { 'X-SC-LB-Hint': 'gray' } })).json() as Promise<{ lane: string | null }>;
    expect(await direct(tails[0].port)).toMatchObject({ gray: false, lane: 'gray' });
    const untrusted = express();
    untrusted.use(grayContext({ javaHeaders: true, trust: false }));
    untrusted.get('/lane', (_req, res) => res.json({ lane: currentLane() ?? null }));
    const server = await new Promise<import('node:http').Server>((resolve) => {
      const s = untrusted.listen(0, '127.0.0.1', () => resolve(s));
    });
    fx.open.push({ close: () => new Promise((resolve) => server.close(resolve)) });
    expect(await direct((server.address() as AddressInfo).port)).toEqual({ lane: null });
  });

  test('hostile and foreign Curator data: size, malformed, prototype pollution, persistent, allowed networks — skipped with one warning per znode', async () => {
    const base = uniqueBase();
    const logger = recordingLogger();
    const dir = `${base}/foreign`;
    await fx.admin.mkdirp(dir);
    const instance = (id: string, address: string, port: number, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ name: 'foreign', id, address, port, sslPort: null, payload: { '@class': 'x', id, name: 'foreign', metadata: { instance_status: 'UP', version: 'v1' } }, serviceType: 'DYNAMIC', ...extra });
    const bad: Record<string, [string, 'ephemeral' | 'persistent', string]> = {
      big: [instance('big', '127.0.0.1', 9001, { pad: 'x'.repeat(17_000) }), 'ephemeral', 'over the 16384-byte limit'],
      malformed: ['{"name":"foreign",', 'ephemeral', 'not JSON'],
      proto: ['{"name":"foreign","__proto__":{"address":"127.0.0.1","port":9003}}', 'ephemeral', '"address" is undefined'],
      static: [instance('static', '127.0.0.1', 9004, { serviceType: 'STATIC' }), 'persistent', 'not an ephemeral registration'],
      outside: [instance('outside', '10.1.2.3', 9005), 'ephemeral', "outside the consumer's allowedNetworks"],
      badweight: [instance('badweight', '127.0.0.1', 9006, { payload: { metadata: { weight: '1e308' } } }), 'ephemeral', 'metadata "weight"'],
    };
    for (const [id, [data, mode]] of Object.entries(bad)) await fx.admin.create(`${dir}/${id}`, data, mode);
    // A good one whose metadata tries prototype pollution: routed, and nothing polluted.
    const polluting = '{"name":"foreign","id":"good","address":"127.0.0.1","port":9010,"payload":{"metadata":{"__proto__":{"polluted":"yes"},"constructor":"x","hint":"gray","version":"v2"}}}';
    await fx.admin.create(`${dir}/good`, polluting, 'ephemeral');

    const consumer = consumerFor(base, { logger, allowedNetworks: ['127.0.0.0/8'] });
    await consumer.whenReady('foreign');
    expect(consumer.snapshot('foreign')?.instances.map((i) => i.id)).toEqual(['127.0.0.1:9010']);
    const good = consumer.snapshot('foreign')!.instances[0];
    expect(good).toMatchObject({ gray: true, version: 'v2' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(good.meta.metadata)).toBeNull();
    expect((good.meta.metadata as Record<string, unknown>).polluted).toBeUndefined();
    // A later change reads the directory again: still one warning per skipped znode, naming it and the reason.
    await fx.admin.create(`${dir}/good2`, instance('good2', '127.0.0.1', 9011), 'ephemeral');
    await eventually(() => expect(consumer.snapshot('foreign')?.instances).toHaveLength(2));
    for (const [id, [, , reason]] of Object.entries(bad)) {
      const lines = logger.lines.filter((line) => line.includes(`${dir}/${id}:`));
      expect(lines).toEqual([expect.stringContaining(reason)]);
    }
    expect(logger.lines).toHaveLength(Object.keys(bad).length);

    // Persistent registrations are routed with the explicit opt-in only.
    const optIn = consumerFor(base, { curator: { basePath: base, persistent: true }, allowedNetworks: ['127.0.0.0/8'] });
    await optIn.whenReady('foreign');
    expect(optIn.snapshot('foreign')?.instances.map((i) => i.id)).toContain('127.0.0.1:9004');
  });

  test('a digest-protected base path is read with the consumer credentials, and reported once without them', async () => {
    const served = await java.send(`serve ${PROTECTED_BASE} secure v1 normal UP`);
    // Without credentials: NOAUTH, said once with the fix; graykit's own instances (none here) still load.
    const logger = recordingLogger();
    const anonymous = consumerFor(PROTECTED_BASE, { logger, timeout: 3000 });
    await anonymous.servicesReady();
    expect(anonymous.isService('secure')).toBe(false);
    await anonymous.whenReady('secure');
    expect(() => anonymous.route('secure')).toThrow(/no live instance/);
    const denied = logger.lines.filter((line) => line.includes('NOAUTH'));
    expect(denied).toEqual([
      expect.stringContaining(`cannot list the Java services at ${PROTECTED_BASE}`),
      expect.stringContaining(`cannot read the Java registrations at ${PROTECTED_BASE}/secure`),
    ]);
    expect(denied[1]).toContain('auth');
    // With the Java team's credentials: read, routed, and called.
    const reader = consumerFor(PROTECTED_BASE, { auth: JAVA_USER });
    await reader.servicesReady();
    expect(reader.isService('secure')).toBe(true);
    await eventually(async () => {
      await reader.whenReady('secure');
      expect(reader.snapshot('secure')?.instances.map((i) => i.port)).toEqual([served.port]);
    });
    const http = axios.create();
    http.interceptors.request.use(grayRoute(reader));
    expect((await http.get('http://secure/version')).data).toMatchObject({ version: 'v1', port: served.port });
  });
});
