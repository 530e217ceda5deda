/**
 * One verdict per instance: whether consumers route to it, and if not, why. The consumer's catalog, the console,
 * the admin's `status` and `init` all judge an instance here, so they never disagree. Pure.
 *
 * The rules, in the order a reason is given: the instance's own data must decode; with the operator's override laid
 * over it (an invalid override is ignored, the own data then applies) it must be a valid instance; its znode must be
 * ephemeral (owned by a live session: a persistent one would be routed to forever, since nothing removes it); and
 * its host must pass the address policy (networks.ts), when one is given.
 */
import type { Instance, InstanceOverride } from '../types';
import { decodeInstanceMeta, decodeOverride, effectiveInstance, type Decoded } from './codec';
import { decodeCuratorInstance, STATUS_UP, type ResolvedCurator } from './curator';
import type { AddressPolicy } from './networks';
import type { Stat } from './zk-session';

/** Why a persistent instance znode is never routed to: the one message every reader gives. */
export const PERSISTENT_INSTANCE = 'persistent znode: no live session owns it, so nothing would ever remove it and consumers skip it (delete it as the operator, or let its provider register it)';

/** Why a Curator instance that is not DYNAMIC is skipped: the same rule, in Curator's words. */
export const PERSISTENT_CURATOR_INSTANCE =
  'not an ephemeral registration (serviceType STATIC/PERMANENT, or a persistent znode): nothing removes it when its process dies, so consumers skip it (set curator.persistent to route such instances)';

/** Whether an instance znode is owned by a live session (ephemeral); a persistent one is never routed to. */
export function isLiveInstance(stat: Pick<Stat, 'ephemeralOwner'>): boolean {
  return stat.ephemeralOwner !== '0';
}

/** A znode as read: its data and stat. */
export interface ZnodeRead {
  readonly data: Buffer | null;
  readonly stat: Stat;
}

/** What every reader knows of one instance. */
export interface InstanceVerdict {
  /** `host:port`, the znode's name. */
  readonly id: string;
  readonly path: string;
  /** When it registered (its znode's creation). */
  readonly since: Date;
  /** Its own metadata, or why it is unusable. */
  readonly own: Decoded<Record<string, unknown>>;
  /** The operator's override, when there is one, or why it is ignored. */
  readonly override?: Decoded<InstanceOverride>;
  /** Its metadata after the override, or why it is invalid. */
  readonly effective: Decoded<Instance>;
  /** Owned by a live session (ephemeral). */
  readonly live: boolean;
  /** What consumers route by; undefined when they skip it (`reason` says why). */
  readonly routed?: Instance;
  readonly reason?: string;
}

/** The address check of a verdict: a consumer's policy and the service config's `allowedNetworks`. */
export interface AddressCheck {
  policy: AddressPolicy;
  configNetworks?: readonly string[];
}

/**
 * Judges one instance from its znode and its override znode (undefined: none). Without `addresses` the host is not
 * checked (the admin's view: which addresses a consumer accepts is that consumer's option).
 */
export function judgeInstance(path: string, id: string, own: ZnodeRead, override: ZnodeRead | undefined, addresses?: AddressCheck): InstanceVerdict {
  const decoded = effectiveInstance(path, id, own.data, override?.data);
  const live = isLiveInstance(own.stat);
  const verdict = { id, path, since: own.stat.ctime, own: decoded.own, override: decoded.override, effective: decoded.instance, live };
  const effective = decoded.instance;
  if (!effective.ok) return { ...verdict, reason: effective.reason };
  if (!live) return { ...verdict, reason: PERSISTENT_INSTANCE };
  const refusal = addresses?.policy.refusal(effective.value.host, addresses.configNetworks);
  if (refusal !== undefined) return { ...verdict, reason: refusal };
  return { ...verdict, routed: effective.value };
}

/**
 * Judges one Curator instance znode of `service` (Spring Cloud ZooKeeper, Dubbo 3, any curator-x-discovery client)
 * by the same rules, read through curator.ts: its metadata must decode, the operator's override (by its
 * `host:port`) is laid over it, only DYNAMIC ephemeral registrations are routed (others with `persistent`), an
 * `instance_status` other than UP is skipped, and the host must pass the address policy.
 */
export function judgeCuratorInstance(
  service: string,
  path: string,
  own: ZnodeRead,
  override: ((id: string) => ZnodeRead | undefined) | undefined,
  curator: ResolvedCurator,
  addresses?: AddressCheck,
): InstanceVerdict {
  const read = decodeCuratorInstance(service, own.data, curator);
  const name = path.slice(path.lastIndexOf('/') + 1);
  const base = { path, since: own.stat.ctime, live: isLiveInstance(own.stat) };
  if (!read.ok) return { ...base, id: name, own: read, effective: read, reason: read.reason };
  const { id, meta, dynamic, status } = read.value;
  const overrideRead = override?.(id);
  const decodedOverride = overrideRead ? decodeOverride(overrideRead.data) : undefined;
  const merged = decodedOverride?.ok ? { ...meta, ...decodedOverride.value } : meta;
  const effective = decodeInstanceMeta(path, id, merged);
  const verdict = { ...base, id, own: { ok: true as const, value: meta }, override: decodedOverride, effective };
  if (!effective.ok) return { ...verdict, reason: effective.reason };
  if (!(dynamic && verdict.live) && !curator.persistent) return { ...verdict, reason: PERSISTENT_CURATOR_INSTANCE };
  if (status !== STATUS_UP) return { ...verdict, reason: `${curator.keys.status} is ${JSON.stringify(status)}, not UP: Spring treats the instance as unavailable` };
  const refusal = addresses?.policy.refusal(effective.value.host, addresses.configNetworks);
  if (refusal !== undefined) return { ...verdict, reason: refusal };
  return { ...verdict, routed: effective.value };
}
