/**
 * The control plane: read the registry as operators see it (own metadata, overrides, effective metadata, config)
 * and change it — ratio, config, overrides, promote, rollback. The CLI and the tests use this API.
 *
 * Every write is a compare-and-set on the znode's version, so two operators cannot silently overwrite each other:
 * a write based on a stale read fails with ConflictError and changes nothing.
 *
 * With `auth` (the operator identity; README "Security") the znodes it creates get world:anyone:r plus every
 * permission for the operator, and `init` lays out a service's tree with the ACLs of the roles.
 */
import { ConflictError, InvalidConfigError, InvalidOptionError, NotFoundError, isZkCode } from '../errors';
import { RegistryCatalog, type ServiceSnapshot } from '../registry/catalog';
import { decodeOverride, LANE_NAME_RULE, parseInstanceId } from '../registry/codec';
import { decodeConfig, validateConfig } from '../registry/config-codec';
import { resolveConnection, type ConnectionOptions, type ResolvedConnection } from '../registry/connection';
import { configPath, instancePath, instancesPath, isValidServiceName, laneInstancePath, laneInstancesPath, overridePath, overridesPath, servicePath, servicesPath } from '../registry/paths';
import type { RolloutActor, RolloutDocument } from '../registry/rollout-state';
import { judgeInstance } from '../registry/verdict';
import type { ZkSession } from '../registry/zk-session';
import { withShare } from '../router/shares';
import { BASE_LANE, GRAY_LANE, isLaneName, type Instance, type InstanceOverride, type ServiceConfig } from '../types';
import { ZK_CODES } from '../zk-codes';
import { checkProviders, initService, type InitOptions, type InitResult } from './init';
import { summarizeLanes, type LaneSummary } from './lanes';
import { acquireRollout, readRollout, releaseRollout, writeRollout, type RolloutStatus } from './rollout-record';

export type { InitOptions, InitResult, UnvouchedInstance } from './init';
export type { RolloutStatus } from './rollout-record';

export interface AdminOptions extends ConnectionOptions {
  /** How long an operation may wait for the ZooKeeper connection, ms. Default 5000. */
  timeout?: number;
}

/** A config znode as read: the document and the version to write against (-1 when the znode does not exist). */
export interface VersionedConfig {
  config: ServiceConfig;
  version: number;
  path: string;
  /** Set when the znode holds an invalid document (consumers ignore it); `config` is then {}. */
  error?: string;
}

export interface InstanceStatus {
  id: string;
  path: string;
  /** The instance's own metadata, as it registered it (undefined when unreadable). */
  own?: Record<string, unknown>;
  /** The operator's override, if any. */
  override?: InstanceOverride;
  /** What consumers route by; undefined when the instance is invalid (then `error` says why). */
  effective?: Instance;
  error?: string;
  /** When the instance registered (its znode's creation). */
  since: Date;
}

export interface ServiceStatus {
  service: string;
  config: VersionedConfig;
  instances: InstanceStatus[];
}

export const DEFAULT_ADMIN_OPTIONS = { timeout: 5000 } as const;

function parseOrThrow<T>(decoded: { ok: true; value: T } | { ok: false; reason: string }, path: string): T {
  if (!decoded.ok) throw new InvalidConfigError(path, decoded.reason);
  return decoded.value;
}

export class GrayAdmin {
  readonly connection: ResolvedConnection;
  private readonly timeout: number;
  private readonly session: ZkSession;
  /** Whether the session is this handle's own (closed with it), or its owner's (the console's). */
  private readonly ownSession: boolean;
  private catalog?: RegistryCatalog;

  /**
   * `session`: run on a session the caller opened and closes (the console's: one session per process role), with
   * `options` still giving the root and the timeout. Default: a session of its own.
   */
  constructor(options: AdminOptions = {}, session?: ZkSession) {
    this.connection = resolveConnection(options);
    this.timeout = options.timeout ?? DEFAULT_ADMIN_OPTIONS.timeout;
    this.ownSession = session === undefined;
    this.session = session ?? this.connection.openSession();
  }

  private get root(): string {
    return this.connection.root;
  }

  private async ready(): Promise<ZkSession> {
    await this.session.whenConnected(this.timeout);
    return this.session;
  }

  private checkService(service: string): void {
    if (!isValidServiceName(service)) throw new InvalidOptionError('service', `${JSON.stringify(service)} is not a valid service name`);
  }

  /** An instance is named `host:port` (`[v6]:port`); anything else (`../config`) never reaches a znode path. */
  private checkInstanceId(id: string): void {
    const parsed = typeof id === 'string' ? parseInstanceId(id) : undefined;
    if (!parsed?.ok) throw new InvalidOptionError('instance', `${JSON.stringify(id)} is not host:port${parsed ? ` (${parsed.reason})` : ''}`);
  }

  /** Names of the services under the root. */
  async listServices(): Promise<string[]> {
    const session = await this.ready();
    return (await session.getChildrenOrEmpty(servicesPath(this.root))).filter(isValidServiceName).sort();
  }

  /** The config znode as read, with its version for a later compare-and-set. */
  async getConfig(service: string): Promise<VersionedConfig> {
    this.checkService(service);
    const session = await this.ready();
    const path = configPath(this.root, service);
    const read = await session.getDataOrNull(path);
    if (!read) return { config: {}, version: -1, path };
    const decoded = decodeConfig(read.data);
    return decoded.ok ? { config: decoded.value, version: read.stat.version, path } : { config: {}, version: read.stat.version, path, error: decoded.reason };
  }

  /**
   * Writes a whole config document after validating it. With `expectedVersion` (from getConfig) the write fails
   * with ConflictError when the znode changed meanwhile; -1 means "must not exist yet".
   */
  async setConfig(service: string, document: unknown, expectedVersion?: number): Promise<VersionedConfig> {
    this.checkService(service);
    const path = configPath(this.root, service);
    const config = parseOrThrow(validateConfig(document), path);
    const session = await this.ready();
    const version = expectedVersion ?? (await this.getConfig(service)).version;
    const data = JSON.stringify(config);
    try {
      if (version === -1) {
        await session.mkdirp(servicePath(this.root, service));
        await session.create(path, data, 'persistent');
        return { config, version: 0, path };
      }
      await session.repairOpenAcl(path);
      const stat = await session.setData(path, data, version);
      return { config, version: stat.version, path };
    } catch (error) {
      if (isZkCode(error, ZK_CODES.BADVERSION) || isZkCode(error, ZK_CODES.NODEEXISTS) || (version !== -1 && isZkCode(error, ZK_CODES.NONODE))) {
        throw new ConflictError(path, version);
      }
      throw error;
    }
  }

  /**
   * Reads the config, applies `change` to it, and writes it back with a compare-and-set. With `expectedVersion`
   * (the version the caller's change is based on, -1: no config yet) a config at any other version is a
   * ConflictError and nothing is written: a change made meanwhile is never overwritten.
   */
  async updateConfig(service: string, change: (config: ServiceConfig) => ServiceConfig, expectedVersion?: number): Promise<VersionedConfig> {
    const current = await this.getConfig(service);
    if (expectedVersion !== undefined && current.version !== expectedVersion) throw new ConflictError(current.path, expectedVersion);
    if (current.error) throw new InvalidConfigError(current.path, `the current document is invalid (${current.error}); replace it whole with setConfig`);
    return this.setConfig(service, change({ ...current.config }), current.version);
  }

  /** Sets the service's gray ratio, live, for every consumer; `expectedVersion` as in updateConfig. */
  setRatio(service: string, ratio: number, expectedVersion?: number): Promise<VersionedConfig> {
    return this.setShare(service, GRAY_LANE, ratio, expectedVersion);
  }

  /**
   * Sets one lane's share (`gray`: the ratio), live, for every consumer, with the bucket sets that keep per-user
   * bucketing stable (router/shares.ts): users move only between this lane and the base lane. Shares add up to at
   * most 100 (InvalidConfigError otherwise). `expectedVersion` as in updateConfig.
   */
  setShare(service: string, lane: string, share: number, expectedVersion?: number): Promise<VersionedConfig> {
    if (!isLaneName(lane) || lane === BASE_LANE) return Promise.reject(new InvalidOptionError('lane', `expected a lane other than the base lane (${LANE_NAME_RULE}), got ${JSON.stringify(lane)}`));
    return this.updateConfig(service, (config) => withShare(config, lane, share), expectedVersion);
  }

  /** Everything about a service: config, and each instance's own, override and effective metadata. */
  async status(service: string): Promise<ServiceStatus> {
    this.checkService(service);
    const session = await this.ready();
    if (!(await session.exists(servicePath(this.root, service)))) throw new NotFoundError(`service "${service}"`, servicePath(this.root, service));
    const [config, ids, laneIds, overrideIds] = await Promise.all([
      this.getConfig(service),
      session.getChildrenOrEmpty(instancesPath(this.root, service)),
      session.getChildrenOrEmpty(laneInstancesPath(this.root, service)),
      session.getChildrenOrEmpty(overridesPath(this.root, service)),
    ]);
    const overrideSet = new Set(overrideIds);
    // Instances of named lanes are apart (paths.ts); an id in both directories counts once, as the mirror counts it.
    const located = new Map<string, string>();
    for (const id of laneIds) located.set(id, laneInstancePath(this.root, service, id));
    for (const id of ids) located.set(id, instancePath(this.root, service, id));
    const instances = await Promise.all(
      [...located.keys()].sort().map(async (id): Promise<InstanceStatus | undefined> => {
        const path = located.get(id) as string;
        const [read, override] = await Promise.all([
          session.getDataOrNull(path),
          overrideSet.has(id) ? session.getDataOrNull(overridePath(this.root, service, id)) : undefined,
        ]);
        if (!read) return undefined; // gone meanwhile
        const status: InstanceStatus = { id, path, since: read.stat.ctime };
        // As consumers judge it, but for the address: which hosts a consumer accepts is that consumer's option.
        const verdict = judgeInstance(path, id, read, override ?? undefined);
        if (!verdict.own.ok) return { ...status, error: verdict.own.reason };
        status.own = verdict.own.value;
        if (verdict.override?.ok) status.override = verdict.override.value;
        else if (verdict.override) status.error = `override ignored: ${verdict.override.reason}`;
        if (verdict.routed) status.effective = verdict.routed;
        else status.error = verdict.reason;
        return status;
      }),
    );
    return { service, config, instances: instances.filter((x): x is InstanceStatus => x !== undefined) };
  }

  /**
   * Lays partial metadata over an instance's own (e.g. `{ gray: false }`), kept in a persistent znode: it survives
   * the provider's restarts and session loss until cleared. The instance must be registered now.
   */
  async setOverride(service: string, id: string, override: InstanceOverride): Promise<void> {
    this.checkService(service);
    this.checkInstanceId(id);
    const path = overridePath(this.root, service, id);
    const value = parseOrThrow(decodeOverride(JSON.stringify(override)), path);
    const session = await this.ready();
    if (!(await session.exists(instancePath(this.root, service, id))) && !(await session.exists(laneInstancePath(this.root, service, id)))) {
      throw new NotFoundError(`instance ${id} of service "${service}"`, instancePath(this.root, service, id));
    }
    const existing = await session.exists(path);
    try {
      if (existing) {
        await session.repairOpenAcl(path);
        await session.setData(path, JSON.stringify(value), existing.version);
      } else {
        await session.mkdirp(overridesPath(this.root, service));
        await session.create(path, JSON.stringify(value), 'persistent');
      }
    } catch (error) {
      if (isZkCode(error, ZK_CODES.BADVERSION) || isZkCode(error, ZK_CODES.NODEEXISTS)) throw new ConflictError(path, existing?.version ?? -1);
      throw error;
    }
  }

  /** Removes an instance's override: it routes by its own metadata again. Returns false when there was none. */
  async clearOverride(service: string, id: string): Promise<boolean> {
    this.checkService(service);
    this.checkInstanceId(id);
    const session = await this.ready();
    return session.deleteIfExists(overridePath(this.root, service, id));
  }

  /**
   * Promotion: every instance that is gray now (or in `lane`) becomes the base version (an override `gray: false`,
   * or `lane: "normal"` for a named lane), then the lane's share goes back to 0 for the next release. Returns the
   * ids promoted.
   */
  async promote(service: string, lane: string = GRAY_LANE): Promise<string[]> {
    if (!isLaneName(lane) || lane === BASE_LANE) throw new InvalidOptionError('lane', `expected a lane other than the base lane (${LANE_NAME_RULE}), got ${JSON.stringify(lane)}`);
    const status = await this.status(service);
    const members = status.instances.filter((instance) => instance.effective?.lane === lane);
    // The base version first: once the lane has no instance, its share is drawn into base anyway.
    const override: InstanceOverride = lane === GRAY_LANE ? { gray: false } : { lane: BASE_LANE };
    for (const instance of members) await this.setOverride(service, instance.id, { ...instance.override, ...override });
    await this.setShare(service, lane, 0);
    return members.map((instance) => instance.id);
  }

  /** The lanes that exist across services (instances in them, or a share in a config), for `graykit lanes`. */
  async lanes(): Promise<LaneSummary[]> {
    const statuses = await Promise.all((await this.listServices()).map((service) => this.status(service)));
    return summarizeLanes(
      statuses.map((status) => ({ service: status.service, config: status.config.config, instances: status.instances.map((instance) => ({ id: instance.id, lane: instance.effective?.lane })) })),
    );
  }

  /** Rollback: ratio 0, so gray instances get no traffic while a normal instance exists. Returns the gray ids. */
  async rollback(service: string): Promise<string[]> {
    const status = await this.status(service);
    await this.setRatio(service, 0);
    return status.instances.filter((instance) => instance.effective?.gray).map((instance) => instance.id);
  }

  /**
   * Calls `onChange` with the service's snapshot (what consumers route by) now and after every registry change.
   * Returns a function that stops watching.
   */
  watch(service: string, onChange: (snapshot: ServiceSnapshot) => void): () => void {
    this.checkService(service);
    this.catalog ??= new RegistryCatalog({ session: this.session, root: this.root, logger: this.connection.logger });
    const catalog = this.catalog;
    const listener = (snapshot: ServiceSnapshot) => {
      if (snapshot.service === service) onChange(snapshot);
    };
    catalog.on('change', listener);
    catalog.watch(service);
    const current = catalog.snapshot(service);
    if (current) onChange(current);
    return () => catalog.off('change', listener);
  }

  /**
   * The service's current or last rollout (README "Progressive rollout"): its document, whether its lease is held,
   * and whether it crashed (running with no lease) — what `graykit status` shows.
   */
  async rollout(service: string): Promise<RolloutStatus> {
    this.checkService(service);
    return readRollout(await this.ready(), this.root, service);
  }

  /**
   * Takes the service's rollout lease with this handle's session and records `document` as running (see
   * rollout-record.ts). Used by runRollout; throws RolloutBusyError when another rollout runs or crashed.
   */
  async acquireRollout(document: RolloutDocument, resume = false): Promise<{ version: number; owner: string }> {
    this.checkService(document.service);
    return acquireRollout(await this.ready(), this.root, document, resume);
  }

  /** Writes a rollout document with a compare-and-set (ConflictError when it changed since `version`). */
  async writeRollout(document: RolloutDocument, version: number): Promise<number> {
    this.checkService(document.service);
    return writeRollout(await this.ready(), this.root, document, version);
  }

  /** Deletes the service's rollout lease; false when there was none. */
  async releaseRollout(service: string): Promise<boolean> {
    this.checkService(service);
    return releaseRollout(await this.ready(), this.root, service);
  }

  /**
   * Asks the service's running (or crashed) rollout to stop: records `abort` in its document, which the running
   * rollout reads within its refresh period. Returns the rollout as it was before; throws NotFoundError when no
   * rollout is running. `graykit abort` then sets the ratio to 0 itself (rollout/abort.ts).
   */
  async requestRolloutAbort(service: string, by: RolloutActor): Promise<RolloutStatus> {
    for (;;) {
      const status = await this.rollout(service);
      if (status.document?.state !== 'running') {
        const last = status.document ? `; its last rollout ended ${status.document.state}` : status.error ? `; its rollout znode is invalid (${status.error})` : '';
        throw new NotFoundError(`a running rollout of service "${service}"${last} (to stop traffic to gray anyway: \`graykit rollback ${service}\`)`, status.path);
      }
      if (status.document.abort) return status;
      const document: RolloutDocument = { ...status.document, abort: { at: new Date().toISOString(), by }, updatedAt: new Date().toISOString() };
      try {
        await this.writeRollout(document, status.version);
        return status;
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error; // the rollout wrote meanwhile: read it again
      }
    }
  }

  /**
   * Lays out a service's tree for a secured registry (README "Security"), creating what is missing and setting the
   * ACL of what exists (init.ts). Needs `auth`; idempotent (run it again to change the list of providers, which
   * replaces the old one).
   */
  async init(service: string, options: InitOptions = {}): Promise<InitResult> {
    this.checkService(service);
    if (!this.connection.authenticated) {
      throw new InvalidOptionError('auth', 'init sets ACLs for the operator identity: give the operator credentials (option auth, --auth or env GRAYKIT_ZK_AUTH)');
    }
    checkProviders(options.providers ?? []);
    return initService(await this.ready(), this.root, service, options);
  }

  /** Closes the ZooKeeper session, when it is the handle's own. Idempotent. */
  close(): void {
    this.catalog?.close();
    if (this.ownSession) this.session.close();
  }
}

/**
 * Creates the admin handle used by the `graykit` CLI.
 *
 * @example
 * const admin = createAdmin({ zk: '127.0.0.1:2181' });
 * await admin.setRatio('demo', 33);
 * await admin.promote('demo');
 * admin.close();
 */
export function createAdmin(options: AdminOptions = {}): GrayAdmin {
  return new GrayAdmin(options);
}
