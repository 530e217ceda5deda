import { lostUpdates } from '../../bench/scale-report';
import type { BurstResult, ChangeSeries, PointResult } from '../../bench/scale-results';
import { medianInterval } from '../../bench/stats';

const ranks = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('medianInterval: the distribution-free 95 % interval of a median', () => {
  // The usual order-statistic bounds of the median at 95 % (binomial, p = 1/2), as printed in nonparametric tables.
  test.each([
    [6, [1, 6]],
    [10, [2, 9]],
    [20, [6, 15]],
    [40, [14, 27]],
    [100, [40, 61]],
  ])('n = %p: the values of ranks %p', (n, expected) => {
    expect(medianInterval(ranks(n))).toEqual(expected);
  });

  test('too few values for 95 %: no interval', () => expect(medianInterval(ranks(5))).toEqual([NaN, NaN]));

  test('order of the sample does not matter', () => expect(medianInterval([9, 1, 5, 3, 7, 2, 8, 4, 10, 6])).toEqual([2, 9]));
});

describe('lostUpdates: what the scale report counts as not seen', () => {
  const series = (missed: number, missedLive?: number) => ({ missed, ...(missedLive === undefined ? {} : { missedLive }) }) as ChangeSeries;
  const burst = (incomplete: number, goneMissed: number, live?: [number, number]) =>
    ({ consumersIncomplete: incomplete, goneMissed, ...(live ? { incompleteLive: live[0], goneMissedLive: live[1] } : {}) }) as BurstResult;

  test('changes missed, consumers that never held the burst and those that never saw it leave; and of those, the ones with live sessions', () => {
    const point = { ratio: series(3, 1), added: series(0, 0), removed: series(2, 0), burst: burst(5, 4, [0, 2]) } as PointResult;
    expect(lostUpdates(point)).toEqual({ measured: true, count: 14, live: 3 });
  });

  test('results from before the live count say nothing about it', () => {
    const point = { ratio: series(1), added: series(0), removed: series(0), burst: burst(2, 0) } as PointResult;
    expect(lostUpdates(point)).toEqual({ measured: true, count: 3, live: undefined });
  });
});
