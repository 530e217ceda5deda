/** The Curator layout (Spring Cloud ZooKeeper, Dubbo 3): decoding, the verdict, encoding, options, Java lane headers. Pure. */
import { addJavaLane, laneFromJavaHeaders, resolveJavaLane } from '../../src/context/java-lane';
import { extractLane, injectLane } from '../../src/context/propagation';
import { decodeCuratorInstance, encodeCuratorInstance, resolveCuratorOptions, DEFAULT_CURATOR_KEYS } from '../../src/registry/curator';
import { AddressPolicy } from '../../src/registry/networks';
import { judgeCuratorInstance, PERSISTENT_CURATOR_INSTANCE } from '../../src/registry/verdict';
import type { Stat } from '../../src/registry/zk-session';

const options = resolveCuratorOptions(true)!;

/** Spring Cloud ZooKeeper's JSON, as in the README's example. */
function spring(fields: Record<string, unknown> = {}, metadata: Record<string, unknown> = { instance_status: 'UP', version: 'v2' }): string {
  return JSON.stringify({
    name: 'orders',
    id: '6c1e',
    address: '10.0.0.5',
    port: 8081,
    sslPort: null,
    payload: { '@class': 'org.springframework.cloud.zookeeper.discovery.ZookeeperInstance', id: 'orders-1', name: 'orders', metadata },
    registrationTimeUTC: 1765000000000,
    serviceType: 'DYNAMIC',
    ...fields,
  });
}

function stat(ephemeralOwner = '0x1'): Stat {
  return { ephemeralOwner, ctime: new Date(0), mtime: new Date(0), version: 0 } as unknown as Stat;
}

describe('decodeCuratorInstance', () => {
  test('Spring Cloud ZooKeeper\'s instance: host:port id, version, lane by hint, weight, status', () => {
    const read = decodeCuratorInstance('orders', spring({}, { instance_status: 'UP', version: 'v2', hint: 'gray', weight: '30' }), options);
    expect(read).toMatchObject({ ok: true, value: { id: '10.0.0.5:8081', dynamic: true, status: 'UP', meta: { gray: true, weight: 30, version: 'v2', scheme: 'http', curatorId: '6c1e' } } });
  });

  test.each([
    [{ hint: 'normal', version: 'v2' }, {}, false],
    [{ hint: 'GRAY ' }, {}, true],
    [{ version: 'v2' }, { grayVersions: ['v2'] }, true],
    [{ lane: 'gray' }, { lane: 'lane' }, true],
    [{ hint: 'gray' }, { lane: 'lane' }, false],
  ])('metadata %j with options %j: gray %s', (metadata, extra, gray) => {
    const read = decodeCuratorInstance('orders', spring({}, metadata), resolveCuratorOptions(extra)!);
    expect(read.ok && read.value.meta.gray).toBe(gray);
  });

  test('sslPort means https on that port; a missing weight is graykit\'s default', () => {
    const read = decodeCuratorInstance('orders', spring({ port: null, sslPort: 8443 }), options);
    expect(read).toMatchObject({ ok: true, value: { id: '10.0.0.5:8443', meta: { scheme: 'https', weight: 100 } } });
  });

  test.each([
    ['not JSON', '{"name":', 'not JSON'],
    ['oversized', spring({ pad: 'x'.repeat(17_000) }), 'over the 16384-byte limit'],
    ['another service', spring({ name: 'users' }), '"name" is "users", not "orders"'],
    ['no address', spring({ address: undefined }), '"address" is undefined'],
    ['address via __proto__', '{"name":"orders","__proto__":{"address":"10.0.0.1","port":80}}', '"address" is undefined'],
    ['port out of range', spring({ port: 70000 }), '"port" is 70000'],
    ['no port at all', spring({ port: null }), 'neither "port" nor "sslPort"'],
    ['unknown serviceType', spring({ serviceType: 'EVIL' }), '"serviceType" is "EVIL"'],
    ['disabled', spring({ enabled: false }), '"enabled" is false'],
    ['metadata not a map', spring({}, 'x' as never), '"payload.metadata" is "x"'],
    ['huge weight', spring({}, { weight: '1e308' }), 'metadata "weight" is "1e308"'],
    ['negative weight', spring({}, { weight: '-1' }), 'metadata "weight" is "-1"'],
    ['too many metadata entries', spring({}, Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v']))), '129 entries'],
  ])('%s: refused, saying why', (_name, data, reason) => {
    const read = decodeCuratorInstance('orders', data, options);
    expect(read.ok).toBe(false);
    expect(!read.ok && read.reason).toContain(reason);
  });

  test('metadata is copied into an object without a prototype: __proto__ and constructor members are dropped, non-strings left out', () => {
    const data = '{"name":"orders","address":"10.0.0.5","port":1,"payload":{"metadata":{"__proto__":{"polluted":"yes"},"constructor":"x","hint":"gray","n":5}}}';
    const read = decodeCuratorInstance('orders', data, options);
    if (!read.ok) throw new Error(read.reason);
    const metadata = read.value.meta.metadata as Record<string, unknown>;
    expect(Object.getPrototypeOf(metadata)).toBeNull();
    expect(Object.keys(metadata)).toEqual(['hint']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(read.value.meta.gray).toBe(true);
  });
});

describe('judgeCuratorInstance: the same verdict as graykit\'s own instances', () => {
  const path = '/services/orders/6c1e';
  const policy = { policy: new AddressPolicy(['10.0.0.0/8']) };

  test('a live DYNAMIC UP instance is routed, with the operator\'s override (by host:port) over it', () => {
    const override = { data: Buffer.from('{"gray":true,"weight":5}'), stat: stat('0') };
    const verdict = judgeCuratorInstance('orders', path, { data: Buffer.from(spring()), stat: stat() }, (id) => (id === '10.0.0.5:8081' ? override : undefined), options, policy);
    expect(verdict.routed).toMatchObject({ id: '10.0.0.5:8081', host: '10.0.0.5', port: 8081, gray: true, weight: 5, version: 'v2', path });
  });

  test.each([
    ['a persistent znode', spring(), '0', PERSISTENT_CURATOR_INSTANCE],
    ['serviceType STATIC', spring({ serviceType: 'STATIC' }), '0x1', PERSISTENT_CURATOR_INSTANCE],
    ['OUT_OF_SERVICE', spring({}, { instance_status: 'OUT_OF_SERVICE' }), '0x1', 'instance_status is "OUT_OF_SERVICE", not UP'],
    ['outside the allowed networks', spring({ address: '192.168.1.1' }), '0x1', "outside the consumer's allowedNetworks"],
    ['a link-local address', spring({ address: '169.254.169.254' }), '0x1', 'link-local'],
    ['an address that is no host', spring({ address: 'a b' }), '0x1', 'not an IP address or host name'],
  ])('%s: skipped, saying why', (_name, data, owner, reason) => {
    const verdict = judgeCuratorInstance('orders', path, { data: Buffer.from(data), stat: stat(owner) }, undefined, options, _name === 'a link-local address' ? { policy: new AddressPolicy() } : policy);
    expect(verdict.routed).toBeUndefined();
    expect(verdict.reason).toContain(reason);
  });

  test('persistent registrations are routed with the opt-in', () => {
    const verdict = judgeCuratorInstance('orders', path, { data: Buffer.from(spring({ serviceType: 'STATIC' })), stat: stat('0') }, undefined, resolveCuratorOptions({ persistent: true })!);
    expect(verdict.routed).toBeDefined();
  });
});

describe('encodeCuratorInstance', () => {
  test('a named lane is the hint both ways: written by a graykit provider, read as that lane', () => {
    const json = encodeCuratorInstance({ service: 'orders', id: 'u-2', host: '10.0.0.8', port: 3000, gray: false, lane: 'pr-42', weight: 100, registeredAt: 5 }, DEFAULT_CURATOR_KEYS);
    expect(JSON.parse(json).payload.metadata).toMatchObject({ hint: 'pr-42', gray: 'false' });
    const read = decodeCuratorInstance('orders', json, options);
    expect(read.ok && [read.value.meta.gray, read.value.meta.lane]).toEqual([false, 'pr-42']);
    // A hint that is no lane name is no lane: the base lane.
    const odd = decodeCuratorInstance('orders', spring({}, { hint: 'Blue Lane' }), options);
    expect(odd.ok && [odd.value.meta.gray, odd.value.meta.lane]).toEqual([false, undefined]);
  });

  test('writes what Curator 5 writes, with the Spring payload, and decodes back to the same instance', () => {
    const json = encodeCuratorInstance({ service: 'orders', id: 'u-1', host: '10.0.0.7', port: 3000, gray: true, weight: 40, version: 'v2', registeredAt: 5 }, DEFAULT_CURATOR_KEYS);
    expect(JSON.parse(json)).toMatchObject({
      name: 'orders',
      id: 'u-1',
      address: '10.0.0.7',
      port: 3000,
      sslPort: null,
      serviceType: 'DYNAMIC',
      registrationTimeUTC: 5,
      payload: { '@class': 'org.springframework.cloud.zookeeper.discovery.ZookeeperInstance', name: 'orders', metadata: { instance_status: 'UP', hint: 'gray', gray: 'true', weight: '40', version: 'v2' } },
    });
    expect(decodeCuratorInstance('orders', json, options)).toMatchObject({ ok: true, value: { id: '10.0.0.7:3000', meta: { gray: true, weight: 40, version: 'v2' } } });
  });
});

describe('resolveCuratorOptions', () => {
  test.each([
    [{ basePath: 'services' }, 'curator.basePath'],
    [{ basePath: '/a/../b' }, 'curator.basePath'],
    [{ lane: '__proto__' }, 'curator.lane'],
    [{ version: 'a b' }, 'curator.version'],
    [{ grayVersions: 'v2' }, 'curator.grayVersions'],
    [{ persistent: 'yes' }, 'curator.persistent'],
  ])('%j is refused naming %s', (option, name) => {
    expect(() => resolveCuratorOptions(option as never)).toThrow(expect.objectContaining({ option: name }));
  });

  test('off by default; true is /services with Spring\'s keys', () => {
    expect(resolveCuratorOptions(undefined)).toBeUndefined();
    expect(resolveCuratorOptions(false)).toBeUndefined();
    expect(options).toMatchObject({ basePath: '/services', keys: DEFAULT_CURATOR_KEYS, persistent: false });
  });
});

describe('the lane in the headers Java routers read', () => {
  const both = resolveJavaLane({ nepxion: { gray: 'v2', normal: 'v1' } })!;

  test.each([
    [{ 'x-sc-lb-hint': 'gray' }, 'gray'],
    [{ 'x-sc-lb-hint': ['normal', 'gray'] }, 'normal'],
    [{ 'n-d-version': 'v2' }, 'gray'],
    [{ 'n-d-version': ' v1 ' }, 'normal'],
    [{ 'n-d-version': '{"orders":"v2"}' }, undefined],
    [{ 'x-sc-lb-hint': 'blue' }, 'blue'], // a named lane
    [{ 'x-sc-lb-hint': 'Blue Lane' }, undefined], // no lane name
  ])('%j -> %s', (headers, lane) => expect(laneFromJavaHeaders(headers, both)).toBe(lane));

  test('written on a record or a flat array, replacing other spellings', () => {
    expect(addJavaLane({ 'X-SC-LB-Hint': 'normal', a: '1' }, 'gray', both)).toEqual({ a: '1', 'x-sc-lb-hint': 'gray', 'n-d-version': 'v2' });
    // A named lane travels in the hint alone: Nepxion's versions name gray and normal only.
    expect(addJavaLane({}, 'pr-42', both)).toEqual({ 'x-sc-lb-hint': 'pr-42' });
    expect(addJavaLane(['X-SC-LB-Hint', 'normal', 'a', '1'], 'normal', both)).toEqual(['a', '1', 'x-sc-lb-hint', 'normal', 'n-d-version', 'v1']);
  });

  test('injectLane and extractLane carry them when asked, and only then', () => {
    expect(injectLane({}, 'gray', { javaHeaders: true })).toMatchObject({ 'x-gray-lane': 'gray', 'x-sc-lb-hint': 'gray' });
    expect(injectLane({}, 'gray')).not.toHaveProperty('x-sc-lb-hint');
    expect(extractLane({ 'X-SC-LB-Hint': 'gray' }, { javaHeaders: true })).toBe('gray');
    expect(extractLane({ 'X-SC-LB-Hint': 'gray' })).toBeUndefined();
    expect(extractLane({ 'x-gray-lane': 'normal', 'x-sc-lb-hint': 'gray' }, { javaHeaders: true })).toBe('normal');
  });

  test.each([[{ nepxion: { gray: 'v2', normal: 'v2' } }], [{ nepxion: { gray: 'a b', normal: 'v1' } }], [{ hint: 'yes' }], ['x']])('%j is refused', (option) => {
    expect(() => resolveJavaLane(option as never)).toThrow(/javaHeaders/);
  });
});
