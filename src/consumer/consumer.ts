/**
 * The consumer: a registry snapshot in memory (RegistryCatalog) plus a routing table per service, rebuilt on every
 * snapshot change. `route()` reads memory only; `resolve()` waits for a service's first snapshot, bounded.
 *
 * It also keeps the outlier-ejection state (./outlier.ts) fed by `reportFailure`/`reportSuccess` (useGray's
 * response interceptor calls them), and routes around ejected instances and a retry's failed ones.
 */
import { EventEmitter } from 'node:events';
import { contextBackend, type ContextBackend, type ContextKind } from '../context/lane-context';
import { DEFAULT_PROPAGATION } from '../context/propagation';
import { ClosedError, InvalidOptionError, NoInstanceError } from '../errors';
import { RegistryCatalog, type ServiceSnapshot } from '../registry/catalog';
import { isValidRatio } from '../registry/codec';
import { validateConfig } from '../registry/config-codec';
import { resolveConnection, type ConnectionOptions, type ResolvedConnection } from '../registry/connection';
import { isValidServiceName } from '../registry/paths';
import type { ZkSession } from '../registry/zk-session';
import { AddressPolicy } from '../registry/networks';
import { resolveCuratorOptions, type CuratorOptions } from '../registry/curator';
import { buildRoutingTable, lanePool, route, type RouteDecision, type RoutingTable } from '../router';
import { drawLane, laneSplit, withoutLane, type LaneSplit } from '../router/shares';
import { compileLanePolicy, type HashBy, type LanePolicy } from '../router/lane-policy';
import { BASE_LANE, DEFAULT_LANE_HEADER, type Instance, type Lane, type LaneRule } from '../types';
import { safeEmit } from '../util/emit';
import { CallRouting } from './lane-routing';
import { ServiceOutliers, resolveOutlierOptions, type EjectionInfo, type OutlierOptions } from './outlier';

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
  /**
   * Outlier ejection: instances with `consecutiveFailures` connection failures in a row leave the rotation for a
   * back-off period, then get one half-open probe. `false` turns it off. Default: on, with `defaults.outlier`
   * (3 failures, 1000 ms doubling up to 30000 ms). Failures are reported by `useGray()`'s response interceptor;
   * `grayRoute()` alone reports nothing, so nothing is ever ejected.
   */
  outlier?: OutlierOptions | false;
  /**
   * Lane rules for requests that come in through `grayContext()`, first match wins (header, then cookie rules in
   * the order given). A service's config znode `rules` replace these for calls to that service. Default none.
   */
  rules?: readonly LaneRule[];
  /**
   * Per-user bucketing: a request header name (e.g. `x-user-id`) or a function of the incoming request that gives
   * the user's key; the same user gets the same lane at a given ratio. A config znode `hashBy` replaces a header
   * name given here. Default none (a draw by ratio).
   */
  hashBy?: HashBy;
  /**
   * Networks (CIDRs such as `10.0.0.0/8`, `fd00::/8`) that instance hosts must be in to receive traffic: an instance
   * elsewhere is skipped with a warning, never routed to. A service config's `allowedNetworks` can narrow this list,
   * never widen it. With a list, instances registered by host name are refused (a name's address is not known
   * before connecting). Link-local (169.254.0.0/16, fe80::/10) and unspecified (0.0.0.0, ::) addresses are refused
   * unless a network listed here contains them. Default: no list (any other address, and host names).
   */
  allowedNetworks?: readonly string[];
  /**
   * Also route to services registered through Apache Curator's service discovery: Spring Cloud ZooKeeper, Dubbo 3
   * application-level registrations (README "Java services on the same ZooKeeper"). `true` reads `/services` with
   * Spring's keys; an object says where and by which metadata keys. Their ratio, rules and lanes come from
   * graykit's config znode of the same name. Default: off.
   */
  curator?: CuratorOptions | boolean;
}

/** How one request is routed, beyond its lane. */
export interface RouteOptions {
  /** Ids (`host:port`) of instances that must not take this request: a retry's already-failed instances. */
  exclude?: ReadonlySet<string>;
  /** With `exclude`: whether the request may go to the other lane once its own has no instance left. Default false. */
  crossLane?: boolean;
  /** Whether this request may be the half-open probe of an ejected instance. Default true. */
  probe?: boolean;
}

/** Payload of the consumer's `ejected`, `probing` and `restored` events. */
export interface OutlierEvent {
  service: string;
  instance: Instance;
  /** The ejection period, ms (`ejected`, `probing`). */
  ms?: number;
  /** Connection failures in a row (`ejected`). */
  failures?: number;
}

export const DEFAULT_CONSUMER_OPTIONS = {
  ratio: 0,
  timeout: 5000,
} as const;

interface Routed {
  snapshot: ServiceSnapshot;
  table: RoutingTable;
  /** The shares and bucket sets in force (ratioOf's gray share, the config's `lanes` and `buckets`). */
  split: LaneSplit;
  /** Present once an instance of the service has failed; carried over from snapshot to snapshot. */
  outliers?: ServiceOutliers;
}

/**
 * Events:
 * - `change` (snapshot) after each registry change of a watched service;
 * - `ejected` (OutlierEvent): an instance left the rotation after connection failures in a row;
 * - `probing` (OutlierEvent): its period is over and one request is sent to it as a probe;
 * - `restored` (OutlierEvent): the probe got a response, the instance is back;
 * - `retry` (RetryEvent, from useGray and grayDispatcher): a request failed at the connection level and is sent again.
 */
export class GrayConsumer extends EventEmitter {
  readonly connection: ResolvedConnection;
  readonly ratio: number;
  readonly timeout: number;
  private readonly allowList?: ReadonlySet<string>;
  /** The source of randomness of the ratio split (option `random`). */
  readonly random: () => number;
  private readonly session: ZkSession;
  private readonly catalog: RegistryCatalog;
  private readonly tables = new Map<string, Routed>();
  private readonly outlier?: Required<OutlierOptions>;
  private readonly localPolicy: LanePolicy;
  private readonly localSplit: LaneSplit;
  private readonly localRules: readonly LaneRule[];
  private readonly localHashBy?: HashBy;
  /** Compiled lane policy per snapshot config, so regular expressions compile once per config change. */
  private readonly policies = new WeakMap<object, LanePolicy>();
  /** The lane routing of `resolveCall`, per context backend. */
  private readonly callRoutings = new Map<ContextBackend, CallRouting>();
  private closed = false;

  constructor(options: GrayConsumerOptions = {}, env: NodeJS.ProcessEnv = process.env) {
    super();
    this.connection = resolveConnection(options, env);
    const ratio = options.ratio ?? (env.GRAYKIT_RATIO === undefined ? DEFAULT_CONSUMER_OPTIONS.ratio : Number(env.GRAYKIT_RATIO));
    if (!isValidRatio(ratio)) throw new InvalidOptionError('ratio', `expected a number from 0 to 100, got ${JSON.stringify(options.ratio ?? env.GRAYKIT_RATIO)}`);
    this.ratio = ratio;
    this.localSplit = laneSplit(ratio);
    this.timeout = options.timeout ?? DEFAULT_CONSUMER_OPTIONS.timeout;
    if (!(this.timeout > 0)) throw new InvalidOptionError('timeout', `expected milliseconds > 0, got ${JSON.stringify(options.timeout)}`);
    if (options.services !== undefined) {
      const bad = options.services.find((name) => !isValidServiceName(name));
      if (bad !== undefined) throw new InvalidOptionError('services', `${JSON.stringify(bad)} is not a valid service name (lower-case letters, digits, - _ .)`);
      this.allowList = new Set(options.services);
    }
    this.random = options.random ?? Math.random;
    if (options.rules !== undefined) {
      const checked = validateConfig({ rules: options.rules });
      if (!checked.ok) throw new InvalidOptionError('rules', checked.reason);
    }
    if (options.hashBy !== undefined && typeof options.hashBy !== 'function' && !validateConfig({ hashBy: options.hashBy }).ok) {
      throw new InvalidOptionError('hashBy', `expected a header name or a function, got ${JSON.stringify(options.hashBy)}`);
    }
    this.localRules = options.rules ?? [];
    this.localHashBy = options.hashBy;
    this.localPolicy = compileLanePolicy(this.localRules, this.localHashBy);
    this.outlier = resolveOutlierOptions(options.outlier);
    const addresses = new AddressPolicy(options.allowedNetworks);
    const curator = resolveCuratorOptions(options.curator);
    this.session = this.connection.openSession();
    this.catalog = new RegistryCatalog({ session: this.session, root: this.connection.root, logger: this.connection.logger, addresses, curator });
    this.catalog.on('change', (snapshot: ServiceSnapshot) => {
      let outliers = this.tables.get(snapshot.service)?.outliers;
      if (outliers) {
        outliers.prune(snapshot.instances);
        if (outliers.empty) outliers = undefined;
      }
      const { config } = snapshot;
      // The bucket sets are the document's (written for its own ratio); a crashed rollout then takes gray's share away.
      const split = laneSplit(config.ratio ?? this.ratio, config.lanes, config.buckets);
      this.tables.set(snapshot.service, { snapshot, table: buildRoutingTable(snapshot.instances), split: snapshot.rolloutCrashed ? withoutLane(split, snapshot.rolloutLane) : split, outliers });
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

  /**
   * The lane rules and bucketing key in force for calls to a service: its config znode's `rules`/`hashBy` where
   * set, else the local options. Memory only.
   */
  lanePolicy(service: string): LanePolicy {
    const config = this.tables.get(service)?.snapshot.config;
    if (!config || (config.rules === undefined && config.hashBy === undefined)) return this.localPolicy;
    let policy = this.policies.get(config);
    if (!policy) {
      policy = compileLanePolicy(config.rules ?? this.localRules, config.hashBy ?? this.localHashBy);
      this.policies.set(config, policy);
    }
    return policy;
  }

  /** Waits (bounded by `timeout`) for the service's first snapshot. */
  async whenReady(service: string): Promise<void> {
    if (this.tables.has(service)) return;
    await this.catalog.ready(service, this.timeout);
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

  /**
   * The ratio in force for a service: 0 while its rollout has crashed (the dead-man's switch, ServiceSnapshot
   * `rolloutCrashed`), else its config znode's, else the local option.
   */
  ratioFor(service: string): number {
    return this.ratioOf(this.tables.get(service)?.snapshot);
  }

  /** The shares and bucket sets in force for a service (the gray share as `ratioFor` says, named lanes' from its config). */
  splitFor(service: string): LaneSplit {
    return this.tables.get(service)?.split ?? this.localSplit;
  }

  /** Whether some routable instance of the service is in `lane` (the metrics' bound on lane labels). */
  hasLane(service: string, lane: Lane): boolean {
    return this.tables.get(service)?.table.lanes.has(lane) ?? false;
  }

  /** A lane drawn by the service's shares: what a request that no rule or bucket steers gets. */
  drawLane(service: string): Lane {
    return drawLane(this.splitFor(service).shares, this.random);
  }

  private ratioOf(snapshot: ServiceSnapshot | undefined): number {
    if (snapshot?.rolloutCrashed && snapshot.rolloutLane === undefined) return 0;
    return snapshot?.config.ratio ?? this.ratio;
  }

  /**
   * Routes from memory. Undefined when the service has no snapshot yet (use `resolve`); throws NoInstanceError
   * when it has no instance to route to.
   */
  route(service: string, lane?: Lane, options?: RouteOptions): RouteDecision | undefined {
    const routed = this.tables.get(service);
    if (!routed) {
      this.catalog.watch(service);
      return undefined;
    }
    const { config } = routed.snapshot;
    // The lane is drawn here rather than in the router (the same one draw), so that a failure can say which lane
    // found no instance: with strict lanes, a call drawn into an empty lane is not an instance's failure.
    const ratio = this.ratioOf(routed.snapshot);
    const chosen = lane ?? drawLane(routed.split.shares, this.random);
    // The common case, nothing ejected and no retry: the unfiltered table, nothing allocated for ejection.
    const decision =
      routed.outliers?.out || options?.exclude?.size
        ? this.routeAround(routed, ratio, chosen, options)
        : route(routed.table, { ratio, lane: chosen, fallback: config.fallback });
    if (!decision) throw new NoInstanceError(service, routed.snapshot.path, whyNoInstance(routed, chosen), chosen);
    return decision;
  }

  /**
   * The slow path: an instance is ejected, or a retry excludes instances. An ejected instance whose period is over
   * takes this request as its probe when it belongs to the request's pool; otherwise the request is routed from
   * the table without ejected instances, skipping excluded ones. When ejection leaves nothing, the full table is
   * used: an instance that may be down beats no instance at all.
   */
  private routeAround(routed: Routed, ratio: number, chosen: Lane, options: RouteOptions | undefined): RouteDecision | undefined {
    const exclude = options?.exclude;
    const outliers = routed.outliers;
    let table = routed.table;
    if (outliers && outliers.out > 0) {
      const now = Date.now();
      if (options?.probe !== false && now >= outliers.nextProbeAt) {
        // Same pool rule as the router (lanePool): the lane's own, else base, else every base and gray instance.
        const pool = lanePool(table, chosen, routed.snapshot.config.fallback)?.instances;
        const probe = pool && outliers.takeProbe(pool, (instance) => !exclude?.has(instance.id), now);
        if (probe) {
          this.safeEmit('probing', { service: routed.snapshot.service, instance: probe } satisfies OutlierEvent);
          return { lane: chosen, instance: probe };
        }
      }
      table = outliers.table(routed.snapshot.instances);
    }
    const skip = exclude?.size ? (instance: Instance) => exclude.has(instance.id) : undefined;
    const input = { ratio, lane: chosen, skip, crossLane: options?.crossLane ?? false, fallback: routed.snapshot.config.fallback };
    return route(table, input) ?? (table === routed.table ? undefined : route(routed.table, input));
  }

  /**
   * Whether `route()` would find an instance for a request of `lane` with these options, without picking one (the
   * balancers do not move). Ejected instances count: routing falls back to them when nothing else is left.
   */
  canRoute(service: string, lane: Lane | undefined, options?: RouteOptions): boolean {
    const routed = this.tables.get(service);
    if (!routed) return false;
    const { table } = routed;
    const exclude = options?.exclude;
    const usable = (instance: Instance) => !exclude?.has(instance.id);
    if (lane === undefined) return table.all.instances.some(usable) || [...table.lanes.values()].some((pool) => pool.instances.some(usable));
    const pool = lanePool(table, lane, routed.snapshot.config.fallback);
    if (!pool) return false;
    if (pool.instances.some(usable)) return true;
    if (options?.crossLane !== true || pool === table.all) return false;
    const other = table.lanes.get(lane === BASE_LANE ? 'gray' : BASE_LANE);
    return other !== undefined && other.instances.some(usable);
  }

  /** Routes, waiting for the service's first snapshot when needed (at most `timeout` ms). */
  async resolve(service: string, lane?: Lane, options?: RouteOptions): Promise<RouteDecision> {
    const decision = this.route(service, lane, options);
    if (decision) return decision;
    if (this.closed) throw new ClosedError(`the consumer routing service "${service}"`);
    if (this.session.unusable) throw this.session.unusable;
    await this.catalog.ready(service, this.timeout);
    // The 'change' listener above has built the table by now.
    return this.route(service, lane, options) as RouteDecision;
  }

  /**
   * Routes one outbound call made with an HTTP client graykit does not wrap (got, ky, node:http): in the lane of
   * the current request context, decided once per request at its first routed call as `grayRoute` decides it
   * (a pinned `lane` wins), waiting for the service's first snapshot when needed (at most `timeout` ms). Send the
   * call to `decision.instance` with `injectLane(headers, decision.lane)`, then report the outcome with
   * `reportSuccess`/`reportFailure` (README "Other HTTP clients").
   */
  resolveCall(service: string, options: { lane?: Lane; context?: ContextKind | ContextBackend; exclude?: ReadonlySet<string> } = {}): Promise<RouteDecision> {
    const backend = contextBackend(options.context ?? 'als');
    let calls = this.callRoutings.get(backend);
    if (!calls) this.callRoutings.set(backend, (calls = new CallRouting({ consumer: this, backend, laneHeader: DEFAULT_LANE_HEADER, propagation: DEFAULT_PROPAGATION })));
    const routeOptions = options.exclude ? { exclude: options.exclude } : undefined;
    try {
      const decision = calls.now(service, options.lane, routeOptions);
      return decision ? Promise.resolve(decision) : calls.later(service, options.lane, routeOptions);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Reports a connection-level failure of a request sent to `instanceId` (`host:port`): refused, reset before any
   * response, connect timeout. `consecutiveFailures` of them in a row eject the instance. useGray calls this.
   */
  reportFailure(service: string, instanceId: string): void {
    if (!this.outlier) return;
    const routed = this.tables.get(service);
    const instance = routed?.snapshot.instances.find((candidate) => candidate.id === instanceId);
    if (!routed || !instance) return; // gone from the registry already: nothing to eject
    routed.outliers ??= new ServiceOutliers(this.outlier);
    let routable = 0;
    for (const candidate of routed.snapshot.instances) if (candidate.weight > 0) routable++;
    const ejection = routed.outliers.failure(instanceId, Date.now(), routable);
    if (!ejection) return;
    this.connection.logger.warn(
      `service "${service}": ejecting instance ${instanceId} for ${ejection.ms} ms after ${ejection.failures} connection failures in a row`,
    );
    this.safeEmit('ejected', { service, instance, ms: ejection.ms, failures: ejection.failures } satisfies OutlierEvent);
  }

  /** Reports that a request sent to `instanceId` got a response (any status). A probe's success restores it. */
  reportSuccess(service: string, instanceId: string): void {
    const routed = this.tables.get(service);
    const outliers = routed?.outliers;
    if (!outliers?.has(instanceId)) return; // the common case: one map lookup
    if (!outliers.success(instanceId, Date.now())) return;
    const instance = routed!.snapshot.instances.find((candidate) => candidate.id === instanceId);
    this.connection.logger.info(`service "${service}": instance ${instanceId} answered its probe and is back in rotation`);
    if (instance) this.safeEmit('restored', { service, instance } satisfies OutlierEvent);
  }

  /** Reports that a request sent to `instanceId` ended with no outcome (cancelled, timed out): a probe is re-offered. */
  reportAbandoned(service: string, instanceId: string): void {
    this.tables.get(service)?.outliers?.abandon(instanceId, Date.now());
  }

  /** The instances of `service` currently out of rotation (ejected, or being probed). */
  ejected(service: string): EjectionInfo[] {
    return this.tables.get(service)?.outliers?.ejected() ?? [];
  }

  /** Emits without letting a listener's exception escape into the request that triggered it. */
  private safeEmit(event: string, payload: unknown): void {
    safeEmit(this, this.connection.logger, event, payload);
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

/**
 * Why `route()` found no instance for a call of `lane`, in the words of NoInstanceError: the one place every client
 * (consumer.route, resolveCall, grayRoute, useGray, grayDispatcher) gets its message from.
 */
function whyNoInstance(routed: Routed, lane: Lane): string {
  const { instances, config } = routed.snapshot;
  if (instances.length === 0) return 'no live instance is registered';
  if (instances.every((instance) => instance.weight <= 0)) return 'every instance has weight 0';
  if (config.fallback === 'none' && !routed.table.lanes.has(lane)) {
    return `no ${lane} instance, and the service's config says "fallback": "none" (strict lanes)`;
  }
  return 'every instance of the lane has already failed this request';
}

/** Creates a consumer: the long-lived object behind `grayRoute()`. Call `close()` when done. */
export function createConsumer(options: GrayConsumerOptions = {}): GrayConsumer {
  return new GrayConsumer(options);
}
