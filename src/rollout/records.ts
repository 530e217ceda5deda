/**
 * A run's state in the registry: each service's rollout document as last written, the version to write it against,
 * and the lease this run holds (admin/rollout-record.ts keeps the znodes). Every write is a compare-and-set; an
 * abort request written meanwhile is kept and noticed.
 */
import type { GrayAdmin, RolloutStatus } from '../admin/admin';
import { describeActor } from '../admin/rollout-record';
import { ConflictError } from '../errors';
import type { RecordedStep, RolloutDocument } from '../registry/rollout-state';
import { QUANTILES } from './latency';
import type { RolloutOutcome, StepResult } from './report';
import type { LaneStats } from './scrape';
import { AbortRequested, LeaseLost, RatioChanged } from './stops';

/** One service's hold on the rollout: its document as last written, the version to write against, its lease owner. */
interface Held {
  document: RolloutDocument;
  version: number;
  owner: string;
}

function recordLane(stats: LaneStats): RecordedStep['gray'] {
  const lane: RecordedStep['gray'] = { requests: stats.requests, errors: stats.errors };
  for (const q of QUANTILES) {
    const value = stats.latency?.[q];
    if (value !== null && value !== undefined) lane[q] = value;
  }
  return lane;
}

export class RolloutRecords {
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly admin: GrayAdmin,
    private readonly id: string,
  ) {}

  /**
   * Takes every service's lease and records the rollout as running; on a refusal, gives back what it took (each
   * recorded as `conflict`) and rethrows: nothing else was changed.
   */
  async acquire(services: readonly string[], documents: Map<string, RolloutDocument>, resume: boolean): Promise<void> {
    for (const service of services) {
      try {
        const document = documents.get(service) as RolloutDocument;
        const { version, owner } = await this.admin.acquireRollout(document, resume);
        this.held.set(service, { document, version, owner });
      } catch (error) {
        await this.finish('conflict', `did not start: ${(error as Error).message}`).catch(() => undefined);
        throw error;
      }
    }
  }

  /** Writes `patch` into every service's document (compare-and-set; an abort written meanwhile is kept and noticed). */
  async record(patch: (service: string, document: RolloutDocument) => Partial<RolloutDocument>): Promise<void> {
    for (const [service, held] of this.held) {
      for (let attempt = 0; ; attempt++) {
        const document: RolloutDocument = { ...held.document, ...patch(service, held.document), updatedAt: new Date().toISOString() };
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

  /** Records a step's verdict and counts in each service's history (replacing the entry of a step run again). */
  async recordStep(result: StepResult): Promise<void> {
    await this.record((service, document) => {
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
      return { history: [...document.history.filter((h) => h.step < result.step), entry] };
    });
  }

  /** Records how the rollout ended, then gives the leases back (in that order: see rollout-record.ts). */
  async finish(state: RolloutOutcome, reason: string): Promise<void> {
    const endedAt = new Date().toISOString();
    await this.record(() => ({ state, reason, endedAt }));
    for (const service of this.held.keys()) await this.admin.releaseRollout(service);
  }

  /** Throws when this run's lease of `service` is gone (LeaseLost) or `graykit abort` asked (AbortRequested). */
  checkHold(service: string, rollout: RolloutStatus): void {
    const held = this.held.get(service) as Held;
    if (rollout.leaseOwner !== held.owner) throw new LeaseLost(`the rollout lease of "${service}" is gone (its ZooKeeper session ended or the znode was deleted)`);
    if (rollout.document?.abort) throw new AbortRequested(rollout.document.abort.by);
  }

  /** Who holds the lease of one of this rollout's services now, when that is another session. */
  async takenOverBy(): Promise<string | undefined> {
    for (const [service, held] of this.held) {
      const current = await this.admin.rollout(service).catch(() => undefined);
      if (current?.leaseHeld && current.leaseOwner !== held.owner) return current.lease ? describeActor(current.lease.by) : `session ${current.leaseOwner}`;
    }
    return undefined;
  }
}
