/**
 * The one module that talks to the `zookeeper` npm client (loaded by native.ts at the first connection). It hides
 * the client's C-style API behind promises,
 * maps its return codes to ZooKeeperError, and handles the client's traps:
 *
 * - an `a_*` call made on a dead handle returns a code and never calls back: checked, so nothing hangs;
 * - a request may wait forever while disconnected: every operation has its own deadline;
 * - watch callbacks also receive session events (type -1): filtered, the watch stays armed;
 * - `connect` fires again after every reconnect of the same session: reported with `newSession: false`;
 * - `close` (SESSIONEXPIRED) does not always mean the server expired the session: the addon's own watchdog closes a handle
 *   with the same code after `response_counter_limit` (default 10) reads in a row that found nothing, and
 *   spurious readiness makes such runs (a child process holding a copy of a dropped connection's socket: the C
 *   client's sockets are not close-on-exec, so the socket's epoll registration outlives its close and the next
 *   socket on that fd number receives its events). The watchdog is turned off (RESPONSE_COUNTER_LIMIT), and a
 *   handle closed after it had connected is first re-attached to the same session (its id and password): the
 *   server answers an expired session with "expired", and only then is a new session opened;
 * - on session expiry the client emits `close` (SESSIONEXPIRED) and the handle is dead: a new client is made, and
 *   `connected` is reported with `newSession: true` so that owners re-register and re-watch (also after a
 *   re-attach: the new handle knows none of the old one's watches);
 * - closing twice crashes the native addon (zookeeper#93): `close()` is idempotent;
 * - an exception thrown inside a native callback would take the process down: callbacks only settle promises,
 *   and watch handlers run guarded;
 * - `a_create` always gives the new znode the open ACL: with credentials, a create is followed by a setACL and a
 *   check of what happened in between (secure-create.ts, README "Security");
 * - credentials (`add_auth`) are given right after `init`: the C client sends them at the head of its queue on
 *   every (re)connection, before any request, and again to each new session after an expiry;
 * - refused credentials kill the handle (close with ZOO_AUTH_FAILED_STATE): the session is reopened after a
 *   back-off, not in a tight loop, and `whenConnected` fails at once with AccessDeniedError.
 */
import { EventEmitter } from 'node:events';
import { AccessDeniedError, ZooKeeperError, isZkCode } from '../errors';
import type { Logger } from '../types';
import { createBackoff } from '../util/backoff';
import { safeEmit } from '../util/emit';
import { ZK_CODES, ZK_STATES } from '../zk-codes';
import { READ_ALL_CREATOR_ALL, type AclEntry } from './acl';
import { loadNativeZooKeeper, type NativeCallback, type NativeClient, type Stat, type NativeWatcher, type NativeZooKeeperClass } from './native';
import { repairOpenAcl, secureCreated } from './secure-create';

/** The code of the client's `close` event when the server refused the session's credentials. */
const ZOO_AUTH_FAILED_STATE = ZK_STATES.AUTH_FAILED;
/** Back-off before a new session after refused credentials: the server would refuse them again at once. */
const AUTH_RETRY = { initialMs: 2000, maxMs: 30_000 };
/** Back-off between new sessions that the server refuses before they ever connect. */
const REOPEN = { initialMs: 100, maxMs: 5000 };
/**
 * The client's `response_counter_limit`: the largest the addon accepts (int32), i.e. its watchdog off. Spurious
 * readiness (see the header) gives thousands of empty reads per second for as long as the stray registration lives,
 * so any smaller limit still closes live sessions; and the watchdog stops no CPU spin (libuv spins on such a
 * registration whether or not the handle is closed). Legitimate runs of empty reads (a large response arriving in
 * pieces) reach a few dozen and end by themselves.
 */
const RESPONSE_COUNTER_LIMIT = 2_147_483_647;

const ZOO_SESSION_EVENT = -1;
const WATCH_EVENT_NAMES: Record<number, WatchEvent['type']> = { 1: 'created', 2: 'deleted', 3: 'changed', 4: 'child' };

export interface WatchEvent {
  type: 'created' | 'deleted' | 'changed' | 'child';
  path: string;
}
export type Watcher = (event: WatchEvent) => void;

export type { Stat } from './native';

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
  private client?: NativeClient;
  private native?: NativeZooKeeperClass;
  private closed = false;
  private isConnected = false;
  private hadSession = false;
  private readonly operationTimeout: number;
  private readonly authRetry = createBackoff(AUTH_RETRY);
  private readonly reopen = createBackoff(REOPEN);
  private reopenTimer?: NodeJS.Timeout;
  /** Id and password of the last session that connected: a closed handle is re-attached to it before giving it up. */
  private lastSession?: { id: string; password: string };
  private authError?: AccessDeniedError;
  /** Set when the client cannot run at all (its native addon is missing): every call fails with it at once. */
  private fatalError?: Error;
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

  /** The connect string, for messages. */
  get connect(): string {
    return this.options.connect;
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

  /** The error that keeps this session from ever connecting (a missing native addon), if any. */
  get unusable(): Error | undefined {
    return this.fatalError;
  }

  private emitSafely(event: string, ...args: unknown[]): void {
    safeEmit(this, this.options.logger, event, ...args);
  }

  /** Opens a handle: on a new session, or re-attached to `resume` (a session whose handle was closed). */
  private open(resume?: { id: string; password: string }): void {
    let native: NativeZooKeeperClass;
    try {
      native = this.native ??= loadNativeZooKeeper();
    } catch (error) {
      // Retrying cannot help: say what to run, once, and fail every waiter at once instead of at its timeout.
      this.fatalError = error as Error;
      this.options.logger.error((error as Error).message);
      this.emitSafely('unusable', error);
      return;
    }
    const client = new native({
      connect: this.options.connect,
      timeout: this.options.sessionTimeout,
      debug_level: 0, // the C client's own logging goes to stdout/stderr of the host app: keep it off
      host_order_deterministic: false,
      response_counter_limit: RESPONSE_COUNTER_LIMIT,
      ...(resume ? { client_id: resume.id, client_password: resume.password } : {}),
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
      const firstOfHandle = !connectedOnce;
      connectedOnce = true;
      this.reopen.reset();
      this.isConnected = true;
      this.authError = undefined;
      this.authRetry.reset();
      // A re-attached handle keeps the session (and its ephemeral znodes) but none of the old handle's watches.
      const newSession = !this.hadSession || (resume !== undefined && firstOfHandle);
      this.hadSession = true;
      this.lastSession = { id: client.client_id, password: client.client_password };
      if (resume && firstOfHandle) this.options.logger.info(`re-attached to ZooKeeper session ${client.client_id}`);
      this.options.logger.debug(`zookeeper connected (session ${client.client_id}, new: ${newSession})`);
      this.emitSafely('connected', newSession);
    };
    client.on('connect', onConnect);
    client.on('connecting', () => {
      if (this.client !== client || this.closed) return;
      if (this.isConnected) {
        this.isConnected = false;
        this.options.logger.warn(`lost the connection to ZooKeeper ${this.options.connect}; reconnecting`);
        this.emitSafely('disconnected');
      }
    });
    client.on('close', (_self: unknown, code: number) => {
      if (this.client !== client || this.closed) return;
      // The handle is dead (expired session, failed auth, or the addon's watchdog: see the header).
      const wasConnected = this.isConnected;
      this.isConnected = false;
      this.client = undefined;
      const session = this.lastSession;
      if (code !== ZOO_AUTH_FAILED_STATE && connectedOnce && session) {
        // It had connected: the session may well be alive. Re-attach to it at once; if the server has expired it,
        // the new handle closes before it connects, and a new session is opened then (below). One re-attach per
        // handle that connected: no loop without a connection in between.
        this.options.logger.warn(`the ZooKeeper client closed its handle of session ${session.id} (code ${code}); re-attaching to the session`);
        if (wasConnected) this.emitSafely('disconnected');
        this.scheduleOpen(0, session);
        return;
      }
      this.hadSession = false;
      this.lastSession = undefined;
      if (code === ZOO_AUTH_FAILED_STATE) {
        // Reopening at once would be refused at once: back off, and fail waiters now rather than at their timeout.
        const error = new AccessDeniedError('authenticate', this.options.connect, ZK_CODES.AUTHFAILED, this.identity, `scheme "${this.#auth?.scheme}"`);
        this.authError = error;
        const delay = this.authRetry.next();
        this.options.logger.error(`${error.message}; trying a new session in ${delay} ms`);
        this.emitSafely('authFailed', error);
        this.scheduleOpen(delay);
        return;
      }
      // A handle closed before it ever connected would make a tight open/close loop: during an ensemble's leader
      // election a follower answers new sessions as expired (the fault suite once saw 178 in 1.3 s). Back off;
      // a session that had connected is replaced at once.
      // A re-attach the server refused means the session has expired: replaced at once (the next refusal backs off).
      const delay = connectedOnce || resume ? 0 : this.reopen.next();
      if (connectedOnce || resume) {
        this.options.logger.warn(`ZooKeeper session closed by the server (code ${code}${resume ? `: re-attaching to ${resume.id} was refused` : ''}); opening a new session`);
        this.emitSafely('expired');
      } else {
        this.options.logger.debug(`a new ZooKeeper session was refused (code ${code}); trying again in ${delay} ms`);
      }
      this.scheduleOpen(delay);
    });
    try {
      client.init({});
      const auth = this.#auth;
      if (auth) {
        // Queued now, sent first on every connection of this handle (the C client keeps its auth list).
        const rc = client.add_auth(auth.scheme, auth.credentials, (code) => {
          // A refusal is followed by the handle's close (ZOO_AUTH_FAILED_STATE), handled above.
          if (code !== ZK_CODES.OK) return;
          authAnswered = true;
          if (connectPending) onConnect();
        });
        if (typeof rc === 'number' && rc !== ZK_CODES.OK) this.options.logger.error(`the ZooKeeper client refused to queue the credentials of "${this.identity}" (${rc})`);
      }
    } catch (error) {
      // A bad connect string throws here; retried like any other failure, and reported.
      this.options.logger.error(`cannot start a ZooKeeper client for ${this.options.connect}: ${(error as Error).message}`);
      this.client = undefined;
      this.scheduleOpen(1000);
    }
  }

  /**
   * Opens a new handle (re-attached to `resume` when given) after `delay`. Not unref()ed: a process waiting on the
   * registry must not exit in between; close() clears it.
   */
  private scheduleOpen(delay: number, resume?: { id: string; password: string }): void {
    clearTimeout(this.reopenTimer);
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      if (!this.closed) this.open(resume);
    }, delay);
  }

  /**
   * Resolves once connected; rejects with ZooKeeperError (OPERATIONTIMEOUT) after `timeoutMs`, or at once with AccessDeniedError
   * (AUTHFAILED) when the server refused the credentials, or with NativeAddonError when the client cannot run.
   */
  whenConnected(timeoutMs: number): Promise<void> {
    if (this.isConnected) return Promise.resolve();
    if (this.fatalError) return Promise.reject(this.fatalError);
    if (this.authError) return Promise.reject(this.authError);
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
      const client = this.client;
      if (this.fatalError) {
        reject(this.fatalError);
        return;
      }
      if (this.closed || !client) {
        reject(new ZooKeeperError(operation, path, ZK_CODES.INVALIDSTATE, this.closed ? 'session closed' : 'no session'));
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
      if (typeof rc === 'number' && rc !== ZK_CODES.OK) done(rc, 'rejected by the client');
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
   * session has credentials, else to the client's open ACL. Any other ACL is set right after the create
   * (secure-create.ts); a create that cannot be secured fails, and the znode is deleted when that is allowed.
   */
  async create(path: string, data: string | Buffer, mode: CreateMode, acl?: readonly AclEntry[]): Promise<string> {
    const flags = mode === 'ephemeral' ? (this.native?.ZOO_EPHEMERAL ?? 1) : 0;
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
