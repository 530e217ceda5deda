/**
 * The rollout znode's document (README "Znode layout"): what a running rollout records about itself under each of
 * its services, so that the registry — not one operator's process — knows a rollout is running, where it is, and
 * what to do if its process dies. Pure; no I/O.
 *
 *   <root>/services/<service>/rollout         PERSISTENT, RolloutDocument JSON (empty data: no rollout recorded yet)
 *   <root>/services/<service>/rollout/lease   EPHEMERAL, RolloutLease JSON, owned by the running rollout's session
 *
 * A rollout is **crashed** when its document says `running` and its lease is gone: the session that held it ended
 * without the rollout writing an outcome. Only a read that definitely found no lease counts (never a lost
 * connection), which is for the reader to ensure; `isCrashed` only combines the two facts.
 */
import { describe, isJsonObject, type Decoded } from './codec';
import { isLaneName } from '../types';

/** `running`, or the outcome a rollout ended with (RolloutOutcome). */
export const ROLLOUT_STATES = ['running', 'promoted', 'aborted', 'inconclusive', 'interrupted', 'conflict', 'failed'] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

/** What consumers do when the rollout's process dies mid-way: ratio 0 by themselves, or keep the ratio. */
export type OnCrash = 'rollback' | 'hold';

/** Who ran a rollout: the machine, the OS user and the process. */
export interface RolloutActor {
  host: string;
  user: string;
  pid: number;
}

/** One lane's counts over a step, as recorded. Latency quantiles in seconds, when the histograms gave them. */
export interface RecordedLane {
  requests: number;
  errors: number;
  p50?: number;
  p95?: number;
  p99?: number;
}

/** One step as recorded: the group's verdict, and this service's counts. */
export interface RecordedStep {
  step: number;
  ratio: number;
  /** The verdict of the whole group; absent while the step runs. */
  verdict?: 'pass' | 'breach' | 'insufficient';
  reason?: string;
  intervals: number;
  durationMs: number;
  gray: RecordedLane;
  normal: RecordedLane;
}

/**
 * Everything `graykit rollout --resume` needs to continue with the same judgment. Webhook URLs are *not* here:
 * the znode is readable by anyone who can read the registry, and a URL often carries a token; only the kinds
 * are, so that a resume can refuse to skip a gate (README "Security").
 */
export interface RecordedOptions {
  intervalMs: number;
  maxErrorRate: number;
  minRequests: number;
  maxExtensions: number;
  normalConfidence: number;
  maxLatencyMs: { p50?: number; p95?: number; p99?: number };
  latencyConfidence: number;
  consumerMetrics: string[];
  prometheus?: string;
  webhookKinds: string[];
  /** The lane rolled out, when not `gray`. */
  lane?: string;
}

export interface RolloutDocument {
  /** Unique per rollout (a resume keeps it). */
  id: string;
  state: RolloutState;
  /** The service this znode belongs to. */
  service: string;
  /** Every service the rollout walks together (one znode and one lease each). */
  services: string[];
  steps: number[];
  /** The current step, 1-based; 0 before the first. */
  step: number;
  startedAt: string;
  by: RolloutActor;
  onCrash: OnCrash;
  history: RecordedStep[];
  updatedAt: string;
  options: RecordedOptions;
  /** Why it ended, once it has. */
  reason?: string;
  endedAt?: string;
  /** Each `--resume` that took it over after a crash. */
  resumed?: Array<{ at: string; by: RolloutActor; step: number }>;
  /** Set by `graykit abort`: the running rollout stops at its next read and ends `aborted`. */
  abort?: { at: string; by: RolloutActor };
}

/** The lease znode's data: who holds the rollout now. */
export interface RolloutLease {
  id: string;
  by: RolloutActor;
  at: string;
}

/** Rollout documents are bounded: a long history must not grow without end (ZooKeeper caps data at 1 MiB). */
export const MAX_ROLLOUT_BYTES = 256 * 1024;

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;

function parse(data: Buffer | string | null | undefined): Decoded<Record<string, unknown>> | undefined {
  if (data === null || data === undefined || data.length === 0) return undefined;
  if (data.length > MAX_ROLLOUT_BYTES) return { ok: false, reason: `larger than ${MAX_ROLLOUT_BYTES} bytes` };
  let value: unknown;
  try {
    value = JSON.parse(String(data));
  } catch (error) {
    return { ok: false, reason: `not JSON (${(error as Error).message})` };
  }
  return isJsonObject(value) ? { ok: true, value } : { ok: false, reason: `not a JSON object but ${describe(value)}` };
}

function isActor(value: unknown): value is RolloutActor {
  return isJsonObject(value) && typeof value.host === 'string' && typeof value.user === 'string' && Number.isInteger(value.pid);
}

type Doc = Record<string, unknown>;
const stepCount = (doc: Doc): number => (doc.steps as unknown[]).length;

/**
 * The fields of the contract, in the order they are checked (a field's check may rely on the ones before it):
 * the field, whether the document's value is right, and what it should be (the reason quotes the value).
 */
const DOCUMENT_CHECKS: ReadonlyArray<readonly [field: string, valid: (doc: Doc) => boolean, expected: string | ((doc: Doc) => string)]> = [
  ['id', (doc) => typeof doc.id === 'string' && doc.id !== '', 'a non-empty string'],
  ['state', (doc) => ROLLOUT_STATES.includes(doc.state as RolloutState), ROLLOUT_STATES.join(' | ')],
  ['service', (doc) => typeof doc.service === 'string', 'a service name'],
  ['services', (doc) => Array.isArray(doc.services) && doc.services.every((s) => typeof s === 'string'), 'a list of service names'],
  ['steps', (doc) => Array.isArray(doc.steps) && doc.steps.every((s) => typeof s === 'number' && s > 0 && s <= 100), 'a list of ratios'],
  ['step', (doc) => Number.isInteger(doc.step) && (doc.step as number) >= 0 && (doc.step as number) <= stepCount(doc), (doc) => `a step from 0 to ${stepCount(doc)}`],
  ['startedAt', (doc) => typeof doc.startedAt === 'string', 'an ISO date'],
  ['by', (doc) => isActor(doc.by), '{host, user, pid}'],
  ['onCrash', (doc) => doc.onCrash === 'rollback' || doc.onCrash === 'hold', "'rollback' or 'hold'"],
  ['history', (doc) => Array.isArray(doc.history) && doc.history.every((h) => isJsonObject(h) && isCount(h.step) && isCount(h.ratio)), 'a list of steps'],
  ['options', (doc) => isJsonObject(doc.options), 'an object'],
  // The reason quotes doc['options.lane'], which is undefined: kept as it has always read.
  ['options.lane', (doc) => isRecordedLane((doc.options as Doc).lane), 'a lane other than the base lane'],
];

/** `options.lane`: absent (gray), or a lane other than the base lane. */
function isRecordedLane(lane: unknown): boolean {
  return lane === undefined || (isLaneName(lane) && lane !== 'normal');
}

/**
 * Decodes a rollout znode. Empty data (the znode made just before a first rollout takes its lease) is `undefined`:
 * no rollout recorded. The fields of the contract are checked; the rest is kept as it is.
 */
export function decodeRolloutDocument(data: Buffer | string | null | undefined): Decoded<RolloutDocument> | undefined {
  const json = parse(data);
  if (!json || !json.ok) return json;
  const doc = json.value;
  for (const [field, valid, expected] of DOCUMENT_CHECKS) {
    if (!valid(doc)) return { ok: false, reason: `"${field}" is ${describe(doc[field])}, not ${typeof expected === 'string' ? expected : expected(doc)}` };
  }
  return { ok: true, value: doc as unknown as RolloutDocument };
}

/** Decodes a lease znode's data; undefined when it is not a lease graykit wrote (the lease still counts as held). */
export function decodeRolloutLease(data: Buffer | string | null | undefined): RolloutLease | undefined {
  const json = parse(data);
  if (!json?.ok || typeof json.value.id !== 'string' || !isActor(json.value.by)) return undefined;
  return json.value as unknown as RolloutLease;
}

/** A rollout whose document says running while its lease is definitely gone: its process died. */
export function isCrashed(doc: Pick<RolloutDocument, 'state'> | undefined, leaseHeld: boolean): boolean {
  return doc?.state === 'running' && !leaseHeld;
}

/** Whether consumers route the service at ratio 0 by themselves: crashed, and not started with `--on-crash hold`. */
export function crashRollsBack(doc: Pick<RolloutDocument, 'state' | 'onCrash'> | undefined, leaseHeld: boolean): boolean {
  return isCrashed(doc, leaseHeld) && doc?.onCrash !== 'hold';
}
