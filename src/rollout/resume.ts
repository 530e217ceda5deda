/** `resumeRollout`: a crashed rollout continued from its recorded step, with its recorded options. */
import type { GrayAdmin } from '../admin/admin';
import { currentActor } from '../admin/rollout-record';
import { InvalidOptionError, NotFoundError } from '../errors';
import type { RolloutDocument } from '../registry/rollout-state';
import { resolveOptions, type RolloutOptions } from './options';
import type { RolloutHooks, RolloutReport } from './report';
import { RolloutRun } from './run';
import { checkAll } from './start';
import { GATE_KINDS, type WebhookKind } from './webhooks';

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
