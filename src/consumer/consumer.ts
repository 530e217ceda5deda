/**
 * The consumer: a registry snapshot in memory (RegistryCatalog) plus a routing table per service, rebuilt on every
 * snapshot change. `route()` reads memory only; `resolve()` waits for a service's first snapshot, bounded.
 */
import { EventEmitter } from 'node:events';
import { InvalidOptionError, NoInstanceError, RegistryUnavailableError } from '../errors';
import { buildRoutingTable, isValidRatio, route, type RouteDecision, type RoutingTable } from '../router';
import { RegistryCatalog, type ServiceSnapshot } from '../registry/catalog';
import { openSession, resolveConnection, type ConnectionOptions, type ResolvedConnection } from '../registry/connection';
import { isValidServiceName, servicesPath } from '../registry/paths';
import type { ZkSession } from '../registry/zk-session';
import type { Lane } from '../types';

export interface GrayConsumerOptions extends ConnectionOptions {
  /**
   * Share of requests (0-100) sent to gray instances when the service's config znode sets no ratio.
   * Default: env `GRAYKIT_RATIO`, else 0 (nothing reaches gray until asked).
   */
  ratio?: number;
  /**
   * Names of the services to route. Default: every service registered under `<root>/services`, learned from the
   * registry. With a list, other hosts are never looked up and these services are watched from the start.
   */
  services?: readonly string[];
  /** How long the first request to a service may wait for its first snapshot, ms. Default 5000. */
  timeout?: number;
  /** Source of randomness in [0, 1) for the ratio split. Default Math.random. */
  random?: () => number;
}

export const DEFAULT_CONSUMER_OPTIONS = {
  ratio: 0,
  timeout: 5000,
} as const;

interface Routed {
  snapshot: ServiceSnapshot;
  table: RoutingTable;
}

/**
 * Events: `change` (snapshot) after each registry change of a watched service.
 */
export class GrayConsumer extends EventEmitter {
  readonly connection: ResolvedConnection;
  readonly ratio: number;
  readonly timeout: number;
  private readonly allowList?: ReadonlySet<string>;
  private readonly random: () => number;
  private readonly session: ZkSession;
  private readonly catalog: RegistryCatalog;
  private readonly tables = new Map<string, Routed>();
  private closed = false;

  constructor(options: GrayConsumerOptions = {}, env: NodeJS.ProcessEnv = process.env) {
    super();
    this.connection = resolveConnection(options, env);
    const ratio = options.ratio ?? (env.GRAYKIT_RATIO === undefined ? DEFAULT_CONSUMER_OPTIONS.ratio : Number(env.GRAYKIT_RATIO));
    if (!isValidRatio(ratio)) throw new InvalidOptionError('ratio', `expected a number from 0 to 100, got ${JSON.stringify(options.ratio ?? env.GRAYKIT_RATIO)}`);
    this.ratio = ratio;
    this.timeout = options.timeout ?? DEFAULT_CONSUMER_OPTIONS.timeout;
    if (!(this.timeout > 0)) throw new InvalidOptionError('timeout', `expected milliseconds > 0, got ${JSON.stringify(options.timeout)}`);
    if (options.services !== undefined) {
      const bad = options.services.find((name) => !isValidServiceName(name));
      if (bad !== undefined) throw new InvalidOptionError('services', `${JSON.stringify(bad)} is not a valid service name (lower-case letters, digits, - _ .)`);
      this.allowList = new Set(options.services);
    }
    this.random = options.random ?? Math.random;
    this.session = openSession(this.connection);
    this.catalog = new RegistryCatalog({ session: this.session, root: this.connection.root, logger: this.connection.logger });
    this.catalog.on('change', (snapshot: ServiceSnapshot) => {
      this.tables.set(snapshot.service, { snapshot, table: buildRoutingTable(snapshot.instances) });
      this.emit('change', snapshot);
    });
    if (this.allowList) for (const service of this.allowList) this.catalog.watch(service);
  }

  /** True once connected to ZooKeeper (snapshots are served either way). */
  get connected(): boolean {
    return this.session.connected;
  }

  /**
   * Whether requests for `host` are routed: a name of the allow-list, or of a registered service. Undefined when
   * that cannot be known yet (no allow-list, and the service list was never read).
   */
  isService(host: string): boolean | undefined {
    if (this.allowList) return this.allowList.has(host);
    const registered = this.catalog.registeredServices;
    if (registered === undefined) return undefined;
    // A service being watched stays routable even if its parent znode is removed and re-created.
    return registered.has(host) || this.tables.has(host);
  }

  /** Waits (bounded by `timeout`) until the list of registered services is known. */
  async servicesReady(): Promise<void> {
    if (this.allowList) return;
    await this.catalog.servicesReady(this.timeout);
  }

  /** The current snapshot of a service, undefined before its first read. */
  snapshot(service: string): ServiceSnapshot | undefined {
    return this.tables.get(service)?.snapshot;
  }

  /** The ratio in force for a service: its config znode's, else the local option. */
  ratioFor(service: string): number {
    return this.tables.get(service)?.snapshot.config.ratio ?? this.ratio;
  }

  /**
   * Routes from memory. Undefined when the service has no snapshot yet (use `resolve`); throws NoInstanceError
   * when it has no instance to route to.
   */
  route(service: string, lane?: Lane): RouteDecision | undefined {
    const routed = this.tables.get(service);
    if (!routed) {
      this.catalog.watch(service);
      return undefined;
    }
    const decision = route(routed.table, { ratio: routed.snapshot.config.ratio ?? this.ratio, lane, random: this.random });
    if (!decision) {
      const detail = routed.snapshot.instances.length === 0 ? 'no live instance is registered' : 'every instance has weight 0';
      throw new NoInstanceError(service, routed.snapshot.path, detail);
    }
    return decision;
  }

  /** Routes, waiting for the service's first snapshot when needed (at most `timeout` ms). */
  async resolve(service: string, lane?: Lane): Promise<RouteDecision> {
    const decision = this.route(service, lane);
    if (decision) return decision;
    if (this.closed) throw new RegistryUnavailableError(service, servicesPath(this.connection.root), 0);
    await this.catalog.ready(service, this.timeout);
    // The 'change' listener above has built the table by now.
    return this.route(service, lane) as RouteDecision;
  }

  /** Stops watching and closes the ZooKeeper session. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.catalog.close();
    this.session.close();
    this.removeAllListeners();
  }
}

/** Creates a consumer: the long-lived object behind `grayRoute()`. Call `close()` when done. */
export function createConsumer(options: GrayConsumerOptions = {}): GrayConsumer {
  return new GrayConsumer(options);
}
