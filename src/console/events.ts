/**
 * The console's event list: what changed in a service, found by comparing what the watches delivered before and
 * after a change (instance registered or gone, gray flag flipped, ratio or rules changed, rollout steps and
 * verdicts), plus the operations done from the console. Pure: the model feeds it views and a clock.
 */
import type { Lane } from '../types';
import type { RolloutRead, RolloutStepView } from './rollout-state';
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

/** Events between two lists of one service's instances. */
export function instanceEvents(before: readonly InstanceView[], after: readonly InstanceView[], now: number): EventDraft[] {
  const drafts: EventDraft[] = [];
  const old = new Map(before.map((instance) => [instance.id, instance]));
  const seen = new Set<string>();
  for (const instance of after) {
    seen.add(instance.id);
    const previous = old.get(instance.id);
    const lane = instance.lane ?? undefined;
    const version = instance.version === undefined ? '' : ` ${instance.version}`;
    if (!previous) {
      drafts.push({
        at: now,
        kind: 'registered',
        level: instance.error ? 'warn' : 'info',
        text: `${instance.id}${version} registered (${laneName(instance.lane)})${instance.error ? `: ${instance.error}` : ''}`,
        lane,
        instance: instance.id,
      });
      continue;
    }
    if (previous === instance) continue;
    if (previous.since !== instance.since) {
      drafts.push({ at: now, kind: 'registered', level: 'info', text: `${instance.id}${version} registered again (${laneName(instance.lane)})`, lane, instance: instance.id });
      continue;
    }
    if (previous.lane !== instance.lane) {
      const from = instance.flagFrom === 'override' ? 'override' : previous.flagFrom === 'override' ? 'override cleared, own flag' : 'own flag';
      drafts.push({
        at: now,
        kind: 'flag',
        level: instance.lane === null ? 'warn' : 'info',
        text: `${instance.id} ${laneName(previous.lane)} → ${laneName(instance.lane)} (${from})${instance.error ? `: ${instance.error}` : ''}`,
        lane,
        instance: instance.id,
      });
    } else if (previous.flagFrom !== instance.flagFrom) {
      const what = instance.flagFrom === 'override' ? `override set, still ${laneName(instance.lane)}` : `override cleared, own flag keeps it ${laneName(instance.lane)}`;
      drafts.push({ at: now, kind: 'flag', level: 'info', text: `${instance.id}: ${what}`, lane, instance: instance.id });
    }
    const changes: string[] = [];
    if (previous.version !== instance.version) changes.push(`version ${previous.version ?? '-'} → ${instance.version ?? '-'}`);
    if (previous.weight !== instance.weight) changes.push(`weight ${previous.weight ?? '-'} → ${instance.weight ?? '-'}${instance.weightFrom === 'override' ? ' (override)' : ''}`);
    if (previous.error !== instance.error && instance.error) changes.push(instance.error);
    if (changes.length > 0) drafts.push({ at: now, kind: 'instance', level: instance.error ? 'warn' : 'info', text: `${instance.id}: ${changes.join('; ')}`, lane, instance: instance.id });
  }
  for (const previous of before) {
    if (seen.has(previous.id)) continue;
    const version = previous.version === undefined ? '' : ` ${previous.version}`;
    drafts.push({ at: now, kind: 'gone', level: 'info', text: `${previous.id}${version} gone (${laneName(previous.lane)})`, lane: previous.lane ?? undefined, instance: previous.id });
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
  const a = before.config;
  const b = after.config;
  const changes: string[] = [];
  if (a.ratio !== b.ratio) changes.push(`ratio ${percent(a.ratio)} → ${percent(b.ratio)}`);
  const rulesBefore = JSON.stringify(a.rules ?? []);
  const rulesAfter = JSON.stringify(b.rules ?? []);
  if (rulesBefore !== rulesAfter) changes.push(`rules changed (${rulesText(a.rules?.length ?? 0)} → ${rulesText(b.rules?.length ?? 0)})`);
  if (a.hashBy !== b.hashBy) changes.push(`hashBy ${a.hashBy ?? '-'} → ${b.hashBy ?? '-'}`);
  if (a.laneHeader !== b.laneHeader) changes.push(`laneHeader ${a.laneHeader ?? '-'} → ${b.laneHeader ?? '-'}`);
  if (changes.length === 0) changes.push('rewritten, no change');
  return [{ at, kind: 'config', level: 'info', text: `${changes.join('; ')} (config v${after.version})` }];
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
  const drafts: EventDraft[] = [];
  const of = next.steps.length;
  if (!previous) {
    const by = next.by?.user || next.by?.host ? ` by ${[next.by.user, next.by.host].filter(Boolean).join('@')}` : '';
    drafts.push({ at, kind: 'rollout', level: 'info', text: `rollout ${next.id || '(no id)'} ${next.state === 'running' ? 'started' : next.state}${by}: steps ${next.steps.join(', ') || '-'}` });
  }
  const oldSteps = previous?.history ?? [];
  next.history.forEach((step, i) => {
    const old = oldSteps[i];
    if (old && JSON.stringify(old) === JSON.stringify(step)) return;
    if (old && !step.verdict) return;
    drafts.push({ at, kind: 'rollout', level: verdictLevel(step.verdict?.result), text: stepText(step, of) });
  });
  if (previous && previous.step !== next.step && next.step > 0 && next.history.length < next.step) {
    drafts.push({ at, kind: 'rollout', level: 'info', text: `rollout step ${next.step}/${of}: ratio ${percent(next.ratio)}` });
  }
  // A rollout first read already crashed (it started and died between two reads) is announced as both.
  const was = previous?.status ?? (next.status === 'crashed' ? 'running' : undefined);
  if (was !== undefined && was !== next.status) {
    if (next.status === 'crashed') {
      drafts.push({ at, kind: 'rollout', level: 'error', text: `rollout ${next.id} crashed: its process is gone (lease released) at step ${next.step}/${of}${next.onCrash ? `; on crash: ${next.onCrash}` : ''}` });
    } else if (next.status === 'running') {
      drafts.push({ at, kind: 'rollout', level: 'info', text: `rollout ${next.id} running again (lease held)` });
    } else {
      const level = next.state === 'promoted' ? 'info' : next.state === 'interrupted' || next.state === 'inconclusive' ? 'warn' : 'error';
      drafts.push({ at, kind: 'rollout', level, text: `rollout ${next.id} ${next.state}${next.reason ? `: ${next.reason}` : ''}` });
    }
  } else if (previous && previous.state !== next.state && next.status === 'finished') {
    drafts.push({ at, kind: 'rollout', level: next.state === 'promoted' ? 'info' : 'error', text: `rollout ${next.id} ${next.state}${next.reason ? `: ${next.reason}` : ''}` });
  }
  return drafts;
}
