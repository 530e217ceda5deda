/**
 * Exponential back-off with jitter, the one schedule every retry loop of graykit uses (registration, session
 * reopen, refused credentials). Without jitter, every provider of a fleet that lost ZooKeeper at the same moment
 * retries at the same moments, and the server that comes back meets them all at once.
 *
 * Each delay is drawn uniformly from [base, 1.5 × base], where base doubles from `initialMs` up to `maxMs`: the
 * documented delays ("200 ms doubling to 10 s") stay the floors, so a retry never comes back sooner than promised,
 * and a fleet that failed together spreads over half a period (the idea of "equal jitter", AWS Architecture Blog,
 * "Exponential Backoff And Jitter", with the jitter above the base instead of below it). Twenty lines did not
 * warrant a dependency.
 */
export interface BackoffOptions {
  /** First base delay, ms. */
  initialMs: number;
  /** Largest base delay, ms. */
  maxMs: number;
  /** Growth of the base per attempt. Default 2. */
  factor?: number;
  /** Source of randomness in [0, 1). Default Math.random. */
  random?: () => number;
}

export interface Backoff {
  /** The next delay, ms, and the base grows for the one after. */
  next(): number;
  /** Back to `initialMs` (after a success). */
  reset(): void;
}

export function createBackoff(options: BackoffOptions): Backoff {
  const { initialMs, maxMs, factor = 2, random = Math.random } = options;
  let base = initialMs;
  return {
    next() {
      const delay = Math.round(base + random() * (base / 2));
      base = Math.min(base * factor, maxMs);
      return delay;
    },
    reset() {
      base = initialMs;
    },
  };
}
