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
 *   and watch handlers run guarded.
 */
import { EventEmitter } from 'node:events';
import { ZooKeeperError } from '../errors';
import type { Logger } from '../types';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const NativeZooKeeper: NativeZooKeeperClass = require('zookeeper');

interface NativeStat {
  version: number;
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
  AUTHFAILED: -115,
} as const;

const ZOO_SESSION_EVENT = -1;
const WATCH_EVENT_NAMES: Record<number, WatchEvent['type']> = { 1: 'created', 2: 'deleted', 3: 'changed', 4: 'child' };

export interface WatchEvent {
  type: 'created' | 'deleted' | 'changed' | 'child';
  path: string;
}
export type Watcher = (event: WatchEvent) => void;

export interface Stat {
  version: number;
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
}

export type CreateMode = 'persistent' | 'ephemeral';

function toStat(stat: NativeStat): Stat {
  return { version: stat.version, ephemeralOwner: String(stat.ephemeralOwner), numChildren: stat.numChildren, mtime: stat.mtime, ctime: stat.ctime };
}

/**
 * A ZooKeeper session that survives expiry by opening a new one.
 *
 * Events:
 * - `connected` (newSession: boolean): connected; `newSession` is true on the first connect and after an expiry,
 *   i.e. whenever ephemeral znodes and watches are gone and must be made again.
 * - `disconnected`: the connection was lost; the session may still come back.
 * - `expired`: the session expired; a new one is being opened.
 */
export class ZkSession extends EventEmitter {
  private client?: NativeClient;
  private closed = false;
  private isConnected = false;
  private hadSession = false;
  private readonly operationTimeout: number;

  constructor(private readonly options: ZkSessionOptions) {
    super();
    this.operationTimeout = options.operationTimeout ?? Math.max(options.sessionTimeout, 2000);
    this.open();
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
    const client = new NativeZooKeeper({
      connect: this.options.connect,
      timeout: this.options.sessionTimeout,
      debug_level: 0, // the C client's own logging goes to stdout/stderr of the host app: keep it off
      host_order_deterministic: false,
    });
    this.client = client;
    client.on('connect', () => {
      if (this.client !== client || this.closed) return;
      this.isConnected = true;
      const newSession = !this.hadSession;
      this.hadSession = true;
      this.options.logger.debug(`zookeeper connected (session ${client.client_id}, new: ${newSession})`);
      this.safeEmit('connected', newSession);
    });
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
      this.options.logger.warn(`ZooKeeper session closed by the server (code ${code}); opening a new session`);
      this.safeEmit('expired');
      setImmediate(() => {
        if (!this.closed) this.open();
      });
    });
    try {
      client.init({});
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

  /** Resolves once connected; rejects with ZooKeeperError (-7) after `timeoutMs`. */
  whenConnected(timeoutMs: number): Promise<void> {
    if (this.isConnected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('connected', onConnected);
        reject(new ZooKeeperError('connect', this.options.connect, ZK.OPERATIONTIMEOUT, `not connected within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      const onConnected = () => {
        clearTimeout(timer);
        resolve();
      };
      this.once('connected', onConnected);
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

  create(path: string, data: string | Buffer, mode: CreateMode): Promise<string> {
    const flags = mode === 'ephemeral' ? NativeZooKeeper.ZOO_EPHEMERAL : 0;
    return this.call('create', path, (client, done) => client.a_create(path, data, flags, (rc, error, created) => done(rc, error, created)));
  }

  /** Creates `path` and its missing parents as persistent znodes with empty data. */
  async mkdirp(path: string): Promise<void> {
    const segments = path.split('/').filter(Boolean);
    let current = '';
    for (const segment of segments) {
      current += `/${segment}`;
      try {
        await this.create(current, '', 'persistent');
      } catch (error) {
        if (!(error instanceof ZooKeeperError && error.zkCode === ZK.NODEEXISTS)) throw error;
      }
    }
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
