/**
 * ZooKeeper ACLs and digest identities (README "Security"). Pure; no I/O.
 *
 * Roles: an operator identity owns the tree and writes config and overrides; each service's provider identity may
 * create and delete instance znodes under that service's `instances/` only; consumers read, which everyone may.
 */
import { createHash } from 'node:crypto';

/** ZooKeeper's permission bits. */
export const PERM = { READ: 1, WRITE: 2, CREATE: 4, DELETE: 8, ADMIN: 16, ALL: 31 } as const;

/** One ACL entry: `scheme:id` is granted `perms`. */
export interface AclEntry {
  readonly perms: number;
  readonly scheme: string;
  readonly id: string;
}

/** Everyone may read (get data, list children). */
export const WORLD_READ: AclEntry = Object.freeze({ perms: PERM.READ, scheme: 'world', id: 'anyone' });

/**
 * Every permission for the identities the session setting the ACL authenticated as: the server expands the `auth`
 * scheme into `digest:<user>:<hash>` entries when the znode is created or its ACL set.
 */
export const CREATOR_ALL: AclEntry = Object.freeze({ perms: PERM.ALL, scheme: 'auth', id: '' });

/** The ACL of every znode graykit creates with credentials: everyone reads, only the creator's identity changes it. */
export const READ_ALL_CREATOR_ALL: readonly AclEntry[] = Object.freeze([WORLD_READ, CREATOR_ALL]);

/** A `digest` entry for an identity `user:base64(sha1(user:password))`. */
export function digestAcl(id: string, perms: number): AclEntry {
  return { perms, scheme: 'digest', id };
}

/**
 * The ACL of a service's `instances/` directory: everyone reads, the operator (the session setting it) has every
 * permission, and each provider identity may create and delete children: register and deregister instances.
 * (ZooKeeper checks a delete against the parent's ACL, so `delete` here is what lets a provider remove a stale
 * znode of its own after a crash; it also lets it remove a sibling's: instances of one service share one trust.)
 */
export function instancesDirAcl(providers: readonly string[]): AclEntry[] {
  return [WORLD_READ, CREATOR_ALL, ...providers.map((id) => digestAcl(id, PERM.CREATE | PERM.DELETE))];
}

export interface Credentials {
  user: string;
  password: string;
}

/** `user:password`: a user without `:` or white space, and a non-empty password (which may contain `:`). */
export function parseCredentials(value: unknown): Credentials | undefined {
  if (typeof value !== 'string') return undefined;
  const colon = value.indexOf(':');
  if (colon <= 0 || colon === value.length - 1) return undefined;
  const user = value.slice(0, colon);
  if (/[\s\0]/.test(user)) return undefined;
  return { user, password: value.slice(colon + 1) };
}

/** ZooKeeper's digest identity of `user:password`: `user:base64(sha1("user:password"))`. */
export function digestId(credentials: string): string {
  const parsed = parseCredentials(credentials);
  if (!parsed) throw new TypeError('graykit: expected credentials user:password');
  return `${parsed.user}:${createHash('sha1').update(`${parsed.user}:${parsed.password}`, 'utf8').digest('base64')}`;
}

/** A digest identity as ACLs hold it: `user:` and 28 characters of base64 (a SHA-1). */
export function isDigestId(value: unknown): value is string {
  return typeof value === 'string' && /^[^:\s]+:[A-Za-z0-9+/]{27}=$/.test(value);
}

/** Whether an ACL lets everyone do more than read: what a znode has between its create and its setACL. */
export function isOpenAcl(acl: readonly AclEntry[]): boolean {
  return acl.some((entry) => entry.scheme === 'world' && entry.id === 'anyone' && (entry.perms & ~PERM.READ) !== 0);
}

/** `cdrwa` notation of permission bits, as zkCli prints them. */
export function formatPerms(perms: number): string {
  return (
    (perms & PERM.CREATE ? 'c' : '') +
    (perms & PERM.DELETE ? 'd' : '') +
    (perms & PERM.READ ? 'r' : '') +
    (perms & PERM.WRITE ? 'w' : '') +
    (perms & PERM.ADMIN ? 'a' : '')
  );
}

/** `scheme:id:perms`, as zkCli's setAcl takes it. */
export function formatAcl(acl: readonly AclEntry[]): string {
  return acl.map((entry) => `${entry.scheme}:${entry.id}:${formatPerms(entry.perms)}`).join(',');
}
