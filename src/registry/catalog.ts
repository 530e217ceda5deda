/**
 * The consumer's view of the registry: an in-memory snapshot of each watched service, kept fresh by ZooKeeper
 * watches, so that routing never waits on ZooKeeper.
 *
 * - Watches are one-shot: each one is re-armed when it fires, and never armed twice (a flag per watch).
 * - A lost connection keeps every snapshot as it was; the same session's watches come back by themselves.
 * - A new session (after expiry) re-reads everything into fresh state and swaps it in whole, so a reader never
 *   sees a half-read service.
 * - Invalid instance data is logged once (naming the service and the znode) and never routed to. An invalid config
 *   is logged and the last valid one is kept.
 */
import { EventEmitter } from 'node:events';
import { RegistryUnavailableError } from '../errors';
import type { Instance, Logger, ServiceConfig } from '../types';
import { decodeConfig, decodeInstance } from './codec';
import { configPath, instancePath, instancesPath, isValidServiceName, servicesPath } from './paths';
import { ZK, isZkCode, type Watcher, type ZkSession } from './zk-session';

/** One service as the consumer sees it. Immutable: every change makes a new snapshot. */
export interface ServiceSnapshot {
  readonly service: string;
  /** Valid live instances, sorted by id. */
  readonly instances: readonly Instance[];
  /** The last valid config read from the config znode ({} when there is none). */
  readonly config: Readonly<ServiceConfig>;
  /** The instances directory znode, for error messages. */
  readonly path: string;
}

const RETRY_MS = 500;

/** `promise`, or the error `onTimeout` makes after `timeoutMs`; the timer never keeps the process alive. */
function withTimeout<T>(promise: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

interface ServiceState {
  /** Instance data by znode name; `undefined` for a znode whose data is invalid. */
  instances: Map<string, Instance | undefined>;
  config: ServiceConfig;
  loaded: boolean;
  childrenWatch: boolean;
  configWatch: boolean;
  instanceWatches: Set<string>;
  /** Coalesces reloads: one runs at a time, and one more is queued at most. */
  running?: Promise<void>;
  again: boolean;
  /** The last reason logged for an invalid znode, so each problem is logged once. */
  invalid: Map<string, string>;
  snapshot?: ServiceSnapshot;
}

export interface RegistryCatalogOptions {
  session: ZkSession;
  root: string;
  logger: Logger;
}

/**
 * Events: `change` (snapshot: ServiceSnapshot) after every change of a watched service; `services` (names: string[])
 * when the list of registered services changes.
 */
export class RegistryCatalog extends EventEmitter {
  private readonly session: ZkSession;
  private readonly root: string;
  private readonly logger: Logger;
  private readonly services = new Map<string, ServiceState>();
  private serviceNames?: ReadonlySet<string>;
  private serviceListWatch = false;
  private listRunning?: Promise<void>;
  private generation = 0;
  private closed = false;
  private readonly retryTimer: NodeJS.Timeout;
  private readonly firstSnapshots = new Map<string, Promise<ServiceSnapshot>>();
  private firstList?: Promise<ReadonlySet<string>>;

  constructor(options: RegistryCatalogOptions) {
    super();
    this.session = options.session;
    this.root = options.root;
    this.logger = options.logger;
    this.session.on('connected', (newSession: boolean) => this.onConnected(newSession));
    if (this.session.connected) this.onConnected(true);
    // Reads that failed (connection loss, timeouts) are retried from here, never in a tight loop.
    this.retryTimer = setInterval(() => this.retryFailed(), RETRY_MS);
    this.retryTimer.unref();
  }

  /** Names of the services registered under the root, or undefined before the list was first read. */
  get registeredServices(): ReadonlySet<string> | undefined {
    return this.serviceNames;
  }

  /** Starts watching a service (idempotent). */
  watch(service: string): void {
    if (this.closed || this.services.has(service)) return;
    const state: ServiceState = {
      instances: new Map(),
      config: {},
      loaded: false,
      childrenWatch: false,
      configWatch: false,
      instanceWatches: new Set(),
      again: false,
      invalid: new Map(),
    };
    this.services.set(service, state);
    if (this.session.connected) this.reload(service, state);
  }

  /** The current snapshot of a watched service; undefined until its first full read. Never does I/O. */
  snapshot(service: string): ServiceSnapshot | undefined {
    return this.services.get(service)?.snapshot;
  }

  /** Resolves with the service's first snapshot; rejects with RegistryUnavailableError after `timeoutMs`. */
  ready(service: string, timeoutMs: number): Promise<ServiceSnapshot> {
    this.watch(service);
    const current = this.snapshot(service);
    if (current) return Promise.resolve(current);
    // One waiter per service, however many requests wait on it.
    let first = this.firstSnapshots.get(service);
    if (!first) {
      first = new Promise<ServiceSnapshot>((resolve) => {
        const onChange = (snapshot: ServiceSnapshot) => {
          if (snapshot.service !== service) return;
          this.off('change', onChange);
          this.firstSnapshots.delete(service);
          resolve(snapshot);
        };
        this.on('change', onChange);
      });
      this.firstSnapshots.set(service, first);
    }
    return withTimeout(first, timeoutMs, () => new RegistryUnavailableError(service, instancesPath(this.root, service), timeoutMs));
  }

  /** Resolves with the registered service names once read; rejects after `timeoutMs`. */
  servicesReady(timeoutMs: number): Promise<ReadonlySet<string>> {
    if (this.serviceNames) return Promise.resolve(this.serviceNames);
    this.loadServiceList();
    this.firstList ??= new Promise((resolve) => this.once('services', () => resolve(this.serviceNames as ReadonlySet<string>)));
    return withTimeout(this.firstList, timeoutMs, () => new RegistryUnavailableError('*', servicesPath(this.root), timeoutMs));
  }

  close(): void {
    this.closed = true;
    clearInterval(this.retryTimer);
    this.removeAllListeners();
  }

  private onConnected(newSession: boolean): void {
    if (this.closed) return;
    if (newSession) {
      // Watches died with the old session: re-arm everything from scratch, keeping the old snapshots meanwhile.
      this.generation++;
      this.serviceListWatch = false;
      for (const state of this.services.values()) {
        state.childrenWatch = false;
        state.configWatch = false;
        state.instanceWatches.clear();
        state.loaded = false;
      }
    }
    this.retryFailed();
  }

  private retryFailed(): void {
    if (this.closed || !this.session.connected) return;
    if (this.serviceNames === undefined || !this.serviceListWatch) {
      if (this.serviceNames !== undefined || this.listenerCount('services') > 0) this.loadServiceList();
    }
    for (const [service, state] of this.services) {
      if (!state.loaded || !state.childrenWatch || !state.configWatch) this.reload(service, state);
    }
  }

  private isCurrent(generation: number): boolean {
    return !this.closed && generation === this.generation;
  }

  // ---- the list of services -------------------------------------------------------------------------------

  private loadServiceList(): void {
    if (this.closed || this.listRunning || !this.session.connected) return;
    const generation = this.generation;
    const path = servicesPath(this.root);
    const watcher: Watcher = () => {
      if (!this.isCurrent(generation)) return;
      this.serviceListWatch = false;
      this.loadServiceList();
    };
    this.listRunning = (async () => {
      try {
        const names = await this.childrenOrAbsent(path, this.serviceListWatch ? undefined : watcher);
        if (!this.isCurrent(generation)) return;
        this.serviceListWatch = true;
        const valid = names.filter((name) => {
          if (isValidServiceName(name)) return true;
          this.logger.warn(`skipping service znode ${path}/${name}: not a valid service name`);
          return false;
        });
        this.serviceNames = new Set(valid);
        this.emit('services', valid);
      } catch (error) {
        if (!isZkCode(error, ZK.NONODE)) this.logger.debug(`reading ${path} failed: ${(error as Error).message}`);
      } finally {
        this.listRunning = undefined;
      }
    })();
  }

  // ---- one service --------------------------------------------------------------------------------------

  private reload(service: string, state: ServiceState): void {
    if (state.running) {
      state.again = true;
      return;
    }
    state.running = this.load(service, state)
      .catch((error) => this.logger.debug(`reading service "${service}" failed, will retry: ${(error as Error).message}`))
      .finally(() => {
        state.running = undefined;
        if (state.again && this.services.get(service) === state && !this.closed) {
          state.again = false;
          this.reload(service, state);
        }
      });
  }

  private async load(service: string, state: ServiceState): Promise<void> {
    const generation = this.generation;
    const dir = instancesPath(this.root, service);
    const fresh = !state.loaded;
    const onChildren: Watcher = () => {
      if (!this.isCurrent(generation)) return;
      state.childrenWatch = false;
      this.reload(service, state);
    };
    // The config and the instance list are read together; the snapshot is published once both are in.
    const [config, children] = await Promise.all([
      this.loadConfig(service, state, generation),
      this.childrenOrAbsent(dir, state.childrenWatch ? undefined : onChildren),
    ]);
    if (!this.isCurrent(generation)) return;
    state.childrenWatch = true;
    const listed = new Set(children);
    const toRead = children.filter((id) => fresh || !state.instances.has(id) || !state.instanceWatches.has(id));
    const results = await Promise.all(toRead.map((id) => this.readInstance(service, state, id, generation)));
    if (!this.isCurrent(generation)) return;
    // A fresh read (first one, or after a new session) replaces the old state whole; otherwise the changes are
    // applied to the live map, so that data-watch updates that landed meanwhile are kept.
    const instances = fresh ? new Map<string, Instance | undefined>() : state.instances;
    for (const id of instances.keys()) if (!listed.has(id)) instances.delete(id);
    toRead.forEach((id, i) => {
      const result = results[i];
      if (result === 'gone') instances.delete(id);
      else instances.set(id, result);
    });
    state.instances = instances;
    if (config !== 'unchanged') state.config = config;
    state.loaded = true;
    this.publish(service, state);
  }

  /**
   * The children of `path`, with a child watch; [] when `path` does not exist, with an exists watch instead so
   * that its creation is seen.
   */
  private async childrenOrAbsent(path: string, watcher: Watcher | undefined): Promise<string[]> {
    for (;;) {
      try {
        return await this.session.getChildren(path, watcher);
      } catch (error) {
        if (!isZkCode(error, ZK.NONODE)) throw error;
      }
      if (!(await this.session.exists(path, watcher))) return [];
      // Created between the two calls: read its children.
    }
  }

  /** Reads the config znode, arming an exists watch (which also fires on data changes). */
  private async loadConfig(service: string, state: ServiceState, generation: number): Promise<ServiceConfig | 'unchanged'> {
    const path = configPath(this.root, service);
    const onConfig: Watcher = () => {
      if (!this.isCurrent(generation)) return;
      state.configWatch = false;
      void this.loadConfig(service, state, generation)
        .then((config) => {
          if (!this.isCurrent(generation) || config === 'unchanged') return;
          state.config = config;
          if (state.loaded) this.publish(service, state);
        })
        .catch((error) => this.logger.debug(`reading ${path} failed, will retry: ${(error as Error).message}`));
    };
    const stat = await this.session.exists(path, state.configWatch ? undefined : onConfig);
    state.configWatch = true;
    if (!stat) return {};
    let data: Buffer | null;
    try {
      ({ data } = await this.session.getData(path));
    } catch (error) {
      if (isZkCode(error, ZK.NONODE)) return {};
      throw error;
    }
    const decoded = decodeConfig(data);
    if (decoded.ok) {
      state.invalid.delete(path);
      return decoded.value;
    }
    if (state.invalid.get(path) !== decoded.reason) {
      state.invalid.set(path, decoded.reason);
      this.logger.error(`service "${service}": ignoring invalid config at ${path} (${decoded.reason}); keeping the last valid config`);
    }
    return 'unchanged';
  }

  /** Reads one instance znode and arms its data watch. 'gone' when it no longer exists. */
  private async readInstance(service: string, state: ServiceState, id: string, generation: number): Promise<Instance | undefined | 'gone'> {
    const path = instancePath(this.root, service, id);
    const onData: Watcher = (event) => {
      if (!this.isCurrent(generation)) return;
      state.instanceWatches.delete(id);
      if (event.type === 'deleted') {
        if (state.instances.delete(id)) this.publish(service, state);
        return;
      }
      void this.readInstance(service, state, id, generation)
        .then((result) => {
          if (!this.isCurrent(generation)) return;
          if (result === 'gone') state.instances.delete(id);
          else state.instances.set(id, result);
          this.publish(service, state);
        })
        .catch((error) => {
          this.logger.debug(`reading ${path} failed, will retry: ${(error as Error).message}`);
          state.loaded = false; // the retry timer re-reads the service
        });
    };
    let data: Buffer | null;
    try {
      ({ data } = await this.session.getData(path, state.instanceWatches.has(id) ? undefined : onData));
    } catch (error) {
      if (isZkCode(error, ZK.NONODE)) return 'gone';
      throw error;
    }
    state.instanceWatches.add(id);
    const decoded = decodeInstance(path, id, data);
    if (decoded.ok) {
      state.invalid.delete(path);
      return decoded.value;
    }
    if (state.invalid.get(path) !== decoded.reason) {
      state.invalid.set(path, decoded.reason);
      this.logger.warn(`service "${service}": skipping instance ${path}: ${decoded.reason}`);
    }
    return undefined;
  }

  private publish(service: string, state: ServiceState): void {
    if (this.closed || this.services.get(service) !== state) return;
    const instances: Instance[] = [];
    for (const instance of state.instances.values()) if (instance) instances.push(instance);
    instances.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const snapshot: ServiceSnapshot = Object.freeze({
      service,
      instances: Object.freeze(instances),
      config: Object.freeze({ ...state.config }),
      path: instancesPath(this.root, service),
    });
    state.snapshot = snapshot;
    this.emit('change', snapshot);
  }
}
