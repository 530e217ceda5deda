/**
 * Named lanes on a real ZooKeeper with real servers on 127.0.0.1: a call of lane L reaches L's instances, else base;
 * strict lanes per lane; a request that reaches an instance of L takes L downstream; hostile lane names in headers,
 * baggage and registry data are refused, never a metrics label, never a crash.
 */
import axios from 'axios';
import express from 'express';
import { ConflictError, consumerMetrics, createAdmin, createConsumer, grayRegister, grayRoute, NoInstanceError, silentLogger, useGray, grayContext, type GrayConsumer } from '../../src';
import { laneInstancePath, instancePath, rolloutPath } from '../../src/registry/paths';
import { rolloutDocument } from '../support/rollout-document';
import { bucketLaneOf } from '../../src/router/lane-policy';
import { closeServer, eventually, listen, recordingLogger, registryFixture, startProvider, testZk } from '../support/helpers';

describe('named lanes (real ZooKeeper, real servers)', () => {
  const fx = registryFixture();
  const { open } = fx;

  async function provider(service: string, version: string, lane?: string) {
    const started = await startProvider({ root: fx.root, service, version, lane });
    open.push(started);
    return started;
  }

  /** An admin handle for the running test, closed after it. */
  function operator() {
    const admin = createAdmin({ zk: testZk(), root: fx.root, logger: silentLogger });
    open.push(admin);
    return admin;
  }

  /** Instances of s in base (v1), gray (v2) and canary (v-canary), and an admin handle. */
  async function threeLanes() {
    await provider('s', 'v1');
    await provider('s', 'v2', 'gray');
    await provider('s', 'v-canary', 'canary');
    return operator();
  }

  async function consumerOf(service: string, instances: number, logger = silentLogger): Promise<GrayConsumer> {
    const consumer = createConsumer({ zk: testZk(), root: fx.root, logger, services: [service] });
    open.push(consumer);
    await eventually(async () => {
      await consumer.whenReady(service);
      expect(consumer.snapshot(service)?.instances).toHaveLength(instances);
    });
    return consumer;
  }

  /** Versions served to `n` routes of `lane` (undefined: drawn by shares). */
  function served(consumer: GrayConsumer, service: string, lane: string | undefined, n = 60): Record<string, number> {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const version = consumer.route(service, lane)!.instance.version!;
      counts[version] = (counts[version] ?? 0) + 1;
    }
    return counts;
  }

  test('a lane reaches its own instances, else base; no other lane, and no draw, ever reaches a named lane', async () => {
    const pr = await provider('s', 'v-pr', 'pr-42');
    await provider('s', 'v1');
    await provider('s', 'v2', 'gray');
    expect(pr.registration.path).toBe(laneInstancePath(fx.root, 's', `127.0.0.1:${pr.port}`));
    const admin = operator();
    await admin.setConfig('s', { ratio: 50 });
    const consumer = await consumerOf('s', 3);
    await eventually(() => expect(consumer.ratioFor('s')).toBe(50));
    expect(consumer.snapshot('s')!.instances.map((instance) => instance.lane).sort()).toEqual(['gray', 'normal', 'pr-42']);
    expect(served(consumer, 's', 'pr-42')).toEqual({ 'v-pr': 60 });
    expect(served(consumer, 's', 'pr-7')).toEqual({ v1: 60 });
    expect(served(consumer, 's', 'normal')).toEqual({ v1: 60 });
    expect(served(consumer, 's', 'gray')).toEqual({ v2: 60 });
    const drawn = served(consumer, 's', undefined, 400);
    expect(drawn['v-pr']).toBeUndefined();
    expect(drawn.v1 + drawn.v2).toBe(400);
  }, 30_000);

  test('shares: the admin sets a lane share with compare-and-set; consumers draw by it and keep each bucketed user in its lane while other shares change', async () => {
    const admin = await threeLanes();
    const first = await admin.setRatio('s', 10);
    await expect(admin.setShare('s', 'canary', 30, first.version + 5)).rejects.toBeInstanceOf(ConflictError);
    await admin.setShare('s', 'canary', 30, first.version);
    await expect(admin.setShare('s', 'pr-42', 61)).rejects.toThrow(/add up to 101, more than 100/);
    const consumer = await consumerOf('s', 3);
    await eventually(() => expect(consumer.snapshot('s')!.config.lanes).toEqual({ canary: 30 }));
    const users = Array.from({ length: 400 }, (_, i) => `user-${i}`);
    const laneOf = (user: string) => bucketLaneOf(user, consumer.splitFor('s'));
    const before = new Map(users.map((user) => [user, laneOf(user)]));
    const count = (lane: string) => users.filter((user) => before.get(user) === lane).length;
    expect(count('canary')).toBeGreaterThan(80); // about 30 % of 400
    expect(count('gray')).toBeGreaterThan(20); // about 10 %
    const drawn = served(consumer, 's', undefined, 1000);
    expect(drawn['v-canary']).toBeGreaterThan(220);
    expect(drawn['v-canary']).toBeLessThan(380);
    // Raising gray moves users only from base into gray: every canary user stays a canary user.
    await admin.setRatio('s', 40);
    await eventually(() => expect(consumer.ratioFor('s')).toBe(40));
    for (const user of users) {
      const now = laneOf(user);
      if (now !== before.get(user)) expect([user, before.get(user), now]).toEqual([user, 'normal', 'gray']);
    }
  }, 30_000);

  test('a crashed rollout of a named lane: consumers route that lane\'s share at 0 and keep the ratio; a crashed gray rollout still zeroes the ratio', async () => {
    const admin = await threeLanes();
    await admin.setRatio('s', 20);
    await admin.setShare('s', 'canary', 30);
    const consumer = await consumerOf('s', 3);
    await eventually(() => expect(consumer.splitFor('s').shares).toEqual([{ lane: 'gray', share: 20 }, { lane: 'canary', share: 30 }]));
    // A rollout of canary that is running with no lease: its process died (as graykit rollout --lane canary records it).
    const crashed = rolloutDocument({ id: 'r1', state: 'running', service: 's' });
    crashed.options.lane = 'canary';
    await fx.admin.mkdirp(`${fx.root}/services/s`);
    await fx.admin.create(rolloutPath(fx.root, 's'), JSON.stringify(crashed), 'persistent');
    await eventually(() => expect(consumer.snapshot('s')).toMatchObject({ rolloutCrashed: true, rolloutLane: 'canary' }));
    expect(consumer.splitFor('s').shares).toEqual([{ lane: 'gray', share: 20 }]);
    expect(consumer.ratioFor('s')).toBe(20);
    expect(served(consumer, 's', undefined, 500)['v-canary']).toBeUndefined();
    // The same document for gray (no lane recorded): the ratio goes to 0, canary keeps its share.
    await fx.admin.setData(rolloutPath(fx.root, 's'), JSON.stringify(rolloutDocument({ id: 'r2', state: 'running', service: 's' })));
    await eventually(() => expect(consumer.snapshot('s')).toMatchObject({ rolloutCrashed: true }));
    await eventually(() => expect(consumer.splitFor('s').shares).toEqual([{ lane: 'canary', share: 30 }]));
    expect(consumer.ratioFor('s')).toBe(0);
  }, 30_000);

  test('strict lanes per lane: a lane without instances fails with NoInstanceError naming the lane and the service', async () => {
    await provider('s', 'v1');
    await provider('s', 'v-pr', 'pr-42');
    const admin = operator();
    await admin.setConfig('s', { fallback: 'none' });
    const consumer = await consumerOf('s', 2);
    await eventually(() => expect(consumer.snapshot('s')!.config.fallback).toBe('none'));
    expect(served(consumer, 's', 'pr-42')).toEqual({ 'v-pr': 60 });
    expect(served(consumer, 's', 'normal')).toEqual({ v1: 60 });
    let failure: unknown;
    try {
      consumer.route('s', 'pr-7');
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(NoInstanceError);
    expect(failure).toMatchObject({ service: 's', lane: 'pr-7', code: 'ERR_GRAYKIT_NO_INSTANCE' });
    expect((failure as Error).message).toMatch(/service "s" has no instance to route to: no pr-7 instance, and the service's config says "fallback": "none"/);
  }, 30_000);

  test('a preview lane that only one service has: the request keeps its lane (header in, instance-origin), every other hop answers from base, no warning per call', async () => {
    const logger = recordingLogger();
    await provider('users', 'users-v1');
    const consumer = createConsumer({ zk: testZk(), root: fx.root, logger, services: ['users'] });
    open.push(consumer);
    const client = axios.create();
    client.interceptors.request.use(grayRoute(consumer));
    /** An `orders` instance of `lane` whose GET /chain calls users and says who served what, and in which lane. */
    const orders = async (version: string, lane?: string) => {
      const app = express();
      const register = grayRegister({ zk: testZk(), root: fx.root, service: 'orders', version, lane, host: '127.0.0.1', logger: silentLogger, drainMs: 0 });
      app.use(register);
      app.get('/chain', async (_req, res) => {
        const below = await client.get<{ version: string }>('http://users/version');
        res.json({ orders: version, users: below.data.version, lane: below.config.gray?.stickyLane });
      });
      const { server, base } = await listen(app);
      open.push({ close: () => closeServer(server) });
      await register.registration.whenRegistered();
      return base;
    };
    const preview = await orders('orders-pr', 'pr-42');
    const edge = createConsumer({ zk: testZk(), root: fx.root, logger: silentLogger, services: ['orders'] });
    open.push(edge);
    const base = await orders('orders-v1');
    await eventually(async () => {
      await edge.whenReady('orders');
      expect(edge.snapshot('orders')?.instances).toHaveLength(2);
    });
    const edgeClient = axios.create();
    edgeClient.interceptors.request.use(grayRoute(edge));
    for (let i = 0; i < 20; i++) {
      // The edge's call is pinned to pr-42 (as its own incoming header would); orders gets it as a header.
      const viaHeader = await edgeClient.get('http://orders/chain', { gray: { lane: 'pr-42' } });
      expect(viaHeader.data).toEqual({ orders: 'orders-pr', users: 'users-v1', lane: 'pr-42' });
      const plain = await edgeClient.get('http://orders/chain');
      expect(plain.data).toEqual({ orders: 'orders-v1', users: 'users-v1', lane: 'normal' });
    }
    // A request that reaches the preview instance directly, without a lane, takes the instance's lane downstream.
    expect((await axios.get(`${preview}/chain`)).data).toEqual({ orders: 'orders-pr', users: 'users-v1', lane: 'pr-42' });
    expect((await axios.get(`${base}/chain`)).data).toEqual({ orders: 'orders-v1', users: 'users-v1', lane: 'normal' });
    expect(logger.lines).toEqual([]);
  }, 30_000);

  test('hostile lane names: registry data skipped with one warning each; headers and baggage refused; never a metrics label; never a crash', async () => {
    const logger = recordingLogger();
    const base = await provider('s', 'v1');
    await provider('s', 'v-pr', 'pr-42');
    const hostile = { 'PR-42': laneInstancePath(fx.root, 's', '127.0.0.1:1'), ['x'.repeat(80)]: instancePath(fx.root, 's', '127.0.0.1:2'), 'a,b=c': laneInstancePath(fx.root, 's', '127.0.0.1:3') };
    // An instance znode needs a live session: these are owned by the admin's, as a provider's would be.
    for (const [lane, path] of Object.entries(hostile)) await fx.admin.create(path, JSON.stringify({ gray: false, lane }), 'ephemeral');
    const consumer = await consumerOf('s', 2, logger);
    const admin = operator();
    await admin.setConfig('s', { ratio: 0 }); // a change that rebuilds the snapshot: the warnings are not said again
    await eventually(() => expect(consumer.ratioFor('s')).toBe(0));
    await eventually(() => expect(logger.lines.filter((line) => /"lane" is/.test(line))).toHaveLength(3));
    for (const path of Object.values(hostile)) expect(logger.lines.filter((line) => line.includes(path))).toHaveLength(1);

    const metrics = consumerMetrics(consumer);
    open.push(metrics);
    const client = axios.create();
    open.push(useGray(client, { consumer }));
    const providerMetrics = await startProvider({ root: fx.root, service: 'm', version: 'v1', metricsPath: '/metrics' });
    open.push(providerMetrics);
    // A hop that takes the lane of its incoming request (header or baggage) for its call to s.
    const hop = express();
    hop.use(grayContext());
    hop.get('/hop', async (_req, res) => void res.json((await client.get<{ version: string }>('http://s/version')).data.version));
    const { server, base: hopBase } = await listen(hop);
    open.push({ close: () => closeServer(server) });
    const names = ['PR-42', 'evil-1', 'constructor', '__proto__', 'tostring', 'evil-2', 'x'.repeat(64), 'a\tb', '../../x', '%00', 'gray.lane=pr-42', 'pr-42;x'];
    const versions: string[] = [];
    for (const name of names) {
      versions.push((await axios.get(`${hopBase}/hop`, { headers: { 'x-gray-lane': name } })).data);
      versions.push((await axios.get(`${hopBase}/hop`, { headers: { baggage: `gray.lane=${encodeURIComponent(name)}` } })).data);
      await axios.get(`http://127.0.0.1:${providerMetrics.port}/version`, { headers: { 'x-gray-lane': name } });
    }
    // PR-42 is pr-42 in another case (lane headers are read case-insensitively, as gray/GRAY always were): its lane.
    expect(versions).toEqual(['v-pr', 'v-pr', ...Array<string>(names.length * 2 - 2).fill('v1')]);
    const consumerLanes = new Set((await metrics.registry.getMetricsAsJSON()).flatMap((metric) => metric.values.map((value) => value.labels.lane)));
    expect([...consumerLanes].sort()).toEqual(['normal', 'pr-42']);
    const page = (await axios.get<string>(`http://127.0.0.1:${providerMetrics.port}/metrics`)).data;
    const providerLanes = new Set([...page.matchAll(/lane="([^"]*)"/g)].map((match) => match[1]));
    expect([...providerLanes]).toEqual(['normal']); // the provider is a base instance: no other lane is its to count
    expect((await axios.get(`http://127.0.0.1:${base.port}/version`)).status).toBe(200);
  }, 30_000);
});
