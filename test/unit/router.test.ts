import { type Instance } from '../../src';
import { buildRoutingTable, createBalancer, pickLane, route } from '../../src/router';

function instance(port: number, gray: boolean, weight = 100): Instance {
  return { id: `127.0.0.1:${port}`, host: '127.0.0.1', port, gray, lane: gray ? 'gray' : 'normal', weight, meta: {}, path: `/x/${port}` };
}

/** A deterministic sequence for the ratio split: 0, 1/n, 2/n, ... so a ratio of r sends exactly r% to gray. */
function evenRandom(n: number): () => number {
  let i = 0;
  return () => (i++ % n) / n;
}

describe('pickLane: the original split semantics', () => {
  test.each([
    [-5, 'normal'],
    [0, 'normal'],
    [100, 'gray'],
    [150, 'gray'],
    [Number.NaN, 'normal'],
  ])('ratio %p always gives %p, whatever the random draw', (ratio, lane) => {
    for (const draw of [0, 0.3, 0.999]) expect(pickLane(ratio, () => draw)).toBe(lane);
  });

  test('between 0 and 100 a request is gray exactly when random*100 < ratio', () => {
    expect(pickLane(33, () => 0.329)).toBe('gray');
    expect(pickLane(33, () => 0.33)).toBe('normal');
    const random = evenRandom(1000);
    let gray = 0;
    for (let i = 0; i < 1000; i++) if (pickLane(33, random) === 'gray') gray++;
    expect(gray).toBe(330);
  });
});

describe('route', () => {
  const g1 = instance(1, true);
  const n1 = instance(2, false);
  const n2 = instance(3, false);

  test('ratio 0 sends only to normal instances, ratio 100 only to gray ones', () => {
    const table = buildRoutingTable([g1, n1, n2]);
    for (let i = 0; i < 20; i++) {
      expect(route(table, { ratio: 0 })?.instance.gray).toBe(false);
      expect(route(table, { ratio: 100 })?.instance).toBe(g1);
    }
  });

  test('ratio 33 sends a third to gray, and the decision names the lane', () => {
    const table = buildRoutingTable([g1, n1, n2]);
    const random = evenRandom(300);
    const lanes: Record<string, number> = { gray: 0, normal: 0 };
    for (let i = 0; i < 300; i++) {
      const decision = route(table, { ratio: 33, random })!;
      expect(decision.instance.gray).toBe(decision.lane === 'gray');
      lanes[decision.lane]++;
    }
    expect(lanes).toEqual({ gray: 99, normal: 201 });
  });

  test.each([
    ['no gray instance', [n1, n2], 100],
    ['no normal instance', [g1], 0],
  ])('with %s, every instance serves whatever the ratio', (_name, instances, ratio) => {
    const table = buildRoutingTable(instances);
    const seen = new Set<number>();
    for (let i = 0; i < 10; i++) seen.add(route(table, { ratio })!.instance.port);
    expect([...seen].sort()).toEqual(instances.map((x) => x.port).sort());
  });

  test('a pinned lane wins over the ratio', () => {
    const table = buildRoutingTable([g1, n1, n2]);
    expect(route(table, { ratio: 0, lane: 'gray' })).toEqual({ lane: 'gray', instance: g1 });
    expect(route(table, { ratio: 100, lane: 'normal' })?.instance.gray).toBe(false);
  });

  test('a pinned lane that is empty falls back to all instances and keeps its lane', () => {
    const table = buildRoutingTable([n1, n2]);
    const decision = route(table, { ratio: 0, lane: 'gray' })!;
    expect(decision.lane).toBe('gray');
    expect(decision.instance.gray).toBe(false);
  });

  test('no instance at all gives undefined; weight 0 takes an instance out', () => {
    expect(route(buildRoutingTable([]), { ratio: 50 })).toBeUndefined();
    expect(route(buildRoutingTable([instance(9, false, 0)]), { ratio: 0 })).toBeUndefined();
    const table = buildRoutingTable([instance(9, false, 0), n1]);
    for (let i = 0; i < 5; i++) expect(route(table, { ratio: 0 })!.instance).toBe(n1);
  });
});

describe('createBalancer', () => {
  test('equal weights rotate in order', () => {
    const list = [instance(1, false), instance(2, false), instance(3, false)];
    const balancer = createBalancer(list);
    expect(Array.from({ length: 7 }, () => balancer.next()!.port)).toEqual([1, 2, 3, 1, 2, 3, 1]);
  });

  test('weights 5:1:1 give 5:1:1 picks per cycle, interleaved (smooth), not in a burst', () => {
    const balancer = createBalancer([instance(1, false, 5), instance(2, false, 1), instance(3, false, 1)]);
    const cycle = Array.from({ length: 7 }, () => balancer.next()!.port);
    expect(cycle.filter((p) => p === 1)).toHaveLength(5);
    expect(cycle.filter((p) => p === 2)).toHaveLength(1);
    expect(cycle.filter((p) => p === 3)).toHaveLength(1);
    expect(cycle).toEqual([1, 1, 2, 1, 3, 1, 1]);
  });

  test('the caller never sees its list mutated', () => {
    const list = Object.freeze([instance(1, false), instance(2, false)]);
    const balancer = createBalancer(list);
    balancer.next();
    expect(list.map((x) => x.port)).toEqual([1, 2]);
  });
});
