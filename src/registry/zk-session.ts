/**
 * The one module that talks to the `zookeeper` npm client. It hides the client's C-style API behind promises,
 * maps its return codes to ZooKeeperError, and handles the client's traps:
 *
 * - an `a_*` call made on a dead handle returns a code and never calls back: checked, so nothing hangs;
 * - a request may wait forever while disconnected: every operation has its own deadline;
 * - watch callbacks also receive session events (type -1): filtered, the watch stays armed;
 * - `connect` fires again after every reconnect of the same session: reported with `newSession: false`;
 * - on session expiry the client emits `close` (-112) and the handle is dead: a new client is made, and
 *   `connected` is reported with `newSession: true` so that owners re-register and re-watch;
 * - closing twice crashes the native addon (zookeeper#93): `close()` is idempotent;
 * - an exception thrown inside a native callback would take the process down: callbacks only settle promises,
 *   and watch handlers run guarded;
 * - `a_create` always gives the new znode the open ACL (world:anyone:cdrwa; node-zk.cpp passes
 *   ZOO_OPEN_ACL_UNSAFE, and the wrapper has no multi-op): with credentials, a create is followed by a setACL at
 *   ACL version 0 and a check of what happened in between (`secure`, README "Security");
 * - credentials (`add_auth`) are given right after `init`: the C client sends them at the head of its queue on
 *   every (re)connection, before any request, and again to each new session after an expiry;
 * - refused credentials kill the handle (close with ZOO_AUTH_FAILED_STATE): the session is reopened after a
 *   back-off, not in a tight loop, and `whenConnected` fails at once with AccessDeniedError.
 */
import { EventEmitter } from 'node:events';
import { AccessDeniedError, ZooKeeperError } from '../errors';
import type { Logger } from '../types';
import { READ_ALL_CREATOR_ALL, isOpenAcl, type AclEntry } from './acl';

let nativeAddon: NativeZooKeeperClass | undefined;

/**
 * The zookeeper package's native client, loaded at the first session rather than when graykit is loaded: an app
 * whose addon did not build (npm skipped or blocked its unapproved install script, or it was built for another
 * Node) can still load graykit, and the first session says what to do instead of node-gyp-build's bare error.
 */
function nativeZooKeeper(): NativeZooKeeperClass {
  if (nativeAddon) return nativeAddon;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    nativeAddon = require('zookeeper') as NativeZooKeeperClass;
    return nativeAddon;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!/No native build was found|did not self-register|NODE_MODULE_VERSION/.test(message)) throw error;
    throw new Error(
      'graykit: the zookeeper native addon is not built for this Node.js. Run `npm rebuild zookeeper` in your app ' +
        '(approve its install script first where npm asks for it: `npm pkg set allowScripts.zookeeper=true --json`). ' +
        `Cause: ${message.split('\n')[0]}`,
      { cause: error },
    );
  }
}

interface NativeStat {
  version: number;
  aversion: number;
  ephemeralOwner: string;
  numChildren: number;
  mtime: Date;
  ctime: Date;
}
type Callback<T extends unknown[]> = (rc: number, error: string, ...rest: T) => void;
type NativeWatcher = (type: number, state: number, path: string) => void;
interface NativeClient extends EventEmitter {
  client_id: string;
  client_password: string;
  init(config: object): void;
  close(): void;
  a_create(path: string, data: string | Buffer, flags: number, cb: Callback<[string]>): number;
  a_set(path: string, data: string | Buffer, version: number, cb: Callback<[NativeStat]>): number;
  a_get(path: string, watch: boolean, cb: Callback<[NativeStat, Buffer | null]>): number;
  aw_get(path: string, watcher: NativeWatcher, cb: Callback<[NativeStat, Buffer | null]>): number;
  a_get_children(path: string, watch: boolean, cb: Callback<[string[]]>): number;
  aw_get_children(path: string, watcher: NativeWatcher, cb: Callback<[string[]]>): number;
  a_exists(path: string, watch: boolean, cb: Callback<[NativeStat]>): number;
  aw_exists(path: string, watcher: NativeWatcher, cb: Callback<[NativeStat]>): number;
  a_delete_(path: string, version: number, cb: Callback<[]>): number;
  a_get_acl(path: string, cb: Callback<[NativeAcl[] | null, NativeStat | null]>): number;
  a_set_acl(path: string, version: number, acl: NativeAcl[], cb: Callback<[]>): number;
  add_auth(scheme: string, auth: string, cb: Callback<[]>): number;
}
/** The wrapper's ACL entry (it renames `perms` to the native `perm` itself). */
interface NativeAcl {
  perms: number;
  scheme: string;
  auth: string;
}
interface NativeZooKeeperClass {
  new (config: object): NativeClient;
  ZOO_EPHEMERAL: number;
}

/** ZooKeeper return codes graykit acts on. */
export const ZK = {
  OK: 0,
  CONNECTIONLOSS: -4,
  OPERATIONTIMEOUT: -7,
  INVALIDSTATE: -9,
  NONODE: -101,
  NOAUTH: -102,
  BADVERSION: -103,
  NODEEXISTS: -110,
  NOTEMPTY: -111,
  SESSIONEXPIRED: -112,
  INVALIDACL: -114,
  AUTHFAILED: -115,
} as const;

/** The code of the client's `close` event when the server refused the session's credentials. */
const ZOO_AUTH_FAILED_STATE = -113;
/** Back-off before a new session after refused credentials: the server would refuse them again at once. */
const AUTH_RETRY_MS = 2000;
const AUTH_RETRY_MAX_MS = 30_000;
/** Back-off between new sessions that the server refuses before they ever connect. */
const REOPEN_MIN_MS = 100;
const REOPEN_MAX_MS = 5000;

const ZOO_SESSION_EVENT = -1;
const WATCH_EVENT_NAMES: Record<number, WatchEvent['type']> = { 1: 'created', 2: 'deleted', 3: 'changed', 4: 'child' };

export interface WatchEvent {
  type: 'created' | 'deleted' | 'changed' | 'child';
  path: string;
}
export type Watcher = (event: WatchEvent) => void;

export interface Stat {
  version: number;
  /** The ACL's version: 0 until the ACL is first set after the create. */
  aversion: number;
  /** Session id (hex) owning an ephemeral znode; '0' for a persistent one. */
  ephemeralOwner: string;
  numChildren: number;
  mtime: Date;
  ctime: Date;
}

export interface ZkSessionOptions {
  /** Connect string: `host:port[,host:port...][/chroot]`. */
  connect: string;
  /** Session timeout asked of the server, ms. */
  sessionTimeout: number;
  /** Deadline of one operation, ms. */
  operationTimeout?: number;
  logger: Logger;
  /**
   * Credentials added to every connection of the session. `digest` with `user:password` is what graykit uses
   * (ConnectionOptions `auth`); the scheme is open for tests. With them, every znode the session creates gets the
   * ACL world:anyone:r plus every permission for this identity, unless `create` is given another ACL.
   */
  auth?: { scheme: string; credentials: string };
}

export type CreateMode = 'persistent' | 'ephemeral';

function toStat(stat: NativeStat): Stat {
  return {
    version: stat.version,
    aversion: stat.aversion,
    ephemeralOwner: String(stat.ephemeralOwner),
    numChildren: stat.numChildren,
    mtime: stat.mtime,
    ctime: stat.ctime,
  };
}

function sameData(current: Buffer | null, wanted: string | Buffer): boolean {
  return (current ?? Buffer.alloc(0)).equals(typeof wanted === 'string' ? Buffer.from(wanted) : wanted);
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
  private client?: NativeClient;
  private closed = false;
  private isConnected = false;
  private hadSession = false;
  private readonly operationTimeout: number;
  private authRetryMs = AUTH_RETRY_MS;
  private reopenDelayMs = REOPEN_MIN_MS;
  private reopenTimer?: NodeJS.Timeout;
  private authError?: AccessDeniedError;
  /** The user name of the credentials, for error messages (never the password). */
  readonly identity?: string;

  private readonly options: Omit<ZkSessionOptions, 'auth'>;
  /** A private field: the credentials never show in util.inspect, a heap of logged objects, or JSON. */
  readonly #auth?: { scheme: string; credentials: string };

  constructor(options: ZkSessionOptions) {
    super();
    const { auth, ...rest } = options;
    this.options = rest;
    this.#auth = auth;
    this.operationTimeout = options.operationTimeout ?? Math.max(options.sessionTimeout, 2000);
    if (auth) {
      const { scheme, credentials } = auth;
      this.identity = scheme === 'digest' ? credentials.slice(0, Math.max(credentials.indexOf(':'), 0)) : scheme;
    }
    this.open();
  }

  /** Whether the session presents credentials (then the znodes it creates get an ACL; README "Security"). */
  get authenticated(): boolean {
    return this.#auth !== undefined;
  }

  get connected(): boolean {
    return this.isConnected;
  }

  /** The current session's id (hex), once connected. */
  get sessionId(): string | undefined {
    return this.isConnected ? this.client?.client_id : undefined;
  }

  /** Id and password of the current session; tests use them to force an expiry. */
  get credentials(): { id: string; password: string } | undefined {
    const client = this.client;
    return this.isConnected && client ? { id: client.client_id, password: client.client_password } : undefined;
  }

  private open(): void {
    const NativeZooKeeper = nativeZooKeeper();
    const client = new NativeZooKeeper({
      connect: this.options.connect,
      timeout: this.options.sessionTimeout,
      debug_level: 0, // the C client's own logging goes to stdout/stderr of the host app: keep it off
      host_order_deterministic: false,
    });
    this.client = client;
    // With credentials, the first `connect` of a handle waits for the server's answer to them (the C client calls
    // back once, for the first connection; later reconnects resend them at the head of the queue by themselves).
    let authAnswered = this.#auth === undefined;
    let connectPending = false;
    let connectedOnce = false;
    const onConnect = () => {
      if (this.client !== client || this.closed) return;
      if (!authAnswered) {
        connectPending = true;
        return;
      }
      connectedOnce = true;
      this.reopenDelayMs = REOPEN_MIN_MS;
      this.isConnected = true;
      this.authError = undefined;
      this.authRetryMs = AUTH_RETRY_MS;
      const newSession = !this.hadSession;
      this.hadSession = true;
      this.options.logger.debug(`zookeeper connected (session ${client.client_id}, new: ${newSession})`);
      this.safeEmit('connected', newSession);
    };
    client.on('connect', onConnect);
    client.on('connecting', () => {
      if (this.client !== client || this.closed) return;
      if (this.isConnected) {
        this.isConnected = false;
        this.options.logger.warn(`lost the connection to ZooKeeper ${this.options.connect}; reconnecting`);
        this.safeEmit('disconnected');
      }
    });
    client.on('close', (_self: unknown, code: number) => {
      if (this.client !== client || this.closed) return;
      // The handle is dead (expired session, failed auth): a new client makes a new session.
      this.isConnected = false;
      this.hadSession = false;
      this.client = undefined;
      if (code === ZOO_AUTH_FAILED_STATE) {
        // Reopening at once would be refused at once: back off, and fail waiters now rather than at their timeout.
        const error = new AccessDeniedError('authenticate', this.options.connect, ZK.AUTHFAILED, this.identity, `scheme "${this.#auth?.scheme}"`);
        this.authError = error;
        this.options.logger.error(`${error.message}; trying a new session in ${this.authRetryMs} ms`);
        this.safeEmit('authFailed', error);
        const retry = setTimeout(() => !this.closed && this.open(), this.authRetryMs);
        retry.unref();
        this.authRetryMs = Math.min(this.authRetryMs * 2, AUTH_RETRY_MAX_MS);
        return;
      }
      // A handle closed before it ever connected would make a tight open/close loop: during an ensemble's leader
      // election a follower answers new sessions as expired (issue 5's fault suite saw 178 in 1.3 s). Back off,
      // 100 ms doubling to 5 s; a session that had connected is replaced at once.
      const delay = connectedOnce ? 0 : this.reopenDelayMs;
      this.reopenDelayMs = connectedOnce ? REOPEN_MIN_MS : Math.min(this.reopenDelayMs * 2, REOPEN_MAX_MS);
      if (connectedOnce) {
        this.options.logger.warn(`ZooKeeper session closed by the server (code ${code}); opening a new session`);
        this.safeEmit('expired');
      } else {
        this.options.logger.debug(`a new ZooKeeper session was refused (code ${code}); trying again in ${delay} ms`);
      }
      // Not unref()ed: a process waiting on the registry must not exit in between. close() clears it.
      this.reopenTimer = setTimeout(() => {
        this.reopenTimer = undefined;
        if (!this.closed) this.open();
      }, delay);
    });
    try {
      client.init({});
      const auth = this.#auth;
      if (auth) {
        // Queued now, sent first on every connection of this handle (the C client keeps its auth list).
        const rc = client.add_auth(auth.scheme, auth.credentials, (code) => {
          // A refusal is followed by the handle's close (ZOO_AUTH_FAILED_STATE), handled above.
          if (code !== ZK.OK) return;
          authAnswered = true;
          if (connectPending) onConnect();
        });
        if (typeof rc === 'number' && rc !== ZK.OK) this.options.logger.error(`the ZooKeeper client refused to queue the credentials of "${this.identity}" (${rc})`);
      }
    } catch (error) {
      // A bad connect string throws here; retried like any other failure, and reported.
      this.options.logger.error(`cannot start a ZooKeeper client for ${this.options.connect}: ${(error as Error).message}`);
      this.client = undefined;
      const retry = setTimeout(() => !this.closed && this.open(), 1000);
      retry.unref();
    }
  }

  /** Emits without letting a listener's exception escape into the native addon. */
  private safeEmit(event: string, ...args: unknown[]): void {
    try {
      this.emit(event, ...args);
    } catch (error) {
      this.options.logger.error(`a graykit '${event}' handler threw: ${(error as Error).stack ?? error}`);
    }
  }

  /**
   * Resolves once connected; rejects with ZooKeeperError (-7) after `timeoutMs`, or at once with AccessDeniedError
   * (-115) when the server refused the credentials.
   */
  whenConnected(timeoutMs: number): Promise<void> {
    if (this.isConnected) return Promise.resolve();
    if (this.authError) return Promise.reject(this.authError);
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.off('connected', onConnected);
        this.off('authFailed', onAuthFailed);
      };
      const timer = setTimeout(() => {
        done();
        reject(new ZooKeeperError('connect', this.options.connect, ZK.OPERATIONTIMEOUT, `not connected within ${timeoutMs} ms`));
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
      const client = this.client;
      if (this.closed || !client) {
        reject(new ZooKeeperError(operation, path, ZK.INVALIDSTATE, this.closed ? 'session closed' : 'no session'));
        return;
      }
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new ZooKeeperError(operation, path, ZK.OPERATIONTIMEOUT, `no answer within ${this.operationTimeout} ms`));
      }, this.operationTimeout);
      timer.unref();
      const done = (rc: number, error: string, value?: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (rc === ZK.OK) resolve(value as T);
        else if (rc === ZK.NOAUTH || rc === ZK.AUTHFAILED) reject(new AccessDeniedError(operation, path, rc, this.identity));
        else reject(new ZooKeeperError(operation, path, rc, error));
      };
      let rc: number;
      try {
        rc = start(client, done);
      } catch (error) {
        rc = ZK.INVALIDSTATE;
        this.options.logger.debug(`zookeeper ${operation} ${path} threw: ${(error as Error).message}`);
      }
      if (typeof rc === 'number' && rc !== ZK.OK) done(rc, 'rejected by the client');
    });
  }

  /** Wraps a watcher: drops session events (the watch stays armed) and guards the handler. */
  private wrapWatcher(watcher: Watcher): NativeWatcher {
    return (type, _state, path) => {
      if (type === ZOO_SESSION_EVENT || this.closed) return;
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
   * session has credentials, else to the client's open ACL. Any other ACL is set right after the create (see
   * `secure`); a create that cannot be secured fails, and the znode is deleted when that is allowed.
   */
  async create(path: string, data: string | Buffer, mode: CreateMode, acl?: readonly AclEntry[]): Promise<string> {
    const flags = mode === 'ephemeral' ? nativeZooKeeper().ZOO_EPHEMERAL : 0;
    const created = await this.call<string>('create', path, (client, done) => client.a_create(path, data, flags, (rc, error, name) => done(rc, error, name)));
    const wanted = acl ?? (this.authenticated ? READ_ALL_CREATOR_ALL : undefined);
    if (wanted) await this.secure(created, data, mode, wanted);
    return created;
  }

  /**
   * The second half of a create with an ACL. Between the create and this setACL (one round trip) the znode has the
   * open ACL, so another session may have, in that window:
   * - set an ACL of its own: our setACL at ACL version 0 then fails (bad version, or no auth) and the znode is
   *   deleted when the parent's ACL lets us, and the create fails with AccessDeniedError;
   * - deleted it and created its own at the same path: for an ephemeral znode the owner check catches it (deleted,
   *   the create fails), for a persistent one the data check below puts our data back under our ACL;
   * - written its data: once the ACL is ours nobody else can write, so our data is written again;
   * - created children (possible only on a persistent znode): they are deleted, or the create fails naming them.
   * Deleting our znode in the window needs the parent's delete permission, which a secured tree does not give out.
   */
  private async secure(path: string, data: string | Buffer, mode: CreateMode, acl: readonly AclEntry[]): Promise<void> {
    try {
      await this.setAcl(path, acl, 0);
    } catch (error) {
      if (error instanceof ZooKeeperError && error.zkCode === ZK.NONODE) {
        throw new ZooKeeperError('create', path, ZK.NONODE, 'deleted by another session before graykit could set its ACL');
      }
      if (error instanceof ZooKeeperError && (error.zkCode === ZK.BADVERSION || error.zkCode === ZK.NOAUTH)) {
        await this.delete(path).catch(() => undefined);
        throw new AccessDeniedError('create', path, ZK.NOAUTH, this.identity, 'another session changed its ACL between the create and graykit\'s setACL');
      }
      throw error;
    }
    const { data: current, stat } = await this.getData(path);
    if (mode === 'ephemeral' && stat.ephemeralOwner !== this.sessionId) {
      await this.delete(path).catch(() => undefined);
      throw new ZooKeeperError('create', path, ZK.NODEEXISTS, 'replaced by another session before graykit could set its ACL');
    }
    if (stat.version !== 0 || !sameData(current, data)) {
      this.options.logger.warn(`${path} was written by another session between its create and its setACL; writing graykit's data again`);
      await this.setData(path, data, stat.version);
    }
    if (stat.numChildren > 0) {
      for (const child of await this.getChildren(path)) {
        const childPath = `${path}/${child}`;
        this.options.logger.warn(`deleting ${childPath}: created by another session before graykit set the ACL of ${path}`);
        try {
          await this.delete(childPath);
        } catch (error) {
          if (error instanceof ZooKeeperError && error.zkCode === ZK.NONODE) continue;
          throw new AccessDeniedError('delete', childPath, ZK.NOAUTH, this.identity, `created by another session under ${path} before graykit set its ACL, and graykit cannot delete it: remove it as the operator`);
        }
      }
    }
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
        if (error instanceof ZooKeeperError && error.zkCode === ZK.NODEEXISTS) continue;
        if (error instanceof AccessDeniedError && error.zkCode === ZK.NOAUTH && (await this.exists(current))) continue;
        throw error;
      }
    }
  }

  /** The znode's ACL and stat. */
  getAcl(path: string): Promise<{ acl: AclEntry[]; stat: Stat }> {
    return this.call('get acl', path, (client, done) =>
      client.a_get_acl(path, (rc, error, acl, stat) =>
        done(rc, error, rc === ZK.OK && acl && stat ? { acl: acl.map((e) => ({ perms: e.perms, scheme: e.scheme, id: e.auth })), stat: toStat(stat) } : undefined),
      ),
    );
  }

  /** Sets the znode's ACL; `aclVersion` -1 for any (a compare-and-set on the ACL version otherwise). */
  setAcl(path: string, acl: readonly AclEntry[], aclVersion = -1): Promise<void> {
    const native = acl.map((entry) => ({ perms: entry.perms, scheme: entry.scheme, auth: entry.id }));
    return this.call('set acl', path, (client, done) => client.a_set_acl(path, aclVersion, native, (rc, error) => done(rc, error)));
  }

  /**
   * With credentials: if the znode still lets everyone write (a create whose setACL was lost to a timeout or a
   * dropped connection), gives it world:anyone:r plus every permission for this identity. Other ACLs are left as
   * they are (an operator may have widened them on purpose). Returns whether it changed anything.
   */
  async repairOpenAcl(path: string): Promise<boolean> {
    if (!this.authenticated) return false;
    const { acl } = await this.getAcl(path);
    if (!isOpenAcl(acl)) return false;
    this.options.logger.warn(`${path} still had the open ACL; setting world:anyone:r and every permission for "${this.identity}"`);
    await this.setAcl(path, READ_ALL_CREATOR_ALL);
    return true;
  }

  setData(path: string, data: string | Buffer, version = -1): Promise<Stat> {
    return this.call('set', path, (client, done) => client.a_set(path, data, version, (rc, error, stat) => done(rc, error, stat && toStat(stat))));
  }

  getData(path: string, watcher?: Watcher): Promise<{ data: Buffer | null; stat: Stat }> {
    return this.call('get', path, (client, done) => {
      const cb: Callback<[NativeStat, Buffer | null]> = (rc, error, stat, data) => done(rc, error, rc === ZK.OK ? { data, stat: toStat(stat) } : undefined);
      return watcher ? client.aw_get(path, this.wrapWatcher(watcher), cb) : client.a_get(path, false, cb);
    });
  }

  getChildren(path: string, watcher?: Watcher): Promise<string[]> {
    return this.call('get children', path, (client, done) => {
      const cb: Callback<[string[]]> = (rc, error, children) => done(rc, error, children ?? []);
      return watcher ? client.aw_get_children(path, this.wrapWatcher(watcher), cb) : client.a_get_children(path, false, cb);
    });
  }

  /** The znode's stat, or null when it does not exist. With a watcher, the watch is armed either way. */
  async exists(path: string, watcher?: Watcher): Promise<Stat | null> {
    try {
      return await this.call<Stat>('exists', path, (client, done) => {
        const cb: Callback<[NativeStat]> = (rc, error, stat) => done(rc, error, rc === ZK.OK ? toStat(stat) : undefined);
        return watcher ? client.aw_exists(path, this.wrapWatcher(watcher), cb) : client.a_exists(path, false, cb);
      });
    } catch (error) {
      if (error instanceof ZooKeeperError && error.zkCode === ZK.NONODE) return null;
      throw error;
    }
  }

  delete(path: string, version = -1): Promise<void> {
    return this.call('delete', path, (client, done) => client.a_delete_(path, version, (rc, error) => done(rc, error)));
  }

  /** Closes the session: its ephemeral znodes go away at once. Safe to call more than once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.isConnected = false;
    clearTimeout(this.reopenTimer);
    const client = this.client;
    this.client = undefined;
    this.removeAllListeners();
    if (client) {
      try {
        client.close();
      } catch (error) {
        this.options.logger.debug(`closing the ZooKeeper client threw: ${(error as Error).message}`);
      }
    }
  }
}

/** True when `error` is a ZooKeeperError with the given code. */
export function isZkCode(error: unknown, code: number): boolean {
  return error instanceof ZooKeeperError && error.zkCode === code;
}
