/**
 * Prometheus histograms as graykit reads them: cumulative bucket counts by upper bound, and the quantile as
 * Prometheus's `histogram_quantile()` computes it. Pure.
 */

/** Cumulative bucket counts by upper bound (`le`, seconds; `+Inf` is Infinity), as a histogram exposes them. */
export type Buckets = ReadonlyMap<number, number>;

/** `le` label text to a number: `+Inf` is Infinity; undefined when it is not a bound. */
export function parseLe(text: string | undefined): number | undefined {
  if (text === '+Inf') return Infinity;
  const value = Number(text);
  return text !== undefined && text.trim() !== '' && Number.isFinite(value) ? value : undefined;
}

/** The buckets by increasing bound. */
export function sortedBuckets(buckets: Buckets): Array<[number, number]> {
  return [...buckets].sort((a, b) => a[0] - b[0]);
}

/**
 * The q-quantile of a histogram, as Prometheus's histogram_quantile(): find the bucket holding rank q * count and
 * interpolate linearly inside it (from 0 for the first bucket when its bound is positive). A rank in the +Inf
 * bucket gives the highest finite bound. Null without observations or without a +Inf bucket. A count lower than a
 * lower bound's (a bucket one instance's page lacked) is raised to it, as Prometheus does, so that the result stays
 * inside the buckets.
 */
export function histogramQuantile(q: number, buckets: Buckets): number | null {
  const list = sortedBuckets(buckets);
  for (let i = 1; i < list.length; i++) if (list[i][1] < list[i - 1][1]) list[i] = [list[i][0], list[i - 1][1]];
  if (list.length === 0 || list[list.length - 1][0] !== Infinity) return null;
  const total = list[list.length - 1][1];
  if (!(total > 0)) return null;
  const rank = q * total;
  let index = list.findIndex(([, count]) => count >= rank);
  if (index < 0) index = list.length - 1;
  if (list[index][0] === Infinity) return list.length >= 2 ? list[list.length - 2][0] : null;
  const [upper, count] = list[index];
  let lower = 0;
  let below = 0;
  if (index > 0) [lower, below] = list[index - 1];
  else if (upper <= 0) return upper;
  if (count === below) return upper;
  return lower + (upper - lower) * ((rank - below) / (count - below));
}
