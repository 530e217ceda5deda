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
