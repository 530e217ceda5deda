/** Named lanes, the pure parts: the one lane-name check, an instance's lane, the lane policy with many lanes. */
import { InvalidOptionError } from '../../src/errors';
import { resolveRegisterOptions } from '../../src/provider/options';
import { decodeInstance, decodeOverride, effectiveInstance, encodeInstance } from '../../src/registry/codec';
import { decodeConfig } from '../../src/registry/config-codec';
import { instanceDirectory } from '../../src/registry/paths';
import { buildRoutingTable, lanePool, route } from '../../src/router';
import { isLaneName, parseLane, type Instance, type ServiceConfig } from '../../src/types';
import { laneLabel } from '../../src/metrics';
import { shareOf } from '../../src/admin/lanes';
import { withLane } from '../../src/consumer/lane-headers';
import { laneSplit, withShare } from '../../src/router/shares';
import { compileLanePolicy, decideLane } from '../../src/router/lane-policy';
import { currentLane, runInLane } from '../../src/context/lane-context';
import { extractLane, injectLane } from '../../src/context/propagation';
import type { InstanceStatus } from '../../src/admin/admin';
import { rolloutRole, scrapeAll } from '../../src/rollout/scrape';

const HOSTILE = ['', 'PR-42', 'pr_42', '-pr', 'pr-', 'a'.repeat(64), 'pr 42', 'pr.42', 'grày', 'pr\n42', '../x', 'a,b', 'a=b', '{}'];

describe('lane names: one check, lowercase DNS labels', () => {
  test.each(['normal', 'gray', 'canary', 'pr-42', 'v3', '0', 'a'.repeat(63), 'a-b-c'])('%j is a lane name', (name) => {
    expect(isLaneName(name)).toBe(true);
    expect(parseLane(name)).toBe(name);
  });

  test.each(HOSTILE)('%j is not a lane name', (name) => {
    expect(isLaneName(name)).toBe(false);
  });

  test.each([['PR-42', 'pr-42'], [' canary ', 'canary'], [['pr-7', 'pr-8'], 'pr-7'], ['pr_42', undefined], ['a'.repeat(64), undefined], [42, undefined], ['x'.repeat(10_000), undefined]])(
    'off the wire %j -> %j (any case, trimmed, the first of several)',
    (value, lane) => {
      expect(parseLane(value)).toBe(lane);
    },
  );
});

describe("an instance's lane in the registry", () => {
  const path = '/g/services/s/lanes/10.0.0.1:80';
  test.each([
    ['{"gray":false}', 'normal'],
    ['{"gray":true}', 'gray'],
    ['{"gray":false,"lane":"pr-42"}', 'pr-42'],
    ['{"lane":"canary"}', 'canary'],
    ['{"gray":true,"lane":"gray"}', 'gray'],
    ['{"lane":"normal"}', 'normal'],
  ])('%s is in lane %s', (data, lane) => {
    const decoded = decodeInstance(path, '10.0.0.1:80', data);
    expect(decoded.ok && { lane: decoded.value.lane, gray: decoded.value.gray }).toEqual({ lane, gray: lane === 'gray' });
  });

  test.each([...HOSTILE.map((lane) => JSON.stringify({ lane })), '{"lane":42}', '{"lane":null}', '{"gray":true,"lane":"pr-42"}'])('%s is refused, the reason names "lane"', (data) => {
    const decoded = decodeInstance(path, '10.0.0.1:80', data);
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.reason).toMatch(/"lane"/);
  });

  test('an override that sets gray or lane sets the whole lane (promote: lane "normal", or gray false)', () => {
    const own = '{"gray":false,"lane":"pr-42","version":"v9"}';
    const lane = (override?: string) => {
      const result = effectiveInstance(path, '10.0.0.1:80', own, override).instance;
      return result.ok ? result.value.lane : result.reason;
    };
    expect(lane()).toBe('pr-42');
    expect(lane('{"lane":"normal"}')).toBe('normal');
    expect(lane('{"gray":false}')).toBe('normal');
    expect(lane('{"gray":true}')).toBe('gray');
    expect(lane('{"weight":5}')).toBe('pr-42');
    expect(lane('{"lane":"PR"}')).toBe('pr-42'); // an invalid override is ignored
    expect(decodeOverride('{"lane":"PR"}').ok).toBe(false);
  });

  test('a named lane is written into the znode; base and gray are not (the data 0.1.0 writes and reads)', () => {
    expect(JSON.parse(encodeInstance({ gray: false, lane: 'pr-42', weight: 100 }))).toEqual({ gray: false, lane: 'pr-42', weight: 100 });
    expect(JSON.parse(encodeInstance({ gray: true, lane: 'gray', weight: 100 }))).toEqual({ gray: true, weight: 100 });
    expect(JSON.parse(encodeInstance({ gray: false, weight: 100 }))).toEqual({ gray: false, weight: 100 });
  });

  test('named lanes register under lanes/, base and gray under instances/ (where 0.1.0 looks)', () => {
    expect(instanceDirectory('/g', 's', 'pr-42')).toBe('/g/services/s/lanes');
    expect(instanceDirectory('/g', 's', 'gray')).toBe('/g/services/s/instances');
    expect(instanceDirectory('/g', 's', undefined)).toBe('/g/services/s/instances');
  });
});

describe("grayRegister's lane option", () => {
  const base = { zk: '127.0.0.1:2181', service: 's', host: '127.0.0.1' };
  test.each([
    [{ lane: 'pr-42' }, {}, { gray: false, lane: 'pr-42' }],
    [{}, { GRAY_LANE: 'canary' }, { gray: false, lane: 'canary' }],
    [{ gray: true }, {}, { gray: true }],
    [{ lane: 'gray' }, {}, { gray: true }],
    [{ lane: 'normal' }, {}, { gray: false }],
    [{}, { GRAY: 'true', GRAY_LANE: 'gray' }, { gray: true }],
  ])('%j with env %j publishes %j', (options, env, meta) => {
    const resolved = resolveRegisterOptions({ ...base, ...options }, env);
    expect({ gray: resolved.meta.gray, lane: resolved.meta.lane }).toEqual({ lane: undefined, ...meta });
  });

  test.each([
    [{ lane: 'PR-42' }, {}, /options\.lane is "PR-42", not a lowercase DNS label/],
    [{}, { GRAY_LANE: 'pr_42' }, /env GRAY_LANE is "pr_42", not a lowercase DNS label/],
    [{ lane: 'pr-42', gray: true }, {}, /an instance is in one lane/],
    [{ lane: 'a'.repeat(64) }, {}, /at most 63 characters/],
  ])('%j with env %j is refused at registration: %s', (options, env, message) => {
    expect(() => resolveRegisterOptions({ ...base, ...options }, env)).toThrow(InvalidOptionError);
    expect(() => resolveRegisterOptions({ ...base, ...options }, env)).toThrow(message);
  });
});

function instance(port: number, lane: string): Instance {
  return { id: `127.0.0.1:${port}`, host: '127.0.0.1', port, gray: lane === 'gray', lane, weight: 100, meta: {}, path: `/x/${port}` };
}

describe('routing with many lanes: lane L -> its instances, else base, else every base and gray instance', () => {
  const n1 = instance(1, 'normal');
  const n2 = instance(2, 'normal');
  const g1 = instance(3, 'gray');
  const pr = instance(4, 'pr-42');
  const canary = instance(5, 'canary');

  test.each([
    ['pr-42 with its instance', [n1, g1, pr, canary], 'pr-42', 'all', [pr]],
    ['canary with its instance', [n1, g1, pr, canary], 'canary', 'all', [canary]],
    ['pr-7 without one: base', [n1, n2, g1, pr], 'pr-7', 'all', [n1, n2]],
    ['pr-7, no gray: base', [n1, pr], 'pr-7', 'all', [n1]],
    ['pr-7, no base: every base and gray instance (not another named lane)', [g1, pr], 'pr-7', 'all', [g1]],
    ['normal never reaches a named lane', [n1, pr, canary], 'normal', 'all', [n1]],
    ['gray without one: base (as before lanes)', [n1, pr], 'gray', 'all', [n1]],
    ['normal without one: gray (as before lanes), never a named lane', [g1, pr], 'normal', 'all', [g1]],
    ['strict pr-42 with its instance', [n1, pr], 'pr-42', 'none', [pr]],
    ['strict pr-7 without one: none', [n1, g1, pr], 'pr-7', 'none', []],
    ['only named-lane instances: a base call gets none', [pr, canary], 'normal', 'all', []],
  ])('%s', (_name, instances, lane, fallback, expected) => {
    const table = buildRoutingTable(instances);
    const pool = lanePool(table, lane, fallback as 'all' | 'none');
    expect([...(pool?.instances ?? [])].sort((a, b) => a.port - b.port)).toEqual(expected);
    const picked = new Set<Instance>();
    for (let i = 0; i < 10; i++) {
      const decision = route(table, { ratio: 0, lane, fallback: fallback as 'all' | 'none' });
      if (decision) {
        expect(decision.lane).toBe(lane);
        picked.add(decision.instance);
      }
    }
    expect([...picked].sort((a, b) => a.port - b.port)).toEqual(expected);
  });

  test('a retry whose named lane has failed everywhere crosses to base only with crossLane', () => {
    const table = buildRoutingTable([n1, pr]);
    const skip = (candidate: Instance) => candidate === pr;
    expect(route(table, { ratio: 0, lane: 'pr-42', skip })).toBeUndefined();
    expect(route(table, { ratio: 0, lane: 'pr-42', skip, crossLane: true })).toEqual({ lane: 'normal', instance: n1 });
  });
});

describe('config: lanes and their shares', () => {
  test.each([
    ['{"ratio":10,"lanes":{"canary":20,"pr-42":0}}', { ratio: 10, lanes: { canary: 20, 'pr-42': 0 } }],
    ['{"ratio":50,"lanes":{"canary":50}}', { ratio: 50, lanes: { canary: 50 } }],
    ['{"lanes":{"canary":12.5},"buckets":{"canary":[0,1,2,3,4,5,6,7,8,9,10,11,12]}}', { lanes: { canary: 12.5 }, buckets: { canary: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] } }],
  ])('%s is valid', (raw, config) => {
    expect(decodeConfig(raw)).toEqual({ ok: true, value: config });
  });

  test.each([
    ['{"ratio":60,"lanes":{"canary":50}}', /add up to 110, more than 100/],
    ['{"lanes":{"canary":60,"v3":41}}', /add up to 101/],
    ['{"lanes":{"gray":10}}', /share of gray is "ratio"/],
    ['{"lanes":{"normal":10}}', /base lane takes the rest/],
    ['{"lanes":{"PR-42":10}}', /not a lowercase DNS label/],
    ['{"lanes":{"canary":-1}}', /"lanes.canary" is -1/],
    ['{"lanes":[10]}', /"lanes" is not an object/],
    ['{"buckets":{"canary":[1],"v3":[1]}}', /bucket 1 to two lanes/],
    ['{"buckets":{"canary":[100]}}', /not a bucket from 0 to 99/],
    ['{"buckets":{"normal":[1]}}', /not a lane other than the base lane/],
  ])('%s is invalid: %s', (raw, reason) => {
    const decoded = decodeConfig(raw);
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.reason).toMatch(reason);
  });
});

describe('the lane label of metrics is bounded', () => {
  const known = (lane: string) => lane === 'pr-42';
  test.each([
    ['pr-42', 'pr-42'],
    ['gray', 'gray'],
    ['normal', 'normal'],
    ['pr-43', 'normal'],
    [undefined, 'normal'],
  ])('request lane %j at a base instance of a service with lane pr-42 -> label %j', (lane, label) => {
    expect(laneLabel(lane, known, 'normal')).toBe(label);
  });
});

describe("a gray rollout's lanes: named-lane instances are neither the canary nor the base it is judged against", () => {
  const status = (id: string, lane: string | undefined): InstanceStatus => ({ id, path: `/g/services/s/instances/${id}`, since: new Date(0), effective: lane === undefined ? undefined : instance(Number(id.split(':')[1]), lane) });
  test.each([
    ['gray', 'gray'],
    ['normal', 'normal'],
    ['pr-42', undefined],
    [undefined, undefined],
  ])('an instance of lane %j plays %j', (lane, role) => {
    expect(rolloutRole(status('127.0.0.1:1', lane))).toBe(role);
  });

  test('scrapeAll leaves a named-lane instance out: not counted, not reported as unavailable', async () => {
    const scrape = await scrapeAll('s', [status('127.0.0.1:1', 'pr-42'), status('127.0.0.1:2', 'normal')], [], 1000);
    expect([...scrape.lanes]).toEqual([['127.0.0.1:2', 'normal']]);
    expect(scrape.normalUnavailable).toEqual(['127.0.0.1:2: advertises no metricsPath']);
    expect(scrape.grayUnavailable).toEqual([]);
  });
});

describe('a lane handed to the API is a lane name', () => {
  test.each(['Gray', 'pr 42', '', 'a\r\nx: y'])('runInLane(%j) and injectLane(%j) throw InvalidOptionError, naming the call', (lane) => {
    expect(() => runInLane(lane, () => 1)).toThrow(/runInLane takes a lane name/);
    expect(() => injectLane({}, lane)).toThrow(InvalidOptionError);
  });

  test('a named lane is carried as it is, in the header and in baggage', () => {
    expect(runInLane('pr-42', () => currentLane())).toBe('pr-42');
    const carrier = injectLane({ baggage: 'user=1' }, 'pr-42');
    expect(carrier).toEqual({ 'x-gray-lane': 'pr-42', baggage: 'user=1,gray.lane=pr-42' });
    expect(extractLane(carrier)).toBe('pr-42');
    expect(extractLane({ baggage: carrier.baggage })).toBe('pr-42');
  });
});

describe('header and cookie rules may name any lane', () => {
  test('a rule to pr-42 is valid config, and decideLane gives pr-42 to a trusted request only', () => {
    const decoded = decodeConfig('{"rules":[{"header":"x-preview","equals":"42","lane":"pr-42"},{"cookie":"lane","matches":"^canary$","lane":"canary"}]}');
    expect(decoded.ok).toBe(true);
    const policy = compileLanePolicy(decoded.ok ? decoded.value.rules : []);
    expect(decideLane({ headers: { 'x-preview': '42' } }, policy, 0)).toEqual({ lane: 'pr-42', reason: 'header-rule' });
    expect(decideLane({ headers: { cookie: 'lane=canary' } }, policy, 0)).toEqual({ lane: 'canary', reason: 'cookie-rule' });
    expect(decideLane({ headers: { 'x-preview': '42' } }, policy, 0, false)).toBeUndefined();
  });
});

describe('lane names that are also Object.prototype keys (constructor, tostring)', () => {
  test('are lanes like any other: config, shares, buckets, baggage, the routing table', () => {
    const decoded = decodeConfig('{"lanes":{"constructor":10}}');
    expect(decoded).toEqual({ ok: true, value: { lanes: { constructor: 10 } } });
    expect(shareOf({}, 'constructor')).toBe(0);
    expect(shareOf({ lanes: { constructor: 10 } }, 'constructor')).toBe(10);
    const config = withShare<ServiceConfig>({}, 'constructor', 10);
    expect(config.buckets).toEqual({ constructor: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
    expect(withShare(config, 'valueof', 5).buckets).toEqual({ constructor: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], valueof: [10, 11, 12, 13, 14] });
    expect(laneSplit(0, { constructor: 10 }, config.buckets).buckets.filter((lane) => lane === 'constructor')).toHaveLength(10);
    expect(withLane({}, 'x-gray-lane', 'constructor', 'both')).toEqual({ 'x-gray-lane': 'constructor', baggage: 'gray.lane=constructor' });
    const table = buildRoutingTable([instance(1, 'normal')]);
    expect(route(table, { ratio: 0, lane: 'constructor' })?.instance.port).toBe(1);
  });
});
