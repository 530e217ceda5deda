/** The lane as a header and as a W3C baggage member: reading, writing, limits, malformed input. Pure. */
import type { IHeaders, Message } from 'kafkajs';
import { BAGGAGE_LANE_KEY, MAX_BAGGAGE_BYTES, extractLane, injectLane, laneFromBaggage, readLane, withLaneInBaggage } from '../../src/context/propagation';

describe('laneFromBaggage', () => {
  test.each([
    ['gray.lane=gray', 'gray'],
    ['gray.lane=normal', 'normal'],
    ['user=1,gray.lane=gray', 'gray'],
    ['user=1, gray.lane = gray ;prop=x, tenant=a', 'gray'],
    ['gray.lane=%67ray', 'gray'], // percent-encoded value
    ['gray.lane=GRAY', 'gray'],
    [['user=1', 'gray.lane=normal'], 'normal'], // the header sent twice
    [Buffer.from('gray.lane=gray'), 'gray'], // kafkajs gives Buffers
  ])('%j -> %s', (value, lane) => expect(laneFromBaggage(value)).toBe(lane));

  test.each([[undefined], [''], ['user=1'], ['gray.lane=blue_1'], ['gray.lane=-pr'], ['gray.lane=a%0Ab'], ['gray.lane=%E0%A4%A'], ['gray.lanes=gray'], ['xgray.lane=gray'], [42], [{}]])('%j -> no lane, no error', (value) => {
    expect(laneFromBaggage(value)).toBeUndefined();
  });
});

describe('withLaneInBaggage', () => {
  test('no baggage: graykit\'s member alone', () => {
    expect(withLaneInBaggage(undefined, 'gray')).toBe(`${BAGGAGE_LANE_KEY}=gray`);
    expect(withLaneInBaggage('', 'normal')).toBe('gray.lane=normal');
  });

  test('other members are kept byte for byte; ours is appended, or replaced where it stands (its properties kept)', () => {
    expect(withLaneInBaggage('user=1;ttl=3, tenant=a%20b', 'gray')).toBe('user=1;ttl=3, tenant=a%20b,gray.lane=gray');
    expect(withLaneInBaggage('user=1, gray.lane=normal;src=edge ,tenant=a', 'gray')).toBe('user=1, gray.lane=gray;src=edge ,tenant=a');
  });

  test('malformed baggage is left alone (undefined: the caller keeps the header as it is)', () => {
    expect(withLaneInBaggage('user=1,,tenant=a', 'gray')).toBeUndefined();
    expect(withLaneInBaggage('no equals sign', 'gray')).toBeUndefined();
    expect(withLaneInBaggage('gray.lane=gray,gray.lane=normal', 'gray')).toBeUndefined();
  });

  test('W3C limits: 64 members, 8192 bytes; a member that would exceed them is not added', () => {
    const sixtyFour = Array.from({ length: 64 }, (_, i) => `k${i}=v`).join(',');
    expect(withLaneInBaggage(sixtyFour, 'gray')).toBeUndefined();
    expect(withLaneInBaggage(sixtyFour.replace('k0=v', 'gray.lane=normal'), 'gray')).toContain('gray.lane=gray'); // replacing adds none
    const big = `big=${'x'.repeat(MAX_BAGGAGE_BYTES - 10)}`;
    expect(withLaneInBaggage(big, 'gray')).toBeUndefined();
    expect(withLaneInBaggage(`big=${'x'.repeat(100)}`, 'gray')).toBe(`big=${'x'.repeat(100)},gray.lane=gray`);
  });
});

describe('readLane, injectLane, extractLane', () => {
  test('the lane header first, then baggage; either is read whatever is written', () => {
    expect(readLane({ 'x-gray-lane': 'normal', baggage: 'gray.lane=gray' })).toBe('normal');
    expect(readLane({ baggage: 'gray.lane=gray' })).toBe('gray');
    expect(readLane({ 'X-Gray-Lane': 'gray' })).toBe('gray');
    expect(readLane({ 'x-lane': 'gray' }, 'x-lane')).toBe('gray');
    expect(readLane({})).toBeUndefined();
  });

  test('injectLane writes per propagation and keeps other baggage; no lane, no change', () => {
    expect(injectLane({}, 'gray')).toEqual({ 'x-gray-lane': 'gray', baggage: 'gray.lane=gray' });
    expect(injectLane({ baggage: 'a=1' }, 'normal', { propagation: 'baggage' })).toEqual({ baggage: 'a=1,gray.lane=normal' });
    expect(injectLane({}, 'gray', { propagation: 'header', laneHeader: 'X-Lane' })).toEqual({ 'x-lane': 'gray' });
    expect(injectLane({ a: '1' }, undefined)).toEqual({ a: '1' });
  });

  test('a kafkajs record: headers with Buffer values in, string values out, round trip', () => {
    const received: Message = { value: Buffer.from('{}'), headers: { 'x-gray-lane': Buffer.from('gray'), baggage: Buffer.from('tenant=a') } };
    expect(extractLane(received.headers)).toBe('gray');
    expect(extractLane({ baggage: [Buffer.from('tenant=a'), Buffer.from('gray.lane=normal')] } as IHeaders)).toBe('normal');
    const outgoing: Message = { value: 'order 42', headers: injectLane<IHeaders>({ baggage: Buffer.from('tenant=a') }, extractLane(received.headers)) };
    expect(outgoing.headers).toEqual({ baggage: 'tenant=a,gray.lane=gray', 'x-gray-lane': 'gray' });
    expect(extractLane(outgoing.headers)).toBe('gray');
    expect(extractLane(undefined)).toBeUndefined();
  });
});
