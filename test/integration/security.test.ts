/**
 * Registry access: digest identities and ACLs on a real ZooKeeper. The operator lays out the tree with
 * `init`; the provider identity of a service may register instances of that service and nothing else; everyone
 * else (anonymous, a wrong identity, another service's provider) may read, and is refused every write with an
 * AccessDeniedError that names the znode.
 */
import { inspect } from 'node:util';
import type { AddressInfo, Server } from 'node:net';
import axios from 'axios';
import express from 'express';
import { AccessDeniedError, createAdmin, createConsumer, digestId, grayRegister, grayRoute, InvalidOptionError, NotFoundError, silentLogger, type GrayAdmin, type GrayConsumer } from '../../src';
import { configPath, instancePath, instancesPath, overridePath, overridesPath, servicePath, servicesPath } from '../../src/registry/paths';
import { run } from '../../src/cli/main';
import { PERM, formatAcl } from '../../src/registry/acl';
import { InstanceRegistration } from '../../src/registry/registration';
import { ZkSession } from '../../src/registry/zk-session';
import { eventually, recordingLogger, startProvider, testZk, uniqueRoot, type TestProvider } from '../support/helpers';

const OPERATOR = 'operator:op-secret-1';
const PROVIDER = 'demo-provider:pv-secret-2';
const OTHER_PROVIDER = 'other-provider:ot-secret-3';
const MALLORY = 'mallory:ml-secret-4';
const SECRETS = ['op-secret-1', 'pv-secret-2', 'ot-secret-3', 'ml-secret-4'];

function session(auth?: string): ZkSession {
  return new ZkSession({ connect: testZk(), sessionTimeout: 4000, logger: silentLogger, auth: auth === undefined ? undefined : { scheme: 'digest', credentials: auth } });
}

/** Expects `promise` to reject with AccessDeniedError for `path`, and never to show a password. */
async function expectDenied(promise: Promise<unknown>, path: string): Promise<AccessDeniedError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected access to ${path} to be denied, and it was allowed`);
    },
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(AccessDeniedError);
  const denied = error as AccessDeniedError;
  expect(denied).toMatchObject({ code: 'ERR_GRAYKIT_ACCESS_DENIED', zkCode: -102, path });
  expect(denied.message).toContain(path);
  for (const secret of SECRETS) expect(denied.message).not.toContain(secret);
  return denied;
}

describe('registry access with digest identities and ACLs (real ZooKeeper)', () => {
  let root: string;
  let operator: GrayAdmin;
  let consumer: GrayConsumer;
  let provider: TestProvider;
  const open: Array<{ close(): unknown }> = [];

  beforeAll(async () => {
    root = uniqueRoot();
    operator = createAdmin({ zk: testZk(), root, auth: OPERATOR, logger: silentLogger });
    await operator.init('demo', { providers: [digestId(PROVIDER)] });
    await operator.init('other', { providers: [digestId(OTHER_PROVIDER)] });
    provider = await startProvider({ root, service: 'demo', auth: PROVIDER, gray: false, version: 'v1' });
    // Consumers need no identity: everyone may read.
    consumer = createConsumer({ zk: testZk(), root, logger: silentLogger });
    await consumer.resolve('demo');
  }, 60_000);

  afterAll(async () => {
    for (const item of open.splice(0).reverse()) await item.close();
    consumer.close();
    await provider.close();
    operator.close();
  });

  afterEach(async () => {
    for (const item of open.splice(0).reverse()) await item.close();
  });

  function track<T extends { close(): unknown }>(item: T): T {
    open.push(item);
    return item;
  }

  test('init lays out the tree: world read everywhere, the operator owns it, the provider may create and delete instances', async () => {
    const reader = track(session());
    await reader.whenConnected(10_000);
    const operatorId = digestId(OPERATOR);
    const operatorAll = `world:anyone:r,digest:${operatorId}:cdrwa`;
    // Read back with the operator's session: ZooKeeper shows digests only to those who may administer the znode.
    const me = track(session(OPERATOR));
    await me.whenConnected(10_000);
    for (const path of [root, servicesPath(root), servicePath(root, 'demo'), overridesPath(root, 'demo')]) {
      expect(formatAcl((await me.getAcl(path)).acl)).toBe(operatorAll);
    }
    expect(formatAcl((await me.getAcl(instancesPath(root, 'demo'))).acl)).toBe(`${operatorAll},digest:${digestId(PROVIDER)}:cd`);
    // The provider's instance: everyone reads, only the provider's identity may do anything else.
    const { acl } = await reader.getAcl(provider.registration.path!);
    expect(acl).toHaveLength(2);
    expect(acl[0]).toEqual({ perms: PERM.READ, scheme: 'world', id: 'anyone' });
    expect(acl[1]).toMatchObject({ perms: PERM.ALL, scheme: 'digest' });
    expect(acl[1].id.startsWith('demo-provider:')).toBe(true);
  });

  test('the authorised provider registers, and an anonymous consumer routes real requests to it', async () => {
    const http = axios.create();
    // grayRoute on the shared consumer (not closed here: the suite closes the consumer).
    http.interceptors.request.use(grayRoute(consumer));
    const { data } = await http.get<{ port: number }>('http://demo/version');
    expect(data.port).toBe(provider.port);
  });

  test.each([
    ['an anonymous provider', undefined],
    ['a provider with a wrong identity', MALLORY],
    ["another service's provider identity", OTHER_PROVIDER],
  ])('%s cannot register an instance: AccessDeniedError naming the znode, retried, never registered', async (_name, auth) => {
    const app = express();
    const gray = grayRegister({ zk: testZk(), root, service: 'demo', host: '127.0.0.1', logger: silentLogger, sessionTimeout: 4000, drainMs: 0, auth });
    app.use(gray);
    const failed = new Promise<Error>((resolve) => gray.registration.once('failed', resolve));
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    const path = instancePath(root, 'demo', `127.0.0.1:${(server.address() as AddressInfo).port}`);
    const error = await failed;
    await expectDenied(Promise.reject(error), path);
    expect(gray.registration.registered).toBe(false);
    const reader = track(session());
    await reader.whenConnected(10_000);
    expect(await reader.exists(path)).toBeNull();
  });

  test.each([
    ['an anonymous session', undefined],
    ['a wrong identity', MALLORY],
    ["another service's provider", OTHER_PROVIDER],
  ])("%s cannot overwrite, re-ACL or delete the provider's instance, nor add one beside it", async (_name, auth) => {
    const intruder = track(session(auth));
    await intruder.whenConnected(10_000);
    const path = provider.registration.path!;
    const before = await intruder.getData(path);
    await expectDenied(intruder.setData(path, '{"gray":true,"weight":1000000}'), path);
    await expectDenied(intruder.setAcl(path, [{ perms: PERM.ALL, scheme: 'world', id: 'anyone' }]), path);
    await expectDenied(intruder.delete(path), path);
    const fake = instancePath(root, 'demo', '127.0.0.1:1');
    await expectDenied(intruder.create(fake, '{}', 'ephemeral'), fake);
    const after = await intruder.getData(path);
    expect(after.data).toEqual(before.data);
    expect(after.stat.version).toBe(before.stat.version);
    expect(await intruder.exists(fake)).toBeNull();
  });

  test('the provider itself may rewrite its own data (setGray) and deregister', async () => {
    const second = await startProvider({ root, service: 'demo', auth: PROVIDER, gray: false, version: 'v1' });
    track(second);
    await second.registration.setGray(true);
    await eventually(() => expect(consumer.snapshot('demo')?.instances.find((i) => i.port === second.port)?.gray).toBe(true));
    await second.registration.deregister();
    await eventually(() => expect(consumer.snapshot('demo')?.instances.some((i) => i.port === second.port)).toBe(false));
  });

  test.each([
    ['anonymous', undefined],
    ['a wrong identity', MALLORY],
    ["the service's own provider identity", PROVIDER],
  ])('%s cannot change the ratio, the config, or any override', async (_name, auth) => {
    const admin = track(createAdmin({ zk: testZk(), root, auth, logger: silentLogger }));
    const config = configPath(root, 'demo');
    // The first time round there is no config znode yet: creating one needs the service directory's create permission.
    await expectDenied(admin.setRatio('demo', 100), config);
    await operator.setRatio('demo', 10);
    await expectDenied(admin.setRatio('demo', 100), config);
    await expectDenied(admin.setConfig('demo', { ratio: 100 }), config);
    const id = `127.0.0.1:${provider.port}`;
    await expectDenied(admin.setOverride('demo', id, { gray: true }), overridePath(root, 'demo', id));
    await operator.setOverride('demo', id, { weight: 50 });
    await expectDenied(admin.setOverride('demo', id, { gray: true }), overridePath(root, 'demo', id));
    await expectDenied(admin.clearOverride('demo', id), overridePath(root, 'demo', id));
    expect((await operator.getConfig('demo')).config.ratio).toBe(10);
    expect((await operator.status('demo')).instances.find((i) => i.id === id)?.override).toEqual({ weight: 50 });
    await operator.clearOverride('demo', id);
  });

  test('the operator changes the ratio and sets overrides, and consumers follow', async () => {
    await operator.setRatio('demo', 40);
    await eventually(() => expect(consumer.ratioFor('demo')).toBe(40));
    const id = `127.0.0.1:${provider.port}`;
    await operator.setOverride('demo', id, { gray: true });
    await eventually(() => expect(consumer.snapshot('demo')?.instances.find((i) => i.id === id)?.gray).toBe(true));
    expect(await operator.clearOverride('demo', id)).toBe(true);
    await eventually(() => expect(consumer.snapshot('demo')?.instances.find((i) => i.id === id)?.gray).toBe(false));
    // What the operator created is the operator's alone.
    const reader = track(session(OPERATOR));
    await reader.whenConnected(10_000);
    expect(formatAcl((await reader.getAcl(configPath(root, 'demo'))).acl)).toBe(`world:anyone:r,digest:${digestId(OPERATOR)}:cdrwa`);
  });

  test('the CLI: --auth for the operator; access denied is exit 6 and names the znode; a bad --auth is exit 2 and not echoed', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (text: string) => void out.push(text), err: (text: string) => void err.push(text) };
    const base = ['--zk', testZk(), '--root', root, '--timeout', '10000'];
    expect(await run([...base, '--auth', OPERATOR, 'ratio', 'demo', '25'], io)).toBe(0);
    await eventually(() => expect(consumer.ratioFor('demo')).toBe(25));
    expect(await run([...base, '--auth', MALLORY, 'ratio', 'demo', '90'], io)).toBe(6);
    expect(err.join('')).toContain(configPath(root, 'demo'));
    expect(err.join('')).toContain('"mallory"');
    expect(await run([...base, 'ratio', 'demo', '90'], io)).toBe(6);
    expect(await run([...base, '--auth', 'no-colon-secret', 'ratio', 'demo', '90'], io)).toBe(2);
    expect(err.join('')).not.toContain('no-colon-secret');
    for (const secret of SECRETS) expect(err.join('') + out.join('')).not.toContain(secret);
    expect((await operator.getConfig('demo')).config.ratio).toBe(25);
    // init through the CLI, and the digest helper it points to.
    expect(await run([...base, '--json', 'digest', PROVIDER], io)).toBe(0);
    expect(JSON.parse(out.at(-1)!)).toEqual({ id: digestId(PROVIDER) });
    expect(await run([...base, '--auth', OPERATOR, '--json', 'init', 'cli-made', '--provider', digestId(PROVIDER)], io)).toBe(0);
    const made = JSON.parse(out.at(-1)!) as { znodes: Array<{ path: string; acl: string }> };
    expect(made.znodes.find((z) => z.path === instancesPath(root, 'cli-made'))?.acl).toContain(`digest:${digestId(PROVIDER)}:cd`);
    expect(await run([...base, 'init', 'cli-made'], io)).toBe(2); // needs the operator's credentials
    expect(await run([...base, '--auth', OPERATOR, 'init', 'cli-made', '--provider', 'demo-provider:not-a-digest'], io)).toBe(2);
  });

  test('with credentials a provider creates no parent znode: an uninitialised service fails with NotFoundError, then registers once init runs', async () => {
    const app = express();
    const gray = grayRegister({ zk: testZk(), root, service: 'late', host: '127.0.0.1', logger: silentLogger, sessionTimeout: 4000, drainMs: 0, auth: PROVIDER });
    app.use(gray);
    const failed = new Promise<Error>((resolve) => gray.registration.once('failed', resolve));
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    const error = await failed;
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).path).toBe(instancesPath(root, 'late'));
    expect(error.message).toContain('graykit init late');
    const reader = track(session());
    await reader.whenConnected(10_000);
    expect(await reader.exists(servicePath(root, 'late'))).toBeNull();
    await operator.init('late', { providers: [digestId(PROVIDER)] });
    await gray.registration.whenRegistered(15_000);
  });

  test('a registration whose setACL was lost (open ACL on its own znode) is secured when it registers again', async () => {
    const own = track(session(PROVIDER));
    await own.whenConnected(10_000);
    const id = '127.0.0.1:2';
    const path = instancePath(root, 'demo', id);
    // What a create leaves when the connection drops before its setACL: the client's open ACL.
    await own.create(path, '{"gray":false}', 'ephemeral', [{ perms: PERM.ALL, scheme: 'world', id: 'anyone' }]);
    expect(formatAcl((await own.getAcl(path)).acl)).toBe('world:anyone:cdrwa');
    const registration = new InstanceRegistration({ session: own, root, service: 'demo', id, meta: { gray: false, weight: 0 }, logger: silentLogger });
    track({ close: () => registration.deregister() });
    await eventually(() => expect(registration.registered).toBe(true));
    expect(formatAcl((await own.getAcl(path)).acl)).toBe(`world:anyone:r,digest:${digestId(PROVIDER)}:cdrwa`);
  });

  test('an override names an instance host:port: any other name (a path climbing out of overrides/) is refused before any write', async () => {
    for (const id of ['../config', '../../other/config', 'x', '127.0.0.1:80/x', '']) {
      await expect(operator.setOverride('demo', id, { gray: true })).rejects.toMatchObject({ code: 'ERR_GRAYKIT_INVALID_OPTION', option: 'instance' });
      await expect(operator.clearOverride('demo', id)).rejects.toMatchObject({ code: 'ERR_GRAYKIT_INVALID_OPTION', option: 'instance' });
    }
    expect((await operator.getConfig('demo')).error).toBeUndefined();
  });

  test('init refuses to run without credentials, and refuses provider ids that are not digests', async () => {
    const anonymous = track(createAdmin({ zk: testZk(), root, logger: silentLogger }));
    await expect(anonymous.init('demo', { providers: [] })).rejects.toMatchObject({ option: 'auth' });
    await expect(operator.init('demo', { providers: [PROVIDER] })).rejects.toBeInstanceOf(InvalidOptionError);
  });

  test('credentials are never shown: not in option errors, not in an inspected or serialised consumer', () => {
    expect(() => createConsumer({ zk: testZk(), root, auth: 'nocolonsecret' })).toThrow(InvalidOptionError);
    try {
      createConsumer({ zk: testZk(), root, auth: 'nocolonsecret' });
    } catch (error) {
      expect((error as Error).message).not.toContain('nocolonsecret');
    }
    const withAuth = track(createConsumer({ zk: testZk(), root, auth: MALLORY, logger: silentLogger }));
    expect(JSON.stringify(withAuth.connection)).not.toContain('ml-secret-4');
    expect(inspect(withAuth, { depth: 6 })).not.toContain('ml-secret-4');
    expect(withAuth.connection.authenticated).toBe(true);
    expect(withAuth.connection.identity).toBe(MALLORY.slice(0, MALLORY.indexOf(':')));
  });

  test('refused credentials: whenConnected fails at once with -115, and the next attempt waits (no tight reconnect loop)', async () => {
    const logger = recordingLogger();
    // Digest credentials are never refused (any user:password is an identity); an unknown scheme is.
    const refused = track(new ZkSession({ connect: testZk(), sessionTimeout: 4000, logger, auth: { scheme: 'no-such-scheme', credentials: 'x' } }));
    const failures: number[] = [];
    const second = new Promise<void>((resolve) =>
      refused.on('authFailed', () => {
        failures.push(Date.now());
        if (failures.length === 2) resolve();
      }),
    );
    const error = await refused.whenConnected(10_000).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(AccessDeniedError);
    expect(error).toMatchObject({ zkCode: -115, code: 'ERR_GRAYKIT_ACCESS_DENIED' });
    await second;
    expect(failures[1] - failures[0]).toBeGreaterThanOrEqual(1900);
    expect(logger.lines.filter((line) => line.startsWith('error:')).length).toBe(2);
  }, 20_000);
});
