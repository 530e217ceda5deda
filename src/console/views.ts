/**
 * What the console shows, as plain JSON-ready objects built from what the watches read. Pure. Every string here
 * may come from znode data written by others: the page renders all of it as text, never as HTML.
 */
import { effectiveInstance, parseGrayFlag } from '../registry/codec';
import type { NodeValue } from '../registry/watch';
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
  rollout?: RolloutView;
  rolloutError?: string;
}

/** Everything the service view shows but the charts and events. */
export interface ServiceDetail {
  summary: ServiceSummary;
  config: ConfigView;
  instances: InstanceView[];
}

/** A config view from the config znode's value (null: no znode). */
export function configView(value: NodeValue | null, decoded: { ok: true; value: ServiceConfig } | { ok: false; reason: string }, lastValid: ServiceConfig): ConfigView {
  if (!value) return { document: null, config: {}, version: -1 };
  let document: unknown = null;
  try {
    document = value.data && value.data.length > 0 ? JSON.parse(value.data.toString()) : {};
  } catch {
    document = null;
  }
  const view: ConfigView = { document, config: decoded.ok ? decoded.value : lastValid, version: value.stat.version, mtime: value.stat.mtime.getTime() };
  if (!decoded.ok) view.error = decoded.reason;
  return view;
}

/** An instance view from its znode and its override znode (undefined: none). */
export function instanceView(path: string, id: string, own: NodeValue, override: NodeValue | undefined): InstanceView {
  const effective = effectiveInstance(path, id, own.data, override?.data);
  const view: InstanceView = { id, lane: null, flagFrom: 'own', weightFrom: 'own', since: own.stat.ctime.getTime() };
  if (!effective.own.ok) {
    view.error = effective.own.reason;
    return view;
  }
  const ownMeta = effective.own.value;
  const overrideMeta = effective.override?.ok ? effective.override.value : undefined;
  if (overrideMeta && 'gray' in overrideMeta) {
    view.flagFrom = 'override';
    view.ownGray = parseGrayFlag(ownMeta.gray) === true;
  }
  if (overrideMeta && 'weight' in overrideMeta) view.weightFrom = 'override';
  if (effective.override && !effective.override.ok) view.error = `override ignored: ${effective.override.reason}`;
  if (effective.instance.ok && own.stat.ephemeralOwner === '0') {
    // As consumers see it (catalog.ts): a persistent instance znode is never routed to.
    view.error = 'persistent znode: no live session owns it, so consumers skip it (delete it as the operator)';
    if (effective.instance.value.version !== undefined) view.version = effective.instance.value.version;
  } else if (effective.instance.ok) {
    const instance = effective.instance.value;
    view.lane = instance.gray ? 'gray' : 'normal';
    if (instance.version !== undefined) view.version = instance.version;
    view.weight = instance.weight;
    const metricsPath = instance.meta.metricsPath;
    if (typeof metricsPath === 'string' && metricsPath.startsWith('/')) view.metricsPath = metricsPath;
  } else {
    view.error = effective.instance.reason;
    if (typeof ownMeta.version === 'string') view.version = ownMeta.version;
  }
  return view;
}

/** The services view's line for a service. */
export function summarize(service: string, config: ConfigView, instances: readonly InstanceView[], rollout: RolloutRead | undefined): ServiceSummary {
  const versions = { gray: new Set<string>(), normal: new Set<string>() };
  let gray = 0;
  let normal = 0;
  let invalid = 0;
  for (const instance of instances) {
    if (instance.lane === null) {
      invalid++;
      continue;
    }
    if (instance.lane === 'gray') gray++;
    else normal++;
    if (instance.version !== undefined) versions[instance.lane].add(instance.version);
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
  };
  if (config.error) summary.configError = config.error;
  if (rollout?.ok) summary.rollout = rollout.rollout;
  else if (rollout) summary.rolloutError = rollout.reason;
  return summary;
}
