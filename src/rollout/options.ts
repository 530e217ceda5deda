/** `runRollout`'s options: their types, defaults and checks, and what a rollout records of them. */
import { InvalidOptionError } from '../errors';
import { isValidRatio } from '../registry/codec';
import { isValidServiceName } from '../registry/paths';
import { isLaneName } from '../types';
import type { OnCrash, RecordedOptions } from '../registry/rollout-state';
import { QUANTILES, type QuantileName } from './latency';
import { WEBHOOK_KINDS, type Webhook } from './webhooks';

export interface RolloutOptions {
  /** The service to roll out (or `services`). */
  service?: string;
  /**
   * Several services rolled out together: every step sets each one's ratio, each is judged on its own, a breach of
   * one rolls all of them back, and all are promoted at the end.
   */
  services?: readonly string[];
  /** Ratios, increasing, each in (0, 100]: `[5, 25, 50, 100]`. */
  steps: readonly number[];
  /**
   * The lane rolled out: `gray` (its share is the ratio), or a named lane (its share in the config's `lanes`), judged
   * against the base lane. Instances of other lanes are neither. Default `gray`.
   */
  lane?: string;
  /** How long each step runs before it is judged, ms. */
  intervalMs: number;
  /** Highest acceptable error rate of the gray lane, a fraction (0.01 = 1 %). */
  maxErrorRate: number;
  /** Gray requests a step needs before it can be judged. Default 50. */
  minRequests?: number;
  /**
   * How many times a step that saw too little traffic (or could not read a gray instance's metrics) is extended by
   * another interval before the rollout fails closed. Default 3: a step lasts at most 4 intervals.
   */
  maxExtensions?: number;
  /** Confidence of the comparison with the normal lane (see judge.ts), a fraction; 0 turns it off. Default 0.999. */
  normalConfidence?: number;
  /** Highest acceptable gray latency quantiles, ms, from the duration histograms: `{ p99: 250 }`. Default none. */
  maxLatencyMs?: Partial<Record<QuantileName, number>>;
  /** Confidence of the test "gray's latency tail is above normal's" (latency.ts); 0 turns it off. Default 0 (off). */
  latencyConfidence?: number;
  /** URLs of consumers' metrics (`consumerMetrics()`): their connection errors count against the lane. Default none. */
  consumerMetrics?: readonly string[];
  /**
   * A Prometheus server to read every metric from (PromQL over graykit's metric names) instead of the instances'
   * and consumers' pages; with it, consumers' connection errors are read from Prometheus too when
   * `consumerMetrics` is non-empty. Default none (direct scrapes).
   */
  prometheus?: string;
  /** Longest wait for one metrics page or Prometheus query, ms. Default 3000. */
  scrapeTimeoutMs?: number;
  /** How often the metrics are read for the live view (progress events), and the registry for an abort, ms. Default 1000. */
  refreshMs?: number;
  /** On `signal`'s abort: `rollback` (ratio 0, verified) or `hold` (leave the ratio). Default `rollback`. */
  onInterrupt?: 'rollback' | 'hold';
  /**
   * If the rollout's process dies (its ZooKeeper session, and so its lease, ends): consumers route at ratio 0 by
   * themselves (`rollback`), or keep the ratio (`hold`). Default `rollback`.
   */
  onCrash?: OnCrash;
  /** How long a rollback keeps trying to write and read back ratio 0, ms. Default 15000. */
  rollbackTimeoutMs?: number;
  /** Webhooks (webhooks.ts): gates and notifications. Default none. */
  webhooks?: readonly Webhook[];
  /** Longest wait for one webhook call, ms. Default 5000. */
  webhookTimeoutMs?: number;
  /** How long a gate may hold the rollout before it fails closed, ms. Default 600000 (10 min). */
  gateTimeoutMs?: number;
  /** How often a gate that did not answer 2xx is asked again, ms. Default 5000. */
  gateIntervalMs?: number;
  /**
   * How long a step waits for an unreachable ZooKeeper (holding its ratio; consumers keep theirs) before the rollout
   * fails closed, ms. Default 30000.
   */
  registryTimeoutMs?: number;
}

export const DEFAULT_ROLLOUT_OPTIONS = {
  lane: 'gray',
  minRequests: 50,
  maxExtensions: 3,
  normalConfidence: 0.999,
  maxLatencyMs: {} as Partial<Record<QuantileName, number>>,
  latencyConfidence: 0,
  consumerMetrics: [] as readonly string[],
  scrapeTimeoutMs: 3000,
  refreshMs: 1000,
  onInterrupt: 'rollback' as 'rollback' | 'hold',
  onCrash: 'rollback' as OnCrash,
  rollbackTimeoutMs: 15_000,
  webhooks: [] as readonly Webhook[],
  webhookTimeoutMs: 5000,
  gateTimeoutMs: 600_000,
  gateIntervalMs: 5000,
  registryTimeoutMs: 30_000,
} as const;

/** The options a run works with: defaults applied, the services as a list. */
export type ResolvedOptions = Required<Omit<RolloutOptions, 'service' | 'services' | 'prometheus'>> & { services: string[]; prometheus?: string };

/** `steps` as a rollout takes them: ratios in (0, 100], strictly increasing, at least one. */
export function checkSteps(steps: readonly number[]): void {
  if (!Array.isArray(steps) || steps.length === 0) throw new InvalidOptionError('steps', 'expected at least one ratio, e.g. 5,25,50,100');
  steps.forEach((ratio, i) => {
    if (!isValidRatio(ratio) || ratio === 0) throw new InvalidOptionError('steps', `each step is a ratio above 0 and at most 100, got ${JSON.stringify(ratio)}`);
    if (i > 0 && !(ratio > steps[i - 1])) throw new InvalidOptionError('steps', `steps must increase, got ${steps[i - 1]} then ${ratio}`);
  });
}

function resolveServices(options: RolloutOptions): string[] {
  if (options.service !== undefined && options.services !== undefined) throw new InvalidOptionError('services', 'give `service` or `services`, not both');
  const services = options.services !== undefined ? [...options.services] : options.service !== undefined ? [options.service] : [];
  if (services.length === 0) throw new InvalidOptionError('service', 'name the service to roll out (`service`, or `services` for several)');
  for (const service of services) if (!isValidServiceName(service)) throw new InvalidOptionError('services', `${JSON.stringify(service)} is not a valid service name`);
  if (new Set(services).size !== services.length) throw new InvalidOptionError('services', `a service is named twice in ${services.join(',')}`);
  return services;
}

/** A number option at least `min` (durations in ms, counts). */
function checkAtLeast(o: ResolvedOptions, name: keyof ResolvedOptions, min: number): void {
  const value = o[name] as number;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) throw new InvalidOptionError(name, `expected a number >= ${min}, got ${JSON.stringify(value)}`);
}

const DURATIONS = ['intervalMs', 'scrapeTimeoutMs', 'refreshMs', 'rollbackTimeoutMs', 'webhookTimeoutMs', 'gateTimeoutMs', 'gateIntervalMs', 'registryTimeoutMs'] as const;

/** The durations, the traffic a step needs, its extensions, and the error-rate limit. */
function checkNumbers(o: ResolvedOptions): void {
  for (const name of DURATIONS) checkAtLeast(o, name, 1);
  checkAtLeast(o, 'minRequests', 0);
  if (!Number.isInteger(o.maxExtensions) || o.maxExtensions < 0) throw new InvalidOptionError('maxExtensions', `expected a whole number >= 0, got ${JSON.stringify(o.maxExtensions)}`);
  if (!(o.maxErrorRate >= 0 && o.maxErrorRate <= 1)) throw new InvalidOptionError('maxErrorRate', `expected a fraction from 0 to 1, got ${JSON.stringify(o.maxErrorRate)}`);
}

/** The confidences of the comparisons with the normal lane: 0 (off) or in (0.5, 1). */
function checkConfidences(o: ResolvedOptions): void {
  for (const name of ['normalConfidence', 'latencyConfidence'] as const) {
    const value = o[name];
    if (!(value === 0 || (value > 0.5 && value < 1))) throw new InvalidOptionError(name, `expected 0 (off) or a confidence between 0.5 and 1, got ${JSON.stringify(value)}`);
  }
}

/** `maxLatencyMs`: known quantiles, each a positive number of milliseconds. */
function checkLatencyLimits(o: ResolvedOptions): void {
  if (typeof o.maxLatencyMs !== 'object' || o.maxLatencyMs === null) throw new InvalidOptionError('maxLatencyMs', 'expected an object such as { p99: 250 }');
  for (const [name, value] of Object.entries(o.maxLatencyMs)) {
    if (!QUANTILES.includes(name as QuantileName)) throw new InvalidOptionError('maxLatencyMs', `expected quantiles ${QUANTILES.join(', ')}, got ${JSON.stringify(name)}`);
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) throw new InvalidOptionError('maxLatencyMs', `${name}: expected milliseconds > 0, got ${JSON.stringify(value)}`);
  }
}

/** What to do on an interrupt and on a crash: `rollback` or `hold`. */
function checkPolicies(o: ResolvedOptions): void {
  for (const name of ['onInterrupt', 'onCrash'] as const) {
    if (o[name] !== 'rollback' && o[name] !== 'hold') throw new InvalidOptionError(name, `expected 'rollback' or 'hold', got ${JSON.stringify(o[name])}`);
  }
}

const HTTP_URL = /^https?:\/\//;

/** The metrics sources and the webhooks: http(s) URLs, webhooks of a known kind. */
function checkUrls(o: ResolvedOptions): void {
  for (const url of o.consumerMetrics) if (!HTTP_URL.test(url)) throw new InvalidOptionError('consumerMetrics', `expected http(s) URLs, got ${JSON.stringify(url)}`);
  if (o.prometheus !== undefined && !HTTP_URL.test(o.prometheus)) throw new InvalidOptionError('prometheus', `expected http(s) URLs, got ${JSON.stringify(o.prometheus)}`);
  for (const hook of o.webhooks) {
    if (!WEBHOOK_KINDS.includes(hook?.kind)) throw new InvalidOptionError('webhooks', `expected a kind among ${WEBHOOK_KINDS.join(', ')}, got ${JSON.stringify(hook?.kind)}`);
    if (typeof hook.url !== 'string' || !HTTP_URL.test(hook.url)) throw new InvalidOptionError('webhooks', `${hook.kind}: expected an http(s) URL`);
  }
}

/** The options with the defaults applied, each checked (InvalidOptionError naming the option and the fix). */
export function resolveOptions(options: RolloutOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'runRollout takes an options object');
  const { service: _service, services: _services, ...rest } = options;
  const merged = { ...DEFAULT_ROLLOUT_OPTIONS, ...rest, services: resolveServices(options) } as ResolvedOptions;
  checkSteps(merged.steps);
  if (!isLaneName(merged.lane) || merged.lane === 'normal') throw new InvalidOptionError('lane', `expected a lane other than the base lane (gray, or a named lane such as pr-42), got ${JSON.stringify(merged.lane)}`);
  for (const check of [checkNumbers, checkConfidences, checkLatencyLimits, checkPolicies, checkUrls]) check(merged);
  return merged;
}

/** What a rollout records of its options, for `--resume` (rollout-state.ts says why webhook URLs are not there). */
export function recordedOptions(o: ResolvedOptions): RecordedOptions {
  return {
    intervalMs: o.intervalMs,
    maxErrorRate: o.maxErrorRate,
    minRequests: o.minRequests,
    maxExtensions: o.maxExtensions,
    normalConfidence: o.normalConfidence,
    maxLatencyMs: { ...o.maxLatencyMs },
    latencyConfidence: o.latencyConfidence,
    consumerMetrics: [...o.consumerMetrics],
    prometheus: o.prometheus,
    webhookKinds: [...new Set(o.webhooks.map((hook) => hook.kind))],
    ...(o.lane === 'gray' ? {} : { lane: o.lane }),
  };
}

