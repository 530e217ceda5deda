/**
 * The registry mirror (src/registry/mirror.ts) and the one instance verdict (src/registry/verdict.ts) over the
 * in-memory ZooKeeper double, without a server: the watch group of a service, each znode decoded once per version,
 * one verdict per instance with its reason, the service list, a new session, and the one allow-list check.
 */
import { ZooKeeperError } from '../../src/errors';
import { silentLogger } from '../../src/logger';
import type { RegistryCatalog } from '../../src/registry/catalog';
import { RegistryMirror, type MirrorPart } from '../../src/registry/mirror';
import { AddressPolicy, MAX_NETWORKS, parseNetworks } from '../../src/registry/networks';
import { isLiveInstance, judgeInstance, PERSISTENT_INSTANCE } from '../../src/registry/verdict';
import { eventually } from '../support/helpers';
import { ZK_CODES } from '../../src/zk-codes';
import { demoCatalog, FakeZooKeeper, fakeSession } from '../support/fake-zookeeper';

const service = '/g/services/demo';
const LIVE = '0x1';

/** Lets every pending read and watch callback run (the double answers on microtasks). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

function registry(): FakeZooKeeper {
  const zk = new FakeZooKeeper();
  for (const path of ['/g', '/g/services', service, `${service}/instances`, `${service}/overrides`]) zk.set(path, '');
  zk.set(`${service}/config`, '{"ratio":30}');
  return zk;
}

function start(zk: FakeZooKeeper, addresses?: AddressPolicy) {
  const session = fakeSession(zk);
  const mirror = new RegistryMirror({ session: session as never, root: '/g', logger: silentLogger, addresses, rereadJitterMs: 0 });
  const changes: Array<[string, MirrorPart]> = [];
  const loaded: string[] = [];
  mirror.on('change', (name: string, part: MirrorPart) => changes.push([name, part]));
  mirror.on('loaded', (name: string) => loaded.push(name));
  return { session, mirror, changes, loaded };
}

/** `demoCatalog` over the double, once its first read has settled. */
async function watchedCatalog(zk: FakeZooKeeper, session = fakeSession(zk), logger = silentLogger): Promise<RegistryCatalog> {
  const catalog = demoCatalog(session, logger);
  await settle();
  return catalog;
}

const instance = (gray: boolean, extra: Record<string, unknown> = {}) => JSON.stringify({ gray, version: gray ? 'v2' : 'v1', ...extra });

describe('RegistryMirror: one watch group per service', () => {
  test('reads the parts of a service once (the rollout and its lease as one), announces it loaded once, and follows each change by its part', async () => {
    const zk = registry();
    zk.set(`${service}/instances/10.0.0.1:80`, instance(false), LIVE);
    const { mirror, changes, loaded } = start(zk);
    const demo = mirror.watch('demo');
    expect(mirror.watch('demo')).toBe(demo); // idempotent
    await settle();
    expect(demo.loaded).toBe(true);
    expect(loaded).toEqual(['demo']);
    expect(new Set(zk.reads.filter((read) => read.watched).map((read) => read.path))).toEqual(
      new Set([`${service}/instances`, `${service}/instances/10.0.0.1:80`, `${service}/lanes`, `${service}/overrides`, `${service}/config`, `${service}/rollout`, `${service}/rollout/lease`]),
    );
    changes.length = 0;
    zk.set(`${service}/config`, '{"ratio":60}');
    zk.set(`${service}/instances/10.0.0.2:80`, instance(true), LIVE);
    zk.set(`${service}/rollout/lease`, '{}');
    await settle();
    expect(changes.map(([, part]) => part).sort()).toEqual(['config', 'instances', 'rollout']);
    expect(demo.configRead.config.ratio).toBe(60);
    expect(demo.verdicts().map((verdict) => verdict.id)).toEqual(['10.0.0.1:80', '10.0.0.2:80']);
    expect(loaded).toEqual(['demo']); // ticks and changes are not loads
    mirror.close();
  });

  test('a new session re-reads every part and announces the service loaded again; unwatch drops late answers', async () => {
    const zk = registry();
    const { session, mirror, loaded, changes } = start(zk);
    mirror.watch('demo');
    await settle();
    const held = zk.hold('getData', `${service}/config`);
    zk.expireSession();
    session.emit('connected', true);
    await held.made;
    expect(mirror.service('demo')?.loaded).toBe(false);
    held.release();
    await settle();
    expect(loaded).toEqual(['demo', 'demo']);
    const late = zk.hold('getData', `${service}/config`);
    zk.set(`${service}/config`, '{"ratio":1}');
    await late.made;
    mirror.unwatch('demo');
    changes.length = 0;
    late.release();
    await settle();
    expect(changes).toEqual([]);
    expect(mirror.service('demo')).toBeUndefined();
    mirror.close();
  });

  test('after a new session replaced an expired one, the re-read waits a random 0 to rereadJitterMs, keeping the last values', async () => {
    const JITTER = 300;
    const waits: number[] = [];
    for (let i = 0; i < 12; i++) {
      const zk = registry();
      const session = fakeSession(zk);
      const mirror = new RegistryMirror({ session: session as never, root: '/g', logger: silentLogger, rereadJitterMs: JITTER });
      const demo = mirror.watch('demo');
      await settle();
      expect(demo.loaded).toBe(true);
      const readsBefore = zk.reads.length;
      zk.expireSession();
      const expiredAt = performance.now();
      session.emit('connected', true);
      expect(demo.configRead.config.ratio).toBe(30); // the last values stay meanwhile
      await eventually(() => expect(demo.loaded).toBe(true), 5_000, 2);
      waits.push(performance.now() - expiredAt);
      expect(zk.reads.length).toBeGreaterThan(readsBefore);
      mirror.close();
    }
    // Each wait is at most the bound (plus this machine's scheduling), and they are spread, not all at once.
    expect(Math.max(...waits)).toBeLessThan(JITTER + 250);
    expect(Math.max(...waits) - Math.min(...waits)).toBeGreaterThan(JITTER / 4); // all within 75 ms: p < 1e-6 for 12 uniform draws
  });

  test('the service list is read only when wanted, names that are no service names are set apart', async () => {
    const zk = registry();
    zk.set('/g/services/not a name', '');
    const { mirror } = start(zk);
    const lists: Array<[string[], string[]]> = [];
    mirror.on('services', (names: string[], skipped: string[]) => lists.push([names, skipped]));
    await settle();
    expect(zk.reads.some((read) => read.path === '/g/services')).toBe(false);
    mirror.watchList();
    await settle();
    expect(lists).toEqual([[['demo'], ['/g/services/not a name']]]);
    zk.set('/g/services/other', '');
    await settle();
    expect(lists[1]).toEqual([['demo', 'other'], ['/g/services/not a name']]);
    mirror.close();
  });
});

describe('RegistryMirror: each znode decoded once per version', () => {
  test('the config is decoded once: unrelated changes keep the same read and the same config object', async () => {
    const zk = registry();
    zk.set(`${service}/config`, JSON.stringify({ ratio: 30, rules: [{ header: 'x-user', matches: '^beta-', lane: 'gray' }] }));
    const { session, mirror } = start(zk);
    const demo = mirror.watch('demo');
    await settle();
    const first = demo.configRead;
    expect(first.document).toEqual({ ratio: 30, rules: [{ header: 'x-user', matches: '^beta-', lane: 'gray' }] });
    zk.set(`${service}/instances/10.0.0.1:80`, instance(false), LIVE);
    await settle();
    expect(demo.configRead).toBe(first);
    // The same version read again (a new session re-reads it): still the same decoding.
    zk.expireSession();
    session.emit('connected', true);
    await settle();
    expect(demo.config.value).not.toBe(first.value);
    expect(demo.configRead).toBe(first);
    zk.set(`${service}/config`, '{"ratio":40}');
    await settle();
    expect(demo.configRead).not.toBe(first);
    expect(demo.configRead.config).toEqual({ ratio: 40 });
    expect(Object.isFrozen(demo.configRead.config)).toBe(true);
    mirror.close();
  });

  test('an invalid config keeps the last valid one and says why; an absent one is {} at version -1 for the view', async () => {
    const zk = registry();
    const { mirror } = start(zk);
    const demo = mirror.watch('demo');
    await settle();
    const valid = demo.configRead.config;
    zk.set(`${service}/config`, '{"ratio":"lots"}');
    await settle();
    expect(demo.configRead.decoded).toEqual({ ok: false, reason: expect.stringContaining('"ratio"') });
    expect(demo.configRead.document).toEqual({ ratio: 'lots' });
    expect(demo.configRead.config).toBe(valid);
    zk.set(`${service}/config`, 'not json');
    await settle();
    expect(demo.configRead.document).toBeNull();
    expect(demo.configRead.config).toBe(valid);
    zk.remove(`${service}/config`);
    await settle();
    expect(demo.configRead.value).toBeNull();
    expect(demo.configRead.config).toEqual({});
    mirror.close();
  });

  test('an instance keeps its verdict object until its znode, its override or the config\'s networks change', async () => {
    const zk = registry();
    zk.set(`${service}/instances/10.0.0.1:80`, instance(false), LIVE);
    zk.set(`${service}/instances/10.0.0.2:80`, instance(true), LIVE);
    const { mirror } = start(zk);
    const demo = mirror.watch('demo');
    await settle();
    const [one, two] = demo.verdicts();
    expect(demo.verdicts()).toBe(demo.verdicts());
    zk.set(`${service}/instances/10.0.0.2:80`, instance(true, { weight: 5 }));
    await settle();
    expect(demo.verdicts()[0]).toBe(one);
    expect(demo.verdicts()[1]).not.toBe(two);
    expect(demo.verdicts()[1].routed?.weight).toBe(5);
    zk.set(`${service}/overrides/10.0.0.1:80`, '{"gray":true}');
    await settle();
    expect(demo.verdicts()[0]).not.toBe(one);
    expect(demo.verdicts()[0].routed?.gray).toBe(true);
    const overridden = demo.verdicts()[0];
    zk.set(`${service}/config`, '{"ratio":30,"allowedNetworks":["10.0.0.2/32"]}');
    await settle();
    expect(demo.verdicts()[0]).not.toBe(overridden);
    expect(demo.verdicts()[0].routed).toBeUndefined();
    expect(demo.verdicts()[0].reason).toMatch(/outside the service config's allowedNetworks \(10\.0\.0\.2\/32\)/);
    mirror.close();
  });
});

describe('the instance verdict: one rule, one reason', () => {
  const stat = (ephemeralOwner: string) => ({ version: 0, mzxid: 1, aversion: 0, ephemeralOwner, numChildren: 0, mtime: new Date(0), ctime: new Date(5) });
  const read = (data: string, owner = LIVE) => ({ data: Buffer.from(data), stat: stat(owner) });
  const path = `${service}/instances/10.0.0.1:80`;

  test.each([
    ['a live valid instance is routed', read(instance(true)), undefined, undefined, undefined],
    ['own data that is not JSON', read('{'), undefined, undefined, /data is not JSON/],
    ['own data with a bad gray flag', read('{"gray":"maybe"}'), undefined, undefined, /"gray" is "maybe"/],
    ['a persistent znode, however valid', read(instance(false), '0'), undefined, undefined, /^persistent znode: no live session owns it/],
    ['an invalid override is ignored: the own data routes', read(instance(false)), read('{"weight":-1}'), undefined, undefined],
    ['a link-local host', { ...read(instance(false)) }, undefined, { policy: new AddressPolicy(), host: '169.254.169.254' }, /link-local/],
  ])('%s', (_name, own, override, address, reason) => {
    const id = address?.host ? `${address.host}:80` : '10.0.0.1:80';
    const verdict = judgeInstance(path, id, own, override, address ? { policy: address.policy } : { policy: new AddressPolicy() });
    if (reason === undefined) {
      expect(verdict.reason).toBeUndefined();
      expect(verdict.routed?.id).toBe(id);
    } else {
      expect(verdict.routed).toBeUndefined();
      expect(verdict.reason).toMatch(reason);
    }
    expect(verdict.since).toEqual(new Date(5));
  });

  test('the persistent rule has one message, and the catalog skips such an instance with it', async () => {
    expect(isLiveInstance({ ephemeralOwner: '0' })).toBe(false);
    expect(isLiveInstance({ ephemeralOwner: LIVE })).toBe(true);
    const zk = registry();
    zk.set(`${service}/instances/10.0.0.1:80`, instance(false), LIVE);
    zk.set(`${service}/instances/10.0.0.9:80`, instance(false), '0');
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (line: string) => void warnings.push(line) };
    const catalog = await watchedCatalog(zk, fakeSession(zk), logger);
    expect(catalog.snapshot('demo')?.instances.map((i) => i.id)).toEqual(['10.0.0.1:80']);
    expect(warnings).toEqual([`service "demo": skipping instance ${service}/instances/10.0.0.9:80: ${PERSISTENT_INSTANCE}`]);
    catalog.close();
  });

  test('a change made while a new session re-reads the service is in the snapshot once the re-read ends', async () => {
    const zk = registry();
    zk.set(`${service}/instances/10.0.0.1:80`, instance(false), LIVE);
    const session = fakeSession(zk);
    const catalog = await watchedCatalog(zk, session);
    expect(catalog.snapshot('demo')?.instances[0].version).toBe('v1');
    // The new session's re-read: the rollout's read (read last here) waits while the instance, changed meanwhile, is read.
    const rollout = zk.hold('exists', `${service}/rollout`);
    zk.expireSession();
    zk.set(`${service}/instances/10.0.0.1:80`, JSON.stringify({ gray: false, version: 'v1.1' }));
    session.emit('connected', true);
    await rollout.made;
    await settle();
    expect(catalog.snapshot('demo')?.instances[0].version).toBe('v1'); // not wholly read yet: the last snapshot stays
    rollout.release();
    await settle();
    expect(catalog.snapshot('demo')?.instances[0].version).toBe('v1.1');
    catalog.close();
  });

  test('a new session\'s re-read is published even when the part that completes it was still being read before the expiry', async () => {
    const zk = registry();
    zk.set(`${service}/instances/10.0.0.1:80`, instance(false), LIVE);
    zk.set(`${service}/instances/10.0.0.2:80`, instance(false), LIVE);
    const session = fakeSession(zk);
    const catalog = await watchedCatalog(zk, session);
    expect(catalog.snapshot('demo')?.instances).toHaveLength(2);
    // A rollout znode appears: its part starts a read, which the old session never answers in time.
    const rollout = zk.hold('exists', `${service}/rollout`);
    zk.set(`${service}/rollout`, '{}');
    await rollout.made;
    // The session expires; meanwhile, with no watch set, an instance goes.
    zk.expireSession();
    zk.remove(`${service}/instances/10.0.0.2:80`);
    session.emit('connected', true);
    await settle();
    // The old read's answer comes last and is dropped; the rollout part is read again, and that read completes the service.
    rollout.release();
    await settle();
    expect(catalog.snapshot('demo')?.instances.map((i) => i.id)).toEqual(['10.0.0.1:80']);
    catalog.close();
  });

  test('an instance a re-read could not read is read by the retry; what the re-read did read is published meanwhile', async () => {
    const zk = registry();
    zk.set(`${service}/instances/10.0.0.1:80`, instance(false), LIVE);
    const catalog = await watchedCatalog(zk);
    const ids = () => catalog.snapshot('demo')?.instances.map((i) => i.id);
    expect(ids()).toEqual(['10.0.0.1:80']);
    // Two instances register at once (one child watch event, one re-read listing both); one of the two reads times out.
    const listing = zk.hold('getChildren', `${service}/instances`);
    zk.set(`${service}/instances/10.0.0.2:80`, instance(false), LIVE);
    await listing.made;
    zk.set(`${service}/instances/10.0.0.3:80`, instance(true), LIVE);
    zk.failNext('getData', `${service}/instances/10.0.0.3:80`, new ZooKeeperError('get', `${service}/instances/10.0.0.3:80`, ZK_CODES.OPERATIONTIMEOUT, 'no answer within 10000 ms'));
    listing.release();
    await settle();
    expect(ids()).toEqual(['10.0.0.1:80', '10.0.0.2:80']);
    // Nothing else changes: only the mirror's periodic retry (every 500 ms) can read the instance the re-read missed.
    const reads = zk.reads.length;
    await eventually(() => expect(ids()).toEqual(['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80']), 5000);
    expect(zk.reads.slice(reads).filter((read) => read.kind === 'getData').map((read) => read.path)).toEqual([`${service}/instances/10.0.0.3:80`]);
    catalog.close();
  });

  test('the catalog\'s snapshots share the config object until the config changes', async () => {
    const zk = registry();
    zk.set(`${service}/instances/10.0.0.1:80`, instance(false), LIVE);
    const catalog = await watchedCatalog(zk);
    const first = catalog.snapshot('demo');
    zk.set(`${service}/instances/10.0.0.2:80`, instance(true), LIVE);
    await settle();
    const second = catalog.snapshot('demo');
    expect(second).not.toBe(first);
    expect(second?.instances).toHaveLength(2);
    expect(second?.config).toBe(first?.config);
    catalog.close();
  });
});

describe('the allow-list check (networks.ts): one validator, one cap', () => {
  test.each([
    [['10.0.0.0/8', 'fd00::/8', '192.0.2.1'], undefined],
    ['10.0.0.0/8', /"allowedNetworks" is not an array of at most 64 CIDRs/],
    [Array.from({ length: MAX_NETWORKS + 1 }, () => '10.0.0.0/8'), /at most 64/],
    [['10.0.0.0/8', '10.0.0.0/33'], /"allowedNetworks\[1\]" is not a CIDR/],
    [['10.0.0.0/8', 42], /"allowedNetworks\[1\]" is not a CIDR/],
  ])('%j', (value, reason) => {
    const parsed = parseNetworks(value);
    if (reason === undefined) expect(parsed.ok).toBe(true);
    else expect(parsed).toEqual({ ok: false, reason: expect.stringMatching(reason) });
  });

  test('a consumer\'s own list goes through the same check, cap included', () => {
    expect(() => new AddressPolicy(Array.from({ length: MAX_NETWORKS + 1 }, () => '10.0.0.0/8'))).toThrow(/invalid option `allowedNetworks`.*at most 64/);
    expect(() => new AddressPolicy(['nope'])).toThrow(/"allowedNetworks\[0\]" is not a CIDR/);
    expect(new AddressPolicy(['10.0.0.0/8']).refusal('10.1.2.3')).toBeUndefined();
  });
});
