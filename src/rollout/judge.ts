/**
 * The verdict of a rollout step, from the requests and errors each lane saw since the step began. Pure.
 *
 * - Too little gray traffic (fewer than `minRequests`), or a gray instance whose metrics could not be read:
 *   `insufficient` (the step waits longer, then fails closed).
 * - The gray lane's error rate above `maxErrorRate`: `breach`.
 * - The gray lane's error rate significantly above the normal lane's (one-sided two-proportion z-test at
 *   `normalConfidence`, when the normal lane saw at least `minRequests` too): `breach`. This catches a new failure
 *   mode that stays under the threshold, e.g. 0.8 % against a normal lane's 0 % over thousands of requests.
 * - A gray latency quantile above its limit (`maxLatencyMs`, from the latency histograms): `breach`.
 * - The gray lane's tail significantly slower than the normal lane's (latency.ts says which test and why, at
 *   `latencyConfidence`, when the normal lane saw at least `minRequests` too): `breach`.
 * - Otherwise `pass`.
 */
import { QUANTILES, bucketsOf, formatSeconds, slowerThan, tailBound, type LatencyStats, type QuantileName } from './latency';

export interface LaneCounts {
  requests: number;
  errors: number;
  /** The lane's latency over the step, when the providers expose histograms. */
  latency?: LatencyStats;
}

export interface JudgeOptions {
  /** Highest acceptable error rate of the gray lane, a fraction (0.01 = 1 %). */
  maxErrorRate: number;
  /** Gray requests needed to judge. */
  minRequests: number;
  /** Confidence of the comparison with the normal lane (0.999); 0 turns the comparison off. */
  normalConfidence: number;
  /** Highest acceptable gray latency quantiles, ms (`{ p99: 250 }`). Default none. */
  maxLatencyMs?: Partial<Record<QuantileName, number>>;
  /** Confidence of the tail-latency comparison with the normal lane; 0 (the default here) turns it off. */
  latencyConfidence?: number;
}

export type VerdictResult = 'pass' | 'breach' | 'insufficient';

export interface Verdict {
  result: VerdictResult;
  reason: string;
}

/** errors / requests, or null when there were no requests. */
export function errorRate(counts: LaneCounts): number | null {
  return counts.requests > 0 ? counts.errors / counts.requests : null;
}

export function formatRate(rate: number | null): string {
  return rate === null ? '-' : `${(rate * 100).toFixed(2)}%`;
}

/**
 * The standard normal quantile (inverse CDF) for p in (0, 1): Acklam's rational approximation, relative error
 * below 1.2e-9, which is plenty for a critical value.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/** z statistic of "gray's error rate is above normal's" (pooled two-proportion test), or null when undefined. */
export function zScore(gray: LaneCounts, normal: LaneCounts): number | null {
  if (gray.requests === 0 || normal.requests === 0) return null;
  const pooled = (gray.errors + normal.errors) / (gray.requests + normal.requests);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / gray.requests + 1 / normal.requests));
  if (!(se > 0)) return null;
  return (gray.errors / gray.requests - normal.errors / normal.requests) / se;
}

export function judge(gray: LaneCounts, normal: LaneCounts, options: JudgeOptions, unavailable: readonly string[] = []): Verdict {
  const grayRate = errorRate(gray);
  const normalRate = errorRate(normal);
  const both = `gray ${formatRate(grayRate)} (${gray.errors}/${gray.requests}), normal ${formatRate(normalRate)} (${normal.errors}/${normal.requests})`;
  if (unavailable.length > 0) return { result: 'insufficient', reason: `metrics unavailable: ${unavailable.join('; ')}` };
  if (gray.requests < options.minRequests) {
    return { result: 'insufficient', reason: `too little gray traffic to judge: ${gray.requests} requests, ${options.minRequests} needed` };
  }
  if ((grayRate as number) > options.maxErrorRate) {
    const normalNote = normalRate !== null && normalRate > options.maxErrorRate ? '; the normal lane is above it too' : '';
    return { result: 'breach', reason: `gray error rate ${formatRate(grayRate)} > max ${formatRate(options.maxErrorRate)}${normalNote} (${both})` };
  }
  if (options.normalConfidence > 0 && normal.requests >= options.minRequests) {
    const z = zScore(gray, normal);
    const critical = normalQuantile(options.normalConfidence);
    if (z !== null && z > critical) {
      return {
        result: 'breach',
        reason: `gray error rate ${formatRate(grayRate)} is above the normal lane's ${formatRate(normalRate)} (z ${z.toFixed(2)} > ${critical.toFixed(2)}, ${(options.normalConfidence * 100).toFixed(1)}% confidence; ${both})`,
      };
    }
  }
  const latency = judgeLatency(gray, normal, options);
  if (latency.breach) return { result: 'breach', reason: latency.breach };
  return { result: 'pass', reason: `gray error rate ${formatRate(grayRate)} <= max ${formatRate(options.maxErrorRate)}${latency.note} (${both})` };
}

/** The latency part of the verdict: a breach's reason, or a note for the pass reason. */
function judgeLatency(gray: LaneCounts, normal: LaneCounts, options: JudgeOptions): { breach?: string; note: string } {
  const limits = QUANTILES.filter((q) => options.maxLatencyMs?.[q] !== undefined);
  const confidence = options.latencyConfidence ?? 0;
  if (limits.length === 0 && confidence === 0) return { note: '' };
  if (!gray.latency) {
    // Asked for, but the gray providers expose no histogram: judging only errors would pass a slow version.
    return { breach: 'no latency histogram from the gray lane (graykit_http_request_duration_seconds): latency cannot be judged', note: '' };
  }
  const notes: string[] = [];
  for (const q of limits) {
    const value = gray.latency[q];
    const max = (options.maxLatencyMs![q] as number) / 1000;
    if (value !== null && value > max) {
      return { breach: `gray ${q} latency ${formatSeconds(value)} > max ${formatSeconds(max)} (normal ${q} ${formatSeconds(normal.latency?.[q] ?? null)})`, note: '' };
    }
    notes.push(`${q} ${formatSeconds(value)} <= ${formatSeconds(max)}`);
  }
  if (confidence > 0 && normal.latency && normal.requests >= options.minRequests) {
    const normalBuckets = bucketsOf(normal.latency);
    const bound = tailBound(normalBuckets);
    if (bound !== undefined) {
      const slowGray = slowerThan(bucketsOf(gray.latency), bound);
      const slowNormal = slowerThan(normalBuckets, bound);
      const z = zScore(slowGray, slowNormal);
      const critical = normalQuantile(confidence);
      const shares = `gray ${formatRate(errorRate(slowGray))} (${slowGray.errors}/${slowGray.requests}), normal ${formatRate(errorRate(slowNormal))} (${slowNormal.errors}/${slowNormal.requests})`;
      if (z !== null && z > critical) {
        return {
          breach: `gray is slower than normal: requests over ${formatSeconds(bound)} (the normal lane's p99 bucket) ${shares} (z ${z.toFixed(2)} > ${critical.toFixed(2)}, ${(confidence * 100).toFixed(1)}% confidence)`,
          note: '',
        };
      }
    }
  }
  return { note: notes.length ? `, latency ${notes.join(', ')}` : '' };
}
