/**
 * The native handle of one ZooKeeper session, part of the one home that talks to the `zookeeper` client (with
 * zk-session.ts, which runs the operations on it, and native.ts, which loads it). It opens handles, follows their
 * `connect` / `connecting` / `close` events and replaces a dead one, handling the client's lifecycle traps:
 *
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
 * - credentials (`add_auth`) are given right after `init`: the C client sends them at the head of its queue on
 *   every (re)connection, before any request, and again to each new session after an expiry;
 * - refused credentials kill the handle (close with ZOO_AUTH_FAILED_STATE): the session is reopened after a
 *   back-off, not in a tight loop, and `whenConnected` fails at once with AccessDeniedError;
 * - a request whose send fails (a connection the server has reset, not yet noticed) makes the C client close its
 *   socket inside the call, under the addon's libuv poll handle: at the loop's next poll libuv registers the closed
 *   fd and aborts the whole process (SIGABRT in uv__epoll_ctl_prep; test/fixtures/addon-dropped-socket.js shows it
 *   with one session). afterRequest() sees the client's state right after each request and closes the handle at
 *   once, which stops its poll before anything can reuse the fd number; the session is re-attached as above.
 */
import { AccessDeniedError } from '../errors';
import type { Logger } from '../types';
import { createBackoff } from '../util/backoff';
import { ZK_CODES, ZK_STATES } from '../zk-codes';
import { loadNativeZooKeeper, type NativeClient, type NativeZooKeeperClass } from './native';

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

/** Id and password of a session: what a new handle needs to re-attach to it. */
interface SessionKey {
  id: string;
  password: string;
}

/**
 * The current native handle of a ZkSession, replaced whenever it dies. It reports through `emit` (the session's
 * events: `connected`, `disconnected`, `expired`, `authFailed`, `unusable`) and opens its first handle at once.
 */
export class ZkHandle {
  #client?: NativeClient;
  #connected = false;
  #closed = false;
  #authError?: AccessDeniedError;
  #fatalError?: Error;
  private native?: NativeZooKeeperClass;
  private hadSession = false;
  private readonly authRetry = createBackoff(AUTH_RETRY);
  private readonly reopen = createBackoff(REOPEN);
  private reopenTimer?: NodeJS.Timeout;
  /** Id and password of the last session that connected: a closed handle is re-attached to it before giving it up. */
  private lastSession?: SessionKey;
  /** The user name of the credentials, for error messages (never the password). */
  readonly identity?: string;
  private readonly connect: string;
  private readonly sessionTimeout: number;
  private readonly logger: Logger;
  /** A private field: the credentials never show in util.inspect, a heap of logged objects, or JSON. */
  readonly #auth?: { scheme: string; credentials: string };

  constructor(
    options: ZkSessionOptions,
    private readonly emit: (event: string, ...args: unknown[]) => void,
  ) {
    this.connect = options.connect;
    this.sessionTimeout = options.sessionTimeout;
    this.logger = options.logger;
    this.#auth = options.auth;
    if (options.auth) {
      const { scheme, credentials } = options.auth;
      this.identity = scheme === 'digest' ? credentials.slice(0, Math.max(credentials.indexOf(':'), 0)) : scheme;
    }
    this.open();
  }

  /** The live handle, if any (none between a close and the next open, after `close()`, or when unusable). */
  get client(): NativeClient | undefined {
    return this.#client;
  }

  get connected(): boolean {
    return this.#connected;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether the session presents credentials. */
  get authenticated(): boolean {
    return this.#auth !== undefined;
  }

  /** Why the server refused the credentials, until a handle connects again. */
  get authError(): AccessDeniedError | undefined {
    return this.#authError;
  }

  /** Set when the client cannot run at all (its native addon is missing): every call fails with it at once. */
  get fatalError(): Error | undefined {
    return this.#fatalError;
  }

  /** The client's create flag for an ephemeral znode. */
  get ephemeralFlag(): number {
    return this.native?.ZOO_EPHEMERAL ?? 1;
  }

  /** Opens a handle: on a new session, or re-attached to `resume` (a session whose handle was closed). */
  private open(resume?: SessionKey): void {
    let native: NativeZooKeeperClass;
    try {
      native = this.native ??= loadNativeZooKeeper();
    } catch (error) {
      // Retrying cannot help: say what to run, once, and fail every waiter at once instead of at its timeout.
      this.#fatalError = error as Error;
      this.logger.error((error as Error).message);
      this.emit('unusable', error);
      return;
    }
    const client = new native({
      connect: this.connect,
      timeout: this.sessionTimeout,
      debug_level: 0, // the C client's own logging goes to stdout/stderr of the host app: keep it off
      host_order_deterministic: false,
      response_counter_limit: RESPONSE_COUNTER_LIMIT,
      ...(resume ? { client_id: resume.id, client_password: resume.password } : {}),
    });
    this.#client = client;
    // With credentials, the first `connect` of a handle waits for the server's answer to them (the C client calls
    // back once, for the first connection; later reconnects resend them at the head of the queue by themselves).
    let authAnswered = this.#auth === undefined;
    let connectPending = false;
    let connectedOnce = false;
    const current = () => this.#client === client && !this.#closed;
    const onConnect = () => {
      if (!current()) return;
      if (!authAnswered) {
        connectPending = true;
        return;
      }
      const firstOfHandle = !connectedOnce;
      connectedOnce = true;
      this.onConnected(client, resume !== undefined && firstOfHandle);
    };
    client.on('connect', onConnect);
    client.on('connecting', () => {
      if (current()) this.onConnecting();
    });
    client.on('close', (_self: unknown, code: number) => {
      if (current()) this.onClose(code, connectedOnce, resume);
    });
    try {
      client.init({});
      this.addAuth(client, () => {
        authAnswered = true;
        if (connectPending) onConnect();
      });
    } catch (error) {
      // A bad connect string throws here; retried like any other failure, and reported.
      this.logger.error(`cannot start a ZooKeeper client for ${this.connect}: ${(error as Error).message}`);
      this.#client = undefined;
      this.scheduleOpen(1000);
    }
  }

  /** Queues the credentials, sent first on every connection of this handle (the C client keeps its auth list). */
  private addAuth(client: NativeClient, onAccepted: () => void): void {
    const auth = this.#auth;
    if (!auth) return;
    const rc = client.add_auth(auth.scheme, auth.credentials, (code) => {
      // A refusal is followed by the handle's close (ZOO_AUTH_FAILED_STATE), handled in onClose.
      if (code === ZK_CODES.OK) onAccepted();
    });
    if (typeof rc === 'number' && rc !== ZK_CODES.OK) this.logger.error(`the ZooKeeper client refused to queue the credentials of "${this.identity}" (${rc})`);
  }

  /** A connection of the current handle (its credentials accepted); `reattached` on the first of a re-attached handle. */
  private onConnected(client: NativeClient, reattached: boolean): void {
    this.reopen.reset();
    this.#connected = true;
    this.#authError = undefined;
    this.authRetry.reset();
    // A re-attached handle keeps the session (and its ephemeral znodes) but none of the old handle's watches.
    const newSession = !this.hadSession || reattached;
    this.hadSession = true;
    this.lastSession = { id: client.client_id, password: client.client_password };
    if (reattached) this.logger.info(`re-attached to ZooKeeper session ${client.client_id}`);
    this.logger.debug(`zookeeper connected (session ${client.client_id}, new: ${newSession})`);
    this.emit('connected', newSession);
  }

  private onConnecting(): void {
    if (!this.#connected) return;
    this.#connected = false;
    this.logger.warn(`lost the connection to ZooKeeper ${this.connect}; reconnecting`);
    this.emit('disconnected');
  }

  /** The current handle is dead (expired session, failed auth, or the addon's watchdog: see the header). */
  private onClose(code: number, connectedOnce: boolean, resume: SessionKey | undefined): void {
    const wasConnected = this.#connected;
    this.#connected = false;
    this.#client = undefined;
    const session = this.lastSession;
    if (code !== ZOO_AUTH_FAILED_STATE && connectedOnce && session) {
      // It had connected: the session may well be alive. Re-attach to it at once; if the server has expired it,
      // the new handle closes before it connects, and a new session is opened then (below). One re-attach per
      // handle that connected: no loop without a connection in between.
      this.logger.warn(`the ZooKeeper client closed its handle of session ${session.id} (code ${code}); re-attaching to the session`);
      if (wasConnected) this.emit('disconnected');
      this.scheduleOpen(0, session);
      return;
    }
    this.hadSession = false;
    this.lastSession = undefined;
    if (code === ZOO_AUTH_FAILED_STATE) {
      // Reopening at once would be refused at once: back off, and fail waiters now rather than at their timeout.
      const error = new AccessDeniedError('authenticate', this.connect, ZK_CODES.AUTHFAILED, this.identity, `scheme "${this.#auth?.scheme}"`);
      this.#authError = error;
      const delay = this.authRetry.next();
      this.logger.error(`${error.message}; trying a new session in ${delay} ms`);
      this.emit('authFailed', error);
      this.scheduleOpen(delay);
      return;
    }
    // A handle closed before it ever connected would make a tight open/close loop: during an ensemble's leader
    // election a follower answers new sessions as expired (the fault suite once saw 178 in 1.3 s). Back off;
    // a session that had connected is replaced at once.
    // A re-attach the server refused means the session has expired: replaced at once (the next refusal backs off).
    const delay = connectedOnce || resume ? 0 : this.reopen.next();
    if (connectedOnce || resume) {
      this.logger.warn(`ZooKeeper session closed by the server (code ${code}${resume ? `: re-attaching to ${resume.id} was refused` : ''}); opening a new session`);
      this.emit('expired');
    } else {
      this.logger.debug(`a new ZooKeeper session was refused (code ${code}); trying again in ${delay} ms`);
    }
    this.scheduleOpen(delay);
  }

  /**
   * Opens a new handle (re-attached to `resume` when given) after `delay`. Not unref()ed: a process waiting on the
   * registry must not exit in between; close() clears it.
   */
  private scheduleOpen(delay: number, resume?: SessionKey): void {
    clearTimeout(this.reopenTimer);
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      if (!this.#closed) this.open(resume);
    }, delay);
  }

  /**
   * Called right after each request is handed to `client` (see the header): when the C client has just closed its
   * socket under the addon, closing the handle now is what keeps the process alive; its `close` event re-attaches
   * the session (onClose), and its requests in flight fail with a connection error and are retried by their owners.
   */
  afterRequest(client: NativeClient): void {
    if (client !== this.#client || this.#closed || client.native?.state !== ZK_STATES.NOT_CONNECTED) return;
    this.logger.warn(`a request to ZooKeeper ${this.connect} found the connection reset; re-attaching to the session`);
    this.closeClient(client);
  }

  private closeClient(client: NativeClient): void {
    try {
      client.close();
    } catch (error) {
      this.logger.debug(`closing the ZooKeeper client threw: ${(error as Error).message}`);
    }
  }

  /** Closes the handle for good (the session's ephemeral znodes go away at once). Safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#connected = false;
    clearTimeout(this.reopenTimer);
    const client = this.#client;
    this.#client = undefined;
    if (client) this.closeClient(client);
  }
}
