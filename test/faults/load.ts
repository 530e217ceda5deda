/**
 * A bounded load generator: idempotent GETs at a fixed rate through an axios instance (with useGray installed),
 * bounded in count (rate × maxDurationMs) and in time (maxDurationMs; every request has its own timeout), with at
 * most `maxInFlight` requests outstanding. It counts what the caller of a real app would see: successes, failures
 * (by error code), and the retries graykit made on the way (config.gray.attempts).
 */
import type { AxiosError, AxiosInstance, AxiosResponse } from 'axios';

export interface LoadOptions {
  /** Requests per second. Default 200. */
  rate?: number;
  /** The generator stops by itself after this long, ms. Default 120000. */
  maxDurationMs?: number;
  /** Timeout of one request, ms (axios `timeout`). Default 5000. */
  timeoutMs?: number;
  /** Requests outstanding at most; a tick that finds this many sends nothing and counts the request as skipped. */
  maxInFlight?: number;
}

export interface Failure {
  at: number;
  code: string;
  message: string;
}

export interface LoadResult {
  sent: number;
  succeeded: number;
  failed: number;
  /** Requests sent again by graykit's failover, over all requests. */
  retries: number;
  /** Requests due that were not sent because `maxInFlight` were outstanding. */
  skipped: number;
  durationMs: number;
  /** Answers by the answering provider's port. */
  byPort: Record<number, number>;
  /** The first failures, for the report. */
  failures: Failure[];
  /** Epoch ms of the last request that needed a retry, if any did. */
  lastRetryAt?: number;
}

export class LoadGenerator {
  private readonly rate: number;
  private readonly maxDurationMs: number;
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private readonly maxCount: number;
  private readonly result: LoadResult = { sent: 0, succeeded: 0, failed: 0, retries: 0, skipped: 0, durationMs: 0, byPort: {}, failures: [] };
  private started = 0;
  private due = 0;
  private inFlight = 0;
  private timer?: NodeJS.Timeout;
  private readonly settled = new Set<() => void>();

  constructor(
    private readonly http: AxiosInstance,
    private readonly url: string,
    options: LoadOptions = {},
  ) {
    this.rate = options.rate ?? 200;
    this.maxDurationMs = options.maxDurationMs ?? 120_000;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.maxInFlight = options.maxInFlight ?? 200;
    this.maxCount = Math.ceil((this.rate * this.maxDurationMs) / 1000);
  }

  /** Live counters (the same object stop() returns). */
  get stats(): Readonly<LoadResult> {
    return this.result;
  }

  start(): this {
    this.started = Date.now();
    this.timer = setInterval(() => this.tick(), 5);
    return this;
  }

  private tick(): void {
    const elapsed = Date.now() - this.started;
    if (elapsed >= this.maxDurationMs || this.due >= this.maxCount) {
      clearInterval(this.timer);
      return;
    }
    const target = Math.min(this.maxCount, Math.floor((elapsed * this.rate) / 1000));
    while (this.due < target) {
      this.due++;
      if (this.inFlight >= this.maxInFlight) this.result.skipped++;
      else this.send();
    }
  }

  private send(): void {
    this.result.sent++;
    this.inFlight++;
    this.http.get<{ port: number }>(this.url, { timeout: this.timeoutMs }).then(
      (response: AxiosResponse<{ port: number }>) => {
        this.result.succeeded++;
        this.countRetries(response.config.gray?.attempts);
        const port = response.data?.port;
        this.result.byPort[port] = (this.result.byPort[port] ?? 0) + 1;
        this.done();
      },
      (error: AxiosError) => {
        this.result.failed++;
        this.countRetries(error.config?.gray?.attempts);
        if (this.result.failures.length < 10) {
          this.result.failures.push({ at: Date.now(), code: String(error.code ?? error.name), message: error.message });
        }
        this.done();
      },
    );
  }

  private countRetries(attempts: number | undefined): void {
    if (!attempts || attempts <= 1) return;
    this.result.retries += attempts - 1;
    this.result.lastRetryAt = Date.now();
  }

  private done(): void {
    this.inFlight--;
    for (const wake of this.settled) wake();
  }

  /** Resolves once at least `count` requests have been answered (or failed), within `timeoutMs`. */
  async untilAnswered(count: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.result.succeeded + this.result.failed < count) {
      if (Date.now() > deadline) throw new Error(`load: ${count} answers expected within ${timeoutMs} ms, got ${this.result.succeeded + this.result.failed}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.settled.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, 100);
        this.settled.add(wake);
      });
    }
  }

  /** Stops sending and waits for the requests in flight (each bounded by its own timeout). */
  async stop(): Promise<LoadResult> {
    clearInterval(this.timer);
    const deadline = Date.now() + this.timeoutMs * 2 + 1000;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    this.result.durationMs = Date.now() - this.started;
    return this.result;
  }
}
