/**
 * Reading and writing a service's rollout znode and its lease (README "Znode layout"; the document: rollout-state.ts).
 *
 * - The lease is the rollout's mutex and its dead-man's switch: an ephemeral znode created by the rollout's session,
 *   so it disappears when that process dies (its session ends) and consumers then route the service at ratio 0.
 * - The lease is created before the document says `running`, and the document says how it ended before the lease is
 *   deleted: a reader never sees `running` without a lease unless the rollout really died.
 * - Every write of the document is a compare-and-set: `graykit abort` writes into it too.
 */
import { hostname, userInfo } from 'node:os';
import { ConflictError, NotFoundError, RolloutBusyError, isZkCode } from '../errors';
import { rolloutLeasePath, rolloutPath } from '../registry/paths';
import { decodeRolloutDocument, decodeRolloutLease, type RolloutActor, type RolloutDocument, type RolloutLease } from '../registry/rollout-state';
import { readRolloutVerdict } from '../registry/rollout-verdict';
import type { Stat, ZkSession } from '../registry/zk-session';
import { ZK_CODES } from '../zk-codes';

/** A service's rollout znode as read, with what it means. */
export interface RolloutStatus {
  service: string;
  path: string;
  /** The current or last rollout; undefined when none was ever recorded (or the document is invalid: `error`). */
  document?: RolloutDocument;
  /** The znode's version, for a compare-and-set (-1: no znode). */
  version: number;
  /** Why the document could not be read, when it is invalid. */
  error?: string;
  /** Whether a rollout process holds the lease now. */
  leaseHeld: boolean;
  /** Who holds it (when its data is readable). */
  lease?: RolloutLease;
  /** The lease owner's session id (hex), when held. */
  leaseOwner?: string;
  /** `running` with no lease: the rollout's process died without recording an outcome. */
  crashed: boolean;
  /** Crashed and started with on-crash `rollback`: consumers route the service at ratio 0 by themselves. */
  consumersAtZero: boolean;
}

/** This process, as a rollout records who runs it. */
export function currentActor(): RolloutActor {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (a container's arbitrary uid): the environment's USER, if any.
  }
  return { host: hostname(), user, pid: process.pid };
}

export function describeActor(by: RolloutActor): string {
  return `${by.user}@${by.host} (pid ${by.pid})`;
}

/** Reads the document and the lease at one moment, with the verdict consumers and the console reach on them. */
export async function readRollout(session: ZkSession, root: string, service: string): Promise<RolloutStatus> {
  const { node, lease, decoded, document, crashed, rollsBack } = await readRolloutVerdict(session, root, service);
  const status: RolloutStatus = { service, path: rolloutPath(root, service), version: node?.stat.version ?? -1, leaseHeld: lease !== null, crashed, consumersAtZero: rollsBack };
  if (lease) {
    status.leaseOwner = lease.stat.ephemeralOwner;
    status.lease = decodeRolloutLease(lease.data);
  }
  if (document) status.document = document;
  else if (decoded && !decoded.ok) status.error = decoded.reason;
  return status;
}

/** The rollout znode's data and stat, creating it empty ("no rollout recorded yet") when missing. */
async function readOrCreateRollout(session: ZkSession, path: string): Promise<{ data: Buffer | null; stat: Stat }> {
  const read = await session.getDataOrNull(path);
  if (read) return read;
  try {
    // Empty data: "no rollout recorded yet"; the lease can only be created under an existing znode.
    await session.create(path, '', 'persistent');
  } catch (error) {
    if (!isZkCode(error, ZK_CODES.NODEEXISTS)) throw error;
  }
  return session.getData(path);
}

/** Throws RolloutBusyError when a rollout holds the lease. */
async function checkLeaseFree(session: ZkSession, service: string, leasePath: string): Promise<void> {
  const lease = await session.getDataOrNull(leasePath);
  if (!lease) return;
  const holder = decodeRolloutLease(lease.data);
  throw new RolloutBusyError(service, leasePath, `a rollout is running${holder ? `, run by ${describeActor(holder.by)}` : ''}; stop it with \`graykit abort ${service}\` first`);
}

/**
 * Throws unless the last rollout (`current`, its lease gone) may be replaced by `document`: a resume needs a crashed
 * rollout of the same id (NotFoundError), a new rollout needs none crashed (RolloutBusyError).
 */
function checkMayReplace(path: string, current: RolloutDocument | undefined, document: RolloutDocument, resume: boolean): void {
  const { service } = document;
  if (resume) {
    if (current?.state !== 'running' || current.id !== document.id) {
      throw new NotFoundError(`a crashed rollout of service "${service}"${current ? ` (its last rollout ended ${current.state})` : ''} to resume`, path);
    }
  } else if (current?.state === 'running') {
    throw new RolloutBusyError(
      service,
      path,
      `a rollout started by ${describeActor(current.by)} crashed at step ${current.step}/${current.steps.length} (its lease is gone); continue it with \`graykit rollout --resume ${service}\` or stop it with \`graykit abort ${service}\``,
    );
  }
}

/** Creates the lease (ephemeral, this session's); RolloutBusyError when another rollout created it first. */
async function createLease(session: ZkSession, leasePath: string, document: RolloutDocument): Promise<void> {
  const leaseData: RolloutLease = { id: document.id, by: document.resumed?.at(-1)?.by ?? document.by, at: new Date().toISOString() };
  try {
    await session.create(leasePath, JSON.stringify(leaseData), 'ephemeral');
  } catch (error) {
    if (isZkCode(error, ZK_CODES.NODEEXISTS)) throw new RolloutBusyError(document.service, leasePath, 'another rollout took the lease just now');
    throw error;
  }
}

/**
 * Takes a service's rollout: creates the lease (the mutex: one holder at a time), then writes `document`
 * (state `running`) over the last one. `resume`: only over a crashed rollout of the same id; otherwise only when no
 * rollout is running or crashed. Throws RolloutBusyError or NotFoundError, changing nothing, when it may not.
 * Returns the document's version and the lease owner (this session's id) for later checks.
 */
export async function acquireRollout(session: ZkSession, root: string, document: RolloutDocument, resume: boolean): Promise<{ version: number; owner: string }> {
  const { service } = document;
  const path = rolloutPath(root, service);
  const leasePath = rolloutLeasePath(root, service);
  const read = await readOrCreateRollout(session, path);
  const decoded = decodeRolloutDocument(read.data);
  await checkLeaseFree(session, service, leasePath);
  checkMayReplace(path, decoded?.ok ? decoded.value : undefined, document, resume);
  await createLease(session, leasePath, document);
  try {
    const owner = (await session.exists(leasePath))?.ephemeralOwner ?? '';
    const stat = await session.setData(path, JSON.stringify(document), read.stat.version);
    return { version: stat.version, owner };
  } catch (error) {
    await session.deleteIfExists(leasePath).catch(() => undefined);
    if (isZkCode(error, ZK_CODES.BADVERSION)) throw new RolloutBusyError(service, path, 'the rollout znode changed while this rollout was starting; try again');
    throw error;
  }
}

/** Writes the document with a compare-and-set on `version`; ConflictError when someone else wrote it meanwhile. */
export async function writeRollout(session: ZkSession, root: string, document: RolloutDocument, version: number): Promise<number> {
  const path = rolloutPath(root, document.service);
  try {
    return (await session.setData(path, JSON.stringify(document), version)).version;
  } catch (error) {
    if (isZkCode(error, ZK_CODES.BADVERSION)) throw new ConflictError(path, version);
    throw error;
  }
}

/** Deletes the lease (after the outcome was written). */
export function releaseRollout(session: ZkSession, root: string, service: string): Promise<boolean> {
  return session.deleteIfExists(rolloutLeasePath(root, service));
}
