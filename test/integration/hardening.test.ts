/**
 * What an attacker or a careless operator could do with write access to the registry, and what graykit does about
 * it, on a real ZooKeeper with real providers on 127.0.0.1 (and 127.0.0.2, loopback too): a planted persistent
 * instance is never routed to and init and status name it; instance hosts outside the allowed networks, or
 * link-local, never receive a request; credentials never show, however a graykit object is looked at.
 */
import http from 'node:http';
import { inspect } from 'node:util';
import axios from 'axios';
import express from 'express';
import { createAdmin, createConsumer, digestId, grayDispatcher, grayRegister, grayRoute, useGray, silentLogger, type Logger } from '../../src';
import { run } from '../../src/cli/main';
import { instancePath, instancesPath } from '../../src/registry/paths';
import { WORLD_READ } from '../../src/registry/acl';
import { closeServer, eventually, recordingLogger, registryFixture, testZk } from '../support/helpers';

const OPERATOR = 'operator:op-password-7';
const PROVIDER = 'hard-provider:pv-password-7';

/** A provider of `service` on `host` (127.0.0.1 or 127.0.0.2), counting the requests it serves. */
async function counted(root: string, service: string, host: string, logger: Logger = silentLogger) {
  const app = express();
  const gray = grayRegister({ zk: testZk(), root, service, host, version: host, logger, drainMs: 0 });
  app.use(gray);
  let served = 0;
  app.get('/who', (_req, res) => {
    served++;
    res.json({ host });
  });
  const server = await new Promise<http.Server>((resolve) => {
    const s = app.listen(0, host, () => resolve(s));
  });
  await gray.registration.whenRegistered();
  return { id: `${host}:${(server.address() as import('node:net').AddressInfo).port}`, served: () => served, close: () => closeServer(server) };
}

describe('hardening (real ZooKeeper)', () => {
  const fx = registryFixture();
  const { open } = fx;

  test('a persistent instance znode planted on an open registry is never routed to; init lists it; status marks it', async () => {
    const live = await counted(fx.root, 'demo', '127.0.0.1');
    open.push(live);
    // Planted before the tree was secured: persistent, narrowed to read-only, pointing at a live address.
    const planted = instancePath(fx.root, 'demo', '127.0.0.1:1');
    await fx.admin.create(planted, JSON.stringify({ gray: false, version: 'planted' }), 'persistent');
    await fx.admin.setAcl(planted, [WORLD_READ]);
    const logger = recordingLogger();
    const consumer = createConsumer({ zk: testZk(), root: fx.root, logger });
    open.push(consumer);
    await consumer.resolve('demo');
    expect(consumer.snapshot('demo')!.instances.map((instance) => instance.id)).toEqual([live.id]);
    expect(logger.lines.filter((line) => line.includes(planted) && line.includes('persistent'))).toHaveLength(1);

    const operator = createAdmin({ zk: testZk(), root: fx.root, auth: OPERATOR, logger: silentLogger });
    open.push(operator);
    const init = await operator.init('demo', { providers: [digestId(PROVIDER)] });
    expect(init.unvouched).toEqual(
      expect.arrayContaining([
        { path: planted, reasons: ['persistent', 'foreign-acl'], acl: 'world:anyone:r' },
        expect.objectContaining({ path: instancePath(fx.root, 'demo', live.id), reasons: ['open-acl'] }),
      ]),
    );
    expect(init.warnings.some((warning) => warning.includes(planted) && warning.includes('persistent'))).toBe(true);
    const status = await operator.status('demo');
    const marked = status.instances.find((instance) => instance.path === planted)!;
    expect(marked.effective).toBeUndefined();
    expect(marked.error).toMatch(/persistent znode: no live session owns it/);
    let out = '';
    expect(await run(['--zk', testZk(), '--root', fx.root, 'status', 'demo'], { out: (text) => (out += text), err: () => undefined })).toBe(0);
    expect(out).toMatch(/INVALID: persistent znode/);
  });

  describe('which addresses may receive traffic', () => {
    async function sendAll(route: ReturnType<typeof grayRoute>, count: number) {
      const client = axios.create();
      client.interceptors.request.use(route);
      for (let i = 0; i < count; i++) await client.get('http://svc/who');
    }

    test('a trailing dot (http://demo./) is a fully qualified DNS name: never routed, whatever the registry holds', async () => {
      const live = await counted(fx.root, 'svc', '127.0.0.1');
      open.push(live);
      const seen: string[] = [];
      for (const services of [undefined, ['svc']]) {
        const route = grayRoute({ zk: testZk(), root: fx.root, logger: silentLogger, services });
        open.push(route);
        const client = axios.create({ adapter: async (config) => ({ data: null, status: 204, statusText: '', headers: {}, config, request: seen.push(String(config.url)) }) });
        client.interceptors.request.use(route);
        await client.get('http://svc/who'); // a service: rewritten
        await client.get('http://svc./who'); // the same name, fully qualified: untouched
      }
      expect(seen).toEqual([`http://${live.id}/who`, 'http://svc./who', `http://${live.id}/who`, 'http://svc./who']);
    });

    test('consumer allowedNetworks: an instance outside it gets no request, with one warning naming its znode', async () => {
      const inside = await counted(fx.root, 'svc', '127.0.0.1');
      const outside = await counted(fx.root, 'svc', '127.0.0.2');
      open.push(inside, outside);
      const logger = recordingLogger();
      const route = grayRoute({ zk: testZk(), root: fx.root, logger, allowedNetworks: ['127.0.0.1/32'] });
      open.push(route);
      await sendAll(route, 100);
      expect({ inside: inside.served(), outside: outside.served() }).toEqual({ inside: 100, outside: 0 });
      const warned = logger.lines.filter((line) => line.includes(instancePath(fx.root, 'svc', outside.id)));
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatch(/outside the consumer's allowedNetworks \(127\.0\.0\.1\/32\)/);
    });

    test('a config document narrows the list, never widens it; code and config must both allow a host', async () => {
      const one = await counted(fx.root, 'svc', '127.0.0.1');
      const two = await counted(fx.root, 'svc', '127.0.0.2');
      open.push(one, two);
      const operator = createAdmin({ zk: testZk(), root: fx.root, logger: silentLogger });
      open.push(operator);
      await operator.setConfig('svc', { allowedNetworks: ['127.0.0.2/32'] });
      const narrowed = grayRoute({ zk: testZk(), root: fx.root, logger: silentLogger });
      open.push(narrowed);
      await sendAll(narrowed, 50);
      expect({ one: one.served(), two: two.served() }).toEqual({ one: 0, two: 50 });
      // The config cannot widen the consumer's own list: 127.0.0.2 is outside it, so nothing is left.
      const strict = createConsumer({ zk: testZk(), root: fx.root, logger: silentLogger, allowedNetworks: ['127.0.0.1/32'] });
      open.push(strict);
      await expect(strict.resolve('svc')).rejects.toThrow(/no live instance is registered/);
    });

    test('link-local and unspecified hosts are refused by default, and routable only when the consumer lists them', async () => {
      const live = await counted(fx.root, 'svc', '127.0.0.1');
      open.push(live);
      await fx.admin.create(instancePath(fx.root, 'svc', '169.254.169.254:80'), JSON.stringify({ gray: false }), 'ephemeral');
      await fx.admin.create(instancePath(fx.root, 'svc', '0.0.0.0:8080'), JSON.stringify({ gray: false }), 'ephemeral');
      await fx.admin.create(instancePath(fx.root, 'svc', '[fe80::1]:80'), JSON.stringify({ gray: false }), 'ephemeral');
      const logger = recordingLogger();
      const consumer = createConsumer({ zk: testZk(), root: fx.root, logger });
      open.push(consumer);
      await consumer.resolve('svc');
      expect(consumer.snapshot('svc')!.instances.map((instance) => instance.id)).toEqual([live.id]);
      expect(logger.lines.filter((line) => line.includes('link-local or unspecified'))).toHaveLength(3);
      const optedIn = createConsumer({ zk: testZk(), root: fx.root, logger: silentLogger, allowedNetworks: ['127.0.0.0/8', '169.254.169.254/32'] });
      open.push(optedIn);
      await optedIn.resolve('svc');
      expect(optedIn.snapshot('svc')!.instances.map((instance) => instance.id).sort()).toEqual([live.id, '169.254.169.254:80'].sort());
      expect(() => createConsumer({ zk: testZk(), root: fx.root, allowedNetworks: ['10.0.0.0/33'] })).toThrow(/invalid option `allowedNetworks`/);
    });
  });

  test('credentials never show: inspect (showHidden), JSON, errors, log lines and --json output, for every graykit object', async () => {
    const secret = 'pv-password-7';
    const operatorSecret = 'op-password-7';
    const operator = createAdmin({ zk: testZk(), root: fx.root, auth: OPERATOR, logger: silentLogger });
    open.push(operator);
    await operator.init('demo', { providers: [digestId(PROVIDER)] });
    const logger = recordingLogger();
    const withAuth = { zk: testZk(), root: fx.root, auth: PROVIDER, logger };
    const consumer = createConsumer(withAuth);
    const route = grayRoute(withAuth);
    const installed = useGray(axios.create(), withAuth);
    const dispatcher = grayDispatcher(withAuth);
    const app = express();
    const gray = grayRegister({ ...withAuth, service: 'demo', host: '127.0.0.1', drainMs: 0 });
    app.use(gray);
    const server = await new Promise<http.Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    open.push(consumer, route, installed, dispatcher, { close: () => closeServer(server) });
    await gray.registration.whenRegistered();
    // A refused write with the provider's identity: the error names the identity, never the password.
    const providerAdmin = createAdmin(withAuth);
    open.push(providerAdmin);
    const denied = await providerAdmin
      .setRatio('demo', 10)
      .then(
        () => undefined,
        (error: Error) => error,
      );
    expect(denied?.message).toContain('hard-provider');
    const objects: Record<string, unknown> = { admin: operator, consumer, route, installed, dispatcher, registration: gray.registration, middleware: gray };
    const safeJson = (value: unknown) => {
      try {
        return JSON.stringify(value) ?? '';
      } catch {
        return ''; // circular: JSON cannot show it at all
      }
    };
    for (const [name, object] of Object.entries(objects)) {
      for (const view of [inspect(object, { showHidden: true, depth: 8, getters: true }), safeJson(object), String(object)]) {
        expect({ name, leaks: view.includes(secret) || view.includes(operatorSecret) }).toEqual({ name, leaks: false });
      }
    }
    for (const text of [denied!.message, denied!.stack ?? '', inspect(denied, { showHidden: true }), ...logger.lines]) {
      expect(text).not.toContain(secret);
    }
    // The CLI's --json output of a refused command, with the credentials in the environment.
    let out = '';
    let err = '';
    const previous = process.env.GRAYKIT_ZK_AUTH;
    process.env.GRAYKIT_ZK_AUTH = PROVIDER;
    try {
      const code = await run(['--zk', testZk(), '--root', fx.root, '--json', 'ratio', 'demo', '10'], { out: (text) => (out += text), err: (text) => (err += text) });
      expect(code).toBe(6);
    } finally {
      if (previous === undefined) delete process.env.GRAYKIT_ZK_AUTH;
      else process.env.GRAYKIT_ZK_AUTH = previous;
    }
    expect(JSON.parse(err).error).toMatchObject({ code: 'ERR_GRAYKIT_ACCESS_DENIED', identity: 'hard-provider', exitCode: 6 });
    expect(out + err).not.toContain(secret);
    expect(await fx.admin.exists(instancesPath(fx.root, 'demo'))).not.toBeNull();
  });
});
