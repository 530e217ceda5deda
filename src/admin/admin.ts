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
import { ConflictError, InvalidConfigError, InvalidOptionError, NotFoundError, ZooKeeperError } from '../errors';
import { READ_ALL_CREATOR_ALL, formatAcl, instancesDirAcl, isDigestId, isOpenAcl, type AclEntry } from '../registry/acl';
import { RegistryCatalog, type ServiceSnapshot } from '../registry/catalog';
import { decodeConfig, decodeInstanceMeta, decodeJsonObject, decodeOverride, parseInstanceId, validateConfig } from '../registry/codec';
import { openSession, resolveConnection, type ConnectionOptions, type ResolvedConnection } from '../registry/connection';
import { configPath, instancePath, instancesPath, isValidServiceName, overridePath, overridesPath, servicePath, servicesPath } from '../registry/paths';
import { ZK, isZkCode, type ZkSession } from '../registry/zk-session';
import type { Instance, InstanceOverride, ServiceConfig } from '../types';

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

/** What `init` did: each znode of the service's tree, whether it was created, and the ACL it has now. */
export interface InitResult {
  service: string;
  znodes: Array<{ path: string; created: boolean; acl: string }>;
  /** Things the operator should know: e.g. instances registered without credentials, which keep the open ACL. */
  warnings: string[];
}

export interface InitOptions {
  /**
   * Digest identities (`user:base64(sha1(user:password))`, see `digestId`) allowed to register instances of the
   * service: they get create and delete on its `instances/` directory, nothing else. Default none.
   */
  providers?: readonly string[];
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
  private catalog?: RegistryCatalog;

  constructor(options: AdminOptions = {}) {
    this.connection = resolveConnection(options);
    this.timeout = options.timeout ?? DEFAULT_ADMIN_OPTIONS.timeout;
    this.session = openSession(this.connection);
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
    try {
      return (await session.getChildren(servicesPath(this.root))).filter(isValidServiceName).sort();
    } catch (error) {
      if (isZkCode(error, ZK.NONODE)) return [];
      throw error;
    }
  }

  /** The config znode as read, with its version for a later compare-and-set. */
  async getConfig(service: string): Promise<VersionedConfig> {
    this.checkService(service);
    const session = await this.ready();
    const path = configPath(this.root, service);
    try {
      const { data, stat } = await session.getData(path);
      const decoded = decodeConfig(data);
      return decoded.ok ? { config: decoded.value, version: stat.version, path } : { config: {}, version: stat.version, path, error: decoded.reason };
    } catch (error) {
      if (isZkCode(error, ZK.NONODE)) return { config: {}, version: -1, path };
      throw error;
    }
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
      if (isZkCode(error, ZK.BADVERSION) || isZkCode(error, ZK.NODEEXISTS) || (version !== -1 && isZkCode(error, ZK.NONODE))) {
        throw new ConflictError(path, version);
      }
      throw error;
    }
  }

  /** Reads the config, applies `change` to it, and writes it back with a compare-and-set. */
  async updateConfig(service: string, change: (config: ServiceConfig) => ServiceConfig): Promise<VersionedConfig> {
    const current = await this.getConfig(service);
    if (current.error) throw new InvalidConfigError(current.path, `the current document is invalid (${current.error}); replace it whole with setConfig`);
    return this.setConfig(service, change({ ...current.config }), current.version);
  }

  /** Sets the service's gray ratio, live, for every consumer. */
  setRatio(service: string, ratio: number): Promise<VersionedConfig> {
    return this.updateConfig(service, (config) => ({ ...config, ratio }));
  }

  /** Everything about a service: config, and each instance's own, override and effective metadata. */
  async status(service: string): Promise<ServiceStatus> {
    this.checkService(service);
    const session = await this.ready();
    const dir = instancesPath(this.root, service);
    if (!(await session.exists(servicePath(this.root, service)))) throw new NotFoundError(`service "${service}"`, servicePath(this.root, service));
    const [config, ids, overrideIds] = await Promise.all([
      this.getConfig(service),
      session.getChildren(dir).catch((error) => (isZkCode(error, ZK.NONODE) ? [] : Promise.reject(error))),
      session.getChildren(overridesPath(this.root, service)).catch((error) => (isZkCode(error, ZK.NONODE) ? [] : Promise.reject(error))),
    ]);
    const overrideSet = new Set(overrideIds);
    const instances = await Promise.all(
      ids.sort().map(async (id): Promise<InstanceStatus | undefined> => {
        const path = instancePath(this.root, service, id);
        let data: Buffer | null;
        let since: Date;
        try {
          const read = await session.getData(path);
          data = read.data;
          since = read.stat.ctime;
        } catch (error) {
          if (isZkCode(error, ZK.NONODE)) return undefined; // gone meanwhile
          throw error;
        }
        const status: InstanceStatus = { id, path, since };
        const own = decodeJsonObject(data);
        if (!own.ok) return { ...status, error: own.reason };
        status.own = own.value;
        let meta = own.value;
        if (overrideSet.has(id)) {
          const override = await this.readOverride(service, id);
          if (override?.ok) {
            status.override = override.value;
            meta = { ...meta, ...override.value };
          } else if (override) status.error = `override ignored: ${override.reason}`;
        }
        const effective = decodeInstanceMeta(path, id, meta);
        if (effective.ok) status.effective = effective.value;
        else status.error = effective.reason;
        return status;
      }),
    );
    return { service, config, instances: instances.filter((x): x is InstanceStatus => x !== undefined) };
  }

  private async readOverride(service: string, id: string) {
    try {
      const { data } = await this.session.getData(overridePath(this.root, service, id));
      return decodeOverride(data);
    } catch (error) {
      if (isZkCode(error, ZK.NONODE)) return undefined;
      throw error;
    }
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
    if (!(await session.exists(instancePath(this.root, service, id)))) {
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
      if (isZkCode(error, ZK.BADVERSION) || isZkCode(error, ZK.NODEEXISTS)) throw new ConflictError(path, existing?.version ?? -1);
      throw error;
    }
  }

  /** Removes an instance's override: it routes by its own metadata again. Returns false when there was none. */
  async clearOverride(service: string, id: string): Promise<boolean> {
    this.checkService(service);
    this.checkInstanceId(id);
    const session = await this.ready();
    try {
      await session.delete(overridePath(this.root, service, id));
      return true;
    } catch (error) {
      if (isZkCode(error, ZK.NONODE)) return false;
      throw error;
    }
  }

  /**
   * Promotion: every instance that is gray now becomes formal (an override `gray: false`), then the ratio goes back
   * to 0 for the next release. Returns the ids promoted.
   */
  async promote(service: string): Promise<string[]> {
    const status = await this.status(service);
    const gray = status.instances.filter((instance) => instance.effective?.gray);
    // Formal first: once no instance is gray, every request goes to all instances whatever the ratio.
    for (const instance of gray) await this.setOverride(service, instance.id, { ...instance.override, gray: false });
    await this.setRatio(service, 0);
    return gray.map((instance) => instance.id);
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
   * Lays out a service's tree for a secured registry (README "Security"), creating what is missing and setting the
   * ACL of what exists. The root, `services/`, the service's directory, its config (when there is one), `overrides/`
   * and each override get world:anyone:r plus every permission for the operator (this admin's identity);
   * `instances/` gets the same plus create and delete for each provider identity. Needs `auth`; idempotent (run it
   * again to change the list of providers, which replaces the old one).
   */
  async init(service: string, options: InitOptions = {}): Promise<InitResult> {
    this.checkService(service);
    if (!this.session.authenticated) {
      throw new InvalidOptionError('auth', 'init sets ACLs for the operator identity: give the operator credentials (option auth, --auth or env GRAYKIT_ZK_AUTH)');
    }
    const providers = options.providers ?? [];
    const bad = providers.find((id) => !isDigestId(id));
    if (bad !== undefined) {
      throw new InvalidOptionError('providers', `${JSON.stringify(bad)} is not a digest identity user:base64(sha1(user:password)) (compute one with digestId() or \`graykit digest\`)`);
    }
    const session = await this.ready();
    const result: InitResult = { service, znodes: [], warnings: [] };
    const parent = this.root.slice(0, this.root.lastIndexOf('/'));
    if (parent) await session.mkdirp(parent); // above graykit's root: created if missing, never changed
    const tree: Array<[string, readonly AclEntry[]]> = [
      [this.root, READ_ALL_CREATOR_ALL],
      [servicesPath(this.root), READ_ALL_CREATOR_ALL],
      [servicePath(this.root, service), READ_ALL_CREATOR_ALL],
      [instancesPath(this.root, service), instancesDirAcl(providers)],
      [overridesPath(this.root, service), READ_ALL_CREATOR_ALL],
    ];
    for (const [path, acl] of tree) {
      let created = true;
      try {
        await session.create(path, '', 'persistent', acl);
      } catch (error) {
        const exists = isZkCode(error, ZK.NODEEXISTS) || (isZkCode(error, ZK.NOAUTH) && (await session.exists(path)) !== null);
        if (!exists) throw error;
        created = false;
        await session.setAcl(path, acl);
      }
      result.znodes.push({ path, created, acl: formatAcl((await session.getAcl(path)).acl) });
    }
    const config = configPath(this.root, service);
    if (await session.exists(config)) {
      await session.setAcl(config, READ_ALL_CREATOR_ALL);
      result.znodes.push({ path: config, created: false, acl: formatAcl((await session.getAcl(config)).acl) });
    }
    for (const id of await session.getChildren(overridesPath(this.root, service))) {
      const path = overridePath(this.root, service, id);
      await session.setAcl(path, READ_ALL_CREATOR_ALL).catch((error) => {
        if (!isZkCode(error, ZK.NONODE)) throw error;
      });
    }
    for (const id of await session.getChildren(instancesPath(this.root, service))) {
      const path = instancePath(this.root, service, id);
      try {
        if (isOpenAcl((await session.getAcl(path)).acl)) {
          result.warnings.push(`${path} was registered without credentials and keeps the open ACL until its provider registers again with its identity`);
        }
      } catch (error) {
        if (!(error instanceof ZooKeeperError && error.zkCode === ZK.NONODE)) throw error;
      }
    }
    if (providers.length === 0) result.warnings.push(`no provider identity given: only the operator may register instances of "${service}"`);
    return result;
  }

  /** Closes the ZooKeeper session. Idempotent. */
  close(): void {
    this.catalog?.close();
    this.session.close();
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
