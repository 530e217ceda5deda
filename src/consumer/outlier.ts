/**
 * Outlier ejection: `consecutiveFailures` connection failures in a row eject an instance for a back-off
 * period that doubles with each ejection in a row, up to `maxEjectionMs`. When the period is over, one real request
 * — the half-open probe — may go to the instance: a response (any status) brings it back, a connection failure
 * ejects it again for twice as long.
 *
 * The router stays pure: this state lives in the consumer, one `ServiceOutliers` per service that has seen a
 * failure, and the consumer filters at route time. A service whose instances never failed has no state at all, and
 * while nothing is ejected the consumer routes from its unfiltered table as before (no allocation per request).
 */
import { buildRoutingTable, type RoutingTable } from '../router';
import { InvalidOptionError } from '../errors';
import type { Instance } from '../types';

/** Outlier ejection settings of a consumer (`grayRoute({ outlier })`, `useGray(http, { outlier })`). */
export interface OutlierOptions {
  /**
   * Connection failures in a row (refused, reset before any response, connect timeout) that eject an instance.
   * A response of any status resets the count. Default 3.
   */
  consecutiveFailures?: number;
  /** First ejection period, ms; each ejection in a row doubles it. Default 1000. */
  baseEjectionMs?: number;
  /**
   * Longest ejection period, ms. Also how long an instance must stay healthy after coming back before its next
   * ejection starts again from `baseEjectionMs`. Default 30000, or `baseEjectionMs` when that is longer.
   */
  maxEjectionMs?: number;
  /**
   * Largest share (0-100) of a service's instances out of rotation at once; one instance may always be ejected.
   * When many instances fail together the cause is rarely the instances (an overloaded consumer, a network
   * problem), and ejecting them would only pile their traffic onto the rest. Default 50.
   */
  maxEjectionPercent?: number;
}

export const DEFAULT_OUTLIER_OPTIONS: Readonly<Required<OutlierOptions>> = Object.freeze({
  consecutiveFailures: 3,
  baseEjectionMs: 1000,
  maxEjectionMs: 30_000,
  maxEjectionPercent: 50,
});

/** Checks and completes outlier options; `false` turns ejection off (undefined is returned). */
export function resolveOutlierOptions(options: OutlierOptions | false | undefined): Required<OutlierOptions> | undefined {
  if (options === false) return undefined;
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new InvalidOptionError('outlier', `expected an object or false, got ${JSON.stringify(options)}`);
  }
  const resolved = { ...DEFAULT_OUTLIER_OPTIONS, ...options };
  if (options?.maxEjectionMs === undefined && resolved.baseEjectionMs > resolved.maxEjectionMs) resolved.maxEjectionMs = resolved.baseEjectionMs;
  if (!(Number.isInteger(resolved.consecutiveFailures) && resolved.consecutiveFailures >= 1)) {
    throw new InvalidOptionError('outlier.consecutiveFailures', `expected a whole number >= 1, got ${JSON.stringify(resolved.consecutiveFailures)}`);
  }
  if (!(Number.isFinite(resolved.baseEjectionMs) && resolved.baseEjectionMs > 0)) {
    throw new InvalidOptionError('outlier.baseEjectionMs', `expected milliseconds > 0, got ${JSON.stringify(resolved.baseEjectionMs)}`);
  }
  if (!(Number.isFinite(resolved.maxEjectionMs) && resolved.maxEjectionMs >= resolved.baseEjectionMs)) {
    throw new InvalidOptionError('outlier.maxEjectionMs', `expected milliseconds >= baseEjectionMs, got ${JSON.stringify(resolved.maxEjectionMs)}`);
  }
  if (!(Number.isFinite(resolved.maxEjectionPercent) && resolved.maxEjectionPercent >= 0 && resolved.maxEjectionPercent <= 100)) {
    throw new InvalidOptionError('outlier.maxEjectionPercent', `expected a number from 0 to 100, got ${JSON.stringify(resolved.maxEjectionPercent)}`);
  }
  return resolved;
}

type HealthState = 'healthy' | 'ejected' | 'probing';

interface Health {
  state: HealthState;
  /** Connection failures in a row. */
  failures: number;
  /** Ejections in a row: the back-off exponent. */
  streak: number;
  /** Ejected: when the period ends. Probing: when the probe's lease ends (its outcome never came back). */
  until: number;
  /** The current ejection period, ms. */
  ms: number;
  /** When the instance last came back from an ejection. */
  restoredAt: number;
}

/** What `ejected()` reports about one instance that is out of rotation. */
export interface EjectionInfo {
  /** The instance's id, `host:port`. */
  id: string;
  state: 'ejected' | 'probing';
  /** Epoch ms at which the ejection period ends (ejected), or the probe's lease ends (probing). */
  until: number;
  /** The current ejection period, ms. */
  ms: number;
}

/** The ejection state of one service's instances, keyed by instance id. */
export class ServiceOutliers {
  private readonly entries = new Map<string, Health>();
  /** How many instances are ejected or being probed; 0 means route from the unfiltered table. */
  out = 0;
  /** The earliest time an ejected instance may be probed, or a probe's lease runs out. */
  nextProbeAt = Number.POSITIVE_INFINITY;
  private filtered?: RoutingTable;

  constructor(private readonly options: Required<OutlierOptions>) {}

  get empty(): boolean {
    return this.entries.size === 0;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** True when the instance is ejected or being probed. */
  isOut(id: string): boolean {
    const health = this.entries.get(id);
    return health !== undefined && health.state !== 'healthy';
  }

  /**
   * Records a connection failure. Returns the ejection period (ms) when this failure ejects the instance, with the
   * number of failures in a row; undefined otherwise (already ejected: a request sent before the ejection failing;
   * or `maxEjectionPercent` of the service's `total` routable instances are out already).
   */
  failure(id: string, now: number, total: number): { ms: number; failures: number } | undefined {
    let health = this.entries.get(id);
    if (!health) {
      health = { state: 'healthy', failures: 0, streak: 0, until: 0, ms: 0, restoredAt: Number.NEGATIVE_INFINITY };
      this.entries.set(id, health);
    }
    health.failures++;
    if (health.state === 'ejected') return undefined;
    if (health.state === 'healthy' && health.failures < this.options.consecutiveFailures) return undefined;
    const wasOut = health.state === 'probing';
    if (!wasOut && this.out >= Math.max(1, Math.floor((total * this.options.maxEjectionPercent) / 100))) return undefined;
    // A long healthy spell since the last ejection starts the back-off over.
    if (!wasOut && now - health.restoredAt > this.options.maxEjectionMs) health.streak = 0;
    health.streak++;
    health.ms = Math.min(this.options.baseEjectionMs * 2 ** (health.streak - 1), this.options.maxEjectionMs);
    health.state = 'ejected';
    health.until = now + health.ms;
    if (!wasOut) this.out++;
    this.changed();
    return { ms: health.ms, failures: health.failures };
  }

  /** Records a response (of any status). Returns true when it was the probe that brings the instance back. */
  success(id: string, now: number): boolean {
    const health = this.entries.get(id);
    if (!health) return false;
    if (health.state === 'probing') {
      health.state = 'healthy';
      health.failures = 0;
      health.restoredAt = now;
      this.out--;
      this.changed();
      return true;
    }
    // A request sent before the ejection that answered late proves little: the probe decides.
    if (health.state === 'ejected') return false;
    health.failures = 0;
    if (health.streak === 0 || now - health.restoredAt > this.options.maxEjectionMs) this.entries.delete(id);
    return false;
  }

  /** A probe that ended without an outcome (cancelled, timed out): another request may probe at once. */
  abandon(id: string, now: number): void {
    const health = this.entries.get(id);
    if (health?.state !== 'probing') return;
    health.state = 'ejected';
    health.until = now;
    this.changed();
  }

  /**
   * Hands out the half-open probe: the first ejected instance whose period is over (or whose probe's lease ran
   * out) that `accept` takes for this request. It is marked `probing` and leased for its ejection period.
   */
  takeProbe(instances: readonly Instance[], accept: (instance: Instance) => boolean, now: number): Instance | undefined {
    if (now < this.nextProbeAt) return undefined;
    for (const [id, health] of this.entries) {
      if (health.state === 'healthy' || health.until > now) continue;
      const instance = instances.find((candidate) => candidate.id === id);
      if (!instance || !accept(instance)) continue;
      health.state = 'probing';
      health.until = now + health.ms;
      this.changed();
      return instance;
    }
    return undefined;
  }

  /** The routing table without the instances that are out, built once per change. */
  table(instances: readonly Instance[]): RoutingTable {
    this.filtered ??= buildRoutingTable(instances.filter((instance) => !this.isOut(instance.id)));
    return this.filtered;
  }

  /** Forgets instances that left the snapshot (a re-registered instance starts healthy). */
  prune(instances: readonly Instance[]): void {
    const live = new Set(instances.map((instance) => instance.id));
    for (const [id, health] of this.entries) {
      if (live.has(id)) continue;
      if (health.state !== 'healthy') this.out--;
      this.entries.delete(id);
    }
    this.changed();
  }

  ejected(): EjectionInfo[] {
    const out: EjectionInfo[] = [];
    for (const [id, health] of this.entries) {
      if (health.state !== 'healthy') out.push({ id, state: health.state, until: health.until, ms: health.ms });
    }
    return out;
  }

  private changed(): void {
    this.filtered = undefined;
    let next = Number.POSITIVE_INFINITY;
    for (const health of this.entries.values()) if (health.state !== 'healthy' && health.until < next) next = health.until;
    this.nextProbeAt = next;
  }
}
