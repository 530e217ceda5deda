/**
 * `graykit abort <service>`: stops a running rollout from anywhere — another terminal, another machine, a CI job.
 *
 * 1. An abort request goes into the rollout znode of every service of the rollout (the running rollout reads it
 *    within its refresh period and ends `aborted`, rolling back itself);
 * 2. then the ratio of each goes to 0 and is read back, here, without waiting for the rollout's process (which may
 *    be hung): the request is written first, so the rollout never mistakes this ratio 0 for someone else's;
 * 3. a crashed rollout (no lease: nobody to read the request) is recorded `aborted` here; a running one is waited
 *    for until it records its outcome, at most `timeoutMs`.
 */
import type { GrayAdmin } from '../admin/admin';
import { currentActor, describeActor } from '../admin/rollout-record';
import { ConflictError, NotFoundError } from '../errors';
import type { RolloutState } from '../registry/rollout-state';
import { sleep } from '../util/time';
import { rollbackVerified } from './rollback';

export interface AbortOptions {
  /** How long to wait for a running rollout to record its outcome, ms. Default 15000. */
  timeoutMs?: number;
  /** How long to keep trying to write and read back ratio 0, ms. Default 15000. */
  rollbackTimeoutMs?: number;
}

export const DEFAULT_ABORT_OPTIONS = { timeoutMs: 15_000, rollbackTimeoutMs: 15_000 } as const;

export interface AbortReport {
  id: string;
  services: string[];
  /** Each service: whether its rollout was running (a live process) or had crashed, its ratio read back, its state at the end. */
  byService: Record<string, { was: 'running' | 'crashed'; ratio?: number; ratioVerified: boolean; state?: RolloutState; error?: string }>;
  /** Ratio 0 read back on every service. */
  ratioVerified: boolean;
  /** Every rollout process that was running recorded its outcome within `timeoutMs` (crashed ones: recorded here). */
  acknowledged: boolean;
}

/**
 * Aborts the running (or crashed) rollout of `service` and of the services rolled out with it. Throws NotFoundError
 * when no rollout of the service is running; otherwise reports (ratio 0 verified or not).
 */
export async function abortRollout(admin: GrayAdmin, service: string, options: AbortOptions = {}): Promise<AbortReport> {
  const o = { ...DEFAULT_ABORT_OPTIONS, ...options };
  const by = currentActor();
  const first = await admin.requestRolloutAbort(service, by);
  const document = first.document!;
  const was: Record<string, 'running' | 'crashed'> = { [service]: first.leaseHeld ? 'running' : 'crashed' };
  for (const other of document.services) {
    if (other === service) continue;
    try {
      const status = await admin.requestRolloutAbort(other, by);
      if (status.document?.id === document.id) was[other] = status.leaseHeld ? 'running' : 'crashed';
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error; // already ended there
    }
  }
  const services = Object.keys(was);
  const ratios = await Promise.all(services.map((name) => rollbackVerified(admin, name, o.rollbackTimeoutMs, document.options.lane)));
  const report: AbortReport = { id: document.id, services, byService: {}, ratioVerified: ratios.every((r) => r.verified), acknowledged: true };
  services.forEach((name, i) => (report.byService[name] = { was: was[name], ratio: ratios[i].ratio, ratioVerified: ratios[i].verified, ...(ratios[i].error ? { error: ratios[i].error } : {}) }));
  const deadline = Date.now() + o.timeoutMs;
  for (const name of services) {
    for (;;) {
      const status = await admin.rollout(name);
      const current = status.document;
      if (current?.id !== document.id || current.state !== 'running') {
        report.byService[name].state = current?.state;
        break;
      }
      if (!status.leaseHeld) {
        // Crashed (or its process ended just now without recording): nobody else will record the outcome.
        try {
          await admin.writeRollout({ ...current, state: 'aborted', reason: `aborted by ${describeActor(by)} (graykit abort) after its process had stopped`, endedAt: new Date().toISOString(), updatedAt: new Date().toISOString() }, status.version);
        } catch (error) {
          if (!(error instanceof ConflictError)) throw error;
        }
        continue;
      }
      if (Date.now() >= deadline) {
        report.acknowledged = false;
        report.byService[name].state = 'running';
        break;
      }
      await sleep(200);
    }
  }
  return report;
}
