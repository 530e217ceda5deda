/**
 * `grayRegister()`: Express middleware that registers the app's server in ZooKeeper once it listens, keeps it
 * registered through session loss, and deregisters before the server stops accepting.
 *
 * Graceful shutdown (issue 5), by `registration.shutdown()`, `server.close()` or the opt-in signal handler:
 * deregister → wait `drainMs` so consumers see the removal → stop accepting → finish in-flight requests, closing
 * keep-alive connections as they go idle → resolve. Bounded by `shutdownTimeout`.
 */
import { EventEmitter } from 'node:events';
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { grayContext, type GrayContextOptions } from '../context/gray-context';
import { checkMetricsPath, createProviderMetrics, type ProviderMetrics, type ProviderMetricsOptions } from '../metrics/provider-metrics';
import type { ContextBackend, ContextKind } from '../context/lane-context';
import { InvalidOptionError } from '../errors';
import { isValidHost, isValidWeight, MAX_WEIGHT } from '../registry/codec';
import { openSession, resolveConnection, type ConnectionOptions, type ResolvedConnection } from '../registry/connection';
import { instanceId, isValidServiceName } from '../registry/paths';
import { InstanceRegistration } from '../registry/registration';
import type { ZkSession } from '../registry/zk-session';
import type { InstanceMeta } from '../types';

export interface GrayRegisterOptions extends ConnectionOptions {
  /** Service name, used as the host of consumers' URLs (`http://<service>/`). Required; env `GRAYKIT_SERVICE`. */
  service?: string;
  /** Whether this instance is gray. Default: env `GRAY` = `true`, else false. */
  gray?: boolean;
  /** Version label. Default: env `APP_VERSION`, else none. */
  version?: string;
  /** Share of traffic inside its lane; 0 drains the instance. Default 100. */
  weight?: number;
  /** Extra metadata published with the instance (kept by consumers, not used for routing). Default {}. */
  metadata?: Record<string, unknown>;
  /** Host consumers should call. Default: env `GRAYKIT_HOST`, else the first non-internal IPv4, else 127.0.0.1. */
  host?: string;
  /** Port consumers should call. Default: the port the server is bound to. */
  port?: number;
  /** Longest wait for the znode's deletion before the server stops accepting anyway, ms. Default 3000. */
  deregisterTimeout?: number;
  /**
   * How long shutdown keeps accepting after the znode is deleted, ms, so that consumers see the removal before the
   * port closes. Default 2000: a consumer learns of the deletion within a watch round trip (milliseconds on a LAN),
   * but one that is reconnecting to ZooKeeper or paused (GC, a busy event loop) learns later, and requests it
   * sends meanwhile should still be served, not refused. 2 s covers that with a wide margin at the price of 2 s
   * per instance in a rolling restart, and leaves most of a 30 s termination grace period to in-flight requests.
   * 0 closes as soon as the znode is gone.
   */
  drainMs?: number;
  /**
   * The lane context each incoming request gets (as `grayContext()` gives), so that a provider that is also a
   * consumer keeps an incoming request's lane on its own outbound calls with a single `app.use`: `'als'`, `'cls'`
   * (use the same value in its `grayRoute`), or `false` for none. Default `'als'`.
   */
  context?: ContextKind | ContextBackend | false;
  /** Whether an incoming request may force its lane (lane header, rules): as grayContext's `trust`. Default true. */
  trust?: GrayContextOptions['trust'];
  /**
   * Longest wait, ms, for in-flight requests once the server stops accepting; then the remaining connections are
   * destroyed and shutdown resolves. Default 10000.
   */
  shutdownTimeout?: number;
  /**
   * Request metrics (README "Progressive rollout"): request count and latency by status class, labelled with
   * service, version and lane, on a prom-client registry (`middleware.metrics.registry`). `true` or options turn
   * them on; `metricsPath` turns them on too. Default off.
   */
  metrics?: ProviderMetricsOptions | boolean;
  /**
   * Path that serves the metrics in Prometheus text format (GET), advertised as `metricsPath` in the instance
   * metadata so that `graykit rollout` finds them. Scrapes of it are not counted. Default none: not served.
   */
  metricsPath?: string;
}

export const DEFAULT_REGISTER_OPTIONS = {
  gray: false,
  weight: 100,
  metadata: {},
  deregisterTimeout: 3000,
  drainMs: 2000,
  shutdownTimeout: 10_000,
} as const;

/** The first non-internal IPv4 address of this machine, else 127.0.0.1. */
export function defaultAdvertisedHost(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  return '127.0.0.1';
}

/** `true`/`1`/`yes` or `false`/`0`/`no`/empty, any case; anything else is a mistake worth stopping for. */
function parseBooleanEnv(name: string, value: string | undefined): boolean {
  if (value === undefined) return DEFAULT_REGISTER_OPTIONS.gray;
  if (/^(true|1|yes)$/i.test(value.trim())) return true;
  if (/^(false|0|no|)$/i.test(value.trim())) return false;
  throw new InvalidOptionError('gray', `env ${name}=${JSON.stringify(value)} is neither true nor false`);
}

interface ResolvedRegisterOptions {
  connection: ResolvedConnection;
  service: string;
  host: string;
  port?: number;
  meta: InstanceMeta;
  deregisterTimeout: number;
  drainMs: number;
  shutdownTimeout: number;
}

function checkMs(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new InvalidOptionError(option, `expected milliseconds >= 0, got ${JSON.stringify(value)}`);
  return value;
}

/** The codec's bound on weights: a larger one would be published, then skipped by every consumer. */
function invalidWeight(weight: unknown): InvalidOptionError {
  return new InvalidOptionError('weight', `expected a number from 0 to ${MAX_WEIGHT}, got ${JSON.stringify(weight)}`);
}

function resolveRegisterOptions(options: GrayRegisterOptions, env: NodeJS.ProcessEnv): ResolvedRegisterOptions {
  const connection = resolveConnection(options, env);
  const service = options.service ?? env.GRAYKIT_SERVICE;
  if (!isValidServiceName(service)) {
    throw new InvalidOptionError('service', `expected a service name (lower-case letters, digits, - _ .) in options.service or GRAYKIT_SERVICE, got ${JSON.stringify(service)}`);
  }
  const gray = options.gray ?? parseBooleanEnv('GRAY', env.GRAY);
  if (typeof gray !== 'boolean') throw new InvalidOptionError('gray', `expected true or false, got ${JSON.stringify(gray)}`);
  const weight = options.weight ?? DEFAULT_REGISTER_OPTIONS.weight;
  if (!isValidWeight(weight)) throw invalidWeight(weight);
  const host = options.host ?? env.GRAYKIT_HOST ?? defaultAdvertisedHost();
  if (!isValidHost(host)) throw new InvalidOptionError('host', `expected an IP address or host name, got ${JSON.stringify(host)}`);
  if (options.port !== undefined && !(Number.isInteger(options.port) && options.port >= 1 && options.port <= 65535)) {
    throw new InvalidOptionError('port', `expected a port from 1 to 65535, got ${JSON.stringify(options.port)}`);
  }
  const metadata = options.metadata ?? DEFAULT_REGISTER_OPTIONS.metadata;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw new InvalidOptionError('metadata', 'expected a plain object');
  const version = options.version ?? env.APP_VERSION;
  const meta: InstanceMeta = { ...metadata, gray, weight };
  if (version !== undefined) meta.version = String(version);
  if (options.metricsPath !== undefined) meta.metricsPath = checkMetricsPath(options.metricsPath);
  return {
    connection,
    service,
    host,
    port: options.port,
    meta,
    deregisterTimeout: checkMs('deregisterTimeout', options.deregisterTimeout ?? DEFAULT_REGISTER_OPTIONS.deregisterTimeout),
    drainMs: checkMs('drainMs', options.drainMs ?? DEFAULT_REGISTER_OPTIONS.drainMs),
    shutdownTimeout: checkMs('shutdownTimeout', options.shutdownTimeout ?? DEFAULT_REGISTER_OPTIONS.shutdownTimeout),
  };
}

/** Once shutdown has begun, every response closes its connection, so keep-alive clients let go of the instance. */
function closeConnectionAfterResponse(_req: IncomingMessage, res: ServerResponse): void {
  if (!res.headersSent) res.setHeader('Connection', 'close');
}

/**
 * The provider's handle: attach servers, flip the gray flag live, deregister, shut down.
 *
 * Events: `registered` (path), `deregistered` (path), `failed` (error) — a failed attempt, retried by itself;
 * during shutdown `draining` (drainMs) once the znode is gone, `closing` when the server stops accepting, `closed`
 * when the last connection has ended.
 */
export class ProviderRegistration extends EventEmitter {
  readonly service: string;
  private readonly options: ResolvedRegisterOptions;
  private meta: InstanceMeta;
  private session?: ZkSession;
  private registration?: InstanceRegistration;
  private server?: Server;
  private originalClose?: Server['close'];
  private signalHandler?: (signal: NodeJS.Signals) => void;
  private shutdownPromise?: Promise<void>;
  private closeError?: Error;
  /** The server's open connections, to mark in-flight responses `Connection: close` at shutdown. */
  private readonly sockets = new Set<Socket>();
  private readonly track = (socket: Socket) => {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  };

  constructor(options: GrayRegisterOptions = {}, env: NodeJS.ProcessEnv = process.env) {
    super();
    this.options = resolveRegisterOptions(options, env);
    this.service = this.options.service;
    this.meta = this.options.meta;
  }

  /** The instance znode's path once a server listens, else undefined. */
  get path(): string | undefined {
    return this.registration?.path;
  }

  get registered(): boolean {
    return this.registration?.registered ?? false;
  }

  get metadata(): Readonly<InstanceMeta> {
    return this.meta;
  }

  /**
   * Registers `server` once it listens (at once if it already does), and hooks its `close()` so that it shuts down
   * gracefully (see `shutdown()`): the znode is removed before the port stops accepting. `app.listen()` is attached
   * by itself; call this for `http.createServer(app).listen()`.
   */
  attach(server: Server): this {
    if (this.server === server) return this;
    if (this.server) {
      this.options.connection.logger.warn(`service "${this.service}": a second server is listening; only the first one is registered`);
      return this;
    }
    this.server = server;
    this.originalClose = server.close;
    const registration = this;
    server.close = function closeAfterDeregister(this: Server, callback?: (error?: Error) => void) {
      void registration.shutdown().then(() => callback?.(registration.closeError));
      return server;
    } as Server['close'];
    server.on('connection', this.track);
    server.once('close', () => void this.deregister());
    if (server.listening) this.start(server);
    else server.once('listening', () => this.start(server));
    return this;
  }

  private start(server: Server): void {
    if (this.server !== server || this.registration) return;
    const address = server.address();
    const port = this.options.port ?? (typeof address === 'object' && address ? address.port : undefined);
    if (port === undefined) {
      this.options.connection.logger.error(`service "${this.service}": the server listens on a pipe; set the \`port\` option to register it`);
      return;
    }
    const session = openSession(this.options.connection);
    const registration = new InstanceRegistration({
      session,
      root: this.options.connection.root,
      service: this.service,
      id: instanceId(this.options.host, port),
      meta: this.meta,
      logger: this.options.connection.logger,
    });
    registration.on('registered', (path: string) => this.emit('registered', path));
    registration.on('failed', (error: Error) => {
      if (this.listenerCount('failed') > 0) this.emit('failed', error);
    });
    this.session = session;
    this.registration = registration;
  }

  /** Resolves once registered, or rejects after `timeoutMs`. */
  whenRegistered(timeoutMs = 10_000): Promise<string> {
    if (this.registration?.registered) return Promise.resolve(this.registration.path);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('registered', onRegistered);
        reject(new Error(`graykit: service "${this.service}" not registered within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      const onRegistered = (path: string) => {
        clearTimeout(timer);
        resolve(path);
      };
      this.once('registered', onRegistered);
    });
  }

  /** Flips this instance's gray flag live: same znode, data rewritten. */
  setGray(gray: boolean): Promise<void> {
    return this.update({ gray });
  }

  /** Merges fields into the published metadata and rewrites the znode's data. */
  update(fields: Partial<InstanceMeta>): Promise<void> {
    const next = { ...this.meta, ...fields };
    if (typeof next.gray !== 'boolean') return Promise.reject(new InvalidOptionError('gray', `expected true or false, got ${JSON.stringify(next.gray)}`));
    if (!isValidWeight(next.weight)) return Promise.reject(invalidWeight(next.weight));
    this.meta = next;
    return this.registration ? this.registration.update(next) : Promise.resolve();
  }

  /**
   * Deletes the znode (waiting at most `deregisterTimeout`) and closes the ZooKeeper session. The server keeps
   * running; `server.close()` calls this first by itself.
   */
  async deregister(): Promise<void> {
    const registration = this.registration;
    const session = this.session;
    this.registration = undefined;
    this.session = undefined;
    if (!registration || !session) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.deregisterTimeout);
    });
    try {
      await Promise.race([registration.deregister(), deadline]);
    } finally {
      clearTimeout(timer);
      session.close();
      this.safeEmit('deregistered', registration.path);
    }
  }

  /**
   * Graceful shutdown: deregister (at most `deregisterTimeout`) → keep serving for `drainMs` so that consumers see
   * the removal → stop accepting → let in-flight requests finish, closing each keep-alive connection once idle
   * (responses from now on carry `Connection: close`) → resolve once the last connection has ended. In-flight
   * requests get at most `shutdownTimeout`, then their connections are destroyed. Never rejects; idempotent (every
   * call returns the same promise). `server.close()` on an attached server does the same.
   *
   * @example
   * process.on('SIGTERM', () => void gray.registration.shutdown().then(() => process.exit(0)));
   */
  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.runShutdown();
    return this.shutdownPromise;
  }

  private async runShutdown(): Promise<void> {
    const server = this.server;
    if (server) {
      server.prependListener('request', closeConnectionAfterResponse);
      this.markInFlight();
    }
    await this.deregister();
    this.safeEmit('draining', this.options.drainMs);
    if (server?.listening && this.options.drainMs > 0) await new Promise((resolve) => setTimeout(resolve, this.options.drainMs));
    if (server) this.closeError = await this.closeServer(server);
    this.safeEmit('closed');
  }

  /** Emits without letting a listener's exception break the shutdown sequence. */
  private safeEmit(event: string, ...args: unknown[]): void {
    try {
      this.emit(event, ...args);
    } catch (error) {
      this.options.connection.logger.error(`a graykit '${event}' handler threw: ${(error as Error).stack ?? error}`);
    }
  }

  /** Stops accepting, then ends keep-alive connections as they go idle; destroys what is left after the timeout. */
  private closeServer(server: Server): Promise<Error | undefined> {
    const close = this.originalClose ?? server.close;
    const http = server as Partial<Pick<HttpServer, 'closeIdleConnections' | 'closeAllConnections'>>;
    return new Promise((resolve) => {
      let poll: NodeJS.Timeout | undefined;
      let force: NodeJS.Timeout | undefined;
      close.call(server, (error?: Error) => {
        clearInterval(poll);
        clearTimeout(force);
        resolve(error);
      });
      this.safeEmit('closing');
      // Node answers a request already in flight with keep-alive and keeps its connection open after close():
      // mark such responses `Connection: close`, and close the connections that went idle anyway.
      const closeIdle = () => {
        this.markInFlight();
        http.closeIdleConnections?.call(server);
      };
      closeIdle();
      poll = setInterval(closeIdle, 50);
      poll.unref();
      force = setTimeout(() => {
        this.options.connection.logger.warn(`service "${this.service}": requests still in flight after ${this.options.shutdownTimeout} ms; closing their connections`);
        if (http.closeAllConnections) http.closeAllConnections.call(server);
        else for (const socket of this.sockets) socket.destroy();
      }, this.options.shutdownTimeout);
      force.unref();
    });
  }

  /** Sets `Connection: close` on the responses in flight that have not sent their headers yet. */
  private markInFlight(): void {
    for (const socket of this.sockets) {
      // `_httpMessage` is the response a server socket is serving (what http-terminator and stoppable use too).
      const res = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
      if (res && !res.headersSent && typeof res.setHeader === 'function') res.setHeader('Connection', 'close');
    }
  }

  /**
   * Opt-in: on SIGTERM/SIGINT, `shutdown()`, then let the signal do what it would have done. After `timeoutMs` it
   * stops waiting. Default: deregisterTimeout + drainMs + shutdownTimeout + 1000 (16 s with the defaults).
   */
  handleSignals(signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'], timeoutMs?: number): this {
    if (this.signalHandler) return this;
    const bound = timeoutMs ?? this.options.deregisterTimeout + this.options.drainMs + this.options.shutdownTimeout + 1000;
    const handler = (signal: NodeJS.Signals) => {
      for (const s of signals) process.off(s, handler);
      let raised = false;
      const raise = () => {
        if (raised) return;
        raised = true;
        process.kill(process.pid, signal);
      };
      setTimeout(raise, bound).unref();
      void this.shutdown().finally(raise);
    };
    this.signalHandler = handler;
    for (const signal of signals) process.on(signal, handler);
    return this;
  }
}

/** What `grayRegister()` returns: an Express sub-app (so it learns its parent app) with the registration handle. */
export interface GrayRegisterMiddleware {
  (req: unknown, res: unknown, next: (error?: unknown) => void): void;
  readonly registration: ProviderRegistration;
  /** The request metrics, when the `metrics` or `metricsPath` option turned them on. */
  readonly metrics?: ProviderMetrics;
}

interface ExpressLikeApp {
  listen: (...args: unknown[]) => Server;
  on(event: 'mount', listener: (parent: ExpressLikeApp) => void): void;
  disable(setting: string): void;
}

/**
 * Registers the Express app's instance in ZooKeeper when the app starts listening.
 *
 * It is an Express sub-app: Express emits `mount` with the parent app, and graykit wraps the parent's `listen()` so
 * that the server it returns is attached. For `http.createServer(app).listen()`, call
 * `middleware.registration.attach(server)`.
 *
 * @example
 * const gray = grayRegister({ service: 'demo', gray: true, version: 'v2' });
 * app.use(gray);
 * app.listen(8081);                       // registers <root>/services/demo/instances/<host>:8081
 * await gray.registration.setGray(false); // live flag flip
 */
export function grayRegister(options: GrayRegisterOptions = {}): GrayRegisterMiddleware {
  if (typeof options !== 'object' || options === null || ('method' in options && 'headers' in options)) {
    throw new InvalidOptionError('options', 'grayRegister takes an options object: use app.use(grayRegister({ service })), not app.use(grayRegister)');
  }
  const registration = new ProviderRegistration(options);
  // Loaded here, not at the top: express is a peer dependency that consumer-only apps need not install.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const express = require('express') as () => ExpressLikeApp & GrayRegisterMiddleware;
  const subApp = express();
  if (options.context !== false) {
    // The rest of the parent app's chain runs inside this middleware's `next()`, so inside the lane context.
    (subApp as unknown as { use(fn: unknown): void }).use(grayContext({ context: options.context ?? 'als', trust: options.trust }));
  }
  const metricsOn = options.metricsPath !== undefined || (options.metrics !== undefined && options.metrics !== false);
  const metrics = metricsOn
    ? createProviderMetrics(registration.service, () => registration.metadata, typeof options.metrics === 'boolean' || options.metrics === undefined ? {} : options.metrics, options.metricsPath)
    : undefined;
  if (metrics) (subApp as unknown as { use(fn: unknown): void }).use(metrics.middleware);
  subApp.on('mount', (parent) => {
    const originalListen = parent.listen;
    parent.listen = function listenAndRegister(this: unknown, ...args: unknown[]) {
      const server = originalListen.apply(this, args);
      registration.attach(server);
      return server;
    };
  });
  Object.defineProperty(subApp, 'registration', { value: registration, enumerable: true });
  if (metrics) Object.defineProperty(subApp, 'metrics', { value: metrics, enumerable: true });
  return subApp;
}
