/**
 * `graykit init`: lays out a service's tree for a secured registry (README "Security"), creating what is missing and
 * setting the ACL of what exists. The root, `services/`, the service's directory, its config (when there is one),
 * `overrides/` and each override get world:anyone:r plus every permission for the operator (the session's
 * identity); `instances/` gets the same plus create and delete for each provider identity.
 *
 * It also reports every instance znode it cannot vouch for: a persistent one (no session owns it, so nothing would
 * ever remove it; consumers skip it), or one whose ACL is not world:anyone:r plus a listed provider's identity.
 */
import { InvalidOptionError, isZkCode } from '../errors';
import { PERM, READ_ALL_CREATOR_ALL, formatAcl, instancesDirAcl, isDigestId, isOpenAcl, type AclEntry } from '../registry/acl';
import { configPath, instancePath, instancesPath, laneInstancesPath, overridePath, overridesPath, servicePath, servicesPath } from '../registry/paths';
import { isLiveInstance, PERSISTENT_INSTANCE } from '../registry/verdict';
import type { ZkSession } from '../registry/zk-session';
import { ZK_CODES } from '../zk-codes';

export interface InitOptions {
  /**
   * Digest identities (`user:base64(sha1(user:password))`, see `digestId`) allowed to register instances of the
   * service: they get create and delete on its `instances/` directory, nothing else. Default none.
   */
  providers?: readonly string[];
}

/** An instance znode `init` cannot vouch for, and why. */
export interface UnvouchedInstance {
  path: string;
  /** `persistent` (no session owns it), `open-acl` (anyone may rewrite it), `foreign-acl` (an ACL init did not set). */
  reasons: Array<'persistent' | 'open-acl' | 'foreign-acl'>;
  /** The znode's ACL in zkCli notation. */
  acl: string;
}

/** What `init` did: each znode of the service's tree, whether it was created, and the ACL it has now. */
export interface InitResult {
  service: string;
  znodes: Array<{ path: string; created: boolean; acl: string }>;
  /** Instance znodes that init cannot vouch for (also listed in `warnings`). */
  unvouched: UnvouchedInstance[];
  /** Things the operator should know: e.g. instances registered without credentials, which keep the open ACL. */
  warnings: string[];
}

/** Checks `providers` before anything is read or written. */
export function checkProviders(providers: readonly string[]): void {
  const bad = providers.find((id) => !isDigestId(id));
  if (bad !== undefined) {
    throw new InvalidOptionError('providers', `${JSON.stringify(bad)} is not a digest identity user:base64(sha1(user:password)) (compute one with digestId() or \`graykit digest\`)`);
  }
}

/** Whether `acl` is what a listed provider's session gives its own instance znode: world:anyone:r and its digest. */
function setByProvider(acl: readonly AclEntry[], providers: readonly string[]): boolean {
  const world = acl.filter((entry) => entry.scheme === 'world');
  const digests = acl.filter((entry) => entry.scheme === 'digest');
  return (
    acl.length === world.length + digests.length &&
    world.every((entry) => entry.id === 'anyone' && entry.perms === PERM.READ) &&
    digests.length > 0 &&
    digests.every((entry) => providers.includes(entry.id))
  );
}

/** Creates a znode of the tree with `acl`, or sets `acl` on it when it exists; returns what it has now. */
async function layOut(session: ZkSession, path: string, acl: readonly AclEntry[]): Promise<InitResult['znodes'][number]> {
  let created = true;
  try {
    await session.create(path, '', 'persistent', acl);
  } catch (error) {
    const exists = isZkCode(error, ZK_CODES.NODEEXISTS) || (isZkCode(error, ZK_CODES.NOAUTH) && (await session.exists(path)) !== null);
    if (!exists) throw error;
    created = false;
    await session.setAcl(path, acl);
  }
  return { path, created, acl: formatAcl((await session.getAcl(path)).acl) };
}

/** Why `init` cannot vouch for an instance znode; undefined when it can, or when the znode is gone meanwhile. */
async function checkInstance(session: ZkSession, path: string, providers: readonly string[]): Promise<UnvouchedInstance | undefined> {
  let read;
  try {
    read = await session.getAcl(path);
  } catch (error) {
    if (isZkCode(error, ZK_CODES.NONODE)) return undefined; // gone meanwhile
    throw error;
  }
  const reasons: UnvouchedInstance['reasons'] = [];
  if (!isLiveInstance(read.stat)) reasons.push('persistent');
  if (isOpenAcl(read.acl)) reasons.push('open-acl');
  else if (!setByProvider(read.acl, providers)) reasons.push('foreign-acl');
  return reasons.length === 0 ? undefined : { path, reasons, acl: formatAcl(read.acl) };
}

/** The warnings of an instance znode init cannot vouch for, one per reason. */
function unvouchedWarnings({ path, reasons, acl }: UnvouchedInstance): string[] {
  const warnings: string[] = [];
  if (reasons.includes('persistent')) {
    warnings.push(`${path}: ${PERSISTENT_INSTANCE}`);
  }
  if (reasons.includes('open-acl')) {
    warnings.push(`${path} was registered without credentials and keeps the open ACL until its provider registers again with its identity`);
  }
  if (reasons.includes('foreign-acl')) {
    warnings.push(`${path} has an ACL that no listed provider identity set (${acl}): whoever holds it may rewrite the instance`);
  }
  return warnings;
}

export async function initService(session: ZkSession, root: string, service: string, options: InitOptions = {}): Promise<InitResult> {
  const providers = options.providers ?? [];
  checkProviders(providers);
  const result: InitResult = { service, znodes: [], unvouched: [], warnings: [] };
  const parent = root.slice(0, root.lastIndexOf('/'));
  if (parent) await session.mkdirp(parent); // above graykit's root: created if missing, never changed
  const tree: Array<[string, readonly AclEntry[]]> = [
    [root, READ_ALL_CREATOR_ALL],
    [servicesPath(root), READ_ALL_CREATOR_ALL],
    [servicePath(root, service), READ_ALL_CREATOR_ALL],
    [instancesPath(root, service), instancesDirAcl(providers)],
    // Named lanes' instances (paths.ts): providers register there as in instances/.
    [laneInstancesPath(root, service), instancesDirAcl(providers)],
    [overridesPath(root, service), READ_ALL_CREATOR_ALL],
  ];
  for (const [path, acl] of tree) result.znodes.push(await layOut(session, path, acl));
  const config = configPath(root, service);
  if (await session.exists(config)) {
    await session.setAcl(config, READ_ALL_CREATOR_ALL);
    result.znodes.push({ path: config, created: false, acl: formatAcl((await session.getAcl(config)).acl) });
  }
  for (const id of await session.getChildrenOrEmpty(overridesPath(root, service))) {
    await session.setAcl(overridePath(root, service, id), READ_ALL_CREATOR_ALL).catch((error) => {
      if (!isZkCode(error, ZK_CODES.NONODE)) throw error;
    });
  }
  for (const id of await session.getChildrenOrEmpty(instancesPath(root, service))) {
    const unvouched = await checkInstance(session, instancePath(root, service, id), providers);
    if (!unvouched) continue;
    result.unvouched.push(unvouched);
    result.warnings.push(...unvouchedWarnings(unvouched));
  }
  if (providers.length === 0) result.warnings.push(`no provider identity given: only the operator may register instances of "${service}"`);
  return result;
}
