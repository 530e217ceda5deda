import { bucketLane, bucketOf, compileLanePolicy, cookieValue, decideLane, stableHash } from '../../src/router/lane-policy';
import type { LaneRule } from '../../src';

const rules: LaneRule[] = [
  { header: 'x-canary', equals: 'always', lane: 'gray' },
  { header: 'x-canary', equals: 'never', lane: 'normal' },
  { header: 'x-tester', matches: '^qa-', lane: 'gray' },
  { cookie: 'canary', equals: 'yes', lane: 'gray' },
  { cookie: 'canary', equals: 'no', lane: 'normal' },
];
const policy = compileLanePolicy(rules, 'x-user-id');
const req = (headers: Record<string, string>) => ({ headers });

/** A user id whose bucket is below / at or above `ratio`, found by search (so the test does not hard-code hashes). */
function userIn(lane: 'gray' | 'normal', ratio: number): string {
  for (let i = 0; ; i++) if (bucketLane(`u${i}`, ratio) === lane) return `u${i}`;
}

describe('decideLane precedence: header rule > cookie rule > bucketing > (ratio draw)', () => {
  const grayUser = userIn('gray', 30);
  const normalUser = userIn('normal', 30);
  test.each([
    ['header rule beats cookie rule and bucket', { 'x-canary': 'never', cookie: 'canary=yes', 'x-user-id': grayUser }, 'normal', 'header-rule'],
    ['header rule (always)', { 'x-canary': 'always', 'x-user-id': normalUser }, 'gray', 'header-rule'],
    ['regex header rule', { 'x-tester': 'qa-anna', 'x-user-id': normalUser }, 'gray', 'header-rule'],
    ['cookie rule beats bucket', { cookie: 'a=1; canary=no', 'x-user-id': grayUser }, 'normal', 'cookie-rule'],
    ['cookie rule (yes)', { cookie: 'canary=yes', 'x-user-id': normalUser }, 'gray', 'cookie-rule'],
    ['bucket when no rule matches (gray user)', { 'x-canary': 'maybe', 'x-user-id': grayUser }, 'gray', 'bucket'],
    ['bucket when no rule matches (normal user)', { 'x-user-id': normalUser }, 'normal', 'bucket'],
  ])('%s', (_name, headers, lane, reason) => {
    expect(decideLane(req(headers), policy, 30)).toEqual({ lane, reason });
  });

  test('no rule and no user key: undefined, the ratio draw decides', () => {
    expect(decideLane(req({ 'x-canary': 'maybe' }), policy, 30)).toBeUndefined();
    expect(decideLane(req({ 'x-user-id': '' }), policy, 30)).toBeUndefined();
  });

  test('an untrusted request cannot force a lane: rules are skipped, bucketing still applies', () => {
    expect(decideLane(req({ 'x-canary': 'always', 'x-user-id': normalUser }), policy, 30, false)).toEqual({ lane: 'normal', reason: 'bucket' });
    expect(decideLane(req({ cookie: 'canary=yes' }), policy, 30, false)).toBeUndefined();
  });

  test('hashBy may be a function of the request', () => {
    const byFunction = compileLanePolicy([], (request) => String(request.headers['x-tenant'] ?? '') || undefined);
    const tenant = userIn('gray', 50);
    expect(decideLane(req({ 'x-tenant': tenant }), byFunction, 50)).toEqual({ lane: 'gray', reason: 'bucket' });
  });
});

describe('bucketing', () => {
  const ids = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

  test('deterministic: the same key always has the same bucket (FNV-1a, stable across runs)', () => {
    expect(stableHash('')).toBe(0x811c9dc5);
    expect(stableHash('a')).toBe(0xe40c292c); // the published FNV-1a 32-bit value of "a"
    for (const id of ids.slice(0, 100)) expect(bucketOf(id)).toBe(bucketOf(`${id}`));
  });

  test('monotone: raising the ratio only moves users from normal to gray, never back', () => {
    for (const id of ids) {
      let wasGray = false;
      for (let ratio = 0; ratio <= 100; ratio += 5) {
        const gray = bucketLane(id, ratio) === 'gray';
        expect(wasGray && !gray).toBe(false);
        wasGray = gray;
      }
      expect(bucketLane(id, 0)).toBe('normal');
      expect(bucketLane(id, 100)).toBe('gray');
    }
  });

  test.each([1, 10, 33, 50, 90])('at ratio %p, the gray share of 10 000 ids is within 2 points', (ratio) => {
    const gray = ids.filter((id) => bucketLane(id, ratio) === 'gray').length;
    expect(Math.abs((gray / ids.length) * 100 - ratio)).toBeLessThanOrEqual(2);
  });
});

describe('cookieValue', () => {
  test.each([
    ['a=1; canary=yes; b=2', 'canary', 'yes'],
    ['canary="yes"', 'canary', 'yes'],
    ['canary=%79es', 'canary', 'yes'],
    ['xcanary=yes', 'canary', undefined],
    ['canary=%E0%A4%A', 'canary', '%E0%A4%A'],
    [undefined, 'canary', undefined],
  ])('%p has %s = %p', (header, name, value) => expect(cookieValue(header, name)).toBe(value));
});
