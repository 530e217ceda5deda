/**
 * Progressive rollout with automatic abort, as Argo Rollouts and Flagger do it, with only ZooKeeper:
 * raise the gray ratio step by step; after each step's interval compare the gray lane's error rate (from the
 * instances' own metrics, and consumers' when given) with the threshold and with the normal lane; on a breach set
 * the ratio to 0 at once and read it back; after the last step, promote.
 *
 * The CLI (`graykit rollout`) wraps `runRollout`; tests run it in-process too.
 */
import type { GrayAdmin, ServiceStatus } from '../admin/admin';
import { InvalidConfigError, InvalidOptionError, NotFoundError } from '../errors';
import { sleep } from '../util/time';
import { judge, type Verdict } from './judge';
import { StepCounter, emptyLane, metricsUrl, scrapeAll, type LaneStats, type Scrape } from './scrape';

export interface RolloutOptions {
  service: string;
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
  /** URLs of consumers' metrics (`consumerMetrics()`): their connection errors count against the lane. Default none. */
  consumerMetrics?: readonly string[];
  /** Longest wait for one metrics page, ms. Default 3000. */
  scrapeTimeoutMs?: number;
  /** How often the metrics are read for the live view (progress events), ms. Default 1000. */
  refreshMs?: number;
  /** On `signal`'s abort: `rollback` (ratio 0, verified) or `hold` (leave the ratio). Default `rollback`. */
  onInterrupt?: 'rollback' | 'hold';
  /** How long a rollback keeps trying to write and read back ratio 0, ms. Default 15000. */
  rollbackTimeoutMs?: number;
}

export const DEFAULT_ROLLOUT_OPTIONS = {
  minRequests: 50,
  maxExtensions: 3,
  normalConfidence: 0.999,
  consumerMetrics: [] as readonly string[],
  scrapeTimeoutMs: 3000,
  refreshMs: 1000,
  onInterrupt: 'rollback' as 'rollback' | 'hold',
  rollbackTimeoutMs: 15_000,
} as const;

/**
 * - `promoted`: every step passed, the gray instances were promoted (ratio 0, flags formal);
 * - `aborted`: a step breached; ratio 0;
 * - `inconclusive`: a step could not be judged within its bound (too little traffic, metrics unavailable): failed
 *   closed, ratio 0;
 * - `interrupted`: the signal aborted it; ratio 0 (or left, with onInterrupt `hold`);
 * - `conflict`: someone else changed the ratio meanwhile; the rollout stopped and left their ratio;
 * - `failed`: an unexpected error (ZooKeeper, promote); ratio 0 when the rollback could be verified.
 */
export type RolloutOutcome = 'promoted' | 'aborted' | 'inconclusive' | 'interrupted' | 'conflict' | 'failed';

export interface StepResult {
  /** 1-based. */
  step: number;
  ratio: number;
  /** Intervals the step ran (1 + extensions). */
  intervals: number;
  durationMs: number;
  gray: LaneStats;
  normal: LaneStats;
  /** Metrics that could not be read at the step's last read (`<instance or consumer>: <why>`). */
  unavailable: string[];
  verdict?: Verdict;
}

export interface RolloutReport {
  service: string;
  outcome: RolloutOutcome;
  reason: string;
  /** The step reached, 1-based (0: none began). */
  step: number;
  steps: number[];
  /** The ratio in ZooKeeper at the end, as read back (undefined when it could not be read). */
  ratio?: number;
  /** Whether the final ratio was read back from ZooKeeper as intended (0 after a rollback or a promotion). */
  ratioVerified: boolean;
  /**
   * What the rollout did to the ratio at the end: `promote` (flags formal, ratio 0), `rollback` (ratio 0, read
   * back: see `ratioVerified`), `hold` (left where it was, on request), `leave` (someone else had changed it).
   */
  action: 'promote' | 'rollback' | 'hold' | 'leave';
  /** The last step's lanes (what the verdict was made on). */
  gray: LaneStats;
  normal: LaneStats;
  history: StepResult[];
  /** Instances promoted (outcome `promoted`). */
  promoted?: string[];
  startedAt: string;
  endedAt: string;
  durationMs: number;
}

export type RolloutEvent =
  | { type: 'start'; service: string; steps: number[]; intervalMs: number; maxErrorRate: number; minRequests: number; gray: string[]; normal: string[] }
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
  | { type: 'verdict'; step: number; of: number; ratio: number; result: Verdict['result']; reason: string; gray: LaneStats; normal: LaneStats; extended: boolean }
  | { type: 'rollback'; reason: string; ratio?: number; verified: boolean }
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

/** `steps` as a rollout takes them: ratios in (0, 100], strictly increasing, at least one. */
export function checkSteps(steps: readonly number[]): void {
  if (!Array.isArray(steps) || steps.length === 0) throw new InvalidOptionError('steps', 'expected at least one ratio, e.g. 5,25,50,100');
  steps.forEach((ratio, i) => {
    if (typeof ratio !== 'number' || !(ratio > 0 && ratio <= 100)) throw new InvalidOptionError('steps', `each step is a ratio above 0 and at most 100, got ${JSON.stringify(ratio)}`);
    if (i > 0 && !(ratio > steps[i - 1])) throw new InvalidOptionError('steps', `steps must increase, got ${steps[i - 1]} then ${ratio}`);
  });
}

function resolveOptions(options: RolloutOptions): Required<RolloutOptions> {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'runRollout takes an options object');
  const merged = { ...DEFAULT_ROLLOUT_OPTIONS, ...options } as Required<RolloutOptions>;
  checkSteps(merged.steps);
  const positive = (name: keyof RolloutOptions, min = 1) => {
    const value = merged[name] as number;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) throw new InvalidOptionError(name, `expected a number >= ${min}, got ${JSON.stringify(value)}`);
  };
  positive('intervalMs');
  positive('scrapeTimeoutMs');
  positive('refreshMs');
  positive('rollbackTimeoutMs');
  positive('minRequests', 0);
  if (!Number.isInteger(merged.maxExtensions) || merged.maxExtensions < 0) throw new InvalidOptionError('maxExtensions', `expected a whole number >= 0, got ${JSON.stringify(merged.maxExtensions)}`);
  if (!(merged.maxErrorRate >= 0 && merged.maxErrorRate <= 1)) throw new InvalidOptionError('maxErrorRate', `expected a fraction from 0 to 1, got ${JSON.stringify(merged.maxErrorRate)}`);
  if (!(merged.normalConfidence === 0 || (merged.normalConfidence > 0.5 && merged.normalConfidence < 1))) {
    throw new InvalidOptionError('normalConfidence', `expected 0 (off) or a confidence between 0.5 and 1, got ${JSON.stringify(merged.normalConfidence)}`);
  }
  if (merged.onInterrupt !== 'rollback' && merged.onInterrupt !== 'hold') throw new InvalidOptionError('onInterrupt', `expected 'rollback' or 'hold', got ${JSON.stringify(merged.onInterrupt)}`);
  for (const url of merged.consumerMetrics) {
    if (!/^https?:\/\//.test(url)) throw new InvalidOptionError('consumerMetrics', `expected http(s) URLs, got ${JSON.stringify(url)}`);
  }
  return merged;
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

/** What one step ended with: the next step may begin, or the rollout is over with this report. */
type StepEnd = { next: true } | { next: false; report: RolloutReport };

/** One rollout in progress: its options, what it has seen, and the steps it walks. */
class RolloutRun {
  readonly history: StepResult[] = [];
  private readonly startedAt = Date.now();
  /** The ratio this rollout last wrote; a different one in ZooKeeper means someone else took over. */
  private currentRatio?: number;

  constructor(
    private readonly admin: GrayAdmin,
    private readonly o: Required<RolloutOptions>,
    private readonly hooks: RolloutHooks,
  ) {}

  private get service(): string {
    return this.o.service;
  }

  emit(event: RolloutEvent): void {
    try {
      this.hooks.onProgress?.(event);
    } catch {
      // A broken view must not break the rollout.
    }
  }

  report(outcome: RolloutOutcome, reason: string, extra: Partial<RolloutReport> & Pick<RolloutReport, 'action'>): RolloutReport {
    const last = this.history[this.history.length - 1];
    const done: RolloutReport = {
      service: this.service,
      outcome,
      reason,
      step: this.history.length,
      steps: [...this.o.steps],
      ratioVerified: false,
      gray: last?.gray ?? emptyLane(),
      normal: last?.normal ?? emptyLane(),
      history: this.history,
      startedAt: new Date(this.startedAt).toISOString(),
      endedAt: new Date().toISOString(),
      durationMs: Date.now() - this.startedAt,
      ...extra,
    };
    this.emit({ type: 'report', report: done });
    return done;
  }

  /** Ratio 0, read back; the report says whether it held (`ratioVerified`). */
  async rollBack(outcome: RolloutOutcome, reason: string): Promise<RolloutReport> {
    const result = await rollbackVerified(this.admin, this.service, this.o.rollbackTimeoutMs);
    this.emit({ type: 'rollback', reason, ratio: result.ratio, verified: result.verified });
    const why = result.verified ? reason : `${reason}; ROLLBACK NOT VERIFIED (${result.error}): run \`graykit rollback ${this.service}\``;
    return this.report(outcome, why, { ratio: result.ratio, ratioVerified: result.verified, action: 'rollback' });
  }

  /** Reads the registry and every metrics page; stops the rollout if someone else changed the ratio. */
  private async read(): Promise<{ status: ServiceStatus; scrape: Scrape }> {
    const status = await this.admin.status(this.service);
    if (status.config.config.ratio !== this.currentRatio || status.config.error !== undefined) {
      throw new RatioChanged(
        status.config.error !== undefined
          ? `the config znode was replaced by an invalid document (${status.config.error})`
          : `the ratio was changed by someone else to ${status.config.config.ratio ?? '(none)'} (the rollout had set ${this.currentRatio})`,
      );
    }
    return { status, scrape: await scrapeAll(this.service, status.instances, this.o.consumerMetrics, this.o.scrapeTimeoutMs) };
  }

  /**
   * Step `index`: write its ratio, take a baseline, then read every `refreshMs` until the interval is over and
   * judge; a step without enough to judge is extended, at most `maxExtensions` times, then fails closed.
   */
  async step(index: number): Promise<StepEnd> {
    const { o, hooks } = this;
    const ratio = o.steps[index];
    const of = o.steps.length;
    const at = { step: index + 1, of, ratio };
    if (hooks.signal?.aborted) throw new Interrupted();
    await this.admin.setRatio(this.service, ratio);
    this.currentRatio = ratio;
    const stepStarted = Date.now();
    this.emit({ type: 'step', ...at });
    const counter = new StepCounter();
    const result: StepResult = { step: index + 1, ratio, intervals: 1, durationMs: 0, gray: emptyLane(), normal: emptyLane(), unavailable: [] };
    this.history.push(result);
    counter.observe((await this.read()).scrape);
    const maxIntervals = 1 + o.maxExtensions;
    let deadline = Date.now() + o.intervalMs;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining > 0) await sleep(Math.min(o.refreshMs, remaining), hooks.signal).catch(() => Promise.reject(new Interrupted()));
      const { scrape } = await this.read();
      if (hooks.signal?.aborted) throw new Interrupted();
      counter.observe(scrape);
      Object.assign(result, counter.stats(), { durationMs: Date.now() - stepStarted, unavailable: [...scrape.grayUnavailable, ...scrape.normalUnavailable] });
      if (Date.now() < deadline) {
        this.emit({ type: 'progress', ...at, interval: result.intervals, maxIntervals, remainingMs: deadline - Date.now(), gray: result.gray, normal: result.normal, unavailable: result.unavailable });
        continue;
      }
      const verdict = judge(result.gray, result.normal, o, scrape.grayUnavailable);
      result.verdict = verdict;
      const extend = verdict.result === 'insufficient' && result.intervals < maxIntervals;
      this.emit({ type: 'verdict', ...at, result: verdict.result, reason: verdict.reason, gray: result.gray, normal: result.normal, extended: extend });
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

  /** After the last step: gray instances become formal, ratio 0. */
  async promote(): Promise<RolloutReport> {
    const promoted = await this.admin.promote(this.service);
    this.emit({ type: 'promote', promoted });
    const after = await this.admin.getConfig(this.service).catch(() => undefined);
    const last = this.history[this.history.length - 1];
    return this.report('promoted', `all ${this.o.steps.length} steps passed: ${last?.verdict?.reason ?? ''}`, { promoted, ratio: after?.config.ratio, ratioVerified: after?.config.ratio === 0, action: 'promote' });
  }

  /** The report of a rollout a step threw out of: interrupted, taken over, or failed. */
  async ended(error: unknown): Promise<RolloutReport> {
    const { o } = this;
    if (error instanceof Interrupted) {
      if (o.onInterrupt === 'hold') {
        const current = await this.admin.getConfig(this.service).catch(() => undefined);
        return this.report('interrupted', `interrupted; ratio held at ${current?.config.ratio ?? this.currentRatio} (--on-interrupt hold)`, { ratio: current?.config.ratio, ratioVerified: current !== undefined, action: 'hold' });
      }
      return this.rollBack('interrupted', `interrupted at step ${this.history.length}/${o.steps.length}; rolled back`);
    }
    if (error instanceof RatioChanged) {
      const current = await this.admin.getConfig(this.service).catch(() => undefined);
      return this.report('conflict', `${error.message}; rollout stopped, ratio left as it is`, { ratio: current?.config.ratio, ratioVerified: false, action: 'leave' });
    }
    return this.rollBack('failed', `rollout failed: ${(error as Error).message}`);
  }
}

/** Refuses to start (nothing written) without a gray and a normal instance, or when a gray one has no metrics. */
async function checkStartable(admin: GrayAdmin, service: string): Promise<{ gray: string[]; normal: string[] }> {
  const initial = await admin.status(service);
  const gray = initial.instances.filter((i) => i.effective?.gray).map((i) => i.id);
  const normal = initial.instances.filter((i) => i.effective && !i.effective.gray).map((i) => i.id);
  if (gray.length === 0) throw new NotFoundError(`a gray instance of service "${service}"`, initial.instances[0]?.path.replace(/\/[^/]*$/, '') ?? service);
  if (normal.length === 0) {
    throw new InvalidOptionError('service', `service "${service}" has no normal instance: with one lane empty every instance takes every request, so the ratio changes nothing`);
  }
  const blind = initial.instances.filter((i) => i.effective?.gray && metricsUrl(i) === undefined).map((i) => i.id);
  if (blind.length > 0) {
    throw new InvalidOptionError('service', `gray instance(s) ${blind.join(', ')} advertise no metricsPath: start them with grayRegister({ metricsPath: '/metrics' })`);
  }
  return { gray, normal };
}

/**
 * Runs a progressive rollout of `service` (see the module comment and README "Progressive rollout"). Throws only
 * before anything was changed (invalid options: InvalidOptionError; unknown service, no gray or no normal
 * instance: NotFoundError / InvalidOptionError; ZooKeeper unreachable); from the first ratio written on, every
 * outcome is a report.
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
  const lanes = await checkStartable(admin, o.service);
  const run = new RolloutRun(admin, o, hooks);
  run.emit({ type: 'start', service: o.service, steps: [...o.steps], intervalMs: o.intervalMs, maxErrorRate: o.maxErrorRate, minRequests: o.minRequests, ...lanes });
  try {
    for (let index = 0; index < o.steps.length; index++) {
      const end = await run.step(index);
      if (!end.next) return end.report;
    }
    return await run.promote();
  } catch (error) {
    return run.ended(error);
  }
}
