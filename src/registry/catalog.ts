/**
 * The consumer's view of the registry: an in-memory snapshot of each watched service, kept fresh by ZooKeeper
 * watches, so that routing never waits on ZooKeeper.
 *
 * - Watches are one-shot: each one is re-armed when it fires, and never armed twice (a flag per watch).
 * - A lost connection keeps every snapshot as it was; the same session's watches come back by themselves.
 * - A new session (after expiry) re-reads everything into fresh state and swaps it in whole, so a reader never
 *   sees a half-read service.
 * - Operator overrides (`overrides/<host>:<port>`) are merged over the instance's own metadata.
 * - Invalid data is logged once (naming the service and the znode) and never routed to; an invalid config or
 *   override is logged and the last valid config / the instance's own data is used.
 */
import { EventEmitter } from 'node:events';
import { RegistryUnavailableError } from '../errors';
import type { Instance, Logger, ServiceConfig } from '../types';
import { decodeConfig, decodeInstanceMeta, decodeJsonObject, decodeOverride, type Decoded } from './codec';
import { configPath, instancePath, instancesPath, isValidServiceName, overridePath, overridesPath, servicesPath } from './paths';
import { ZK, isZkCode, type Watcher, type ZkSession } from './zk-session';

/** One service as the consumer sees it. Immutable: every change makes a new snapshot. */
export interface ServiceSnapshot {
  readonly service: string;
  /** Valid live instances with overrides applied, sorted by id. */
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

/**
 * The children of one directory znode and each child's data, kept current by a child watch and one data watch per
 * child. `onChange` runs after every change that was applied.
 */
class DirectoryWatch {
  /** Raw data by child name. */
  entries = new Map<string, Buffer | null>();
  loaded = false;
  private childWatch = false;
  private readonly dataWatches = new Set<string>();
  private running?: Promise<void>;
  private again = false;

  constructor(
    private readonly session: ZkSession,
    readonly path: string,
    private readonly childPath: (name: string) => string,
    private readonly isCurrent: () => boolean,
    private readonly onChange: () => void,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Whether the directory needs a (re)read: never read, or a watch is not armed. */
  get stale(): boolean {
    return !this.loaded || !this.childWatch;
  }

  /** Whether a read is in flight (it will arm the watch, or fail and be retried). */
  get reading(): boolean {
    return this.running !== undefined;
  }

  /** After a new session: every watch is gone. The entries stay until the next read replaces them whole. */
  reset(): void {
    this.loaded = false;
    this.childWatch = false;
    this.dataWatches.clear();
  }

  /** Reads (coalesced: one read at a time, and one more queued at most). */
  reload(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.load()
      .catch((error: Error) => this.onError(error))
      .finally(() => {
        this.running = undefined;
        if (this.again && this.isCurrent()) {
          this.again = false;
          void this.reload();
        }
      });
    return this.running;
  }

  private async load(): Promise<void> {
    const fresh = !this.loaded;
    const onChildren: Watcher = () => {
      if (!this.isCurrent()) return;
      this.childWatch = false;
      void this.reload();
    };
    // Only a read that armed a watch may say one is armed: a read that passed none (because the flag said so) can
    // finish after that watch fired and cleared the flag (bench/analysis.md, "lost config watch").
    const arming = !this.childWatch;
    const names = await childrenOrAbsent(this.session, this.path, arming ? onChildren : undefined);
    if (!this.isCurrent()) return;
    if (arming) this.childWatch = true;
    const listed = new Set(names);
    const toRead = names.filter((name) => fresh || !this.entries.has(name) || !this.dataWatches.has(name));
    const results = await Promise.all(toRead.map((name) => this.readChild(name)));
    if (!this.isCurrent()) return;
    // A fresh read (first one, or after a new session) replaces the old entries whole; otherwise the changes are
    // applied to the live map, so that data-watch updates that landed meanwhile are kept.
    const entries = fresh ? new Map<string, Buffer | null>() : this.entries;
    for (const name of entries.keys()) if (!listed.has(name)) entries.delete(name);
    toRead.forEach((name, i) => {
      const result = results[i];
      if (result === 'gone') entries.delete(name);
      else entries.set(name, result);
    });
    this.entries = entries;
    this.loaded = true;
    this.onChange();
  }

  /** Reads one child and arms its data watch; 'gone' when it no longer exists. */
  private async readChild(name: string): Promise<Buffer | null | 'gone'> {
    const onData: Watcher = (event) => {
      if (!this.isCurrent()) return;
      this.dataWatches.delete(name);
      if (event.type === 'deleted') {
        if (this.entries.delete(name)) this.onChange();
        return;
      }
      this.readChild(name).then(
        (result) => {
          if (!this.isCurrent()) return;
          if (result === 'gone') this.entries.delete(name);
          else this.entries.set(name, result);
          this.onChange();
        },
        (error: Error) => {
          this.loaded = false; // the retry timer re-reads the directory
          this.onError(error);
        },
      );
    };
    try {
      const arming = !this.dataWatches.has(name);
      const { data } = await this.session.getData(this.childPath(name), arming ? onData : undefined);
      if (arming) this.dataWatches.add(name);
      return data;
    } catch (error) {
      if (isZkCode(error, ZK.NONODE)) return 'gone';
      throw error;
    }
  }
}

/**
 * The children of `path`, with a child watch; [] when `path` does not exist, with an exists watch instead so that
 * its creation is seen.
 */
async function childrenOrAbsent(session: ZkSession, path: string, watcher: Watcher | undefined): Promise<string[]> {
  for (;;) {
    try {
      return await session.getChildren(path, watcher);
    } catch (error) {
      if (!isZkCode(error, ZK.NONODE)) throw error;
    }
    if (!(await session.exists(path, watcher))) return [];
    // Created between the two calls: read its children.
  }
}

class ServiceState {
  config: ServiceConfig = {};
  configLoaded = false;
  configWatch = false;
  /** Config reads run one at a time (a late answer must not overwrite a newer one); one more is queued at most. */
  configRunning?: Promise<void>;
  configAgain = false;
  snapshot?: ServiceSnapshot;
  /** The last reason logged for an invalid znode, so each problem is logged once. */
  readonly invalid = new Map<string, string>();
  constructor(
    readonly instances: DirectoryWatch,
    readonly overrides: DirectoryWatch,
  ) {}

  get loaded(): boolean {
    return this.instances.loaded && this.overrides.loaded && this.configLoaded;
  }

  get stale(): boolean {
    return this.instances.stale || this.overrides.stale || !this.configLoaded || !this.configWatch;
  }
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
    this.retryTimer = setInterval(() => this.retryFailed(true), RETRY_MS);
    this.retryTimer.unref();
  }

  /** Names of the services registered under the root, or undefined before the list was first read. */
  get registeredServices(): ReadonlySet<string> | undefined {
    return this.serviceNames;
  }

  /** Starts watching a service (idempotent). */
  watch(service: string): void {
    if (this.closed || this.services.has(service)) return;
    const isCurrent = () => !this.closed && this.services.get(service) === state && this.session.connected;
    const onChange = () => {
      if (state.loaded) this.publish(service, state);
    };
    const onError = (error: Error) => this.logger.debug(`reading service "${service}" failed, will retry: ${error.message}`);
    const state: ServiceState = new ServiceState(
      new DirectoryWatch(this.session, instancesPath(this.root, service), (id) => instancePath(this.root, service, id), isCurrent, onChange, onError),
      new DirectoryWatch(this.session, overridesPath(this.root, service), (id) => overridePath(this.root, service, id), isCurrent, onChange, onError),
    );
    this.services.set(service, state);
    if (this.session.connected) void this.load(service, state);
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
        state.instances.reset();
        state.overrides.reset();
        state.configWatch = false;
        state.configLoaded = false;
      }
    }
    this.retryFailed();
  }

  /**
   * Re-reads what is stale. From the periodic tick (`tick`), a read still in flight is left to finish: it is not
   * failed, only slow (a first load of many services takes longer than the tick), and queueing a second one behind
   * it read every directory twice (bench/analysis.md, "a slow first load is read twice").
   */
  private retryFailed(tick = false): void {
    if (this.closed || !this.session.connected) return;
    if (!this.serviceListWatch && (this.serviceNames !== undefined || this.firstList !== undefined)) this.loadServiceList();
    for (const [service, state] of this.services) if (state.stale) void this.load(service, state, tick);
  }

  // ---- the list of services -------------------------------------------------------------------------------

  private loadServiceList(): void {
    if (this.closed || this.listRunning || !this.session.connected) return;
    const generation = this.generation;
    const path = servicesPath(this.root);
    const watcher: Watcher = () => {
      if (this.closed || generation !== this.generation) return;
      this.serviceListWatch = false;
      this.loadServiceList();
    };
    this.listRunning = (async () => {
      try {
        const arming = !this.serviceListWatch;
        const names = await childrenOrAbsent(this.session, path, arming ? watcher : undefined);
        if (this.closed || generation !== this.generation) return;
        if (arming) this.serviceListWatch = true;
        const valid = names.filter((name) => {
          if (isValidServiceName(name)) return true;
          this.logger.warn(`skipping service znode ${path}/${name}: not a valid service name`);
          return false;
        });
        this.serviceNames = new Set(valid);
        this.emit('services', valid);
      } catch (error) {
        this.logger.debug(`reading ${path} failed, will retry: ${(error as Error).message}`);
      } finally {
        this.listRunning = undefined;
      }
    })();
  }

  // ---- one service --------------------------------------------------------------------------------------

  /**
   * Reads what is stale of a service (all of it at first), then publishes once everything is in. `skipInFlight`:
   * leave a part whose read is in flight alone instead of queueing another read behind it.
   */
  private async load(service: string, state: ServiceState, skipInFlight = false): Promise<void> {
    const due = (stale: boolean, reading: boolean) => stale && !(skipInFlight && reading);
    // The directories publish when they finish (once all three parts are in); the config publishes here.
    await Promise.all([
      due(state.instances.stale, state.instances.reading) ? state.instances.reload() : undefined,
      due(state.overrides.stale, state.overrides.reading) ? state.overrides.reload() : undefined,
      due(!state.configLoaded || !state.configWatch, state.configRunning !== undefined) ? this.loadConfig(service, state) : undefined,
    ]);
    if (state.loaded && !state.snapshot) this.publish(service, state);
  }

  /** Reads the config znode (coalesced), arming an exists watch (which also fires on data changes). */
  private loadConfig(service: string, state: ServiceState): Promise<void> {
    if (state.configRunning) {
      state.configAgain = true;
      return state.configRunning;
    }
    state.configRunning = this.readConfig(service, state).finally(() => {
      state.configRunning = undefined;
      if (state.configAgain && !this.closed) {
        state.configAgain = false;
        void this.loadConfig(service, state);
      }
    });
    return state.configRunning;
  }

  private async readConfig(service: string, state: ServiceState): Promise<void> {
    const path = configPath(this.root, service);
    const generation = this.generation;
    const onConfig: Watcher = () => {
      if (this.closed || generation !== this.generation) return;
      state.configWatch = false;
      void this.loadConfig(service, state);
    };
    try {
      const arming = !state.configWatch;
      const stat = await this.session.exists(path, arming ? onConfig : undefined);
      if (arming) state.configWatch = true;
      let data: Buffer | null = null;
      if (stat) {
        try {
          ({ data } = await this.session.getData(path));
        } catch (error) {
          if (!isZkCode(error, ZK.NONODE)) throw error;
        }
      }
      if (generation !== this.generation) return;
      const decoded = decodeConfig(data);
      if (decoded.ok) {
        state.invalid.delete(path);
        state.config = decoded.value;
      } else if (state.invalid.get(path) !== decoded.reason) {
        state.invalid.set(path, decoded.reason);
        this.logger.error(`service "${service}": ignoring invalid config at ${path} (${decoded.reason}); keeping the last valid config`);
      }
      state.configLoaded = true;
      if (state.loaded) this.publish(service, state);
    } catch (error) {
      this.logger.debug(`reading ${path} failed, will retry: ${(error as Error).message}`);
    }
  }

  /** Logs an invalid znode once per distinct reason. */
  private reportInvalid(state: ServiceState, path: string, decoded: Decoded<unknown>, message: string): void {
    if (decoded.ok) {
      state.invalid.delete(path);
      return;
    }
    if (state.invalid.get(path) === decoded.reason) return;
    state.invalid.set(path, decoded.reason);
    this.logger.warn(`${message} ${path}: ${decoded.reason}`);
  }

  private publish(service: string, state: ServiceState): void {
    if (this.closed || this.services.get(service) !== state) return;
    const instances: Instance[] = [];
    for (const [id, data] of state.instances.entries) {
      const path = instancePath(this.root, service, id);
      const own = decodeJsonObject(data);
      if (!own.ok) {
        this.reportInvalid(state, path, own, `service "${service}": skipping instance`);
        continue;
      }
      let meta = own.value;
      const overrideData = state.overrides.entries.get(id);
      if (overrideData !== undefined) {
        const override = decodeOverride(overrideData);
        const opath = overridePath(this.root, service, id);
        this.reportInvalid(state, opath, override, `service "${service}": ignoring override`);
        if (override.ok) meta = { ...meta, ...override.value };
      }
      const decoded = decodeInstanceMeta(path, id, meta);
      this.reportInvalid(state, path, decoded, `service "${service}": skipping instance`);
      if (decoded.ok) instances.push(decoded.value);
    }
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
