/**
 * The registry as watched: one mirror per process role, which the consumer's catalog (catalog.ts) and the console's
 * model (console/model.ts) fold into their own views, as Curator's ServiceCache folds what CuratorCache delivers.
 *
 * - The list of services, read when someone wants it, and for each watched service one group of watches
 *   (watch.ts): its instances (of base and gray lanes, and of named lanes apart: paths.ts), their overrides, its config, and its rollout document with the rollout's lease, read
 *   together at one moment (rollout-verdict.ts).
 * - A lost connection keeps everything as it was; the same session's watches come back by themselves. A new session
 *   (after expiry) forgets every watch and re-reads everything, keeping the last values meanwhile. Reads that fail
 *   are retried on a short tick, for what is stale only.
 * - Each znode is decoded once, and again only when it changed: the config document (its regular expressions
 *   compiled once per version), and one verdict per instance (verdict.ts) given the config's `allowedNetworks`.
 *
 * - With a Curator source (curator.ts), each watched service has a sixth watch, on `<basePath>/<service>`, whose
 *   znodes are judged by the same verdict (judgeCuratorInstance) and listed with the service's instances; the list of
 *   services then includes the base path's children. A base path this session may not read (NOAUTH: a
 *   digest-protected `/services`) is reported once and counts as read and empty, so graykit's own instances still
 *   route; it is read again on the retry tick, and found once the ACL lets it.
 *
 * Events: `change` (service: string, part: MirrorPart) after a watched part of a service changed; `loaded`
 * (service) once a load left every part of a service read (a part's `change` may come before, when its reader
 * judged it alone); `services` (names: string[], skipped: string[])
 * when the list of services was read (skipped: paths of znodes whose names are not service names).
 */
import { EventEmitter } from 'node:events';
import type { Logger, ServiceConfig } from '../types';
import { isZkCode } from '../errors';
import { ZK_CODES } from '../zk-codes';
import type { Decoded } from './codec';
import { decodeConfigDocument } from './config-codec';
import type { ResolvedCurator } from './curator';
import { AddressPolicy } from './networks';
import { configPath, instancePath, instancesPath, isValidServiceName, laneInstancePath, laneInstancesPath, overridesPath, servicesPath } from './paths';
import { RolloutWatch } from './rollout-verdict';
import { judgeCuratorInstance, judgeInstance, type InstanceVerdict } from './verdict';
import { ChildrenWatch, DirectoryWatch, NodeWatch, type NodeValue, type WatchHooks } from './watch';
import type { ZkSession } from './zk-session';

/** What of a service changed. */
export type MirrorPart = 'instances' | 'overrides' | 'config' | 'rollout';

/** The session a mirror needs: the watch reads and the connection events. */
export type MirrorSession = Pick<ZkSession, 'getChildren' | 'getData' | 'exists' | 'connected' | 'on' | 'off'>;

/** A service's config znode, decoded once per version. */
export interface ConfigRead {
  /** The znode as read; null when it does not exist. */
  readonly value: NodeValue | null;
  /** The document as written (parsed), null when the znode does not exist or is not JSON. */
  readonly document: unknown;
  /** This version's config, or why consumers ignore it. */
  readonly decoded: Decoded<ServiceConfig>;
  /** What consumers route by: the last valid config read ({} when none). Frozen; the same object until it changes. */
  readonly config: Readonly<ServiceConfig>;
}

/** How often reads that failed (connection loss, timeouts) are retried: never in a tight loop. */
const RETRY_MS = 500;
const EMPTY_CONFIG: Readonly<ServiceConfig> = Object.freeze({});

/** Two reads of a znode that decode the same: the same read, or the same version of the same znode with the same bytes. */
function sameRead(a: NodeValue | null | undefined, b: NodeValue | null | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  const same = a.stat.version === b.stat.version && a.stat.ctime.getTime() === b.stat.ctime.getTime() && a.stat.ephemeralOwner === b.stat.ephemeralOwner;
  return same && (a.data === b.data || (a.data !== null && b.data !== null && a.data.equals(b.data)));
}

function byId(a: InstanceVerdict, b: InstanceVerdict): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

interface Judged {
  own: NodeValue;
  override: NodeValue | undefined;
  networks: readonly string[] | undefined;
  verdict: InstanceVerdict;
}

/** One watched service: its watches (the rollout znode and its lease as one) and what was decoded of them. */
export class MirroredService {
  readonly instances: DirectoryWatch;
  /** Instances of named lanes (`<service>/lanes/`); their changes are `instances` changes. */
  readonly laneInstances: DirectoryWatch;
  readonly overrides: DirectoryWatch;
  readonly config: NodeWatch;
  /** The rollout znode and its lease, read at one moment (the crash verdict: rollout-verdict.ts). */
  readonly rollout: RolloutWatch;
  /** The Curator registrations of the same name, with a Curator source. */
  readonly java?: DirectoryWatch;
  /** The Curator directory cannot be read with this session's credentials (NOAUTH): counted as read and empty. */
  javaDenied = false;
  /** `loaded` was announced since the last new session (RegistryMirror.announceLoaded). */
  announced = false;
  private configCache?: ConfigRead;
  private lastValid = EMPTY_CONFIG;
  private judged = new Map<string, Judged>();
  private verdictList?: readonly InstanceVerdict[];

  constructor(
    readonly name: string,
    session: MirrorSession,
    private readonly root: string,
    private readonly addresses: AddressPolicy,
    hooks: (part: MirrorPart) => WatchHooks,
    private readonly curator?: ResolvedCurator,
  ) {
    this.instances = new DirectoryWatch(session, instancesPath(root, name), hooks('instances'));
    this.laneInstances = new DirectoryWatch(session, laneInstancesPath(root, name), hooks('instances'));
    this.overrides = new DirectoryWatch(session, overridesPath(root, name), hooks('overrides'));
    this.config = new NodeWatch(session, configPath(root, name), hooks('config'));
    this.rollout = new RolloutWatch(session, root, name, hooks('rollout'));
    if (curator) this.java = new DirectoryWatch(session, `${curator.basePath}/${name}`, hooks('instances'));
  }

  get parts(): Array<DirectoryWatch | NodeWatch | RolloutWatch> {
    const parts = [this.instances, this.laneInstances, this.overrides, this.config, this.rollout];
    return this.java ? [...parts, this.java] : parts;
  }

  /** Every part read at least once since the last new session (a Curator directory denied to us counts as read). */
  get loaded(): boolean {
    return this.parts.every((part) => part.loaded || (part === this.java && this.javaDenied));
  }

  /** The config znode as last read, decoded once per version. */
  get configRead(): ConfigRead {
    const value = this.config.value;
    if (this.configCache && sameRead(this.configCache.value, value)) return this.configCache;
    const { document, config: decoded } = value ? decodeConfigDocument(value.data) : { document: null, config: { ok: true as const, value: {} } };
    if (decoded.ok) this.lastValid = Object.freeze(decoded.value);
    this.configCache = { value, document, decoded, config: this.lastValid };
    return this.configCache;
  }

  /** Every instance's verdict, sorted by id; an instance whose znodes and config did not change keeps its verdict. */
  verdicts(): readonly InstanceVerdict[] {
    if (this.verdictList) return this.verdictList;
    const networks = this.configRead.config.allowedNetworks;
    const judged = new Map<string, Judged>();
    const list: InstanceVerdict[] = [];
    const directories = [
      [this.instances, instancePath],
      [this.laneInstances, laneInstancePath],
    ] as const;
    for (const [directory, pathOf] of directories) {
      for (const [id, own] of directory.entries) {
        if (judged.has(id)) continue; // one instance registered in both directories: the `instances` one counts
        const override = this.overrides.entries.get(id);
        const prior = this.judged.get(id);
        const unchanged = prior && prior.networks === networks && sameRead(prior.own, own) && sameRead(prior.override, override);
        const verdict = unchanged ? prior.verdict : judgeInstance(pathOf(this.root, this.name, id), id, own, override, { policy: this.addresses, configNetworks: networks });
        judged.set(id, { own, override, networks, verdict });
        list.push(verdict);
      }
    }
    if (this.java && this.curator && !this.javaDenied) this.judgeJava(this.java, this.curator, networks, judged, list);
    list.sort(byId);
    this.judged = judged;
    this.verdictList = Object.freeze(list);
    return this.verdictList;
  }

  /**
   * Judges the Curator znodes into `list`. One that names the `host:port` of a graykit znode of the service is the
   * same instance (a graykit provider registered in both layouts): it is left out, without a warning, and
   * graykit's own znode is the one judged.
   */
  private judgeJava(java: DirectoryWatch, curator: ResolvedCurator, networks: readonly string[] | undefined, judged: Map<string, Judged>, list: InstanceVerdict[]): void {
    const ownIds = new Set(list.map((verdict) => verdict.id));
    for (const [name, own] of java.entries) {
      const key = `curator:${name}`;
      const prior = this.judged.get(key);
      // An override is looked up by the host:port the znode names; reusing a verdict needs that override unchanged too.
      const override = prior ? this.overrides.entries.get(prior.verdict.id) : undefined;
      const unchanged = prior && prior.networks === networks && sameRead(prior.own, own) && sameRead(prior.override, override);
      const verdict = unchanged
        ? prior.verdict
        : judgeCuratorInstance(this.name, `${java.path}/${name}`, own, (id) => this.overrides.entries.get(id), curator, { policy: this.addresses, configNetworks: networks });
      judged.set(key, { own, override: this.overrides.entries.get(verdict.id), networks, verdict });
      if (!(verdict.own.ok && ownIds.has(verdict.id))) list.push(verdict);
    }
  }

  /** After a change of `part`: what was derived of it is derived again (the config at once: see RegistryMirror). */
  changed(part: MirrorPart): void {
    if (part === 'config') void this.configRead;
    if (part === 'config' || part === 'instances' || part === 'overrides') this.verdictList = undefined;
  }

  /** A new session: every watch is gone. What was read stays until the next read replaces it. */
  reset(): void {
    this.announced = false;
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

export interface RegistryMirrorOptions {
  session: MirrorSession;
  root: string;
  logger: Logger;
  /** Which instance hosts may be routed to. Default: any but link-local and unspecified addresses. */
  addresses?: AddressPolicy;
  /** Prefix of the mirror's debug lines (`console: `). */
  label?: string;
  /** Also read Curator registrations (Java services: curator.ts). Default: none. */
  curator?: ResolvedCurator;
  /**
   * After a new session replaced an expired one, the re-read waits a random 0 to this many ms, so that a fleet whose
   * sessions expired together does not re-read the registry together (the last values stay meanwhile). Default 1000.
   */
  rereadJitterMs?: number;
}

export class RegistryMirror extends EventEmitter {
  readonly root: string;
  private readonly session: MirrorSession;
  private readonly logger: Logger;
  private readonly addresses: AddressPolicy;
  private readonly label: string;
  private readonly services = new Map<string, MirroredService>();
  private readonly serviceList: ChildrenWatch;
  /** The Curator base path's children, with a Curator source. */
  private readonly javaList?: ChildrenWatch;
  /** The Curator base path cannot be listed with this session's credentials (NOAUTH): reported once, counted empty. */
  private javaListDenied = false;
  private readonly curator?: ResolvedCurator;
  private listWanted = false;
  private closed = false;
  private readonly retryTimer: NodeJS.Timeout;
  private readonly rereadJitterMs: number;
  private connectedBefore = false;
  /** No re-read before this moment (Date.now()): the jittered wait after a new session. */
  private rereadAt = 0;
  private rereadTimer?: NodeJS.Timeout;
  private readonly onConnectedListener = (newSession?: boolean) => this.onConnected(newSession === true);

  constructor(options: RegistryMirrorOptions) {
    super();
    this.session = options.session;
    this.root = options.root;
    this.logger = options.logger;
    this.addresses = options.addresses ?? new AddressPolicy();
    this.label = options.label ?? '';
    this.curator = options.curator;
    this.rereadJitterMs = options.rereadJitterMs ?? 1000;
    const listOf = (path: string, java: boolean) =>
      new ChildrenWatch(this.session, path, {
        isCurrent: () => !this.closed,
        onChange: () => {
          if (java) this.javaListDenied = false;
          this.onServiceList();
        },
        onError: (error) => (java && isZkCode(error, ZK_CODES.NOAUTH) ? this.onJavaListDenied(path) : this.logger.debug(`${this.label}reading ${path} failed, will retry: ${error.message}`)),
      });
    this.serviceList = listOf(servicesPath(this.root), false);
    if (this.curator) this.javaList = listOf(this.curator.basePath, true);
    this.session.on('connected', this.onConnectedListener);
    if (this.session.connected) this.onConnected(true);
    this.retryTimer = setInterval(() => this.retryStale(true), RETRY_MS);
    this.retryTimer.unref();
  }

  /** The services znode's path. */
  get listPath(): string {
    return this.serviceList.path;
  }

  /** Reads the list of services from now on (idempotent); `services` follows each read. */
  watchList(): void {
    this.listWanted = true;
    if (this.closed || !this.session.connected) return;
    for (const list of this.lists) if (list.stale) void list.reload();
  }

  /** graykit's list of services, and the Curator base path's. */
  private get lists(): ChildrenWatch[] {
    return this.javaList ? [this.serviceList, this.javaList] : [this.serviceList];
  }

  /** Starts watching a service (idempotent) and returns it. */
  watch(name: string): MirroredService {
    const existing = this.services.get(name);
    if (existing) return existing;
    const service: MirroredService = new MirroredService(
      name,
      this.session,
      this.root,
      this.addresses,
      (part) => ({
        isCurrent: () => !this.closed && this.services.get(name) === service,
        onChange: () => {
          if (service.javaDenied && service.java?.loaded) service.javaDenied = false;
          service.changed(part);
          this.emit('change', name, part);
          this.announceLoaded(service);
        },
        onError: (error) => this.onReadError(service, error),
      }),
      this.curator,
    );
    this.services.set(name, service);
    if (!this.closed && this.session.connected) void this.load(service, false);
    return service;
  }

  /** Stops watching a service; late answers of its reads are dropped. */
  unwatch(name: string): void {
    const service = this.services.get(name);
    if (!service) return;
    this.services.delete(name);
    service.reset();
  }

  /** A watched service, or undefined. */
  service(name: string): MirroredService | undefined {
    return this.services.get(name);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.retryTimer);
    clearTimeout(this.rereadTimer);
    this.session.off('connected', this.onConnectedListener);
    this.services.clear();
    this.removeAllListeners();
  }

  /**
   * A failed read: retried on the tick. NOAUTH on the Curator directory is not a passing fault but a missing
   * credential: said once, with the fix, and the directory counts as read and empty meanwhile.
   */
  private onReadError(service: MirroredService, error: Error): void {
    const denied = service.java !== undefined && isZkCode(error, ZK_CODES.NOAUTH) && !service.java.loaded;
    if (!denied) {
      this.logger.debug(`${this.label}reading service "${service.name}" failed, will retry: ${error.message}`);
      return;
    }
    if (service.javaDenied) return;
    service.javaDenied = true;
    this.logger.warn(
      `${this.label}service "${service.name}": cannot read the Java registrations at ${service.java!.path} (NOAUTH: its ACL does not let this session read it); ` +
        'routing graykit\'s own instances only. Give the consumer `auth` credentials that the ACL lets read (digest user:password)',
    );
    service.changed('instances');
    this.emit('change', service.name, 'instances');
    this.announceLoaded(service);
  }

  private onConnected(newSession: boolean): void {
    if (this.closed) return;
    if (newSession) {
      // Watches died with the old session: re-arm everything from scratch, keeping what was read meanwhile.
      this.serviceList.reset();
      this.javaList?.reset();
      for (const service of this.services.values()) service.reset();
      if (this.connectedBefore && this.rereadJitterMs > 0) {
        const wait = Math.floor(Math.random() * this.rereadJitterMs);
        this.rereadAt = Date.now() + wait;
        clearTimeout(this.rereadTimer);
        // Not from the tick: a read of the old session may still count as in flight, and the tick leaves those alone.
        this.rereadTimer = setTimeout(() => {
          this.rereadAt = 0;
          this.retryStale(false);
        }, wait);
        this.rereadTimer.unref();
        return;
      }
    }
    this.connectedBefore = true;
    this.retryStale(false);
  }

  /** Re-reads what is stale; from the periodic tick, reads in flight are left to finish (MirroredService.reloadStale). */
  private retryStale(tick: boolean): void {
    if (this.closed || !this.session.connected || Date.now() < this.rereadAt) return;
    if (this.listWanted) {
      for (const list of this.lists) if (list.stale && !(tick && list.reading)) void list.reload();
    }
    for (const service of this.services.values()) void this.load(service, tick);
  }

  /** Reads what is stale of a service. */
  private async load(service: MirroredService, skipInFlight: boolean): Promise<void> {
    await service.reloadStale(skipInFlight);
    this.announceLoaded(service);
  }

  /**
   * `loaded`, once per session, when every part of the service has been read: the first read, or a new session's
   * re-read. Whichever read completes it announces it — the one a load() waited for, a read queued behind one from
   * before the session was lost, or a watch's: otherwise a re-read completed by a part whose change alters nothing
   * for the catalog (a rollout read again as it was) would leave the service's snapshot as it was before the session
   * was lost.
   */
  private announceLoaded(service: MirroredService): void {
    if (service.announced || !service.loaded || this.closed || this.services.get(service.name) !== service) return;
    service.announced = true;
    this.emit('loaded', service.name);
  }

  private onJavaListDenied(path: string): void {
    if (this.javaListDenied || this.javaList?.loaded) return;
    this.javaListDenied = true;
    this.logger.warn(`${this.label}cannot list the Java services at ${path} (NOAUTH: its ACL does not let this session read it); listing graykit's own services only. Give the consumer \`auth\` credentials that the ACL lets read`);
    this.onServiceList();
  }

  /** Once every list was read: the union of their service names (a Java-only service is a service too). */
  private onServiceList(): void {
    if (!this.lists.every((list) => list.loaded || (list === this.javaList && this.javaListDenied))) return;
    const names = new Set<string>();
    const skipped: string[] = [];
    for (const list of this.lists) {
      for (const name of list.names) {
        if (isValidServiceName(name)) names.add(name);
        else skipped.push(`${list.path}/${name}`);
      }
    }
    this.emit('services', [...names], skipped);
  }
}
