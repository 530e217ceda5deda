/**
 * Reading a rollout's state znode (`<root>/services/<service>/rollout`, written by `graykit rollout`) for display.
 * Pure. The document is written by another process, possibly another graykit version, so reading is tolerant and
 * bounded: unknown fields are ignored, strings are clipped, lists are capped, and a document that cannot be read
 * at all says why instead of throwing.
 *
 * Whether a rollout is alive is not in the document: its process holds the ephemeral `rollout/lease` znode while
 * it lives. Whether it crashed is the verdict consumers and `graykit status` reach (registry/rollout-verdict.ts),
 * on the document and the lease read at one moment.
 */
import type { RolloutVerdict } from '../registry/rollout-verdict';
import { ROLLOUT_STATES, type RolloutState as RolloutStateName } from '../registry/rollout-state';
import type { Lane } from '../types';


/** One lane's counts over a step, as far as the document gives them. */
export interface RolloutLaneCounts {
  requests?: number;
  errors?: number;
  errorRate?: number | null;
}

/** One step of a rollout's history. */
export interface RolloutStepView {
  step: number;
  ratio: number | null;
  verdict?: { result: string; reason: string };
  gray?: RolloutLaneCounts;
  normal?: RolloutLaneCounts;
}

/** A rollout as the console shows it. */
export interface RolloutView {
  id: string;
  /** The document's state, or `unknown` when it holds none graykit knows. */
  state: RolloutStateName | 'unknown';
  /** `running`: state running and its lease held; `crashed`: state running and no lease; `finished` otherwise. */
  status: 'running' | 'crashed' | 'finished';
  steps: number[];
  /** The current step, 1-based; 0 before the first. */
  step: number;
  /** The current step's ratio. */
  ratio: number | null;
  startedAt?: number;
  updatedAt?: number;
  by?: { host?: string; user?: string; pid?: number };
  onCrash?: string;
  /** Other services the rollout moves together with this one. */
  services?: string[];
  /** Why it ended as it did, when the document says. */
  reason?: string;
  history: RolloutStepView[];
}

/** The rollout znode as read: the view, or why the document cannot be shown. */
export type RolloutRead = { ok: true; rollout: RolloutView } | { ok: false; reason: string };

const MAX_TEXT = 300;
const MAX_STEPS = 100;

function text(value: unknown, max = MAX_TEXT): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return undefined;
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Epoch ms from a number (ms) or an ISO date string. */
function time(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  if (typeof value === 'string') {
    const parsed = Date.parse(value);
    if (Number.isFinite(parsed)) return parsed;
  }
  return undefined;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function laneCounts(value: unknown): RolloutLaneCounts | undefined {
  const lane = record(value);
  if (!lane) return undefined;
  const counts: RolloutLaneCounts = {};
  const requests = finite(lane.requests);
  const errors = finite(lane.errors);
  if (requests !== undefined) counts.requests = requests;
  if (errors !== undefined) counts.errors = errors;
  if (lane.errorRate === null) counts.errorRate = null;
  else if (finite(lane.errorRate) !== undefined) counts.errorRate = lane.errorRate as number;
  else if (requests !== undefined && errors !== undefined) counts.errorRate = requests > 0 ? errors / requests : null;
  return counts;
}

function stepView(value: unknown, index: number): RolloutStepView | undefined {
  const entry = record(value);
  if (!entry) return undefined;
  const view: RolloutStepView = { step: finite(entry.step) ?? index + 1, ratio: finite(entry.ratio) ?? null };
  // The rollout records a step's verdict as `verdict` ('pass' | 'breach' | 'insufficient') and `reason`.
  const result = text(entry.verdict, 40);
  if (result !== undefined) view.verdict = { result, reason: text(entry.reason) ?? '' };
  for (const lane of ['gray', 'normal'] as const) {
    const counts = laneCounts(entry[lane]);
    if (counts) view[lane] = counts;
  }
  return view;
}

/** The document's state, or `unknown` when it holds none graykit knows. */
function stateOf(value: unknown): RolloutView['state'] {
  return typeof value === 'string' && (ROLLOUT_STATES as readonly string[]).includes(value) ? (value as RolloutStateName) : 'unknown';
}

/** A list from the document, capped and clipped: entries that do not read are left out. */
function listOf<T>(value: unknown, capped: (list: unknown[]) => unknown[], read: (entry: unknown, index: number) => T | undefined): T[] {
  if (!Array.isArray(value)) return [];
  return capped(value)
    .map(read)
    .filter((entry): entry is T => entry !== undefined);
}

const first = (list: unknown[]): unknown[] => list.slice(0, MAX_STEPS);
const last = (list: unknown[]): unknown[] => list.slice(-MAX_STEPS);

/** The view's optional fields, those the document gives, in the order the view lists them. */
function optionalFields(doc: Record<string, unknown>): Partial<RolloutView> {
  const fields: Partial<RolloutView> = {};
  const startedAt = time(doc.startedAt);
  const updatedAt = time(doc.updatedAt);
  if (startedAt !== undefined) fields.startedAt = startedAt;
  if (updatedAt !== undefined) fields.updatedAt = updatedAt;
  const by = record(doc.by);
  if (by) fields.by = { host: text(by.host, 120), user: text(by.user, 120), pid: finite(by.pid) };
  const reason = text(doc.reason);
  if (reason !== undefined) fields.reason = reason;
  const onCrash = text(doc.onCrash, 40);
  if (onCrash !== undefined) fields.onCrash = onCrash;
  if (Array.isArray(doc.services)) fields.services = listOf(doc.services, first, (s) => text(s, 128));
  return fields;
}

/** The rollout znode as consumers and `graykit status` read it (registry/rollout-verdict.ts), clipped for display. */
export function decodeRolloutState({ decoded, crashed }: Pick<RolloutVerdict, 'decoded' | 'crashed'>): RolloutRead {
  if (!decoded) return { ok: false, reason: 'no rollout recorded (empty znode)' };
  if (!decoded.ok) return { ok: false, reason: decoded.reason };
  const doc = decoded.value as unknown as Record<string, unknown>;
  const state = stateOf(doc.state);
  const steps = listOf(doc.steps, first, finite);
  const step = finite(doc.step) ?? 0;
  const view: RolloutView = {
    id: text(doc.id, 80) ?? '',
    state,
    status: crashed ? 'crashed' : state === 'running' ? 'running' : 'finished',
    steps,
    step,
    ratio: step >= 1 && step <= steps.length ? steps[step - 1] : null,
    history: listOf(doc.history, last, stepView),
    ...optionalFields(doc),
  };
  return { ok: true, rollout: view };
}
