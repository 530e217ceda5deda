/**
 * grayDispatcher's hot path reads a plain headers object (what fetch passes) once, for both the lane header and the
 * caller's baggage (readCallerHeaders), and writes the lane from what it found (withLaneRecord). Property-based: for
 * any headers object with any spellings of those two names (and other headers, values absent or not), any lane and
 * any propagation, the result is exactly what the general two-pass path gives (headerValue, withLane), key order
 * included.
 */
import fc from 'fast-check';
import { headerValue, isRecord, readCallerHeaders, withLane, withLaneRecord } from '../../src/consumer/lane-headers';
import type { LanePropagation } from '../../src/context/propagation';
import type { Lane } from '../../src/types';
import { FUZZ_RUNS } from '../support/hostile';

const runs = { numRuns: FUZZ_RUNS };

const laneHeaderName = fc.constantFrom('x-gray-lane', 'x-lane', 'lane');

/** Every spelling the caller might use of `name`: exact, upper, mixed. */
function spelling(name: string): fc.Arbitrary<string> {
  return fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((upper) => [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''));
}

const value = fc.oneof(
  fc.constantFrom('gray', 'normal', 'GRAY', '', ' ', 'gray.lane=gray', 'user=1', 'user=1,gray.lane=normal', 'a=1;p, gray.lane = gray ;q', 'broken', ',,', 'k=v,bad'),
  fc.string({ maxLength: 12 }),
  fc.constant(undefined),
  fc.array(fc.constantFrom('gray', 'user=1', 'gray.lane=normal'), { minLength: 1, maxLength: 2 }),
);

/** A headers object as fetch (or a caller of undici's request()) might pass: other headers, and the two names in any spelling. */
function headers(name: string): fc.Arbitrary<Record<string, unknown> | null | undefined> {
  const key = fc.oneof(spelling(name), spelling('baggage'), fc.constantFrom('accept', 'user-agent', 'x-other', 'content-type', 'bag', 'x-gray-lan'));
  const record = fc.array(fc.tuple(key, value), { maxLength: 7 }).map((entries) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) out[k] = v;
    return out;
  });
  return fc.oneof({ weight: 10, arbitrary: record }, { weight: 1, arbitrary: fc.constantFrom(null, undefined) });
}

const lane = fc.constantFrom<Lane>('gray', 'normal');
const propagation = fc.constantFrom<LanePropagation>('header', 'baggage', 'both');

describe('grayDispatcher: one read of a plain headers object', () => {
  test('the caller\'s lane header is what headerValue reads; the headers sent are what withLane writes', () => {
    fc.assert(
      fc.property(
        laneHeaderName.chain((name) => fc.tuple(fc.constant(name), headers(name), lane, propagation)),
        ([name, record, chosen, how]) => {
          expect(isRecord(record as never)).toBe(true);
          const into = { callerBaggage: 'stale' as unknown, respelled: -1 };
          const before = record ? JSON.stringify(Object.entries(record)) : String(record);
          expect(readCallerHeaders(record as never, name, into)).toEqual(headerValue(record as never, name));
          expect(into.callerBaggage).toEqual(headerValue(record as never, 'baggage'));
          const fast = withLaneRecord(record as never, name, chosen, how, into.callerBaggage, into.respelled) as Record<string, unknown>;
          const general = withLane(record as never, name, chosen, how) as Record<string, unknown>;
          expect(Object.entries(fast)).toEqual(Object.entries(general));
          // The caller's object is never written to.
          expect(record ? JSON.stringify(Object.entries(record)) : String(record)).toBe(before);
        },
      ),
      runs,
    );
  });

  test('the copy holds what a spread copy holds: own enumerable keys in order, symbols, an own __proto__ as a header', () => {
    const tag = Symbol('caller');
    const fromFetch: Record<string | symbol, unknown> = {};
    for (const [key, value] of [['accept', '*/*'], ['user-agent', 'node'], ['baggage', 'a=1']]) fromFetch[key] = value;
    fromFetch[tag] = 'kept';
    Object.defineProperty(fromFetch, 'hidden', { value: 'x', enumerable: false });
    const odd = JSON.parse('{"accept":"*/*","__proto__":"not a prototype"}') as Record<string, unknown>;
    for (const record of [fromFetch, odd]) {
      for (const copy of [withLaneRecord(record as never, 'x-gray-lane', 'gray', 'both', headerValue(record as never, 'baggage'), 0), withLane(record as never, 'x-gray-lane', 'gray', 'both')] as Record<string | symbol, unknown>[]) {
        const spread: Record<string | symbol, unknown> = { ...record };
        expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
        expect(Object.keys(copy).slice(0, Object.keys(spread).length)).toEqual(Object.keys(spread));
        expect(Object.getOwnPropertySymbols(copy)).toEqual(Object.getOwnPropertySymbols(spread));
        for (const key of Reflect.ownKeys(spread)) if (key !== 'baggage') expect(copy[key]).toBe(spread[key]);
        expect(copy['x-gray-lane']).toBe('gray');
      }
    }
  });

  test('flat arrays and iterables are not plain records (they keep the general path)', () => {
    expect(isRecord(['x-gray-lane', 'gray'] as never)).toBe(false);
    expect(isRecord(new Map([['x-gray-lane', 'gray']]) as never)).toBe(false);
    expect(isRecord({ 'x-gray-lane': 'gray' })).toBe(true);
    expect(isRecord(undefined)).toBe(true);
  });
});
