/** Small statistics helpers. Percentiles use the nearest-rank method on a sorted copy. */

export function sorted(values: ArrayLike<number>): number[] {
  return Array.from(values).sort((a, b) => a - b);
}

/** Nearest-rank percentile (p in 0-100) of unsorted values; NaN for none. */
export function percentile(values: ArrayLike<number>, p: number): number {
  return percentileSorted(sorted(values), p);
}

export function percentileSorted(ascending: readonly number[], p: number): number {
  if (ascending.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * ascending.length);
  return ascending[Math.min(ascending.length - 1, Math.max(0, rank - 1))];
}

export function median(values: ArrayLike<number>): number {
  const s = sorted(values);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return values.length ? sum / values.length : NaN;
}

/** Rounds for JSON and tables: `digits` significant decimals, kept as a number. */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export interface Distribution {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** p50/p90/p99/max/mean of a sample, rounded to 3 decimals. */
export function distribution(values: ArrayLike<number>): Distribution {
  const s = sorted(values);
  return {
    count: s.length,
    p50: round(percentileSorted(s, 50)),
    p90: round(percentileSorted(s, 90)),
    p99: round(percentileSorted(s, 99)),
    max: round(s.length ? s[s.length - 1] : NaN),
    mean: round(mean(s)),
  };
}

/**
 * A distribution-free confidence interval for the median (order statistics of the sorted sample, from the
 * binomial distribution with p = 1/2): [low, high] with at least `confidence` coverage, or [NaN, NaN] when the
 * sample is too small for any interval at that level (fewer than 6 values at 95 %).
 */
export function medianInterval(values: ArrayLike<number>, confidence = 0.95): [number, number] {
  const s = sorted(values);
  const n = s.length;
  const tail = (1 - confidence) / 2;
  // Largest k with P(X < k) <= tail for X ~ Binomial(n, 1/2): the k-th smallest and k-th largest values bound it.
  let k = 0;
  let cumulative = 0;
  let term = 2 ** -n; // P(X = 0)
  while (k < n && cumulative + term <= tail) {
    cumulative += term;
    term = (term * (n - k)) / (k + 1); // P(X = k + 1)
    k++;
  }
  if (k === 0) return [NaN, NaN];
  return [s[k - 1], s[n - k]];
}
