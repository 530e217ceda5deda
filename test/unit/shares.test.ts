/**
 * Lane shares and per-user bucketing with several lanes. The property: for ANY sequence of share changes made with
 * the admin's rule (withShare), each change moves users only between the changed lane and the base lane — raising a
 * share moves users only from base into it, lowering it only back to base, other lanes' users stay — and each lane
 * owns exactly its share of buckets. The documents go through JSON and the codec, as consumers read them.
 */
import fc from 'fast-check';
import { decodeConfig } from '../../src/registry/config-codec';
import { bucketLaneOf, bucketOf } from '../../src/router/lane-policy';
import { BUCKETS, bucketCount, drawLane, laneShares, laneSplit, withoutLane, withShare, type LaneSplit } from '../../src/router/shares';
import type { ServiceConfig } from '../../src/types';

const PROPERTY_RUNS = Number(process.env.GRAYKIT_PROPERTY_RUNS ?? 500);

/** What a consumer assigns each bucket under a config document, read back through JSON and the codec. */
function assignment(config: ServiceConfig): Array<string> {
  const decoded = decodeConfig(JSON.stringify(config));
  if (!decoded.ok) throw new Error(decoded.reason);
  const split = laneSplit(decoded.value.ratio ?? 0, decoded.value.lanes, decoded.value.buckets);
  return Array.from({ length: BUCKETS }, (_, bucket) => split.buckets[bucket] ?? 'normal');
}

const LANES = ['gray', 'canary', 'pr-42', 'v3', 'hotfix'];
const change = fc.record({ lane: fc.constantFrom(...LANES), share: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 100, noNaN: true }), fc.constant(0)) });

describe('bucketing stays stable with several lanes (property over random share sequences)', () => {
  test(`any sequence of share changes moves users only between the changed lane and base (${PROPERTY_RUNS} sequences of up to 40 changes)`, () => {
    let steps = 0;
    fc.assert(
      fc.property(fc.array(change, { minLength: 1, maxLength: 40 }), (changes) => {
        let config: ServiceConfig = {};
        let before = assignment(config);
        for (const { lane, share } of changes) {
          const next = withShare(config, lane, share);
          const shares = laneShares(next.ratio ?? 0, next.lanes);
          const decoded = decodeConfig(JSON.stringify(next));
          if (!decoded.ok) {
            // The admin's write is refused (setConfig validates): the config stays as it was.
            expect(decoded.reason).toMatch(/"ratio" and "lanes" add up to .*more than 100/);
            expect(shares.reduce((sum, entry) => sum + entry.share, 0)).toBeGreaterThan(99.99);
            continue;
          }
          steps++;
          const after = assignment(next);
          const oldShare = lane === 'gray' ? (config.ratio ?? 0) : (config.lanes?.[lane] ?? 0);
          for (let bucket = 0; bucket < BUCKETS; bucket++) {
            if (before[bucket] === after[bucket]) continue;
            if (share > oldShare) expect([before[bucket], after[bucket]]).toEqual(['normal', lane]);
            else expect([before[bucket], after[bucket]]).toEqual([lane, 'normal']);
          }
          for (const entry of shares) expect(after.filter((owner) => owner === entry.lane)).toHaveLength(bucketCount(entry.lane, entry.share));
          config = next;
          before = after;
        }
      }),
      { numRuns: PROPERTY_RUNS },
    );
    expect(steps).toBeGreaterThan(PROPERTY_RUNS); // the property ran over real changes, not only refused ones
    if (process.env.GRAYKIT_FIGURES) console.log(`bucketing property: ${PROPERTY_RUNS} sequences, ${steps} accepted share changes`);
  });

  test('with gray alone, the assignment is exactly the one from before lanes (bucket < ratio), and the document stays {ratio}', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 100, noNaN: true })), { minLength: 1, maxLength: 20 }), (ratios) => {
        let config: ServiceConfig = {};
        for (const ratio of ratios) {
          config = withShare(config, 'gray', ratio);
          expect(config).toEqual({ ratio });
          const split = laneSplit(ratio);
          for (const key of ['u1', 'u2', 'alice', 'bob', 'id42']) expect(bucketLaneOf(key, split)).toBe(bucketOf(key) < ratio ? 'gray' : 'normal');
        }
      }),
      { numRuns: 200 },
    );
  });

  test('a named lane at 0 again leaves the document as it was before lanes, when gray kept its lowest buckets', () => {
    const withCanary = withShare({ ratio: 10 }, 'canary', 10);
    expect(withCanary).toMatchObject({ ratio: 10, lanes: { canary: 10 }, buckets: { gray: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], canary: [10, 11, 12, 13, 14, 15, 16, 17, 18, 19] } });
    expect(withShare(withCanary, 'canary', 0)).toEqual({ ratio: 10 });
  });
});

describe('the random draw splits by shares', () => {
  test('evenly spread draws land in each lane by its share', () => {
    const shares = laneShares(10, { canary: 25, 'pr-42': 5 });
    const counts: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) {
      const lane = drawLane(shares, () => i / 1000);
      counts[lane] = (counts[lane] ?? 0) + 1;
    }
    expect(counts).toEqual({ gray: 100, canary: 250, 'pr-42': 50, normal: 600 });
  });

  test("a crashed rollout takes gray's share and buckets away; named lanes keep theirs", () => {
    const split: LaneSplit = withoutLane(laneSplit(10, { canary: 10 }));
    expect(split.shares).toEqual([{ lane: 'canary', share: 10 }]);
    expect(split.buckets.filter((lane) => lane === 'canary')).toHaveLength(10);
    expect(split.buckets.filter((lane) => lane === 'gray')).toHaveLength(0);
    const canaryCrashed = withoutLane(laneSplit(10, { canary: 10 }), 'canary');
    expect(canaryCrashed.shares).toEqual([{ lane: 'gray', share: 10 }]);
    expect(canaryCrashed.buckets.filter((lane) => lane === 'canary')).toHaveLength(0);
  });
});
