/**
 * The one module that runs ZooKeeper operations, on the handle that zk-handle.ts keeps alive (the two, with native.ts
 * loading the `zookeeper` npm client, are the only code that talks to it). It hides the client's C-style API behind
 * promises, maps its return codes to ZooKeeperError, and handles the client's traps in operations (those of the
 * handle's lifecycle — reconnects, expiry, re-attach, credentials — are listed in zk-handle.ts):
 *
 * - an `a_*` call made on a dead handle returns a code and never calls back: checked, so nothing hangs;
 * - a request may wait forever while disconnected: every operation has its own deadline;
 * - watch callbacks also receive session events (type -1): filtered, the watch stays armed;
 * - an exception thrown inside a native callback would take the process down: callbacks only settle promises,
 *   and watch handlers run guarded;
 * - `a_create` always gives the new znode the open ACL: with credentials, a create is followed by a setACL and a
 *   check of what happened in between (secure-create.ts, README "Security").
 */
import { EventEmitter } from 'node:events';
import { AccessDeniedError, ZooKeeperError, isZkCode } from '../errors';
import { safeEmit } from '../util/emit';
import { ZK_CODES } from '../zk-codes';
import { READ_ALL_CREATOR_ALL, type AclEntry } from './acl';
import type { NativeCallback, NativeClient, Stat, NativeWatcher } from './native';
import { repairOpenAcl, secureCreated } from './secure-create';
import { ZkHandle, type ZkSessionOptions } from './zk-handle';

const ZOO_SESSION_EVENT = -1;
const WATCH_EVENT_NAMES: Record<number, WatchEvent['type']> = { 1: 'created', 2: 'deleted', 3: 'changed', 4: 'child' };

export interface WatchEvent {
  type: 'created' | 'deleted' | 'changed' | 'child';
  path: string;
}
export type Watcher = (event: WatchEvent) => void;

export type { Stat } from './native';
export type { ZkSessionOptions } from './zk-handle';

export type CreateMode = 'persistent' | 'ephemeral';

/** The client's stat, with a copy's independence and the owner's id always a string. */
function toStat(stat: Stat): Stat {
  return { ...stat, ephemeralOwner: String(stat.ephemeralOwner) };
}

/**
 * A ZooKeeper session that survives expiry by opening a new one.
 *
 * Events:
 * - `connected` (newSession: boolean): connected; `newSession` is true on the first connect and after an expiry,
 *   i.e. whenever ephemeral znodes and watches are gone and must be made again.
 * - `disconnected`: the connection was lost; the session may still come back.
 * - `expired`: the session expired; a new one is being opened.
 * - `authFailed` (AccessDeniedError): the server refused the credentials; a new session is tried after a back-off.
 */
export class ZkSession extends EventEmitter {
  /** The native handle and its lifecycle; it holds the credentials in a private field (never inspected or logged). */
  private readonly handle: ZkHandle;
  private readonly operationTimeout: number;
  /** The user name of the credentials, for error messages (never the password). */
  readonly identity?: string;

  private readonly options: Omit<ZkSessionOptions, 'auth'>;

  constructor(options: ZkSessionOptions) {
    super();
    const { auth: _auth, ...rest } = options; // the credentials stay in the handle
    this.options = rest;
    this.operationTimeout = options.operationTimeout ?? Math.max(options.sessionTimeout, 2000);
    this.handle = new ZkHandle(options, (event, ...args) => safeEmit(this, rest.logger, event, ...args));
    this.identity = this.handle.identity;
  }

  /** Whether the session presents credentials (then the znodes it creates get an ACL; README "Security"). */
  get authenticated(): boolean {
    return this.handle.authenticated;
  }

  get connected(): boolean {
    return this.handle.connected;
  }

  /** The connect string, for messages. */
  get connect(): string {
    return this.options.connect;
  }

  /** The current session's id (hex), once connected. */
  get sessionId(): string | undefined {
    return this.handle.connected ? this.handle.client?.client_id : undefined;
  }

  /** Id and password of the current session; tests use them to force an expiry. */
  get credentials(): { id: string; password: string } | undefined {
    const client = this.handle.client;
    return this.handle.connected && client ? { id: client.client_id, password: client.client_password } : undefined;
  }

  /** The error that keeps this session from ever connecting (a missing native addon), if any. */
  get unusable(): Error | undefined {
    return this.handle.fatalError;
  }

  /**
   * Resolves once connected; rejects with ZooKeeperError (OPERATIONTIMEOUT) after `timeoutMs`, or at once with AccessDeniedError
   * (AUTHFAILED) when the server refused the credentials, or with NativeAddonError when the client cannot run.
   */
  whenConnected(timeoutMs: number): Promise<void> {
    const { connected, fatalError, authError } = this.handle;
    if (connected) return Promise.resolve();
    if (fatalError) return Promise.reject(fatalError);
    if (authError) return Promise.reject(authError);
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.off('connected', onConnected);
        this.off('authFailed', onAuthFailed);
      };
      const timer = setTimeout(() => {
        done();
        const error = new ZooKeeperError('connect', this.options.connect, ZK_CODES.OPERATIONTIMEOUT, `not connected within ${timeoutMs} ms`);
        error.message = `graykit: could not reach ZooKeeper at ${this.options.connect} within ${timeoutMs} ms (is it running, and is that its address? set it with --zk, the zk option or ZK_CONNECT)`;
        reject(error);
      }, timeoutMs);
      timer.unref();
      const onConnected = () => {
        done();
        resolve();
      };
      const onAuthFailed = (error: AccessDeniedError) => {
        done();
        reject(error);
      };
      this.on('connected', onConnected);
      this.on('authFailed', onAuthFailed);
    });
  }

  /**
   * Runs one native call with a deadline. `start` receives the completion callback and returns the call's
   * synchronous return code; a non-zero code means the callback will never run.
   */
  private call<T>(operation: string, path: string, start: (client: NativeClient, done: (rc: number, error: string, value?: T) => void) => number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const { client, closed, fatalError } = this.handle;
      if (fatalError) {
        reject(fatalError);
        return;
      }
      if (closed || !client) {
        reject(new ZooKeeperError(operation, path, ZK_CODES.INVALIDSTATE, closed ? 'session closed' : 'no session'));
        return;
      }
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new ZooKeeperError(operation, path, ZK_CODES.OPERATIONTIMEOUT, `no answer within ${this.operationTimeout} ms`));
      }, this.operationTimeout);
      timer.unref();
      const done = (rc: number, error: string, value?: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (rc === ZK_CODES.OK) resolve(value as T);
        else if (rc === ZK_CODES.NOAUTH || rc === ZK_CODES.AUTHFAILED) reject(new AccessDeniedError(operation, path, rc, this.identity));
        else reject(new ZooKeeperError(operation, path, rc, error));
      };
      let rc: number;
      try {
        rc = start(client, done);
      } catch (error) {
        rc = ZK_CODES.INVALIDSTATE;
        this.options.logger.debug(`zookeeper ${operation} ${path} threw: ${(error as Error).message}`);
      }
      this.handle.afterRequest(client);
      if (typeof rc === 'number' && rc !== ZK_CODES.OK) done(rc, 'rejected by the client');
    });
  }

  /** Wraps a watcher: drops session events (the watch stays armed) and guards the handler. */
  private wrapWatcher(watcher: Watcher): NativeWatcher {
    return (type, _state, path) => {
      if (type === ZOO_SESSION_EVENT || this.handle.closed) return;
      const name = WATCH_EVENT_NAMES[type];
      if (!name) return;
      try {
        watcher({ type: name, path });
      } catch (error) {
        this.options.logger.error(`a graykit watch handler threw on ${path}: ${(error as Error).stack ?? error}`);
      }
    };
  }

  /**
   * Creates a znode. `acl` defaults to world:anyone:r plus every permission for this session's identity when the
   * session has credentials, else to the client's open ACL. Any other ACL is set right after the create
   * (secure-create.ts); a create that cannot be secured fails, and the znode is deleted when that is allowed.
   */
  async create(path: string, data: string | Buffer, mode: CreateMode, acl?: readonly AclEntry[]): Promise<string> {
    const flags = mode === 'ephemeral' ? this.handle.ephemeralFlag : 0;
    const created = await this.call<string>('create', path, (client, done) => client.a_create(path, data, flags, (rc, error, name) => done(rc, error, name)));
    const wanted = acl ?? (this.authenticated ? READ_ALL_CREATOR_ALL : undefined);
    if (wanted) await secureCreated(this, this.options.logger, created, data, mode, wanted);
    return created;
  }

  /**
   * Creates `path` and its missing parents as persistent znodes with empty data (and the default ACL of `create`).
   * An existing parent is skipped even where this identity may not create it (ZooKeeper checks the create
   * permission before existence, so a secured parent answers "no auth" rather than "node exists").
   */
  async mkdirp(path: string): Promise<void> {
    const segments = path.split('/').filter(Boolean);
    let current = '';
    for (const segment of segments) {
      current += `/${segment}`;
      try {
        await this.create(current, '', 'persistent');
      } catch (error) {
        if (isZkCode(error, ZK_CODES.NODEEXISTS)) continue;
        if (isZkCode(error, ZK_CODES.NOAUTH) && (await this.exists(current))) continue;
        throw error;
      }
    }
  }

  /** The znode's ACL and stat. */
  getAcl(path: string): Promise<{ acl: AclEntry[]; stat: Stat }> {
    return this.call('get acl', path, (client, done) =>
      client.a_get_acl(path, (rc, error, acl, stat) =>
        done(rc, error, rc === ZK_CODES.OK && acl && stat ? { acl: acl.map((e) => ({ perms: e.perms, scheme: e.scheme, id: e.auth })), stat: toStat(stat) } : undefined),
      ),
    );
  }

  /** Sets the znode's ACL; `aclVersion` -1 for any (a compare-and-set on the ACL version otherwise). */
  setAcl(path: string, acl: readonly AclEntry[], aclVersion = -1): Promise<void> {
    const native = acl.map((entry) => ({ perms: entry.perms, scheme: entry.scheme, auth: entry.id }));
    return this.call('set acl', path, (client, done) => client.a_set_acl(path, aclVersion, native, (rc, error) => done(rc, error)));
  }

  /** Gives a znode left with the open ACL the creator's ACL (secure-create.ts). Returns whether it changed it. */
  repairOpenAcl(path: string): Promise<boolean> {
    return repairOpenAcl(this, this.options.logger, path);
  }

  setData(path: string, data: string | Buffer, version = -1): Promise<Stat> {
    return this.call('set', path, (client, done) => client.a_set(path, data, version, (rc, error, stat) => done(rc, error, stat && toStat(stat))));
  }

  getData(path: string, watcher?: Watcher): Promise<{ data: Buffer | null; stat: Stat }> {
    return this.call('get', path, (client, done) => {
      const cb: NativeCallback<[Stat, Buffer | null]> = (rc, error, stat, data) => done(rc, error, rc === ZK_CODES.OK ? { data, stat: toStat(stat) } : undefined);
      return watcher ? client.aw_get(path, this.wrapWatcher(watcher), cb) : client.a_get(path, false, cb);
    });
  }

  /** `getData`, or null when the znode does not exist (no watch is left in that case). */
  async getDataOrNull(path: string, watcher?: Watcher): Promise<{ data: Buffer | null; stat: Stat } | null> {
    try {
      return await this.getData(path, watcher);
    } catch (error) {
      if (isZkCode(error, ZK_CODES.NONODE)) return null;
      throw error;
    }
  }

  getChildren(path: string, watcher?: Watcher): Promise<string[]> {
    return this.call('get children', path, (client, done) => {
      const cb: NativeCallback<[string[]]> = (rc, error, children) => done(rc, error, children ?? []);
      return watcher ? client.aw_get_children(path, this.wrapWatcher(watcher), cb) : client.a_get_children(path, false, cb);
    });
  }

  /** `getChildren`, or [] when the znode does not exist (no watch is left in that case). */
  async getChildrenOrEmpty(path: string, watcher?: Watcher): Promise<string[]> {
    try {
      return await this.getChildren(path, watcher);
    } catch (error) {
      if (isZkCode(error, ZK_CODES.NONODE)) return [];
      throw error;
    }
  }

  /** The znode's stat, or null when it does not exist. With a watcher, the watch is armed either way. */
  async exists(path: string, watcher?: Watcher): Promise<Stat | null> {
    try {
      return await this.call<Stat>('exists', path, (client, done) => {
        const cb: NativeCallback<[Stat]> = (rc, error, stat) => done(rc, error, rc === ZK_CODES.OK ? toStat(stat) : undefined);
        return watcher ? client.aw_exists(path, this.wrapWatcher(watcher), cb) : client.a_exists(path, false, cb);
      });
    } catch (error) {
      if (isZkCode(error, ZK_CODES.NONODE)) return null;
      throw error;
    }
  }

  delete(path: string, version = -1): Promise<void> {
    return this.call('delete', path, (client, done) => client.a_delete_(path, version, (rc, error) => done(rc, error)));
  }

  /** Deletes the znode; false when it did not exist. */
  async deleteIfExists(path: string, version = -1): Promise<boolean> {
    try {
      await this.delete(path, version);
      return true;
    } catch (error) {
      if (isZkCode(error, ZK_CODES.NONODE)) return false;
      throw error;
    }
  }

  /** Closes the session: its ephemeral znodes go away at once. Safe to call more than once. */
  close(): void {
    if (this.handle.closed) return;
    this.handle.close();
    this.removeAllListeners();
  }
}
