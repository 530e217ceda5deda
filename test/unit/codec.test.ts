import { decodeInstance, encodeInstance, MAX_DATA_BYTES } from '../../src/registry/codec';
import { decodeConfig } from '../../src/registry/config-codec';
import { parseInstanceId } from '../../src/registry/codec';

const path = '/graykit/services/demo/instances/10.0.0.1:8081';

describe('decodeInstance', () => {
  test('decodes the documented JSON, keeping unknown fields', () => {
    const decoded = decodeInstance(path, '10.0.0.1:8081', Buffer.from('{"gray":true,"version":"v2","weight":50,"zone":"a"}'));
    expect(decoded).toEqual({
      ok: true,
      value: { id: '10.0.0.1:8081', host: '10.0.0.1', port: 8081, gray: true, lane: 'gray', version: 'v2', weight: 50, meta: { gray: true, version: 'v2', weight: 50, zone: 'a' }, path },
    });
  });

  test.each([
    ['"true"', true],
    ['"false"', false],
    ['false', false],
  ])('accepts gray %s (the original design wrote strings)', (raw, gray) => {
    const decoded = decodeInstance(path, '10.0.0.1:8081', `{"gray":${raw}}`);
    expect(decoded.ok && decoded.value.gray).toBe(gray);
  });

  test('defaults: gray false, weight 100, no version', () => {
    const decoded = decodeInstance(path, 'host-a.example:80', '{}');
    expect(decoded.ok && decoded.value).toMatchObject({ gray: false, weight: 100, version: undefined, host: 'host-a.example', port: 80 });
  });

  test('an IPv6 instance is written in brackets', () => {
    const decoded = decodeInstance(path, '[::1]:8081', '{}');
    expect(decoded.ok && decoded.value).toMatchObject({ host: '::1', port: 8081 });
  });

  test.each([
    ['empty data', '10.0.0.1:8081', '', /no data/],
    ['null data', '10.0.0.1:8081', null, /no data/],
    ['not JSON', '10.0.0.1:8081', '{gray:true', /not JSON/],
    ['a JSON array', '10.0.0.1:8081', '[1]', /not a JSON object/],
    ['a JSON string', '10.0.0.1:8081', '"x"', /not a JSON object/],
    ['gray "yes"', '10.0.0.1:8081', '{"gray":"yes"}', /"gray"/],
    ['negative weight', '10.0.0.1:8081', '{"weight":-1}', /"weight"/],
    ['weight as text', '10.0.0.1:8081', '{"weight":"5"}', /"weight"/],
    ['object version', '10.0.0.1:8081', '{"version":{}}', /"version"/],
    ['no port', '10.0.0.1', '{}', /host:port/],
    ['port 0', '10.0.0.1:0', '{}', /port/],
    ['port 70000', '10.0.0.1:70000', '{}', /port/],
    ['a host with a path', 'evil.com%2fx:80', '{}', /host/],
    ['a host with user info', 'user@evil.com:80', '{}', /host/],
    ['brackets around a non-IPv6 host', '[evil.com]:80', '{}', /IPv6/],
  ])('rejects %s with a reason', (_name, id, data, reason) => {
    const decoded = decodeInstance(path, id, data as string | null);
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.reason).toMatch(reason);
  });

  test(`refuses data over ${MAX_DATA_BYTES} bytes`, () => {
    const big = JSON.stringify({ gray: false, pad: 'x'.repeat(MAX_DATA_BYTES) });
    const decoded = decodeInstance(path, '10.0.0.1:8081', big);
    expect(!decoded.ok && decoded.reason).toMatch(/limit/);
  });

  test('encodeInstance round-trips through decodeInstance', () => {
    const text = encodeInstance({ gray: true, version: 'v3', weight: 7, zone: 'b' });
    expect(JSON.parse(text)).toEqual({ gray: true, version: 'v3', weight: 7, zone: 'b' });
    const decoded = decodeInstance(path, '10.0.0.1:8081', text);
    expect(decoded.ok && decoded.value).toMatchObject({ gray: true, version: 'v3', weight: 7 });
  });
});

describe('parseInstanceId', () => {
  test.each(['a:1', '127.0.0.1:65535', 'svc-1.internal:8080'])('accepts %s', (id) => expect(parseInstanceId(id).ok).toBe(true));
});

describe('decodeConfig', () => {
  test.each([
    ['{"ratio":33}', { ratio: 33 }],
    ['{"ratio":0}', { ratio: 0 }],
    ['{"ratio":100,"laneHeader":"X-Lane","hashBy":"X-User-Id"}', { ratio: 100, laneHeader: 'x-lane', hashBy: 'x-user-id' }],
    [
      '{"rules":[{"header":"X-Canary","equals":"always","lane":"gray"},{"cookie":"beta","matches":"^y","lane":"normal"}]}',
      { rules: [{ header: 'x-canary', equals: 'always', lane: 'gray' }, { cookie: 'beta', matches: '^y', lane: 'normal' }] },
    ],
    ['{}', {}],
    ['', {}],
  ])('%s decodes to %p', (raw, config) => expect(decodeConfig(raw)).toEqual({ ok: true, value: config }));

  test.each([
    ['{"ratio":101}', /"ratio"/],
    ['{"ratio":-1}', /"ratio"/],
    ['{"ratio":"33"}', /"ratio"/],
    ['{"ratio":null}', /"ratio"/],
    ['{"ration":50}', /unknown field "ration"/],
    ['{"laneHeader":"bad header"}', /"laneHeader"/],
    ['{"hashBy":7}', /"hashBy"/],
    ['{"rules":{}}', /"rules" is not an array/],
    ['{"rules":[{"header":"a","cookie":"b","equals":"x","lane":"gray"}]}', /rules\[0\].*exactly one of "header" and "cookie"/],
    ['{"rules":[{"header":"a","lane":"gray"}]}', /rules\[0\].*"equals" and "matches"/],
    ['{"rules":[{"header":"a","matches":"(","lane":"gray"}]}', /rules\[0\]\.matches.*regular expression/],
    ['{"rules":[{"header":"a","equals":"x","lane":"Blue_1"}]}', /rules\[0\]\.lane/],
    ['{"rules":[{"header":"a","equals":"x","lane":"gray","extra":1}]}', /unknown field "extra"/],
    ['nope', /not JSON/],
    ['[]', /not a JSON object/],
  ])('%s is invalid, and the reason names the field', (raw, reason) => {
    const decoded = decodeConfig(raw);
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.reason).toMatch(reason);
  });
});
