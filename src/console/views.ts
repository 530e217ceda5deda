/**
 * What the console shows, as plain JSON-ready objects built from what the registry mirror decoded and judged
 * (registry/mirror.ts, registry/verdict.ts): no znode is parsed here. Pure. Every string here
 * may come from znode data written by others: the page renders all of it as text, never as HTML.
 */
import { shareOf } from '../admin/lanes';
import { parseGrayFlag } from '../registry/codec';
import type { ConfigRead } from '../registry/mirror';
import type { InstanceVerdict } from '../registry/verdict';
import type { Lane, ServiceConfig } from '../types';
import type { RolloutRead, RolloutView } from './rollout-state';

/** One instance: its own metadata, the operator's override, and what consumers route by. */
export interface InstanceView {
  /** `host:port`, the znode's name. */
  id: string;
  /** The lane consumers route it in; null when its data is invalid (consumers skip it; `error` says why). */
  lane: Lane | null;
  /** Where the gray flag comes from: the instance's own metadata or the operator's override. */
  flagFrom: 'own' | 'override';
  /** The instance's own gray flag, when it differs from the effective one or there is an override. */
  ownGray?: boolean;
  version?: string;
  weight?: number;
  /** Where the weight comes from. */
  weightFrom: 'own' | 'override';
  /** When the instance registered (its znode's creation), epoch ms. */
  since: number;
  /** The path of its metrics page, when it advertises one. */
  metricsPath?: string;
  /** Why the instance (or its override) is not used as written. */
  error?: string;
}

/** The config znode as read. */
export interface ConfigView {
  /** The document as written (parsed), or null when the znode does not exist or is not JSON. */
  document: unknown;
  /** The valid config consumers route by ({} when none). */
  config: ServiceConfig;
  /** The znode's version, the base of a compare-and-set; -1 when it does not exist. */
  version: number;
  /** When it was last written, epoch ms. */
  mtime?: number;
  /** Why the document is ignored by consumers. */
  error?: string;
}

/** A line of the services view. */
export interface ServiceSummary {
  service: string;
  /** The configured ratio; null when the config sets none (consumers use their local `ratio`). */
  ratio: number | null;
  configVersion: number;
  configError?: string;
  instances: number;
  gray: number;
  normal: number;
  invalid: number;
  /** Distinct version labels per lane, sorted. */
  versions: { gray: string[]; normal: string[] };
  /** Named lanes (neither base nor gray): instances in each and its share in the config, by name. */
  lanes: Array<{ lane: string; instances: number; share: number }>;
  rollout?: RolloutView;
  rolloutError?: string;
}

/** Everything the service view shows but the charts and events. */
export interface ServiceDetail {
  summary: ServiceSummary;
  config: ConfigView;
  instances: InstanceView[];
}

/** A config view from the config znode as the mirror decoded it. */
export function configView(read: ConfigRead): ConfigView {
  const { value, decoded } = read;
  if (!value) return { document: null, config: {}, version: -1 };
  const view: ConfigView = { document: read.document, config: read.config, version: value.stat.version, mtime: value.stat.mtime.getTime() };
  if (!decoded.ok) view.error = decoded.reason;
  return view;
}

/** An instance view from the instance's verdict (registry/verdict.ts): the console shows what consumers route by. */
export function instanceView(verdict: InstanceVerdict): InstanceView {
  const view: InstanceView = { id: verdict.id, lane: null, flagFrom: 'own', weightFrom: 'own', since: verdict.since.getTime() };
  if (!verdict.own.ok) {
    view.error = verdict.own.reason;
    return view;
  }
  const ownMeta = verdict.own.value;
  const overrideMeta = verdict.override?.ok ? verdict.override.value : undefined;
  if (overrideMeta && 'gray' in overrideMeta) {
    view.flagFrom = 'override';
    view.ownGray = parseGrayFlag(ownMeta.gray) === true;
  }
  if (overrideMeta && 'weight' in overrideMeta) view.weightFrom = 'override';
  if (verdict.override && !verdict.override.ok) view.error = `override ignored: ${verdict.override.reason}`;
  const instance = verdict.routed;
  if (instance) {
    view.lane = instance.lane;
    if (instance.version !== undefined) view.version = instance.version;
    view.weight = instance.weight;
    const metricsPath = instance.meta.metricsPath;
    if (typeof metricsPath === 'string' && metricsPath.startsWith('/')) view.metricsPath = metricsPath;
    return view;
  }
  view.error = verdict.reason;
  const version = verdict.effective.ok ? verdict.effective.value.version : ownMeta.version;
  if (typeof version === 'string') view.version = version;
  return view;
}

/** The services view's line for a service. */
export function summarize(service: string, config: ConfigView, instances: readonly InstanceView[], rollout: RolloutRead | undefined): ServiceSummary {
  const versions = { gray: new Set<string>(), normal: new Set<string>() };
  let gray = 0;
  let normal = 0;
  let invalid = 0;
  const named = new Map<string, number>();
  for (const lane of Object.keys(config.config.lanes ?? {})) named.set(lane, 0);
  for (const instance of instances) {
    if (instance.lane === null) {
      invalid++;
      continue;
    }
    if (instance.lane !== 'gray' && instance.lane !== 'normal') {
      named.set(instance.lane, (named.get(instance.lane) ?? 0) + 1);
      continue;
    }
    if (instance.lane === 'gray') gray++;
    else normal++;
    if (instance.version !== undefined) versions[instance.lane === 'gray' ? 'gray' : 'normal'].add(instance.version);
  }
  const summary: ServiceSummary = {
    service,
    ratio: config.config.ratio ?? null,
    configVersion: config.version,
    instances: instances.length,
    gray,
    normal,
    invalid,
    versions: { gray: [...versions.gray].sort(), normal: [...versions.normal].sort() },
    lanes: [...named.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([lane, count]) => ({ lane, instances: count, share: shareOf(config.config, lane) ?? 0 })),
  };
  if (config.error) summary.configError = config.error;
  if (rollout?.ok) summary.rollout = rollout.rollout;
  else if (rollout) summary.rolloutError = rollout.reason;
  return summary;
}
