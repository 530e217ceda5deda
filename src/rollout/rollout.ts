/**
 * Progressive rollout with automatic abort, as Argo Rollouts and Flagger do it, with only ZooKeeper:
 * raise the gray ratio step by step; after each step's interval compare the gray lane's error rate and latency
 * (from the instances' own metrics, or a Prometheus server, and consumers' when given) with the limits and with the
 * normal lane; on a breach set the ratio to 0 at once and read it back; after the last step, promote.
 *
 * The registry carries the rollout, not the process that runs it: a rollout records itself in each service's
 * rollout znode and holds an ephemeral lease there (admin/rollout-record.ts). If its process dies, consumers see
 * the lease gone and route at ratio 0 by themselves (unless `onCrash: 'hold'`); `resumeRollout` continues it from
 * its recorded step; `abortRollout` (abort.ts) stops it from anywhere.
 *
 * The CLI (`graykit rollout`) wraps `runRollout`; tests run it in-process too.
 */
import { randomUUID } from 'node:crypto';
import type { GrayAdmin, ServiceStatus } from '../admin/admin';
import { currentActor, describeActor } from '../admin/rollout-record';
import { ConflictError, InvalidConfigError, InvalidOptionError, NotFoundError, RolloutBusyError, errorKind } from '../errors';
import { isValidServiceName } from '../registry/paths';
import type { OnCrash, RecordedOptions, RecordedStep, RolloutActor, RolloutDocument } from '../registry/rollout-state';
import { sleep } from '../util/time';
import { judge, type Verdict } from './judge';
import { QUANTILES, type QuantileName } from './latency';
import { scrapePrometheus } from './prometheus';
import { StepCounter, emptyLane, metricsUrl, scrapeAll, type LaneStats, type Scrape } from './scrape';
import { GATE_KINDS, WEBHOOK_KINDS, Webhooks, type Webhook, type WebhookKind, type WebhookPayload } from './webhooks';

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
type ResolvedOptions = Required<Omit<RolloutOptions, 'service' | 'services' | 'prometheus'>> & { services: string[]; prometheus?: string };

/**
 * - `promoted`: every step passed, the gray instances were promoted (ratio 0, flags formal);
 * - `aborted`: a step breached, or `graykit abort` stopped it; ratio 0;
 * - `inconclusive`: a step could not be judged within its bound (too little traffic, metrics unavailable), or a
 *   gate webhook did not confirm in time: failed closed, ratio 0;
 * - `interrupted`: the signal aborted it; ratio 0 (or left, with onInterrupt `hold`);
 * - `conflict`: someone else changed the ratio meanwhile (or took the rollout over); the rollout stopped and left it;
 * - `failed`: an unexpected error (ZooKeeper unreachable too long, its lease lost, promote); ratio 0 when the
 *   rollback could be verified.
 */
export type RolloutOutcome = 'promoted' | 'aborted' | 'inconclusive' | 'interrupted' | 'conflict' | 'failed';

/** One service's part of a step. */
export interface ServiceStep {
  gray: LaneStats;
  normal: LaneStats;
  unavailable: string[];
  verdict?: Verdict;
}

export interface StepResult {
  /** 1-based. */
  step: number;
  ratio: number;
  /** Intervals the step ran (1 + extensions). */
  intervals: number;
  durationMs: number;
  /** The lanes' totals over every service of the rollout (with one service: that service's). */
  gray: LaneStats;
  normal: LaneStats;
  /** Metrics that could not be read at the step's last read (`<instance or consumer>: <why>`). */
  unavailable: string[];
  /** The verdict of the step: a breach of any service, else too little to judge of any, else pass. */
  verdict?: Verdict;
  /** Each service's lanes and verdict. */
  services: Record<string, ServiceStep>;
}

/** How one service of the rollout ended. */
export interface ServiceEnd {
  /** The ratio in ZooKeeper at the end, as read back (undefined when it could not be read). */
  ratio?: number;
  ratioVerified: boolean;
  promoted?: string[];
}

export interface RolloutReport {
  /** The rollout's id, as its znodes record it. */
  id: string;
  /** The first service (the only one, usually). */
  service: string;
  services: string[];
  outcome: RolloutOutcome;
  reason: string;
  /** The step reached, 1-based (0: none began). */
  step: number;
  steps: number[];
  /** The ratio in ZooKeeper at the end, as read back (every service's, when they agree; else undefined). */
  ratio?: number;
  /** Whether the final ratio of every service was read back from ZooKeeper as intended (0 after a rollback or a promotion). */
  ratioVerified: boolean;
  /**
   * What the rollout did to the ratio at the end: `promote` (flags formal, ratio 0), `rollback` (ratio 0, read
   * back: see `ratioVerified`), `hold` (left where it was, on request), `leave` (someone else had changed it).
   */
  action: 'promote' | 'rollback' | 'hold' | 'leave';
  /** The last step's lanes (what the verdict was made on), totals over the services. */
  gray: LaneStats;
  normal: LaneStats;
  history: StepResult[];
  /** Instances promoted (outcome `promoted`). */
  promoted?: string[];
  /** Each service's end. */
  byService: Record<string, ServiceEnd>;
  /** The step this run resumed a crashed rollout at (`resumeRollout`). */
  resumedFrom?: number;
  startedAt: string;
  endedAt: string;
  durationMs: number;
}

export type RolloutEvent =
  | {
      type: 'start';
      id: string;
      service: string;
      services: string[];
      steps: number[];
      intervalMs: number;
      maxErrorRate: number;
      minRequests: number;
      onCrash: OnCrash;
      /** Gray and normal instance ids (prefixed `service/` with several services). */
      gray: string[];
      normal: string[];
      resumedFrom?: number;
    }
  | { type: 'step'; step: number; of: number; ratio: number }
  | {
      type: 'progress';
      step: number;
      of: number;
      ratio: number;
      /** The current interval of the step (1-based) and how many it may take at most. */
      interval: number;
      maxIntervals: number;
      remainingMs: number;
      gray: LaneStats;
      normal: LaneStats;
      /** Metrics that could not be read just now. */
      unavailable: string[];
    }
  | {
      type: 'verdict';
      step: number;
      of: number;
      ratio: number;
      result: Verdict['result'];
      reason: string;
      gray: LaneStats;
      normal: LaneStats;
      extended: boolean;
      services: Record<string, Verdict>;
    }
  | { type: 'gate'; kind: WebhookKind; step: number; status: 'waiting' | 'passed' | 'failed'; detail: string }
  | { type: 'registry'; available: boolean; detail: string }
  | { type: 'rollback'; reason: string; ratio?: number; verified: boolean; byService: Record<string, ServiceEnd> }
  | { type: 'promote'; promoted: string[] }
  | { type: 'report'; report: RolloutReport };

export interface RolloutHooks {
  /** Called with each event; the last one is `report`. An exception it throws is ignored. */
  onProgress?: (event: RolloutEvent) => void;
  /** Aborting it interrupts the rollout (Ctrl-C): see `onInterrupt`. */
  signal?: AbortSignal;
}

class Interrupted extends Error {}
class RatioChanged extends Error {}
/** `graykit abort` asked the rollout to stop. */
class AbortRequested extends Error {
  constructor(readonly by: RolloutActor) {
    super(`aborted by ${describeActor(by)} (graykit abort)`);
  }
}
/** The rollout's lease is gone while it runs (its session expired, or the znode was deleted). */
class LeaseLost extends Error {}
/** ZooKeeper stayed unreachable longer than registryTimeoutMs. */
class RegistryLost extends Error {}
/** A gate webhook did not confirm in time. */
class GateFailed extends Error {}

/** `steps` as a rollout takes them: ratios in (0, 100], strictly increasing, at least one. */
export function checkSteps(steps: readonly number[]): void {
  if (!Array.isArray(steps) || steps.length === 0) throw new InvalidOptionError('steps', 'expected at least one ratio, e.g. 5,25,50,100');
  steps.forEach((ratio, i) => {
    if (typeof ratio !== 'number' || !(ratio > 0 && ratio <= 100)) throw new InvalidOptionError('steps', `each step is a ratio above 0 and at most 100, got ${JSON.stringify(ratio)}`);
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

function resolveOptions(options: RolloutOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'runRollout takes an options object');
  const { service: _service, services: _services, ...rest } = options;
  const merged = { ...DEFAULT_ROLLOUT_OPTIONS, ...rest, services: resolveServices(options) } as ResolvedOptions;
  checkSteps(merged.steps);
  const positive = (name: keyof ResolvedOptions, min = 1) => {
    const value = merged[name] as number;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) throw new InvalidOptionError(name, `expected a number >= ${min}, got ${JSON.stringify(value)}`);
  };
  for (const name of ['intervalMs', 'scrapeTimeoutMs', 'refreshMs', 'rollbackTimeoutMs', 'webhookTimeoutMs', 'gateTimeoutMs', 'gateIntervalMs', 'registryTimeoutMs'] as const) positive(name);
  positive('minRequests', 0);
  if (!Number.isInteger(merged.maxExtensions) || merged.maxExtensions < 0) throw new InvalidOptionError('maxExtensions', `expected a whole number >= 0, got ${JSON.stringify(merged.maxExtensions)}`);
  if (!(merged.maxErrorRate >= 0 && merged.maxErrorRate <= 1)) throw new InvalidOptionError('maxErrorRate', `expected a fraction from 0 to 1, got ${JSON.stringify(merged.maxErrorRate)}`);
  for (const name of ['normalConfidence', 'latencyConfidence'] as const) {
    const value = merged[name];
    if (!(value === 0 || (value > 0.5 && value < 1))) throw new InvalidOptionError(name, `expected 0 (off) or a confidence between 0.5 and 1, got ${JSON.stringify(value)}`);
  }
  if (typeof merged.maxLatencyMs !== 'object' || merged.maxLatencyMs === null) throw new InvalidOptionError('maxLatencyMs', 'expected an object such as { p99: 250 }');
  for (const [name, value] of Object.entries(merged.maxLatencyMs)) {
    if (!QUANTILES.includes(name as QuantileName)) throw new InvalidOptionError('maxLatencyMs', `expected quantiles ${QUANTILES.join(', ')}, got ${JSON.stringify(name)}`);
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) throw new InvalidOptionError('maxLatencyMs', `${name}: expected milliseconds > 0, got ${JSON.stringify(value)}`);
  }
  if (merged.onInterrupt !== 'rollback' && merged.onInterrupt !== 'hold') throw new InvalidOptionError('onInterrupt', `expected 'rollback' or 'hold', got ${JSON.stringify(merged.onInterrupt)}`);
  if (merged.onCrash !== 'rollback' && merged.onCrash !== 'hold') throw new InvalidOptionError('onCrash', `expected 'rollback' or 'hold', got ${JSON.stringify(merged.onCrash)}`);
  for (const url of [...merged.consumerMetrics, ...(merged.prometheus === undefined ? [] : [merged.prometheus])]) {
    if (!/^https?:\/\//.test(url)) throw new InvalidOptionError(merged.prometheus === url ? 'prometheus' : 'consumerMetrics', `expected http(s) URLs, got ${JSON.stringify(url)}`);
  }
  for (const hook of merged.webhooks) {
    if (!WEBHOOK_KINDS.includes(hook?.kind)) throw new InvalidOptionError('webhooks', `expected a kind among ${WEBHOOK_KINDS.join(', ')}, got ${JSON.stringify(hook?.kind)}`);
    if (typeof hook.url !== 'string' || !/^https?:\/\//.test(hook.url)) throw new InvalidOptionError('webhooks', `${hook.kind}: expected an http(s) URL`);
  }
  return merged;
}

/** What a rollout records of its options, for `--resume` (rollout-state.ts says why webhook URLs are not there). */
function recordedOptions(o: ResolvedOptions): RecordedOptions {
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
  };
}

/**
 * Sets ratio 0 and reads it back, retrying (a conflicting write, a lost connection) until `timeoutMs`. An invalid
 * config document is replaced by `{"ratio":0}` (consumers were ignoring it anyway).
 */
export async function rollbackVerified(admin: GrayAdmin, service: string, timeoutMs: number): Promise<{ verified: boolean; ratio?: number; error?: string }> {
  const deadline = Date.now() + timeoutMs;
  let ratio: number | undefined;
  let lastError: string | undefined;
  for (;;) {
    try {
      try {
        await admin.setRatio(service, 0);
      } catch (error) {
        if (!(error instanceof InvalidConfigError)) throw error;
        const current = await admin.getConfig(service);
        await admin.setConfig(service, { ratio: 0 }, current.version);
      }
      // Read back: the write above may have raced another writer; only what ZooKeeper holds now counts.
      const read = await admin.getConfig(service);
      ratio = read.config.ratio;
      if (ratio === 0 && read.error === undefined) return { verified: true, ratio };
      lastError = `read back ratio ${ratio ?? '(none)'}${read.error ? ` (invalid config: ${read.error})` : ''}`;
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() >= deadline) return { verified: false, ratio, error: lastError };
    await sleep(200);
  }
}

/** A registry failure a rollout waits out (bounded) rather than ending on: the connection, not the request. */
function isRegistryUnavailable(error: unknown): boolean {
  const kind = errorKind(error);
  return kind === 'unreachable' || kind === 'sessionExpired';
}

/** What one step ended with: the next step may begin, or the rollout is over with this report. */
type StepEnd = { next: true } | { next: false; report: RolloutReport };

/** One service's hold on the rollout: its document as last written, the version to write against, its lease owner. */
interface Held {
  document: RolloutDocument;
  version: number;
  owner: string;
}

/** Sums the lanes of several services (their latency is per service only). */
function sumLanes(lanes: LaneStats[]): LaneStats {
  if (lanes.length === 1) return lanes[0];
  const total = emptyLane();
  for (const lane of lanes) {
    total.instances += lane.instances;
    total.requests += lane.requests;
    total.errors += lane.errors;
    total.http5xx += lane.http5xx;
    total.connectionErrors += lane.connectionErrors;
  }
  total.errorRate = total.requests > 0 ? total.errors / total.requests : null;
  return total;
}

/** The group's verdict: any breach, else any step too thin to judge, else a pass. Services named when several. */
function groupVerdict(verdicts: Map<string, Verdict>): Verdict {
  const named = (service: string, verdict: Verdict) => (verdicts.size > 1 ? { ...verdict, reason: `${service}: ${verdict.reason}` } : verdict);
  for (const result of ['breach', 'insufficient'] as const) {
    const hit = [...verdicts].find(([, verdict]) => verdict.result === result);
    if (hit) return named(...hit);
  }
  if (verdicts.size === 1) return [...verdicts.values()][0];
  return { result: 'pass', reason: [...verdicts].map(([service, verdict]) => `${service}: ${verdict.reason}`).join('; ') };
}

function recordLane(stats: LaneStats): RecordedStep['gray'] {
  const lane: RecordedStep['gray'] = { requests: stats.requests, errors: stats.errors };
  for (const q of QUANTILES) {
    const value = stats.latency?.[q];
    if (value !== null && value !== undefined) lane[q] = value;
  }
  return lane;
}

/** One rollout in progress: its options, what it has seen, its hold on the registry, and the steps it walks. */
class RolloutRun {
  readonly history: StepResult[] = [];
  private readonly startedAt = Date.now();
  /** The ratio this rollout last wrote; a different one in ZooKeeper means someone else took over. */
  private currentRatio?: number;
  private readonly held = new Map<string, Held>();
  private readonly webhooks: Webhooks;
  private registryDownSince?: number;
  /** The step in progress (1-based), for payloads. */
  private stepNumber = 0;
  /** Another process holds the rollout now (it resumed it after this one lost its lease): leave its records alone. */
  private superseded = false;

  constructor(
    private readonly admin: GrayAdmin,
    private readonly o: ResolvedOptions,
    private readonly hooks: RolloutHooks,
    readonly id: string,
    private readonly actor: RolloutActor,
    private readonly resumedFrom?: number,
  ) {
    this.webhooks = new Webhooks(o.webhooks, o.webhookTimeoutMs);
  }

  private get services(): string[] {
    return this.o.services;
  }

  emit(event: RolloutEvent): void {
    try {
      this.hooks.onProgress?.(event);
    } catch {
      // A broken view must not break the rollout.
    }
    if (event.type !== 'report') this.webhooks.notify('event', { ...this.payload('event'), event });
  }

  private payload(kind: WebhookKind, step = this.stepNumber): WebhookPayload {
    return { kind, id: this.id, services: [...this.services], step, of: this.o.steps.length, ratio: step > 0 ? this.o.steps[step - 1] : 0, at: new Date().toISOString() };
  }

  /**
   * Takes every service's lease and records the rollout as running; on a refusal, gives back what it took (each
   * recorded as `conflict`) and rethrows: nothing else was changed.
   */
  async acquire(documents: Map<string, RolloutDocument>, resume: boolean): Promise<void> {
    for (const service of this.services) {
      try {
        const document = documents.get(service) as RolloutDocument;
        const { version, owner } = await this.admin.acquireRollout(document, resume);
        this.held.set(service, { document, version, owner });
      } catch (error) {
        await this.finishRecords('conflict', `did not start: ${(error as Error).message}`).catch(() => undefined);
        throw error;
      }
    }
  }

  /** Writes `patch` into every service's document (compare-and-set; an abort written meanwhile is kept and noticed). */
  private async record(patch: (service: string, held: Held) => Partial<RolloutDocument>): Promise<void> {
    for (const [service, held] of this.held) {
      for (let attempt = 0; ; attempt++) {
        const document: RolloutDocument = { ...held.document, ...patch(service, held), updatedAt: new Date().toISOString() };
        try {
          held.version = await this.admin.writeRollout(document, held.version);
          held.document = document;
          break;
        } catch (error) {
          if (!(error instanceof ConflictError) || attempt >= 3) throw error;
          const current = await this.admin.rollout(service);
          if (current.document?.id !== this.id) throw new RatioChanged(`the rollout znode of "${service}" now records another rollout`);
          if (current.leaseHeld && current.leaseOwner !== held.owner) throw new LeaseLost(`the rollout lease of "${service}" is held by another session now`);
          held.version = current.version;
          if (current.document.abort) held.document = { ...held.document, abort: current.document.abort };
        }
      }
    }
  }

  /** Records how the rollout ended, then gives the leases back (in that order: see rollout-record.ts). */
  private async finishRecords(state: RolloutOutcome, reason: string): Promise<void> {
    const endedAt = new Date().toISOString();
    await this.record(() => ({ state, reason, endedAt }));
    for (const service of this.held.keys()) await this.admin.releaseRollout(service);
  }

  async report(outcome: RolloutOutcome, reason: string, action: RolloutReport['action'], byService: Record<string, ServiceEnd>, promoted?: string[]): Promise<RolloutReport> {
    const last = this.history[this.history.length - 1];
    const ends = Object.values(byService);
    const ratios = new Set(ends.map((end) => end.ratio));
    const done: RolloutReport = {
      id: this.id,
      service: this.services[0],
      services: [...this.services],
      outcome,
      reason,
      step: this.stepNumber,
      steps: [...this.o.steps],
      ratio: ratios.size === 1 ? ends[0]?.ratio : undefined,
      ratioVerified: ends.length > 0 && ends.every((end) => end.ratioVerified),
      action,
      gray: last?.gray ?? emptyLane(),
      normal: last?.normal ?? emptyLane(),
      history: this.history,
      ...(promoted ? { promoted } : {}),
      byService,
      ...(this.resumedFrom !== undefined ? { resumedFrom: this.resumedFrom } : {}),
      startedAt: new Date(this.startedAt).toISOString(),
      endedAt: new Date().toISOString(),
      durationMs: Date.now() - this.startedAt,
    };
    // The outcome goes into the registry before the leases go: a lease gone under `running` would mean a crash.
    // When the registry cannot take it, the leases stay until this process ends, and the rollout then reads as
    // crashed — the truth: its outcome was never recorded.
    const deadline = Date.now() + this.o.rollbackTimeoutMs;
    while (!this.superseded) {
      try {
        await this.finishRecords(outcome, reason);
        break;
      } catch (error) {
        if (Date.now() >= deadline || error instanceof RatioChanged) {
          done.reason += `; the outcome could not be recorded in ZooKeeper (${(error as Error).message})`;
          break;
        }
        await sleep(500);
      }
    }
    this.emit({ type: 'report', report: done });
    await this.webhooks.flush(this.o.webhookTimeoutMs * 2);
    return done;
  }

  /** Ratio 0 on every service, read back; the report says whether it held (`ratioVerified`). */
  async rollBack(outcome: RolloutOutcome, reason: string): Promise<RolloutReport> {
    const results = await Promise.all(this.services.map((service) => rollbackVerified(this.admin, service, this.o.rollbackTimeoutMs)));
    const byService: Record<string, ServiceEnd> = {};
    this.services.forEach((service, i) => (byService[service] = { ratio: results[i].ratio, ratioVerified: results[i].verified }));
    const failed = this.services.filter((_, i) => !results[i].verified);
    const verified = failed.length === 0;
    const ratios = new Set(results.map((r) => r.ratio));
    this.emit({ type: 'rollback', reason, ratio: ratios.size === 1 ? results[0].ratio : undefined, verified, byService });
    this.webhooks.notify('rollback', { ...this.payload('rollback'), reason });
    const why = verified
      ? reason
      : `${reason}; ROLLBACK NOT VERIFIED (${failed.map((service) => `${service}: ${results[this.services.indexOf(service)].error}`).join('; ')}): run ${failed.map((service) => `\`graykit rollback ${service}\``).join(', ')}`;
    return this.report(outcome, why, 'rollback', byService);
  }

  /**
   * Reads the registry (every service's status, then its rollout znode) and, with `metrics`, every metrics source.
   * Stops the rollout when its lease is gone, when `graykit abort` asked, or when someone else changed a ratio. The
   * rollout znode is read after the config: an abort writes its request before it sets ratio 0, so a ratio 0 seen
   * here comes with the request.
   */
  private async read(metrics: boolean): Promise<Map<string, { status: ServiceStatus; scrape?: Scrape }>> {
    const readings = new Map<string, { status: ServiceStatus; scrape?: Scrape }>();
    let changed: string | undefined;
    for (const service of this.services) {
      const status = await this.admin.status(service);
      const rollout = await this.admin.rollout(service);
      const held = this.held.get(service) as Held;
      if (rollout.leaseOwner !== held.owner) throw new LeaseLost(`the rollout lease of "${service}" is gone (its ZooKeeper session ended or the znode was deleted)`);
      if (rollout.document?.abort) throw new AbortRequested(rollout.document.abort.by);
      if (status.config.error !== undefined) changed ??= `the config znode of "${service}" was replaced by an invalid document (${status.config.error})`;
      else if (this.currentRatio !== undefined && status.config.config.ratio !== this.currentRatio) {
        changed ??= `the ratio of "${service}" was changed by someone else to ${status.config.config.ratio ?? '(none)'} (the rollout had set ${this.currentRatio})`;
      }
      readings.set(service, { status });
    }
    if (changed) throw new RatioChanged(changed);
    if (metrics) {
      await Promise.all(
        [...readings].map(async ([service, reading]) => {
          reading.scrape = this.o.prometheus
            ? await scrapePrometheus(this.o.prometheus, service, reading.status.instances, this.o.consumerMetrics.length > 0, this.o.scrapeTimeoutMs)
            : await scrapeAll(service, reading.status.instances, this.o.consumerMetrics, this.o.scrapeTimeoutMs);
        }),
      );
    }
    return readings;
  }

  /**
   * `read`, waiting out an unreachable ZooKeeper: undefined while it is (the step holds its ratio; consumers keep
   * routing by their snapshot), RegistryLost after `registryTimeoutMs`.
   */
  private async readOrWait(metrics: boolean): Promise<Map<string, { status: ServiceStatus; scrape?: Scrape }> | undefined> {
    try {
      const readings = await this.read(metrics);
      if (this.registryDownSince !== undefined) {
        this.registryDownSince = undefined;
        this.emit({ type: 'registry', available: true, detail: 'ZooKeeper is reachable again; the step goes on' });
      }
      return readings;
    } catch (error) {
      if (!isRegistryUnavailable(error)) throw error;
      const now = Date.now();
      if (this.registryDownSince === undefined) {
        this.registryDownSince = now;
        this.emit({ type: 'registry', available: false, detail: `ZooKeeper unreachable (${(error as Error).message}); holding the step for up to ${this.o.registryTimeoutMs} ms` });
      }
      if (now - this.registryDownSince >= this.o.registryTimeoutMs) throw new RegistryLost(`ZooKeeper was unreachable for ${now - this.registryDownSince} ms: ${(error as Error).message}`);
      return undefined;
    }
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, this.hooks.signal).catch(() => Promise.reject(new Interrupted()));
  }

  /** Waits for the gate webhooks of `kind` (none: at once); GateFailed when they do not confirm in time. */
  async gate(kind: WebhookKind, step: number): Promise<void> {
    if (!this.webhooks.has(kind)) return;
    this.emit({ type: 'gate', kind, step, status: 'waiting', detail: `waiting for the ${kind} webhook to answer 2xx` });
    const result = await this.webhooks
      .gate(kind, () => this.payload(kind, step), {
        gateTimeoutMs: this.o.gateTimeoutMs,
        intervalMs: this.o.gateIntervalMs,
        signal: this.hooks.signal,
        check: async () => void (await this.readOrWait(false)),
      })
      .catch((error: unknown) => Promise.reject(this.hooks.signal?.aborted ? new Interrupted() : error));
    this.emit({ type: 'gate', kind, step, status: result.passed ? 'passed' : 'failed', detail: result.detail });
    if (!result.passed) throw new GateFailed(result.detail);
  }

  /**
   * Step `index`: write its ratio to every service, take a baseline, then read every `refreshMs` until the
   * interval is over and judge; a step without enough to judge is extended, at most `maxExtensions` times, then
   * fails closed.
   */
  async step(index: number): Promise<StepEnd> {
    const { o, hooks } = this;
    const ratio = o.steps[index];
    const of = o.steps.length;
    const at = { step: index + 1, of, ratio };
    if (hooks.signal?.aborted) throw new Interrupted();
    this.stepNumber = index + 1;
    await this.record(() => ({ step: index + 1 }));
    for (const service of this.services) await this.admin.setRatio(service, ratio);
    this.currentRatio = ratio;
    const stepStarted = Date.now();
    this.emit({ type: 'step', ...at });
    const counters = new Map(this.services.map((service) => [service, new StepCounter()]));
    const result: StepResult = { step: index + 1, ratio, intervals: 1, durationMs: 0, gray: emptyLane(), normal: emptyLane(), unavailable: [], services: {} };
    this.history.push(result);
    let baseline = await this.readOrWait(true);
    while (!baseline) {
      await this.pause(o.refreshMs);
      baseline = await this.readOrWait(true);
    }
    for (const [service, reading] of baseline) counters.get(service)!.observe(reading.scrape as Scrape);
    const maxIntervals = 1 + o.maxExtensions;
    let deadline = Date.now() + o.intervalMs;
    for (;;) {
      const remaining = deadline - Date.now();
      await this.pause(remaining > 0 ? Math.min(o.refreshMs, remaining) : o.refreshMs);
      const readings = await this.readOrWait(true);
      if (hooks.signal?.aborted) throw new Interrupted();
      if (!readings) continue;
      const judging = Date.now() >= deadline;
      const verdicts = new Map<string, Verdict>();
      for (const [service, reading] of readings) {
        const scrape = reading.scrape as Scrape;
        const counter = counters.get(service)!;
        counter.observe(scrape);
        result.services[service] = { ...counter.stats(), unavailable: [...scrape.grayUnavailable, ...scrape.normalUnavailable] };
        if (judging) verdicts.set(service, judge(result.services[service].gray, result.services[service].normal, o, scrape.grayUnavailable));
      }
      const parts = Object.values(result.services);
      Object.assign(result, {
        gray: sumLanes(parts.map((part) => part.gray)),
        normal: sumLanes(parts.map((part) => part.normal)),
        durationMs: Date.now() - stepStarted,
        unavailable: this.services.flatMap((service) => result.services[service].unavailable.map((what) => (this.services.length > 1 ? `${service} ${what}` : what))),
      });
      if (!judging) {
        this.emit({ type: 'progress', ...at, interval: result.intervals, maxIntervals, remainingMs: deadline - Date.now(), gray: result.gray, normal: result.normal, unavailable: result.unavailable });
        continue;
      }
      for (const [service, verdict] of verdicts) result.services[service].verdict = verdict;
      const verdict = groupVerdict(verdicts);
      result.verdict = verdict;
      const extend = verdict.result === 'insufficient' && result.intervals < maxIntervals;
      this.emit({ type: 'verdict', ...at, result: verdict.result, reason: verdict.reason, gray: result.gray, normal: result.normal, extended: extend, services: Object.fromEntries(verdicts) });
      await this.recordStep(result);
      if (verdict.result === 'pass') return { next: true };
      if (verdict.result === 'breach') return { next: false, report: await this.rollBack('aborted', `step ${index + 1}/${of} (ratio ${ratio}): ${verdict.reason}`) };
      if (!extend) {
        const reason = `step ${index + 1}/${of} (ratio ${ratio}) could not be judged after ${result.intervals} interval(s): ${verdict.reason}; failing closed`;
        return { next: false, report: await this.rollBack('inconclusive', reason) };
      }
      result.intervals++;
      deadline += o.intervalMs;
    }
  }

  /** Records a step's verdict and counts in each service's history (replacing the entry of a step run again). */
  private async recordStep(result: StepResult): Promise<void> {
    await this.record((service, held) => {
      const part = result.services[service];
      const entry: RecordedStep = {
        step: result.step,
        ratio: result.ratio,
        verdict: result.verdict?.result,
        reason: part.verdict?.reason ?? result.verdict?.reason,
        intervals: result.intervals,
        durationMs: result.durationMs,
        gray: recordLane(part.gray),
        normal: recordLane(part.normal),
      };
      return { history: [...held.document.history.filter((h) => h.step < result.step), entry] };
    });
  }

  /** After the last step: gray instances become formal, ratio 0, on every service. */
  async promote(): Promise<RolloutReport> {
    const byService: Record<string, ServiceEnd> = {};
    const promoted: string[] = [];
    for (const service of this.services) {
      const ids = await this.admin.promote(service);
      promoted.push(...ids);
      const after = await this.admin.getConfig(service).catch(() => undefined);
      byService[service] = { ratio: after?.config.ratio, ratioVerified: after?.config.ratio === 0, promoted: ids };
    }
    this.emit({ type: 'promote', promoted });
    const last = this.history[this.history.length - 1];
    return this.report('promoted', `all ${this.o.steps.length} steps passed: ${last?.verdict?.reason ?? ''}`, 'promote', byService, promoted);
  }

  /** The report of a rollout a step threw out of: interrupted, aborted, taken over, or failed. */
  async ended(error: unknown): Promise<RolloutReport> {
    const { o } = this;
    const at = `at step ${this.stepNumber}/${o.steps.length}`;
    if (error instanceof Interrupted) {
      if (o.onInterrupt === 'hold') {
        const byService = await this.currentRatios(true);
        return this.report('interrupted', `interrupted ${at}; ratio held at ${this.currentRatio ?? 'its value'} (--on-interrupt hold)`, 'hold', byService);
      }
      return this.rollBack('interrupted', `interrupted ${at}; rolled back`);
    }
    if (error instanceof AbortRequested) return this.rollBack('aborted', `${error.message} ${at}`);
    if (error instanceof GateFailed) return this.rollBack('inconclusive', `${error.message} ${at}; failing closed`);
    if (error instanceof RatioChanged) {
      return this.report('conflict', `${error.message}; rollout stopped, ratio left as it is`, 'leave', await this.currentRatios(false));
    }
    if (error instanceof LeaseLost) {
      // With its lease gone, someone may have resumed the rollout (`--resume`): then the ratio and the records are
      // theirs, and rolling back would abort their run.
      const holder = await this.takenOverBy();
      if (holder) {
        this.superseded = true;
        return this.report('conflict', `${error.message}; ${holder} took the rollout over; this process stopped and left it to them`, 'leave', await this.currentRatios(false));
      }
      return this.rollBack('failed', `rollout stopped ${at}: ${error.message}`);
    }
    if (error instanceof RegistryLost) return this.rollBack('failed', `rollout stopped ${at}: ${error.message}`);
    return this.rollBack('failed', `rollout failed: ${(error as Error).message}`);
  }

  /** Who holds the lease of one of this rollout's services now, when that is another session. */
  private async takenOverBy(): Promise<string | undefined> {
    for (const [service, held] of this.held) {
      const current = await this.admin.rollout(service).catch(() => undefined);
      if (current?.leaseHeld && current.leaseOwner !== held.owner) return current.lease ? describeActor(current.lease.by) : `session ${current.leaseOwner}`;
    }
    return undefined;
  }

  private async currentRatios(verified: boolean): Promise<Record<string, ServiceEnd>> {
    const byService: Record<string, ServiceEnd> = {};
    for (const service of this.services) {
      const current = await this.admin.getConfig(service).catch(() => undefined);
      byService[service] = { ratio: current?.config.ratio, ratioVerified: verified && current !== undefined };
    }
    return byService;
  }

  /** The gates, the steps from `from` (0-based), and the promotion; every outcome is a report. */
  async drive(from: number): Promise<RolloutReport> {
    try {
      if (from === 0) await this.gate('pre-rollout', 0);
      for (let index = from; index < this.o.steps.length; index++) {
        await this.gate('confirm-step', index + 1);
        const end = await this.step(index);
        if (!end.next) return end.report;
      }
      await this.gate('confirm-promotion', this.o.steps.length);
      return await this.promote();
    } catch (error) {
      return this.ended(error);
    }
  }
}

/** Refuses to start (nothing written) without a gray and a normal instance, or when a gray one has no metrics. */
async function checkStartable(admin: GrayAdmin, service: string, needsMetricsPath: boolean): Promise<{ gray: string[]; normal: string[] }> {
  const initial = await admin.status(service);
  const gray = initial.instances.filter((i) => i.effective?.gray).map((i) => i.id);
  const normal = initial.instances.filter((i) => i.effective && !i.effective.gray).map((i) => i.id);
  if (gray.length === 0) throw new NotFoundError(`a gray instance of service "${service}"`, initial.instances[0]?.path.replace(/\/[^/]*$/, '') ?? service);
  if (normal.length === 0) {
    throw new InvalidOptionError('service', `service "${service}" has no normal instance: with one lane empty every instance takes every request, so the ratio changes nothing`);
  }
  const blind = initial.instances.filter((i) => i.effective?.gray && metricsUrl(i) === undefined).map((i) => i.id);
  if (needsMetricsPath && blind.length > 0) {
    throw new InvalidOptionError('service', `gray instance(s) ${blind.join(', ')} of "${service}" advertise no metricsPath: start them with grayRegister({ metricsPath: '/metrics' })`);
  }
  return { gray, normal };
}

/** Checks every service and refuses early when one is busy, so that a refusal changes nothing. */
async function checkAll(admin: GrayAdmin, o: ResolvedOptions, resume: boolean): Promise<{ gray: string[]; normal: string[] }> {
  const lanes = { gray: [] as string[], normal: [] as string[] };
  const prefix = (service: string, ids: string[]) => (o.services.length > 1 ? ids.map((id) => `${service}/${id}`) : ids);
  for (const service of o.services) {
    const found = await checkStartable(admin, service, o.prometheus === undefined);
    lanes.gray.push(...prefix(service, found.gray));
    lanes.normal.push(...prefix(service, found.normal));
    const current = await admin.rollout(service);
    if (current.leaseHeld) throw new RolloutBusyError(service, current.path, `a rollout is running${current.lease ? `, run by ${describeActor(current.lease.by)}` : ''}; stop it with \`graykit abort ${service}\` first`);
    if (!resume && current.crashed) {
      throw new RolloutBusyError(service, current.path, `a rollout crashed at step ${current.document?.step}/${current.document?.steps.length} (its lease is gone); continue it with \`graykit rollout --resume ${service}\` or stop it with \`graykit abort ${service}\``);
    }
  }
  return lanes;
}

/**
 * Runs a progressive rollout of one service or several (see the module comment and README "Progressive rollout").
 * Throws only before anything was changed (invalid options: InvalidOptionError; unknown service, no gray or no
 * normal instance: NotFoundError / InvalidOptionError; another rollout running or crashed: RolloutBusyError;
 * ZooKeeper unreachable); from the lease taken on, every outcome is a report.
 *
 * @example
 * const admin = createAdmin();
 * const report = await runRollout(admin, { service: 'demo', steps: [5, 25, 50, 100], intervalMs: 30_000, maxErrorRate: 0.01 },
 *   { onProgress: (event) => console.log(event.type), signal: controller.signal });
 * admin.close();
 * console.log(report.outcome);
 */
export async function runRollout(admin: GrayAdmin, options: RolloutOptions, hooks: RolloutHooks = {}): Promise<RolloutReport> {
  const o = resolveOptions(options);
  const lanes = await checkAll(admin, o, false);
  const id = randomUUID();
  const actor = currentActor();
  const now = new Date().toISOString();
  const documents = new Map(
    o.services.map((service): [string, RolloutDocument] => [
      service,
      { id, state: 'running', service, services: [...o.services], steps: [...o.steps], step: 0, startedAt: now, by: actor, onCrash: o.onCrash, history: [], updatedAt: now, options: recordedOptions(o) },
    ]),
  );
  const run = new RolloutRun(admin, o, hooks, id, actor);
  await run.acquire(documents, false);
  run.emit({ type: 'start', id, service: o.services[0], services: [...o.services], steps: [...o.steps], intervalMs: o.intervalMs, maxErrorRate: o.maxErrorRate, minRequests: o.minRequests, onCrash: o.onCrash, ...lanes });
  return run.drive(0);
}

/** What `resumeRollout` takes besides the recorded options: the webhooks (never recorded) and this run's own settings. */
export type ResumeOptions = Pick<
  RolloutOptions,
  'webhooks' | 'webhookTimeoutMs' | 'gateTimeoutMs' | 'gateIntervalMs' | 'scrapeTimeoutMs' | 'refreshMs' | 'onInterrupt' | 'rollbackTimeoutMs' | 'registryTimeoutMs'
>;

/**
 * Continues a crashed rollout of `service` (and of every service it was rolling out with) from its recorded step,
 * with its recorded options: the step it crashed in runs again from its start. The gate webhooks it was started
 * with must be given again (their URLs are not recorded). Throws, changing nothing, when no crashed rollout is
 * there (NotFoundError) or its lease is held (RolloutBusyError).
 */
export async function resumeRollout(admin: GrayAdmin, service: string, options: ResumeOptions = {}, hooks: RolloutHooks = {}): Promise<RolloutReport> {
  const first = await admin.rollout(service);
  const recorded = first.document;
  if (!recorded || recorded.state !== 'running') {
    throw new NotFoundError(`a crashed rollout of service "${service}" to resume${recorded ? ` (its last rollout ended ${recorded.state})` : first.error ? ` (the rollout znode is invalid: ${first.error})` : ''}`, first.path);
  }
  const given = new Set((options.webhooks ?? []).map((hook) => hook.kind));
  const missing = recorded.options.webhookKinds.filter((kind) => GATE_KINDS.includes(kind as WebhookKind) && !given.has(kind as WebhookKind));
  if (missing.length > 0) {
    throw new InvalidOptionError('webhooks', `the rollout was started with gate webhook(s) ${missing.join(', ')}: give them again (--webhook ${missing[0]}=<url>); their URLs are not recorded in the registry`);
  }
  const { webhookKinds: _kinds, ...judgment } = recorded.options;
  const o = resolveOptions({
    services: recorded.services,
    steps: recorded.steps,
    ...judgment,
    maxLatencyMs: judgment.maxLatencyMs ?? {},
    onCrash: recorded.onCrash,
    ...options,
  });
  const lanes = await checkAll(admin, o, true);
  const actor = currentActor();
  const at = new Date().toISOString();
  const documents = new Map<string, RolloutDocument>();
  for (const name of o.services) {
    const status = name === service ? first : await admin.rollout(name);
    const document = status.document;
    if (!document || document.id !== recorded.id || !status.crashed) {
      throw new NotFoundError(`the crashed rollout ${recorded.id} in service "${name}" (rolled out together with "${service}")`, status.path);
    }
    const { abort: _abort, ...rest } = document;
    documents.set(name, { ...rest, state: 'running', resumed: [...(document.resumed ?? []), { at, by: actor, step: document.step }], updatedAt: at });
  }
  const from = Math.max(0, recorded.step - 1);
  const run = new RolloutRun(admin, o, hooks, recorded.id, actor, recorded.step);
  await run.acquire(documents, true);
  run.emit({
    type: 'start',
    id: recorded.id,
    service: o.services[0],
    services: [...o.services],
    steps: [...o.steps],
    intervalMs: o.intervalMs,
    maxErrorRate: o.maxErrorRate,
    minRequests: o.minRequests,
    onCrash: o.onCrash,
    ...lanes,
    resumedFrom: recorded.step,
  });
  return run.drive(from);
}
