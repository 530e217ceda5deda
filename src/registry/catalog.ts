/**
 * The consumer's view of the registry: an in-memory snapshot of each watched service, kept fresh by ZooKeeper
 * watches (watch.ts), so that routing never waits on ZooKeeper. This module only folds what the watches deliver
 * into snapshots:
 *
 * - A lost connection keeps every snapshot as it was; the same session's watches come back by themselves.
 * - A new session (after expiry) re-reads everything into fresh state and swaps it in whole, so a reader never
 *   sees a half-read service.
 * - Operator overrides (`overrides/<host>:<port>`) are merged over the instance's own metadata.
 * - Invalid data is logged once (naming the service and the znode) and never routed to; an invalid config or
 *   override is logged and the last valid config / the instance's own data is used.
 * - Only live instances are routed: an instance znode must be ephemeral (owned by a live session; a persistent one
 *   would be routed to forever, since nothing removes it), and its host must pass the address policy
 *   (networks.ts).
 * - A rollout's dead-man's switch: the rollout znode and its lease are watched too, read together at one moment,
 *   and a snapshot says `rolloutCrashed` when rollout-verdict.ts judges that read crashed — only once it is current
 *   (loaded, both watches armed: no change pending). A lost connection or a new session of this consumer changes
 *   nothing until both are read again.
 */
import { EventEmitter } from 'node:events';
import { RegistryUnavailableError } from '../errors';
import type { Instance, Logger, ServiceConfig } from '../types';
import { withTimeout } from '../util/time';
import { decodeConfig, effectiveInstance, type Decoded } from './codec';
import { AddressPolicy } from './networks';
import { configPath, instancePath, instancesPath, isValidServiceName, overridePath, overridesPath, servicesPath } from './paths';
import { RolloutWatch } from './rollout-verdict';
import { ChildrenWatch, DirectoryWatch, NodeWatch, type WatchHooks } from './watch';
import type { ZkSession } from './zk-session';

/** One service as the consumer sees it. Immutable: every change makes a new snapshot. */
export interface ServiceSnapshot {
  readonly service: string;
  /** Valid live instances with overrides applied, sorted by id. */
  readonly instances: readonly Instance[];
  /** The last valid config read from the config znode ({} when there is none). */
  readonly config: Readonly<ServiceConfig>;
  /** The instances directory znode, for error messages. */
  readonly path: string;
  /**
   * The service's rollout crashed (running, its lease definitely gone) and was started with on-crash `rollback`:
   * consumers route at ratio 0 until it is resumed or aborted. Lane pins (header, rules) still apply.
   */
  readonly rolloutCrashed: boolean;
}

/** How often reads that failed (connection loss, timeouts) are retried: never in a tight loop. */
const RETRY_MS = 500;

class ServiceState {
  config: ServiceConfig = {};
  configRead = false;
  rolloutCrashed = false;
  snapshot?: ServiceSnapshot;
  /** The last reason logged for an invalid znode, so each problem is logged once. */
  readonly invalid = new Map<string, string>();
  constructor(
    readonly instances: DirectoryWatch,
    readonly overrides: DirectoryWatch,
    readonly configNode: NodeWatch,
    readonly rollout: RolloutWatch,
  ) {}

  private get parts(): Array<DirectoryWatch | NodeWatch | RolloutWatch> {
    return [this.instances, this.overrides, this.configNode, this.rollout];
  }

  get loaded(): boolean {
    return this.parts.every((part) => part.loaded) && this.configRead;
  }

  reset(): void {
    for (const part of this.parts) part.reset();
  }

  /**
   * Re-reads what is stale (all of it at first). `skipInFlight`: leave a part whose read is in flight alone instead
   * of queueing another read behind it — from the periodic retry, a read in flight is slow, not failed, and queueing
   * a second one behind it read every directory of a slow first load twice.
   */
  reloadStale(skipInFlight: boolean): Promise<unknown> {
    return Promise.all(this.parts.filter((part) => part.stale && !(skipInFlight && part.reading)).map((part) => part.reload()));
  }
}

export interface RegistryCatalogOptions {
  session: ZkSession;
  root: string;
  logger: Logger;
  /** Which instance hosts may be routed to. Default: any but link-local and unspecified addresses. */
  addresses?: AddressPolicy;
}

const NOT_EPHEMERAL: Decoded<never> = { ok: false, reason: 'the znode is persistent: no live session owns it, so nothing would ever remove it (delete it, or let its provider register it)' };

/**
 * Events: `change` (snapshot: ServiceSnapshot) after every change of a watched service; `services` (names: string[])
 * when the list of registered services changes.
 */
export class RegistryCatalog extends EventEmitter {
  private readonly session: ZkSession;
  private readonly root: string;
  private readonly logger: Logger;
  private readonly addresses: AddressPolicy;
  private readonly services = new Map<string, ServiceState>();
  private readonly serviceList: ChildrenWatch;
  private serviceNames?: ReadonlySet<string>;
  private closed = false;
  private readonly retryTimer: NodeJS.Timeout;
  private readonly firstSnapshots = new Map<string, Promise<ServiceSnapshot>>();
  private firstList?: Promise<ReadonlySet<string>>;

  constructor(options: RegistryCatalogOptions) {
    super();
    this.session = options.session;
    this.root = options.root;
    this.logger = options.logger;
    this.addresses = options.addresses ?? new AddressPolicy();
    const listPath = servicesPath(this.root);
    this.serviceList = new ChildrenWatch(this.session, listPath, {
      isCurrent: () => !this.closed,
      onChange: () => this.onServiceList(),
      onError: (error) => this.logger.debug(`reading ${listPath} failed, will retry: ${error.message}`),
    });
    this.session.on('connected', (newSession: boolean) => this.onConnected(newSession));
    if (this.session.connected) this.onConnected(true);
    this.retryTimer = setInterval(() => this.retryStale(true), RETRY_MS);
    this.retryTimer.unref();
  }

  /** Names of the services registered under the root, or undefined before the list was first read. */
  get registeredServices(): ReadonlySet<string> | undefined {
    return this.serviceNames;
  }

  /** Starts watching a service (idempotent). */
  watch(service: string): void {
    if (this.closed || this.services.has(service)) return;
    const hooks: WatchHooks = {
      isCurrent: () => !this.closed && this.services.get(service) === state,
      onChange: () => {
        if (state.loaded) this.publish(service, state);
      },
      onError: (error) => this.logger.debug(`reading service "${service}" failed, will retry: ${error.message}`),
    };
    const configHooks: WatchHooks = { ...hooks, onChange: () => this.onConfig(service, state) };
    const rolloutHooks: WatchHooks = { ...hooks, onChange: () => this.onRollout(service, state) };
    const state: ServiceState = new ServiceState(
      new DirectoryWatch(this.session, instancesPath(this.root, service), hooks),
      new DirectoryWatch(this.session, overridesPath(this.root, service), hooks),
      new NodeWatch(this.session, configPath(this.root, service), configHooks),
      new RolloutWatch(this.session, this.root, service, rolloutHooks),
    );
    this.services.set(service, state);
    if (this.session.connected) void this.load(service, state, false);
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
    const path = instancesPath(this.root, service);
    return withTimeout(first, timeoutMs, () => new RegistryUnavailableError(service, path, timeoutMs, { cause: this.session.unusable }));
  }

  /** Resolves with the registered service names once read; rejects after `timeoutMs`. */
  servicesReady(timeoutMs: number): Promise<ReadonlySet<string>> {
    if (this.serviceNames) return Promise.resolve(this.serviceNames);
    if (this.session.connected) void this.serviceList.reload();
    this.firstList ??= new Promise((resolve) => this.once('services', () => resolve(this.serviceNames as ReadonlySet<string>)));
    return withTimeout(this.firstList, timeoutMs, () => new RegistryUnavailableError('*', servicesPath(this.root), timeoutMs, { cause: this.session.unusable }));
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
      this.serviceList.reset();
      for (const state of this.services.values()) state.reset();
    }
    this.retryStale(false);
  }

  /** Re-reads what is stale; from the periodic tick, reads in flight are left to finish (ServiceState.reloadStale). */
  private retryStale(tick: boolean): void {
    if (this.closed || !this.session.connected) return;
    const listWanted = this.serviceNames !== undefined || this.firstList !== undefined;
    if (listWanted && this.serviceList.stale && !(tick && this.serviceList.reading)) void this.serviceList.reload();
    for (const [service, state] of this.services) void this.load(service, state, tick);
  }

  private onServiceList(): void {
    const path = this.serviceList.path;
    const valid = this.serviceList.names.filter((name) => {
      if (isValidServiceName(name)) return true;
      this.logger.warn(`skipping service znode ${path}/${name}: not a valid service name`);
      return false;
    });
    this.serviceNames = new Set(valid);
    this.emit('services', valid);
  }

  private async load(service: string, state: ServiceState, skipInFlight: boolean): Promise<void> {
    await state.reloadStale(skipInFlight);
    if (state.loaded && !state.snapshot) this.publish(service, state);
  }

  /** Decodes the config znode's data; an invalid document is logged once and the last valid config kept. */
  private onConfig(service: string, state: ServiceState): void {
    const path = state.configNode.path;
    const decoded = decodeConfig(state.configNode.value?.data ?? null);
    if (decoded.ok) state.config = decoded.value;
    this.reportInvalid(state, path, decoded, `service "${service}": ignoring invalid config at`, 'error', '; keeping the last valid config');
    state.configRead = true;
    if (state.loaded) this.publish(service, state);
  }

  /** Folds the rollout znode and its lease into `rolloutCrashed` (see the module comment for when it may). */
  private onRollout(service: string, state: ServiceState): void {
    const { rollout } = state;
    if (rollout.stale) return;
    const { decoded, document, rollsBack: crashed } = rollout.verdict;
    if (decoded) this.reportInvalid(state, rollout.path, decoded, `service "${service}": ignoring invalid rollout document at`, 'warn');
    if (crashed === state.rolloutCrashed) return;
    state.rolloutCrashed = crashed;
    if (crashed) this.logger.warn(`service "${service}": rollout ${document?.id} crashed (its lease ${rollout.childPath} is gone): routing at ratio 0 until it is resumed or aborted`);
    else this.logger.info(`service "${service}": routing by the config's ratio again (rollout ${document?.id ?? ''} ${document?.state ?? 'gone'})`);
    if (state.loaded) this.publish(service, state);
  }

  /** Logs an invalid znode once per distinct reason. */
  private reportInvalid(state: ServiceState, path: string, decoded: Decoded<unknown>, message: string, level: 'warn' | 'error' = 'warn', suffix = ''): void {
    if (decoded.ok) {
      state.invalid.delete(path);
      return;
    }
    if (state.invalid.get(path) === decoded.reason) return;
    state.invalid.set(path, decoded.reason);
    this.logger[level](`${message} ${path}${level === 'error' ? ` (${decoded.reason})${suffix}` : `: ${decoded.reason}`}`);
  }

  private publish(service: string, state: ServiceState): void {
    if (this.closed || this.services.get(service) !== state) return;
    const instances: Instance[] = [];
    const skip = `service "${service}": skipping instance`;
    for (const [id, entry] of state.instances.entries) {
      const path = instancePath(this.root, service, id);
      if (entry.stat.ephemeralOwner === '0') {
        this.reportInvalid(state, path, NOT_EPHEMERAL, skip);
        continue;
      }
      const effective = effectiveInstance(path, id, entry.data, state.overrides.entries.get(id)?.data);
      if (!effective.own.ok) {
        this.reportInvalid(state, path, effective.own, skip);
        continue;
      }
      if (effective.override) this.reportInvalid(state, overridePath(this.root, service, id), effective.override, `service "${service}": ignoring override`);
      let decoded = effective.instance;
      const refusal = decoded.ok ? this.addresses.refusal(decoded.value.host, state.config.allowedNetworks) : undefined;
      if (refusal !== undefined) decoded = { ok: false, reason: refusal };
      this.reportInvalid(state, path, decoded, skip);
      if (decoded.ok) instances.push(decoded.value);
    }
    instances.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const snapshot: ServiceSnapshot = Object.freeze({
      service,
      instances: Object.freeze(instances),
      config: Object.freeze({ ...state.config }),
      path: instancesPath(this.root, service),
      rolloutCrashed: state.rolloutCrashed,
    });
    state.snapshot = snapshot;
    this.emit('change', snapshot);
  }
}
