/**
 * The consumer's view of the registry: an in-memory snapshot of each watched service, so that routing never waits
 * on ZooKeeper. A fold over the registry mirror (mirror.ts), which watches, decodes and judges each instance
 * (verdict.ts); this module makes snapshots of what it holds:
 *
 * - A lost connection keeps every snapshot as it was; a new session re-reads everything (the mirror), and a
 *   snapshot is made only once every part of a service was read, so a reader never sees a half-read service.
 * - Only the instances the mirror's verdict routes are in a snapshot; each one skipped, and each invalid config or
 *   override, is logged once (naming the service and the znode, with the verdict's reason); the last valid config
 *   and the instance's own data are used meanwhile.
 * - A rollout's dead-man's switch: the mirror reads the rollout znode and its lease together, at one moment, and a
 *   snapshot says `rolloutCrashed` when rollout-verdict.ts judges that read crashed — only once it is current
 *   (loaded, both watches armed: no change pending). A lost connection or a new session of this consumer changes
 *   nothing until both are read again.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { RegistryUnavailableError } from '../errors';
import type { Instance, Logger, ServiceConfig } from '../types';
import { withTimeout } from '../util/time';
import { RegistryMirror, type MirroredService, type MirrorPart } from './mirror';
import type { ResolvedCurator } from './curator';
import type { AddressPolicy } from './networks';
import { instancesPath, overridePath, servicesPath } from './paths';
import type { ZkSession } from './zk-session';

/** One service as the consumer sees it. Immutable: every change makes a new snapshot. */
export interface ServiceSnapshot {
  readonly service: string;
  /** Valid live instances with overrides applied, sorted by id. */
  readonly instances: readonly Instance[];
  /** The last valid config read from the config znode ({} when there is none); the same object until it changes. */
  readonly config: Readonly<ServiceConfig>;
  /** The instances directory znode, for error messages. */
  readonly path: string;
  /**
   * The service's rollout crashed (running, its lease definitely gone) and was started with on-crash `rollback`:
   * consumers route at ratio 0 until it is resumed or aborted. Lane pins (header, rules) still apply.
   */
  readonly rolloutCrashed: boolean;
  /** The lane of that rollout when it is not gray (a named lane's share then goes to 0 instead of the ratio). */
  readonly rolloutLane?: string;
}

/** What the catalog adds to a mirrored service: its snapshot, the rollout fold, and what it logged. */
class ServiceState {
  rolloutCrashed = false;
  rolloutLane?: string;
  snapshot?: ServiceSnapshot;
  /** A snapshot is due (publishSoon). */
  publishing = false;
  /** When the last snapshot was made (performance.now()). */
  publishedAt = -Infinity;
  /** The last reason logged for an invalid znode, so each problem is logged once. */
  readonly invalid = new Map<string, string>();
  constructor(readonly mirrored: MirroredService) {}
}

export interface RegistryCatalogOptions {
  session: ZkSession;
  root: string;
  logger: Logger;
  /** Which instance hosts may be routed to. Default: any but link-local and unspecified addresses. */
  addresses?: AddressPolicy;
  /** Also route Curator registrations (Java services). Default: none. */
  curator?: ResolvedCurator;
  /** How long a burst of changes may be gathered into one snapshot (publishSoon). Default: 10 ms; 0: never wait. */
  publishIntervalMs?: number;
  /** The mirror's jittered re-read after a new session (RegistryMirrorOptions). Default: 1000 ms. */
  rereadJitterMs?: number;
}

/**
 * Events: `change` (snapshot: ServiceSnapshot) after every change of a watched service; `services` (names: string[])
 * when the list of registered services changes.
 */
export class RegistryCatalog extends EventEmitter {
  private readonly session: ZkSession;
  private readonly root: string;
  private readonly logger: Logger;
  private readonly publishIntervalMs: number;
  private readonly mirror: RegistryMirror;
  private readonly services = new Map<string, ServiceState>();
  private serviceNames?: ReadonlySet<string>;
  private closed = false;
  private readonly firstSnapshots = new Map<string, Promise<ServiceSnapshot>>();
  private firstList?: Promise<ReadonlySet<string>>;

  constructor(options: RegistryCatalogOptions) {
    super();
    this.session = options.session;
    this.root = options.root;
    this.logger = options.logger;
    this.publishIntervalMs = options.publishIntervalMs ?? 10;
    this.mirror = new RegistryMirror({ session: options.session, root: options.root, logger: options.logger, addresses: options.addresses, curator: options.curator, rereadJitterMs: options.rereadJitterMs });
    this.mirror.on('change', (service: string, part: MirrorPart) => this.onChange(service, part));
    // Loaded: a first read, or a new session's re-read, which may have found changes made while no watch was set.
    this.mirror.on('loaded', (service: string) => {
      const state = this.services.get(service);
      if (state) this.publish(service, state);
    });
    this.mirror.on('services', (names: string[], skipped: string[]) => this.onServiceList(names, skipped));
  }

  /** Names of the services registered under the root, or undefined before the list was first read. */
  get registeredServices(): ReadonlySet<string> | undefined {
    return this.serviceNames;
  }

  /** Starts watching a service (idempotent). */
  watch(service: string): void {
    if (this.closed || this.services.has(service)) return;
    this.services.set(service, new ServiceState(this.mirror.watch(service)));
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
    this.mirror.watchList();
    this.firstList ??= new Promise((resolve) => this.once('services', () => resolve(this.serviceNames as ReadonlySet<string>)));
    return withTimeout(this.firstList, timeoutMs, () => new RegistryUnavailableError('*', servicesPath(this.root), timeoutMs, { cause: this.session.unusable }));
  }

  close(): void {
    this.closed = true;
    this.mirror.close();
    this.removeAllListeners();
  }

  private onServiceList(names: readonly string[], skipped: readonly string[]): void {
    for (const path of skipped) this.logger.warn(`skipping service znode ${path}: not a valid service name (lower-case letters, digits, - _ .)`);
    this.serviceNames = new Set(names);
    this.emit('services', names);
  }

  private onChange(service: string, part: MirrorPart): void {
    const state = this.services.get(service);
    if (!state || this.closed) return;
    if (part === 'config') {
      const { decoded } = state.mirrored.configRead;
      this.reportInvalid(state, state.mirrored.config.path, decoded.ok ? undefined : decoded.reason, `service "${service}": ignoring invalid config at`, 'error', '; keeping the last valid config');
    }
    if (part === 'rollout') this.onRollout(service, state);
    else this.publishSoon(service, state);
  }

  /** Folds the rollout's verdict into `rolloutCrashed` (see the module comment for when it may). */
  private onRollout(service: string, state: ServiceState): void {
    const { rollout } = state.mirrored;
    if (rollout.stale) return;
    const { decoded, document, rollsBack: crashed } = rollout.verdict;
    if (decoded) this.reportInvalid(state, rollout.path, decoded.ok ? undefined : decoded.reason, `service "${service}": ignoring invalid rollout document at`, 'warn');
    const lane = crashed ? document?.options.lane : undefined;
    if (crashed === state.rolloutCrashed && lane === state.rolloutLane) return;
    state.rolloutCrashed = crashed;
    state.rolloutLane = lane;
    if (crashed) this.logger.warn(`service "${service}": rollout ${document?.id} crashed (its lease ${rollout.childPath} is gone): routing at ${document?.options.lane === undefined ? 'ratio' : `lane ${document.options.lane}'s share`} 0 until it is resumed or aborted`);
    else this.logger.info(`service "${service}": routing by the config's ratio again (rollout ${document?.id ?? ''} ${document?.state ?? 'gone'})`);
    this.publishSoon(service, state);
  }

  /**
   * Publishes a changed service, at most once every `publishIntervalMs`. A change to a quiet service (no snapshot in
   * the last interval) is published at the end of this turn of the event loop, with whatever else changed in the same
   * turn; later changes wait for the interval's end and go out together. A rolling deploy removes hundreds of
   * instances at once, each with its own watch event over many turns, and a snapshot per event rebuilt the service
   * hundreds of times (500 removals: 501 snapshots and 709 ms of CPU in one consumer, bench/scale).
   */
  private publishSoon(service: string, state: ServiceState): void {
    if (state.publishing) return;
    state.publishing = true;
    const run = () => {
      state.publishing = false;
      if (state.mirrored.loaded) this.publish(service, state);
    };
    const wait = state.publishedAt + this.publishIntervalMs - performance.now();
    if (wait <= 0) setImmediate(run);
    else setTimeout(run, wait).unref();
  }




  /** Logs an invalid znode once per distinct reason (undefined: it is valid now). */
  private reportInvalid(state: ServiceState, path: string, reason: string | undefined, message: string, level: 'warn' | 'error' = 'warn', suffix = ''): void {
    if (reason === undefined) {
      state.invalid.delete(path);
      return;
    }
    if (state.invalid.get(path) === reason) return;
    state.invalid.set(path, reason);
    this.logger[level](`${message} ${path}${level === 'error' ? ` (${reason})${suffix}` : `: ${reason}`}`);
  }

  private publish(service: string, state: ServiceState): void {
    if (this.closed || this.services.get(service) !== state) return;
    const instances: Instance[] = [];
    for (const verdict of state.mirrored.verdicts()) {
      const override = verdict.own.ok ? verdict.override : undefined;
      if (override) this.reportInvalid(state, overridePath(this.root, service, verdict.id), override.ok ? undefined : override.reason, `service "${service}": ignoring override`);
      this.reportInvalid(state, verdict.path, verdict.reason, `service "${service}": skipping instance`);
      if (verdict.routed) instances.push(verdict.routed);
    }
    const snapshot: ServiceSnapshot = Object.freeze({
      service,
      instances: Object.freeze(instances),
      config: state.mirrored.configRead.config,
      path: instancesPath(this.root, service),
      rolloutCrashed: state.rolloutCrashed,
      ...(state.rolloutLane === undefined ? {} : { rolloutLane: state.rolloutLane }),
    });
    state.snapshot = snapshot;
    state.publishedAt = performance.now();
    this.emit('change', snapshot);
  }
}
