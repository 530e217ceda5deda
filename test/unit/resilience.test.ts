/** The pure parts of resilience: routing around instances, what counts as a connection failure, the ejection state. */
import { defaults, isConnectionError, type Instance } from '../../src';
import { buildRoutingTable, route } from '../../src/router';
import { resolveFailoverOptions } from '../../src/consumer/failover';
import { ServiceOutliers, resolveOutlierOptions } from '../../src/consumer/outlier';

function instance(port: number, gray: boolean, weight = 100): Instance {
  return { id: `127.0.0.1:${port}`, host: '127.0.0.1', port, gray, lane: gray ? 'gray' : 'normal', weight, meta: {}, path: `/x/${port}` };
}

describe('route with skip and crossLane', () => {
  const g1 = instance(1, true);
  const g2 = instance(2, true);
  const n1 = instance(3, false);
  const n2 = instance(4, false);
  const skipping = (...skipped: Instance[]) => (candidate: Instance) => skipped.includes(candidate);

  test.each([
    ['skips to the lane\'s next instance', [g1, g2, n1], 'gray', [g1], false, ['gray', g2]],
    ['stays in its lane when the lane is used up', [g1, n1], 'gray', [g1], false, undefined],
    ['crosses lanes only when asked, and says so', [g1, n1], 'gray', [g1], true, ['normal', n1]],
    ['crosses from normal to gray too', [g1, n1, n2], 'normal', [n1, n2], true, ['gray', g1]],
    ['one lane empty: every instance serves the lane, no crossing needed', [n1, n2], 'gray', [n1], false, ['gray', n2]],
    ['nothing left anywhere', [g1, n1], 'gray', [g1, n1], true, undefined],
  ] as const)('%s', (_name, instances, lane, skipped, crossLane, expected) => {
    const table = buildRoutingTable(instances);
    const decision = route(table, { ratio: 0, lane, skip: skipping(...skipped), crossLane });
    expect(decision && [decision.lane, decision.instance]).toEqual(expected);
  });

  test('skipping keeps the rotation going over the others', () => {
    const table = buildRoutingTable([n1, n2, instance(5, false)]);
    const picks = Array.from({ length: 6 }, () => route(table, { ratio: 0, skip: skipping(n1) })!.instance.port);
    expect(picks.filter((port) => port === 3)).toEqual([]);
    expect(new Set(picks)).toEqual(new Set([4, 5]));
  });

  test('with weights, a light instance is still found when the heavy one is skipped', () => {
    const heavy = instance(10, false, 1000);
    const light = instance(11, false, 1);
    const table = buildRoutingTable([heavy, light]);
    for (let i = 0; i < 5; i++) expect(route(table, { ratio: 0, skip: skipping(heavy) })?.instance).toBe(light);
  });
});

describe('isConnectionError', () => {
  test.each([
    ['refused', { code: 'ECONNREFUSED' }, true],
    ['reset before any response', { code: 'ECONNRESET' }, true],
    ['broken pipe', { code: 'EPIPE' }, true],
    ['host unreachable', { code: 'EHOSTUNREACH' }, true],
    ['the system\'s connect timeout', { code: 'ETIMEDOUT', syscall: 'connect' }, true],
    ['graykit\'s connect timeout, wrapped by axios', { code: 'ETIMEDOUT', cause: { code: 'ETIMEDOUT', syscall: 'connect' } }, true],
    ['axios\'s request timeout (clarifyTimeoutError)', { code: 'ETIMEDOUT' }, false],
    ['axios\'s request timeout', { code: 'ECONNABORTED' }, false],
    ['a cancelled request', { code: 'ERR_CANCELED' }, false],
    ['a reset after a response came', { code: 'ECONNRESET', response: { status: 200 } }, false],
    ['an HTTP error status', { code: 'ERR_BAD_RESPONSE', response: { status: 503 } }, false],
    ['no instance', { code: 'ERR_GRAYKIT_NO_INSTANCE' }, false],
    ['not an object', 'ECONNREFUSED', false],
    ['null', null, false],
  ])('%s: %p', (_name, error, expected) => {
    expect(isConnectionError(error)).toBe(expected);
  });
});

describe('ServiceOutliers: ejection, back-off and the half-open probe', () => {
  const a = instance(1, false);
  const b = instance(2, false);
  const instances = [a, b];
  const options = { consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionMs: 4000, maxEjectionPercent: 100 };
  const accept = () => true;

  test('N failures in a row eject; a response in between resets the count', () => {
    const outliers = new ServiceOutliers(options);
    expect(outliers.failure(a.id, 0, 10)).toBeUndefined();
    expect(outliers.failure(a.id, 1, 10)).toBeUndefined();
    outliers.success(a.id, 2);
    expect(outliers.failure(a.id, 3, 10)).toBeUndefined();
    expect(outliers.failure(a.id, 4, 10)).toBeUndefined();
    expect(outliers.failure(a.id, 5, 10)).toEqual({ ms: 1000, failures: 3 });
    expect(outliers.out).toBe(1);
    expect(outliers.isOut(a.id)).toBe(true);
    expect(outliers.nextProbeAt).toBe(1005);
    // Late failures of requests sent before the ejection change nothing.
    expect(outliers.failure(a.id, 6, 10)).toBeUndefined();
    expect(outliers.out).toBe(1);
  });

  test('exactly one probe after the period; its success restores the instance', () => {
    const outliers = new ServiceOutliers(options);
    for (let t = 0; t < 3; t++) outliers.failure(a.id, t, 10);
    expect(outliers.takeProbe(instances, accept, 1001)).toBeUndefined(); // period not over
    expect(outliers.takeProbe(instances, accept, 1002)).toBe(a);
    expect(outliers.takeProbe(instances, accept, 1003)).toBeUndefined(); // one probe at a time
    expect(outliers.isOut(a.id)).toBe(true);
    expect(outliers.success(a.id, 1010)).toBe(true);
    expect(outliers.out).toBe(0);
    expect(outliers.isOut(a.id)).toBe(false);
    expect(outliers.nextProbeAt).toBe(Number.POSITIVE_INFINITY);
  });

  test('a failed probe doubles the period, up to the cap', () => {
    const outliers = new ServiceOutliers(options);
    for (let t = 0; t < 3; t++) outliers.failure(a.id, t, 10);
    const periods: number[] = [];
    let now = 2;
    for (let i = 0; i < 4; i++) {
      now = outliers.nextProbeAt;
      expect(outliers.takeProbe(instances, accept, now)).toBe(a);
      periods.push(outliers.failure(a.id, now, 10)!.ms);
    }
    expect(periods).toEqual([2000, 4000, 4000, 4000]);
  });

  test('the back-off starts over once the instance stayed healthy for maxEjectionMs', () => {
    const outliers = new ServiceOutliers(options);
    const eject = (t: number) => {
      let result;
      for (let i = 0; i < 3; i++) result = outliers.failure(a.id, t, 10);
      return result?.ms;
    };
    expect(eject(0)).toBe(1000);
    outliers.takeProbe(instances, accept, 1000);
    outliers.success(a.id, 1000);
    expect(eject(2000)).toBe(2000); // soon after coming back: doubled
    outliers.takeProbe(instances, accept, 4000);
    outliers.success(a.id, 4000);
    expect(eject(4000 + 4001)).toBe(1000); // healthy for longer than the cap: from the base again
  });

  test('a probe that reports nothing is offered again after its lease, or at once when abandoned', () => {
    const outliers = new ServiceOutliers(options);
    for (let t = 0; t < 3; t++) outliers.failure(a.id, t, 10);
    expect(outliers.takeProbe(instances, accept, 1002)).toBe(a);
    expect(outliers.takeProbe(instances, accept, 2001)).toBeUndefined();
    expect(outliers.takeProbe(instances, accept, 2002)).toBe(a); // the lease (one period) ran out
    outliers.abandon(a.id, 2003);
    expect(outliers.takeProbe(instances, accept, 2003)).toBe(a);
  });

  test('the probe goes only to a request that accepts the instance', () => {
    const outliers = new ServiceOutliers(options);
    for (let t = 0; t < 3; t++) outliers.failure(a.id, t, 10);
    expect(outliers.takeProbe(instances, () => false, 2000)).toBeUndefined();
    expect(outliers.takeProbe(instances, (candidate) => candidate === a, 2000)).toBe(a);
  });

  test('the filtered table leaves ejected instances out and is built once per change', () => {
    const outliers = new ServiceOutliers(options);
    for (let t = 0; t < 3; t++) outliers.failure(a.id, t, 10);
    const table = outliers.table(instances);
    expect(table.all.instances).toEqual([b]);
    expect(outliers.table(instances)).toBe(table);
    outliers.takeProbe(instances, accept, 1002);
    outliers.success(a.id, 1003);
    expect(outliers.table(instances).all.instances).toEqual([a, b]);
  });

  test('at most maxEjectionPercent of the instances are out at once, and always at least one may be', () => {
    const outliers = new ServiceOutliers({ ...options, consecutiveFailures: 1, maxEjectionPercent: 50 });
    expect(outliers.failure(a.id, 0, 3)).toEqual({ ms: 1000, failures: 1 }); // 1 of 3: allowed (floor(1.5) = 1)
    expect(outliers.failure(b.id, 0, 3)).toBeUndefined(); // a second of 3 would be 67%
    expect(outliers.isOut(b.id)).toBe(false);
    expect(outliers.failure(b.id, 0, 4)).toEqual({ ms: 1000, failures: 2 }); // 2 of 4: allowed
    const lone = new ServiceOutliers({ ...options, consecutiveFailures: 1, maxEjectionPercent: 0 });
    expect(lone.failure(a.id, 0, 1)).toEqual({ ms: 1000, failures: 1 }); // one may always be ejected
    // A failed probe re-ejects whatever the share: the instance is out already.
    lone.takeProbe(instances, accept, 1000);
    expect(lone.failure(a.id, 1000, 1)?.ms).toBe(2000);
  });

  test('instances that leave the registry are forgotten', () => {
    const outliers = new ServiceOutliers(options);
    for (let t = 0; t < 3; t++) outliers.failure(a.id, t, 10);
    outliers.failure(b.id, 0, 10);
    outliers.prune([b]);
    expect(outliers.out).toBe(0);
    expect(outliers.has(a.id)).toBe(false);
    expect(outliers.has(b.id)).toBe(true);
    outliers.success(b.id, 1);
    expect(outliers.empty).toBe(true);
  });
});

describe('failover and outlier options', () => {
  test('defaults, without touching the caller\'s object', () => {
    const given = Object.freeze({ attempts: 2 });
    const resolved = resolveFailoverOptions(given);
    expect(resolved).toEqual({ attempts: 2, methods: new Set(['get', 'head', 'options', 'put', 'delete']), crossLane: false, connectTimeout: 1000 });
    expect(defaults.failover).toMatchObject({ attempts: 3, crossLane: false, connectTimeout: 1000 });
    expect(resolveFailoverOptions(false).attempts).toBe(1);
    expect(resolveOutlierOptions(Object.freeze({}))).toEqual({ consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionMs: 30_000, maxEjectionPercent: 50 });
    expect(defaults.outlier).toEqual({ consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionMs: 30_000, maxEjectionPercent: 50 });
    expect(resolveOutlierOptions(false)).toBeUndefined();
    // A base above the default cap raises the cap, unless the cap is given.
    expect(resolveOutlierOptions({ baseEjectionMs: 60_000 })?.maxEjectionMs).toBe(60_000);
  });

  test.each([
    [{ attempts: 0 }, 'failover.attempts'],
    [{ attempts: 1.5 }, 'failover.attempts'],
    [{ methods: 'GET' }, 'failover.methods'],
    [{ crossLane: 'yes' }, 'failover.crossLane'],
    [{ connectTimeout: Number.NaN }, 'failover.connectTimeout'],
  ])('failover %p is refused, naming %s', (options, option) => {
    expect(() => resolveFailoverOptions(options as never)).toThrow(new RegExp(`\`${option.replace('.', '\\.')}\``));
  });

  test.each([
    [{ consecutiveFailures: 0 }, 'outlier.consecutiveFailures'],
    [{ baseEjectionMs: 0 }, 'outlier.baseEjectionMs'],
    [{ baseEjectionMs: 500, maxEjectionMs: 100 }, 'outlier.maxEjectionMs'],
    [{ maxEjectionPercent: 101 }, 'outlier.maxEjectionPercent'],
  ])('outlier %p is refused, naming %s', (options, option) => {
    expect(() => resolveOutlierOptions(options)).toThrow(new RegExp(`\`${option.replace('.', '\\.')}\``));
  });
});
