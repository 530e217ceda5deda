import { createBackoff } from '../../src/util/backoff';

describe('createBackoff', () => {
  test('each delay lies in [base, 1.5 base]; the base doubles up to the cap; reset starts over', () => {
    const low = createBackoff({ initialMs: 200, maxMs: 1000, random: () => 0 });
    expect([1, 2, 3, 4, 5].map(() => low.next())).toEqual([200, 400, 800, 1000, 1000]);
    const high = createBackoff({ initialMs: 200, maxMs: 1000, random: () => 0.999999 });
    expect([1, 2, 3, 4].map(() => high.next())).toEqual([300, 600, 1200, 1500]);
    low.reset();
    expect(low.next()).toBe(200);
  });

  test('jitter spreads a fleet: 1000 clients retrying from the same failure do not retry at the same moment', () => {
    const firsts = Array.from({ length: 1000 }, () => createBackoff({ initialMs: 2000, maxMs: 30_000 }).next());
    expect(Math.min(...firsts)).toBeGreaterThanOrEqual(2000);
    expect(Math.max(...firsts)).toBeLessThanOrEqual(3000);
    // Spread over the window: no 100 ms slot holds more than a fifth of the fleet (uniform: about a tenth).
    const slots = new Map<number, number>();
    for (const delay of firsts) slots.set(Math.floor(delay / 100), (slots.get(Math.floor(delay / 100)) ?? 0) + 1);
    expect(Math.max(...slots.values())).toBeLessThan(200);
    expect(slots.size).toBeGreaterThanOrEqual(10);
  });
});
