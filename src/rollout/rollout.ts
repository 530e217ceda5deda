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
 * The CLI (`graykit rollout`) wraps `runRollout`; tests run it in-process too. The parts: options.ts (the options and
 * their checks), report.ts (events and the report), start.ts (the checks before the leases), run.ts (the run loop),
 * records.ts (its state in the registry), resume.ts (`resumeRollout`), rollback.ts (ratio 0, verified).
 */
import { randomUUID } from 'node:crypto';
import type { GrayAdmin } from '../admin/admin';
import { currentActor } from '../admin/rollout-record';
import type { RolloutDocument } from '../registry/rollout-state';
import { recordedOptions, resolveOptions, type RolloutOptions } from './options';
import type { RolloutHooks, RolloutReport } from './report';
import { RolloutRun } from './run';
import { checkAll } from './start';

export { DEFAULT_ROLLOUT_OPTIONS, checkSteps, type RolloutOptions } from './options';
export type { RolloutEvent, RolloutHooks, RolloutOutcome, RolloutReport, ServiceEnd, ServiceStep, StepResult } from './report';
export { resumeRollout, type ResumeOptions } from './resume';

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
