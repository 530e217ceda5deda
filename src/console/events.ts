/**
 * The console's event list: what changed in a service, found by comparing what the watches delivered before and
 * after a change (instance registered or gone, gray flag flipped, ratio or rules changed, rollout steps and
 * verdicts), plus the operations done from the console. Pure: the model feeds it views and a clock.
 */
import type { Lane } from '../types';
import type { RolloutRead, RolloutStepView, RolloutView } from './rollout-state';
import type { ConfigView, InstanceView } from './views';

export type ConsoleEventKind = 'registered' | 'gone' | 'flag' | 'instance' | 'config' | 'rollout' | 'action';

/** One line of a service's event list. `text` may quote znode data: the page shows it as text. */
export interface ConsoleEvent {
  /** Increasing per console: the page uses it to append only what it has not seen. */
  seq: number;
  /** Epoch ms: when the console saw it (a registration: when the znode was created). */
  at: number;
  service: string;
  kind: ConsoleEventKind;
  level: 'info' | 'warn' | 'error';
  text: string;
  /** The lane the event concerns, when it concerns one. */
  lane?: Lane;
  /** The instance it concerns (`host:port`). */
  instance?: string;
}

/** An event before the model numbers it and names its service. */
export type EventDraft = Omit<ConsoleEvent, 'seq' | 'service'>;

export function percent(ratio: number | null | undefined): string {
  return ratio === null || ratio === undefined ? 'unset' : `${ratio} %`;
}

function laneName(lane: Lane | null): string {
  return lane === null ? 'invalid' : lane;
}

/** `host:port version` of an instance, for event texts. */
function named(instance: InstanceView): string {
  return instance.version === undefined ? instance.id : `${instance.id} ${instance.version}`;
}

/** `: error` when the instance has one, for event texts. */
function errorSuffix(instance: InstanceView): string {
  return instance.error ? `: ${instance.error}` : '';
}

/** An event about one instance: its lane and id filled in. */
function aboutInstance(instance: InstanceView, at: number, kind: ConsoleEventKind, level: EventDraft['level'], text: string): EventDraft {
  return { at, kind, level, text, lane: instance.lane ?? undefined, instance: instance.id };
}

/** The flag event between two reads of one instance: its lane changed, or only where the flag comes from. */
function flagEvent(previous: InstanceView, instance: InstanceView, at: number): EventDraft | undefined {
  if (previous.lane !== instance.lane) {
    const from = instance.flagFrom === 'override' ? 'override' : previous.flagFrom === 'override' ? 'override cleared, own flag' : 'own flag';
    const text = `${instance.id} ${laneName(previous.lane)} → ${laneName(instance.lane)} (${from})${errorSuffix(instance)}`;
    return aboutInstance(instance, at, 'flag', instance.lane === null ? 'warn' : 'info', text);
  }
  if (previous.flagFrom === instance.flagFrom) return undefined;
  const what = instance.flagFrom === 'override' ? `override set, still ${laneName(instance.lane)}` : `override cleared, own flag keeps it ${laneName(instance.lane)}`;
  return aboutInstance(instance, at, 'flag', 'info', `${instance.id}: ${what}`);
}

/** The instance event between two reads of one instance: its version, weight or error changed. */
function metadataEvent(previous: InstanceView, instance: InstanceView, at: number): EventDraft | undefined {
  const changes: string[] = [];
  if (previous.version !== instance.version) changes.push(`version ${previous.version ?? '-'} → ${instance.version ?? '-'}`);
  if (previous.weight !== instance.weight) changes.push(`weight ${previous.weight ?? '-'} → ${instance.weight ?? '-'}${instance.weightFrom === 'override' ? ' (override)' : ''}`);
  if (previous.error !== instance.error && instance.error) changes.push(instance.error);
  if (changes.length === 0) return undefined;
  return aboutInstance(instance, at, 'instance', instance.error ? 'warn' : 'info', `${instance.id}: ${changes.join('; ')}`);
}

/** Events of one instance present after the change; `previous` is its view before, if it had one. */
function changedInstanceEvents(previous: InstanceView | undefined, instance: InstanceView, at: number): EventDraft[] {
  if (!previous) {
    const text = `${named(instance)} registered (${laneName(instance.lane)})${errorSuffix(instance)}`;
    return [aboutInstance(instance, at, 'registered', instance.error ? 'warn' : 'info', text)];
  }
  if (previous === instance) return [];
  if (previous.since !== instance.since) return [aboutInstance(instance, at, 'registered', 'info', `${named(instance)} registered again (${laneName(instance.lane)})`)];
  return [flagEvent(previous, instance, at), metadataEvent(previous, instance, at)].filter((draft) => draft !== undefined);
}

/** Events between two lists of one service's instances. */
export function instanceEvents(before: readonly InstanceView[], after: readonly InstanceView[], now: number): EventDraft[] {
  const old = new Map(before.map((instance) => [instance.id, instance]));
  const drafts = after.flatMap((instance) => changedInstanceEvents(old.get(instance.id), instance, now));
  const seen = new Set(after.map((instance) => instance.id));
  for (const previous of before) {
    if (!seen.has(previous.id)) drafts.push(aboutInstance(previous, now, 'gone', 'info', `${named(previous)} gone (${laneName(previous.lane)})`));
  }
  return drafts;
}

function rulesText(count: number): string {
  return count === 1 ? '1 rule' : `${count} rules`;
}

/** Events between two reads of a service's config znode. */
export function configEvents(before: ConfigView, after: ConfigView, now: number): EventDraft[] {
  if (before.version === after.version && before.error === after.error && before.mtime === after.mtime) return [];
  const at = now;
  if (after.version === -1) return before.version === -1 ? [] : [{ at, kind: 'config', level: 'warn', text: 'config deleted: consumers use their local ratio' }];
  if (after.error) return [{ at, kind: 'config', level: 'error', text: `config v${after.version} is invalid, consumers keep the last valid one: ${after.error}` }];
  const changes = configChanges(before.config, after.config);
  return [{ at, kind: 'config', level: 'info', text: `${changes.length === 0 ? 'rewritten, no change' : changes.join('; ')} (config v${after.version})` }];
}

/** What changed between two valid configs, one phrase per field. */
function configChanges(a: ConfigView['config'], b: ConfigView['config']): string[] {
  const changes: string[] = [];
  if (a.ratio !== b.ratio) changes.push(`ratio ${percent(a.ratio)} → ${percent(b.ratio)}`);
  const rulesBefore = JSON.stringify(a.rules ?? []);
  const rulesAfter = JSON.stringify(b.rules ?? []);
  if (rulesBefore !== rulesAfter) changes.push(`rules changed (${rulesText(a.rules?.length ?? 0)} → ${rulesText(b.rules?.length ?? 0)})`);
  if (a.hashBy !== b.hashBy) changes.push(`hashBy ${a.hashBy ?? '-'} → ${b.hashBy ?? '-'}`);
  if (a.laneHeader !== b.laneHeader) changes.push(`laneHeader ${a.laneHeader ?? '-'} → ${b.laneHeader ?? '-'}`);
  return changes;
}

function stepText(step: RolloutStepView, of: number): string {
  const head = `rollout step ${step.step}/${of || '?'} (ratio ${percent(step.ratio)})`;
  if (!step.verdict) return `${head} began`;
  const rate = (counts: RolloutStepView['gray']) =>
    counts?.requests === undefined ? '' : ` ${counts.requests} req, ${counts.errorRate === null || counts.errorRate === undefined ? '-' : `${(counts.errorRate * 100).toFixed(2)} %`} errors`;
  const lanes = step.gray || step.normal ? ` [gray${rate(step.gray)}; normal${rate(step.normal)}]` : '';
  return `${head}: ${step.verdict.result}${step.verdict.reason ? ` — ${step.verdict.reason}` : ''}${lanes}`;
}

function verdictLevel(result: string | undefined): EventDraft['level'] {
  return result === 'breach' ? 'error' : result === 'insufficient' ? 'warn' : 'info';
}

/** `rollout <id> <state>[: reason]`: how a rollout ended. */
function endText(rollout: RolloutView): string {
  return `rollout ${rollout.id} ${rollout.state}${rollout.reason ? `: ${rollout.reason}` : ''}`;
}

/** The event of a rollout first seen (started, or already further along). */
function firstSeen(rollout: RolloutView, at: number): EventDraft {
  const by = rollout.by?.user || rollout.by?.host ? ` by ${[rollout.by.user, rollout.by.host].filter(Boolean).join('@')}` : '';
  const state = rollout.state === 'running' ? 'started' : rollout.state;
  return { at, kind: 'rollout', level: 'info', text: `rollout ${rollout.id || '(no id)'} ${state}${by}: steps ${rollout.steps.join(', ') || '-'}` };
}

/** Events of the rollout's steps: each step begun or judged since `previous` (every step, for a rollout first seen). */
function stepEvents(previous: RolloutView | undefined, next: RolloutView, at: number): EventDraft[] {
  const of = next.steps.length;
  const oldSteps = previous?.history ?? [];
  const drafts: EventDraft[] = [];
  next.history.forEach((step, i) => {
    const old = oldSteps[i];
    if (old && JSON.stringify(old) === JSON.stringify(step)) return;
    if (old && !step.verdict) return;
    drafts.push({ at, kind: 'rollout', level: verdictLevel(step.verdict?.result), text: stepText(step, of) });
  });
  if (previous && previous.step !== next.step && next.step > 0 && next.history.length < next.step) {
    drafts.push({ at, kind: 'rollout', level: 'info', text: `rollout step ${next.step}/${of}: ratio ${percent(next.ratio)}` });
  }
  return drafts;
}

/** The level of a rollout's ending: promoted is news, interrupted or inconclusive a warning, anything else an error. */
function endLevel(state: RolloutView['state']): EventDraft['level'] {
  return state === 'promoted' ? 'info' : state === 'interrupted' || state === 'inconclusive' ? 'warn' : 'error';
}

/** The event of the rollout's status (running, crashed, finished) or final state changing, if it did. */
function statusEvent(previous: RolloutView | undefined, next: RolloutView, at: number): EventDraft | undefined {
  // A rollout first read already crashed (it started and died between two reads) is announced as both.
  const was = previous?.status ?? (next.status === 'crashed' ? 'running' : undefined);
  if (was !== undefined && was !== next.status) {
    if (next.status === 'crashed') {
      const onCrash = next.onCrash ? `; on crash: ${next.onCrash}` : '';
      return { at, kind: 'rollout', level: 'error', text: `rollout ${next.id} crashed: its process is gone (lease released) at step ${next.step}/${next.steps.length}${onCrash}` };
    }
    if (next.status === 'running') return { at, kind: 'rollout', level: 'info', text: `rollout ${next.id} running again (lease held)` };
    return { at, kind: 'rollout', level: endLevel(next.state), text: endText(next) };
  }
  if (previous && previous.state !== next.state && next.status === 'finished') {
    return { at, kind: 'rollout', level: next.state === 'promoted' ? 'info' : 'error', text: endText(next) };
  }
  return undefined;
}

/**
 * Events between two reads of a service's rollout znode (and its lease). A starting or ending rollout never reads
 * as crashed (registry/rollout-verdict.ts), so every change of status is news.
 */
export function rolloutEvents(before: RolloutRead | undefined, after: RolloutRead | undefined, now: number): EventDraft[] {
  const at = now;
  if (!after) return [];
  if (!after.ok) return before && !before.ok && before.reason === after.reason ? [] : [{ at, kind: 'rollout', level: 'warn', text: `rollout state unreadable: ${after.reason}` }];
  const next = after.rollout;
  const previous = before?.ok && before.rollout.id === next.id ? before.rollout : undefined;
  const drafts: EventDraft[] = previous ? [] : [firstSeen(next, at)];
  drafts.push(...stepEvents(previous, next, at));
  const status = statusEvent(previous, next, at);
  if (status) drafts.push(status);
  return drafts;
}
