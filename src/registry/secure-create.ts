/**
 * Creating a znode with an ACL, with a client that cannot. The `zookeeper` npm client's `a_create` always gives the
 * new znode the open ACL (world:anyone:cdrwa; node-zk.cpp passes ZOO_OPEN_ACL_UNSAFE) and it has no multi-op to
 * bundle a create with a setACL, so a create is followed by a setACL at ACL version 0 and a check of what another
 * session may have done in that one round trip (README "The window between create and setACL").
 */
import { AccessDeniedError, ZooKeeperError, isZkCode } from '../errors';
import type { Logger } from '../types';
import { ZK_CODES } from '../zk-codes';
import { READ_ALL_CREATOR_ALL, isOpenAcl, type AclEntry } from './acl';
import type { CreateMode, ZkSession } from './zk-session';

function sameData(current: Buffer | null, wanted: string | Buffer): boolean {
  return (current ?? Buffer.alloc(0)).equals(typeof wanted === 'string' ? Buffer.from(wanted) : wanted);
}

/**
 * The second half of a create with an ACL. Between the create and this setACL the znode has the open ACL, so
 * another session may have, in that window:
 * - set an ACL of its own: our setACL at ACL version 0 then fails (bad version, or no auth) and the znode is
 *   deleted when the parent's ACL lets us, and the create fails with AccessDeniedError;
 * - deleted it and created its own at the same path: for an ephemeral znode the owner check catches it (deleted,
 *   the create fails), for a persistent one the data check below puts our data back under our ACL;
 * - written its data: once the ACL is ours nobody else can write, so our data is written again;
 * - created children (possible only on a persistent znode): they are deleted, or the create fails naming them.
 * Deleting our znode in the window needs the parent's delete permission, which a secured tree does not give out.
 */
export async function secureCreated(session: ZkSession, logger: Logger, path: string, data: string | Buffer, mode: CreateMode, acl: readonly AclEntry[]): Promise<void> {
  try {
    await session.setAcl(path, acl, 0);
  } catch (error) {
    if (isZkCode(error, ZK_CODES.NONODE)) {
      throw new ZooKeeperError('create', path, ZK_CODES.NONODE, 'deleted by another session before graykit could set its ACL', { cause: error });
    }
    if (isZkCode(error, ZK_CODES.BADVERSION) || isZkCode(error, ZK_CODES.NOAUTH)) {
      await session.deleteIfExists(path).catch(() => undefined);
      throw new AccessDeniedError('create', path, ZK_CODES.NOAUTH, session.identity, 'another session changed its ACL between the create and graykit\'s setACL');
    }
    throw error;
  }
  const { data: current, stat } = await session.getData(path);
  if (mode === 'ephemeral' && stat.ephemeralOwner !== session.sessionId) {
    await session.deleteIfExists(path).catch(() => undefined);
    throw new ZooKeeperError('create', path, ZK_CODES.NODEEXISTS, 'replaced by another session before graykit could set its ACL');
  }
  if (stat.version !== 0 || !sameData(current, data)) {
    logger.warn(`${path} was written by another session between its create and its setACL; writing graykit's data again`);
    await session.setData(path, data, stat.version);
  }
  if (stat.numChildren === 0) return;
  for (const child of await session.getChildrenOrEmpty(path)) {
    const childPath = `${path}/${child}`;
    logger.warn(`deleting ${childPath}: created by another session before graykit set the ACL of ${path}`);
    try {
      await session.deleteIfExists(childPath);
    } catch (error) {
      throw new AccessDeniedError('delete', childPath, ZK_CODES.NOAUTH, session.identity, `created by another session under ${path} before graykit set its ACL, and graykit cannot delete it: remove it as the operator`);
    }
  }
}

/**
 * With credentials: if the znode still lets everyone write (a create whose setACL was lost to a timeout or a
 * dropped connection), gives it world:anyone:r plus every permission for this identity. Other ACLs are left as
 * they are (an operator may have widened them on purpose). Returns whether it changed anything.
 */
export async function repairOpenAcl(session: ZkSession, logger: Logger, path: string): Promise<boolean> {
  if (!session.authenticated) return false;
  const { acl } = await session.getAcl(path);
  if (!isOpenAcl(acl)) return false;
  logger.warn(`${path} still had the open ACL; setting world:anyone:r and every permission for "${session.identity}"`);
  await session.setAcl(path, READ_ALL_CREATOR_ALL);
  return true;
}
