/**
 * One rollout in progress: its options, what it has seen, its hold on the registry (records.ts), and the steps it
 * walks. Every way a run can end becomes a report here.
 */
import type { GrayAdmin, ServiceStatus } from '../admin/admin';
import { shareOf } from '../admin/lanes';
import { errorKind } from '../errors';
import type { RolloutActor, RolloutDocument } from '../registry/rollout-state';
import type { ServiceConfig } from '../types';
import { sleep } from '../util/time';
import { judge, type Verdict } from './judge';
import type { ResolvedOptions } from './options';
import { scrapePrometheus } from './prometheus';
import { RolloutRecords } from './records';
import type { RolloutEvent, RolloutHooks, RolloutOutcome, RolloutReport, ServiceEnd, ServiceStep, StepResult } from './report';
import { rollbackVerified } from './rollback';
import { StepCounter, emptyLane, scrapeAll, type LaneStats, type Scrape } from './scrape';
import { AbortRequested, GateFailed, Interrupted, LeaseLost, RatioChanged, RegistryLost } from './stops';
import { Webhooks, type WebhookKind, type WebhookPayload } from './webhooks';

/** A registry failure a rollout waits out (bounded) rather than ending on: the connection, not the request. */
function isRegistryUnavailable(error: unknown): boolean {
  const kind = errorKind(error);
  return kind === 'unreachable' || kind === 'sessionExpired';
}

/** What one step ended with: the next step may begin, or the rollout is over with this report. */
type StepEnd = { next: true } | { next: false; report: RolloutReport };

/** One read of every service: its status and, when metrics were read, its scrape. */
type Readings = Map<string, { status: ServiceStatus; scrape?: Scrape }>;

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

/** One rollout in progress: its options, what it has seen, its hold on the registry, and the steps it walks. */
export class RolloutRun {
  readonly history: StepResult[] = [];
  private readonly startedAt = Date.now();
  /** The ratio this rollout last wrote; a different one in ZooKeeper means someone else took over. */
  private currentRatio?: number;
  private readonly records: RolloutRecords;
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
    this.records = new RolloutRecords(admin, id);
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

  /** Takes every service's lease (RolloutRecords.acquire): nothing else is changed when that is refused. */
  acquire(documents: Map<string, RolloutDocument>, resume: boolean): Promise<void> {
    return this.records.acquire(this.services, documents, resume);
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
        await this.records.finish(outcome, reason);
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
    const results = await Promise.all(this.services.map((service) => rollbackVerified(this.admin, service, this.o.rollbackTimeoutMs, this.o.lane)));
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
  private async read(metrics: boolean): Promise<Readings> {
    const readings: Readings = new Map();
    let changed: string | undefined;
    for (const service of this.services) {
      const status = await this.admin.status(service);
      const rollout = await this.admin.rollout(service);
      this.records.checkHold(service, rollout);
      if (status.config.error !== undefined) changed ??= `the config znode of "${service}" was replaced by an invalid document (${status.config.error})`;
      else if (this.currentRatio !== undefined && this.shareIn(status.config.config) !== this.currentRatio) {
        changed ??= `the ${this.o.lane === 'gray' ? 'ratio' : `share of lane ${this.o.lane}`} of "${service}" was changed by someone else to ${this.shareIn(status.config.config) ?? '(none)'} (the rollout had set ${this.currentRatio})`;
      }
      readings.set(service, { status });
    }
    if (changed) throw new RatioChanged(changed);
    if (metrics) {
      await Promise.all(
        [...readings].map(async ([service, reading]) => {
          reading.scrape = this.o.prometheus
            ? await scrapePrometheus(this.o.prometheus, service, reading.status.instances, this.o.consumerMetrics.length > 0, this.o.scrapeTimeoutMs, this.o.lane)
            : await scrapeAll(service, reading.status.instances, this.o.consumerMetrics, this.o.scrapeTimeoutMs, this.o.lane);
        }),
      );
    }
    return readings;
  }

  /**
   * `read`, waiting out an unreachable ZooKeeper: undefined while it is (the step holds its ratio; consumers keep
   * routing by their snapshot), RegistryLost after `registryTimeoutMs`.
   */
  private async readOrWait(metrics: boolean): Promise<Readings | undefined> {
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
    await this.records.record(() => ({ step: index + 1 }));
    for (const service of this.services) await this.admin.setShare(service, this.o.lane, ratio);
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
      const verdicts = this.tally(result, readings, counters, judging);
      result.durationMs = Date.now() - stepStarted;
      if (!judging) {
        this.emit({ type: 'progress', ...at, interval: result.intervals, maxIntervals, remainingMs: deadline - Date.now(), gray: result.gray, normal: result.normal, unavailable: result.unavailable });
        continue;
      }
      for (const [service, verdict] of verdicts) result.services[service].verdict = verdict;
      const verdict = groupVerdict(verdicts);
      result.verdict = verdict;
      const extend = verdict.result === 'insufficient' && result.intervals < maxIntervals;
      this.emit({ type: 'verdict', ...at, result: verdict.result, reason: verdict.reason, gray: result.gray, normal: result.normal, extended: extend, services: Object.fromEntries(verdicts) });
      await this.records.recordStep(result);
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

  /**
   * Folds one read of every service into the step's result (each service's lanes, and their sums) and, when
   * `judging`, judges each service; returns the verdicts (none while not judging).
   */
  private tally(result: StepResult, readings: Readings, counters: Map<string, StepCounter>, judging: boolean): Map<string, Verdict> {
    const verdicts = new Map<string, Verdict>();
    for (const [service, reading] of readings) {
      const scrape = reading.scrape as Scrape;
      const counter = counters.get(service)!;
      counter.observe(scrape);
      const part: ServiceStep = { ...counter.stats(), unavailable: [...scrape.grayUnavailable, ...scrape.normalUnavailable] };
      result.services[service] = part;
      if (judging) verdicts.set(service, judge(part.gray, part.normal, this.o, scrape.grayUnavailable));
    }
    const parts = Object.values(result.services);
    result.gray = sumLanes(parts.map((part) => part.gray));
    result.normal = sumLanes(parts.map((part) => part.normal));
    const named = this.services.length > 1;
    result.unavailable = this.services.flatMap((service) => result.services[service].unavailable.map((what) => (named ? `${service} ${what}` : what)));
    return verdicts;
  }

  /** After the last step: gray instances become formal, ratio 0, on every service. */
  async promote(): Promise<RolloutReport> {
    const byService: Record<string, ServiceEnd> = {};
    const promoted: string[] = [];
    for (const service of this.services) {
      const ids = await this.admin.promote(service, this.o.lane);
      promoted.push(...ids);
      const after = await this.admin.getConfig(service).catch(() => undefined);
      const share = after && this.shareIn(after.config);
      byService[service] = { ratio: share, ratioVerified: share === 0, promoted: ids };
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
      const holder = await this.records.takenOverBy();
      if (holder) {
        this.superseded = true;
        return this.report('conflict', `${error.message}; ${holder} took the rollout over; this process stopped and left it to them`, 'leave', await this.currentRatios(false));
      }
      return this.rollBack('failed', `rollout stopped ${at}: ${error.message}`);
    }
    if (error instanceof RegistryLost) return this.rollBack('failed', `rollout stopped ${at}: ${error.message}`);
    return this.rollBack('failed', `rollout failed: ${(error as Error).message}`);
  }

  /** The rolled lane's share in a config: the ratio for gray (absent: undefined, as before lanes). */
  private shareIn(config: ServiceConfig): number | undefined {
    return this.o.lane === 'gray' ? config.ratio : shareOf(config, this.o.lane);
  }

  private async currentRatios(verified: boolean): Promise<Record<string, ServiceEnd>> {
    const byService: Record<string, ServiceEnd> = {};
    for (const service of this.services) {
      const current = await this.admin.getConfig(service).catch(() => undefined);
      byService[service] = { ratio: current && this.shareIn(current.config), ratioVerified: verified && current !== undefined };
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
