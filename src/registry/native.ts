/**
 * The `zookeeper` package's native client, loaded at the first connection and not at import: `require('graykit')`
 * works without it (the pure helpers, the router, a consumer that has not connected yet), and a missing build is
 * reported as a NativeAddonError that says what to run instead of the loader's message.
 *
 * The C-style names of the client (`a_create`, `aw_get`) stay in this module, zk-handle.ts and zk-session.ts.
 */
import type { EventEmitter } from 'node:events';
import { NativeAddonError } from '../errors';
import { loadModule } from '../util/load';

/** A znode's stat, as the client gives it. */
export interface Stat {
  version: number;
  /** The zxid of the data's last change (or of the create): with `version`, one state of the data, exactly. */
  mzxid: number;
  /** The ACL's version: 0 until the ACL is first set after the create. */
  aversion: number;
  /** Session id (hex) owning an ephemeral znode; '0' for a persistent one. */
  ephemeralOwner: string;
  numChildren: number;
  mtime: Date;
  ctime: Date;
}
export type NativeCallback<T extends unknown[]> = (rc: number, error: string, ...rest: T) => void;
export type NativeWatcher = (type: number, state: number, path: string) => void;
/** The wrapper's ACL entry (it renames `perms` to the native `perm` itself). */
export interface NativeAcl {
  perms: number;
  scheme: string;
  auth: string;
}
export interface NativeClient extends EventEmitter {
  /** The addon's own object; its `state` is the C client's (zoo_state), read at the moment it is asked. */
  native?: { state?: number };
  client_id: string;
  client_password: string;
  init(config: object): void;
  close(): void;
  a_create(path: string, data: string | Buffer, flags: number, cb: NativeCallback<[string]>): number;
  a_set(path: string, data: string | Buffer, version: number, cb: NativeCallback<[Stat]>): number;
  a_get(path: string, watch: boolean, cb: NativeCallback<[Stat, Buffer | null]>): number;
  aw_get(path: string, watcher: NativeWatcher, cb: NativeCallback<[Stat, Buffer | null]>): number;
  a_get_children(path: string, watch: boolean, cb: NativeCallback<[string[]]>): number;
  aw_get_children(path: string, watcher: NativeWatcher, cb: NativeCallback<[string[]]>): number;
  a_exists(path: string, watch: boolean, cb: NativeCallback<[Stat]>): number;
  aw_exists(path: string, watcher: NativeWatcher, cb: NativeCallback<[Stat]>): number;
  a_delete_(path: string, version: number, cb: NativeCallback<[]>): number;
  a_get_acl(path: string, cb: NativeCallback<[NativeAcl[] | null, Stat | null]>): number;
  a_set_acl(path: string, version: number, acl: NativeAcl[], cb: NativeCallback<[]>): number;
  add_auth(scheme: string, auth: string, cb: NativeCallback<[]>): number;
}
export interface NativeZooKeeperClass {
  new (config: object): NativeClient;
  ZOO_EPHEMERAL: number;
}

/** What to run when the addon is missing: npm 11+ records the approval, and only a rebuild runs the build script. */
export const NATIVE_ADDON_FIX = 'npm approve-scripts zookeeper && npm rebuild zookeeper';

let loaded: NativeZooKeeperClass | undefined;

/**
 * Loads the client (once). `load` is for tests, which simulate a missing build without touching the real one.
 * Throws NativeAddonError with the fix when the addon is not built or was built for another Node.js.
 */
export function loadNativeZooKeeper(load: (name: string) => unknown = loadModule): NativeZooKeeperClass {
  if (loaded && load === loadModule) return loaded;
  let client: NativeZooKeeperClass;
  try {
    client = load('zookeeper') as NativeZooKeeperClass;
  } catch (error) {
    const detail = String((error as Error)?.message ?? error).split('\n')[0];
    const missing = (error as NodeJS.ErrnoException)?.code === 'MODULE_NOT_FOUND' && /'zookeeper'/.test(detail);
    throw new NativeAddonError(
      missing
        ? `graykit: the package "zookeeper" (graykit's ZooKeeper client) is not installed: run \`npm install\` in your app's directory`
        : `graykit: the ZooKeeper client's native addon could not be loaded (${detail}). Its install script did not run (npm 12 blocks ` +
            `unapproved install scripts; --ignore-scripts) or built it for another Node.js ${process.version}. In your app's directory run: ` +
            `\`${NATIVE_ADDON_FIX}\` (building needs python3, make and a C++ compiler)`,
      { cause: error },
    );
  }
  if (load === loadModule) loaded = client;
  return client;
}
