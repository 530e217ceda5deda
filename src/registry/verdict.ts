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
import { effectiveInstance, type Decoded } from './codec';
import type { AddressPolicy } from './networks';
import type { Stat } from './zk-session';

/** Why a persistent instance znode is never routed to: the one message every reader gives. */
export const PERSISTENT_INSTANCE = 'persistent znode: no live session owns it, so nothing would ever remove it and consumers skip it (delete it as the operator, or let its provider register it)';

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
