/**
 * The provider's handle, `grayRegister(...).registration`: attaches the server, keeps the instance registered
 * (registry/registration.ts does the ZooKeeper part), flips the gray flag live, and shuts down gracefully:
 * deregister → wait `drainMs` so consumers see the removal → stop accepting → finish in-flight requests, closing
 * keep-alive connections as they go idle (shutdown.ts) → resolve. Bounded by `shutdownTimeout`.
 */
import { EventEmitter } from 'node:events';
import type { Server } from 'node:net';
import { InvalidOptionError, RegistryUnavailableError } from '../errors';
import { decodeOverride } from '../registry/codec';
import { instanceId, instancesPath, overridePath } from '../registry/paths';
import { InstanceRegistration } from '../registry/registration';
import { javaRegistration } from './java-registration';
import { NodeWatch } from '../registry/watch';
import type { ZkSession } from '../registry/zk-session';
import { isNamedLane, type InstanceMeta } from '../types';
import { safeEmit } from '../util/emit';
import { settlesWithin } from '../util/time';
import { invalidWeight, resolveRegisterOptions, type GrayRegisterOptions, type ResolvedRegisterOptions } from './options';
import { HttpDrain } from './shutdown';
import { isValidWeight } from '../registry/codec';

/**
 * Events: `registered` (path), `deregistered` (path), `failed` (error) — a failed attempt, retried by itself;
 * with the `curator` option, `javaRegistered` (path) each time the Curator znode is (re)created (with `only`, that
 * znode is the registration, and `registered` says so);
 * during shutdown `draining` (drainMs) once the znode is gone, `closing` when the server stops accepting, `closed`
 * when the last connection has ended.
 */
export class ProviderRegistration extends EventEmitter {
  readonly service: string;
  private readonly options: ResolvedRegisterOptions;
  private meta: InstanceMeta;
  private session?: ZkSession;
  private registration?: InstanceRegistration;
  /** The Curator registration beside graykit's own (option `curator` without `only`). */
  private javaRegistration?: InstanceRegistration;
  /** The operator's override of this instance's gray flag and weight, as watched. */
  private overrideFields: { weight?: number } = {};
  private server?: Server;
  private drain?: HttpDrain;
  private originalClose?: Server['close'];
  private signalHandler?: (signal: NodeJS.Signals) => void;
  private shutdownPromise?: Promise<void>;
  private closeError?: Error;
  private warnedUnattached = false;
  /** The lane the operator's override of this instance sets, when it sets `gray` or `lane` (watched). */
  private overrideLane?: string;

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

  /** Whether consumers see this instance as gray: an operator's override (`graykit mark`, promote) over its own flag. */
  get effectiveGray(): boolean {
    return this.effectiveLane === 'gray';
  }

  /** The lane consumers see this instance in: an operator's override (`graykit mark`, promote) over its own. */
  get effectiveLane(): string {
    return this.overrideLane ?? this.meta.lane ?? (this.meta.gray ? 'gray' : 'normal');
  }

  /** Whether a server is attached (it registers once it listens). */
  get attached(): boolean {
    return this.server !== undefined;
  }

  private emitSafely(event: string, ...args: unknown[]): void {
    safeEmit(this, this.options.connection.logger, event, ...args);
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
    this.drain = new HttpDrain(server);
    this.originalClose = server.close;
    const registration = this;
    server.close = function closeAfterDeregister(this: Server, callback?: (error?: Error) => void) {
      void registration.shutdown().then(() => callback?.(registration.closeError));
      return server;
    } as Server['close'];
    server.once('close', () => void this.deregister());
    if (server.listening) this.start(server);
    else server.once('listening', () => this.start(server));
    return this;
  }

  /**
   * Called by the middleware for each request: a request served while no server is attached means the app listens
   * in a way graykit did not see, and the instance will never register. Said once, with the fix.
   */
  noteRequest(): void {
    if (this.server || this.warnedUnattached) return;
    this.warnedUnattached = true;
    this.options.connection.logger.warn(
      `service "${this.service}": serving requests but not registered: grayRegister() never saw its server listen. ` +
        'Mount it on the app itself (app.use(gray), not on an express.Router()) and start it with app.listen(); with ' +
        'http.createServer(app), call gray.registration.attach(server) before server.listen()',
    );
  }

  private start(server: Server): void {
    if (this.server !== server || this.registration) return;
    const address = server.address();
    const port = this.options.port ?? (typeof address === 'object' && address ? address.port : undefined);
    if (port === undefined) {
      this.options.connection.logger.error(`service "${this.service}": the server listens on a pipe; set the \`port\` option to register it`);
      return;
    }
    const session = this.options.connection.openSession();
    const { curator, connection } = this.options;
    const java = curator && javaRegistration({ session, root: connection.root, service: this.service, host: this.options.host, port, meta: this.javaMeta(), curator, logger: connection.logger });
    const registration =
      java && curator?.only
        ? java
        : new InstanceRegistration({ session, root: connection.root, service: this.service, id: instanceId(this.options.host, port), meta: this.meta, logger: connection.logger });
    const forwardFailed = (error: Error) => {
      if (this.listenerCount('failed') > 0) this.emit('failed', error);
    };
    if (java && java !== registration) {
      java.on('registered', (path: string) => this.emitSafely('javaRegistered', path));
      java.on('failed', forwardFailed);
      this.javaRegistration = java;
    }
    registration.on('registered', (path: string) => this.emit('registered', path));
    registration.on('failed', forwardFailed);
    this.session = session;
    this.registration = registration;
    this.watchOverride(session, overridePath(this.options.connection.root, this.service, instanceId(this.options.host, port)));
  }

  /** Keeps `effectiveGray` current: a promoted instance (override gray: false) no longer pins the gray lane. */
  private watchOverride(session: ZkSession, path: string): void {
    const watch = new NodeWatch(session, path, {
      isCurrent: () => this.session === session,
      onChange: () => {
        const decoded = watch.value ? decodeOverride(watch.value.data) : undefined;
        const override = decoded?.ok ? decoded.value : undefined;
        this.overrideLane = override?.lane ?? (typeof override?.gray === 'boolean' ? (override.gray ? 'gray' : 'normal') : undefined);
        this.overrideFields = { weight: override?.weight };
        void this.updateJava();
      },
      onError: (error) => this.options.connection.logger.debug(`reading ${path} failed, read again on the next connection: ${error.message}`),
    });
    session.on('connected', (newSession: boolean) => {
      if (newSession) watch.reset();
      if (watch.stale && !watch.reading) void watch.reload();
    });
    if (session.connected) void watch.reload();
  }

  /**
   * Resolves with the znode's path once registered; rejects after `timeoutMs` with RegistryUnavailableError, whose
   * `cause` is the last failed attempt's error (ZooKeeper unreachable, access denied, …) when there was one.
   */
  whenRegistered(timeoutMs = 10_000): Promise<string> {
    if (this.registration?.registered) return Promise.resolve(this.registration.path);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('registered', onRegistered);
        const path = this.registration?.path ?? instancesPath(this.options.connection.root, this.service);
        const cause = this.registration?.lastError ?? this.session?.unusable;
        const waitingFor = this.server ? `registration of service "${this.service}"` : `registration of service "${this.service}" (no server attached yet)`;
        reject(new RegistryUnavailableError(this.service, path, timeoutMs, { cause, waitingFor }));
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
    if (next.lane !== this.meta.lane) return Promise.reject(new InvalidOptionError('lane', `an instance's lane is fixed at registration (it is "${this.meta.lane ?? 'normal'}"); register another instance, or set an override`));
    if (next.gray && next.lane !== undefined) return Promise.reject(new InvalidOptionError('gray', `the instance is in lane "${next.lane}": an instance is in one lane`));
    if (!isValidWeight(next.weight)) return Promise.reject(invalidWeight(next.weight));
    this.meta = next;
    // With `only`, the registration is the Curator znode: updateJava writes it, with the override over it.
    const own = this.options.curator?.only ? undefined : this.registration?.update(next);
    return Promise.all([own, this.updateJava()]).then(() => undefined);
  }

  /** The metadata the Curator znode shows: the instance's own with the operator's override (lane, weight) over it. */
  private javaMeta(): InstanceMeta {
    const { weight } = this.overrideFields;
    const lane = this.effectiveLane;
    return { ...this.meta, gray: lane === 'gray', lane: isNamedLane(lane) ? lane : undefined, ...(weight === undefined ? {} : { weight }) };
  }

  /** Rewrites the Curator znode (with `only`, the registration itself) after the metadata or the override changed. */
  private updateJava(): Promise<void> {
    const java = this.options.curator?.only ? this.registration : this.javaRegistration;
    return java ? java.update(this.javaMeta()) : Promise.resolve();
  }

  /**
   * Deletes the znode (waiting at most `deregisterTimeout`) and closes the ZooKeeper session. The server keeps
   * running; `server.close()` calls this first by itself.
   */
  async deregister(): Promise<void> {
    const registration = this.registration;
    const java = this.javaRegistration;
    const session = this.session;
    this.registration = undefined;
    this.javaRegistration = undefined;
    this.session = undefined;
    if (!registration || !session) return;
    try {
      await settlesWithin(Promise.all([registration.deregister(), java?.deregister()]), this.options.deregisterTimeout);
    } finally {
      session.close();
      this.emitSafely('deregistered', registration.path);
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
    this.drain?.beginDraining();
    await this.deregister();
    this.emitSafely('draining', this.options.drainMs);
    if (server?.listening && this.options.drainMs > 0) await new Promise((resolve) => setTimeout(resolve, this.options.drainMs));
    if (server && this.drain) {
      this.closeError = await this.drain.close(this.originalClose ?? server.close, this.options.shutdownTimeout, {
        onClosing: () => this.emitSafely('closing'),
        onForced: () => this.options.connection.logger.warn(`service "${this.service}": requests still in flight after ${this.options.shutdownTimeout} ms; closing their connections`),
      });
    }
    this.emitSafely('closed');
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
