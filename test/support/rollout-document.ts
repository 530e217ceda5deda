/** Rollout documents for tests that show or judge one without running a rollout. */
import type { RecordedStep, RolloutDocument } from '../../src/registry/rollout-state';

/**
 * A rollout znode's document as `graykit rollout` writes it (registry/rollout-state.ts), for tests that show or
 * judge one without running a rollout: every field of the contract filled, `fields` over them.
 */
export function rolloutDocument(fields: Partial<RolloutDocument> & Pick<RolloutDocument, 'id' | 'state'>): RolloutDocument {
  const service = fields.service ?? 'demo';
  const now = new Date().toISOString();
  return {
    service,
    services: [service],
    steps: [5, 25, 50, 100],
    step: 1,
    startedAt: now,
    updatedAt: now,
    by: { host: 'ops-1', user: 'alice', pid: 4242 },
    onCrash: 'rollback',
    history: [],
    options: { intervalMs: 30_000, maxErrorRate: 0.01, minRequests: 50, maxExtensions: 3, normalConfidence: 0.999, maxLatencyMs: {}, latencyConfidence: 0, consumerMetrics: [], webhookKinds: [] },
    ...fields,
  };
}

/** One recorded step of a rollout document. */
export function recordedStep(step: number, ratio: number, verdict?: RecordedStep['verdict'], reason?: string, gray = { requests: 0, errors: 0 }, normal = { requests: 0, errors: 0 }): RecordedStep {
  return { step, ratio, ...(verdict ? { verdict, reason } : {}), intervals: 1, durationMs: 30_000, gray, normal };
}
