/**
 * Keeps one instance znode registered for as long as it is wanted: through reconnects, and through session expiry
 * (a new session creates it again). All writes run one at a time, in order.
 *
 * With credentials (README "Security") the instance znode gets world:anyone:r plus every permission for the
 * provider's identity, and nothing else is created: the service's `instances/` directory must have been laid out
 * by an operator (`graykit init`), since whoever creates the service's directory owns its config and overrides.
 */
import { EventEmitter } from 'node:events';
import { NotFoundError, isZkCode } from '../errors';
import type { InstanceMeta, Logger } from '../types';
import { createBackoff, type Backoff } from '../util/backoff';
import { ZK_CODES } from '../zk-codes';
import { encodeInstance } from './codec';
import { instanceDirectory } from './paths';
import type { ZkSession } from './zk-session';

export interface InstanceRegistrationOptions {
  session: ZkSession;
  root: string;
  service: string;
  /** The znode name, `host:port`. */
  id: string;
  meta: InstanceMeta;
  logger: Logger;
  /**
   * Another layout for the same instance (a Curator registration for Java services: curator.ts): the znode's path,
   * its directory, what it holds, and the fix when the directory is missing under `auth`. Default: graykit's own.
   */
  znode?: { path: string; dir: string; encode: (meta: InstanceMeta) => string; missingDir: string };
  /** First delay before retrying a failed registration, ms; doubles up to 10 s, with jitter (util/backoff.ts). */
  retryDelay?: number;
}

/**
 * Events: `registered` (path) every time the znode is (re)created; `deregistered` (path); `failed` (error) when a
 * registration attempt fails (it is retried).
 */
export class InstanceRegistration extends EventEmitter {
  readonly path: string;
  /** `instances`, or `lanes` for an instance of a named lane (paths.ts). */
  private readonly dir: string;
  private meta: InstanceMeta;
  private wanted = true;
  private queue: Promise<unknown> = Promise.resolve();
  private retryTimer?: NodeJS.Timeout;
  private readonly retry: Backoff;
  private isRegistered = false;
  /** The last failed attempt's error, for a `whenRegistered` that times out. */
  lastError?: Error;
  private readonly onConnected = () => this.scheduleEnsure();
  private readonly onExpired = () => {
    this.isRegistered = false;
  };

  constructor(private readonly options: InstanceRegistrationOptions) {
    super();
    this.dir = options.znode?.dir ?? instanceDirectory(options.root, options.service, options.meta.lane);
    this.path = options.znode?.path ?? `${this.dir}/${options.id}`;
    this.meta = { ...options.meta };
    this.retry = createBackoff({ initialMs: options.retryDelay ?? 200, maxMs: 10_000 });
    options.session.on('connected', this.onConnected);
    options.session.on('expired', this.onExpired);
    if (options.session.connected) this.scheduleEnsure();
  }

  get registered(): boolean {
    return this.isRegistered;
  }

  get metadata(): Readonly<InstanceMeta> {
    return this.meta;
  }

  /** Replaces the metadata and rewrites the znode's data in place (same znode, same session). */
  update(meta: InstanceMeta): Promise<void> {
    this.meta = { ...meta };
    return this.enqueue(async () => {
      if (!this.wanted || !this.isRegistered) return; // the next registration writes the new data
      try {
        await this.options.session.setData(this.path, this.encode(this.meta));
      } catch (error) {
        if (!isZkCode(error, ZK_CODES.NONODE)) throw error;
        this.isRegistered = false;
        this.scheduleEnsure();
      }
    });
  }

  /** Deletes the znode and stops re-registering. Resolves even when ZooKeeper is unreachable (after its deadline). */
  deregister(): Promise<void> {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    this.options.session.off('connected', this.onConnected);
    this.options.session.off('expired', this.onExpired);
    return this.enqueue(async () => {
      if (!this.isRegistered) return;
      try {
        await this.options.session.deleteIfExists(this.path);
      } catch (error) {
        this.options.logger.warn(`could not delete ${this.path} (${(error as Error).message}); it goes when the session ends`);
      }
      this.isRegistered = false;
      this.emit('deregistered', this.path);
    }).catch(() => undefined);
  }

  private encode(meta: InstanceMeta): string {
    return this.options.znode ? this.options.znode.encode(meta) : encodeInstance(meta);
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private scheduleEnsure(): void {
    if (!this.wanted) return;
    void this.enqueue(() => this.ensure()).then(
      () => this.retry.reset(),
      (error: Error) => {
        if (!this.wanted) return;
        this.lastError = error;
        this.emitFailed(error);
        // A client that cannot run (its native addon is missing) said what to run; retrying cannot help.
        if (this.options.session.unusable) return;
        const delay = this.retry.next();
        this.options.logger.warn(`registering ${this.path} failed (${error.message}); retrying in ${delay} ms`);
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.scheduleEnsure(), delay);
        this.retryTimer.unref();
      },
    );
  }

  private emitFailed(error: Error): void {
    // 'failed', not 'error': an unhandled 'error' event would crash the host application.
    if (this.listenerCount('failed') > 0) this.emit('failed', error);
  }

  /** Makes sure the znode exists, belongs to this session and holds the current metadata. */
  private async ensure(): Promise<void> {
    if (!this.wanted) return;
    const { session } = this.options;
    const data = this.encode(this.meta);
    const dir = this.dir;
    if (!session.authenticated) await session.mkdirp(dir);
    else if (!(await session.exists(dir))) {
      throw new NotFoundError(
        this.options.znode?.missingDir ??
          `the instances directory of service "${this.options.service}" (with \`auth\` set, a provider creates only its own instance znode: run \`graykit init ${this.options.service} --provider <digest id>\` as the operator)`,
        dir,
      );
    }
    let alreadyOurs = false;
    try {
      await session.create(this.path, data, 'ephemeral');
    } catch (error) {
      if (!isZkCode(error, ZK_CODES.NODEEXISTS)) throw error;
      const stat = await session.exists(this.path);
      if (stat && stat.ephemeralOwner === session.sessionId) {
        // Ours already (`connect` fires again after a reconnect of the same session): just refresh the data, and
        // finish securing it if an earlier attempt created it but lost its setACL to a dropped connection.
        await session.repairOpenAcl(this.path);
        await session.setData(this.path, data);
        alreadyOurs = true;
      } else {
        // Left by a dead session of ours that the server has not expired yet (Dubbo #5125), or held by another
        // process that claims the same host:port. Replace it: this process is the one listening there now.
        if (stat) this.options.logger.warn(`replacing ${this.path}, held by session ${stat.ephemeralOwner}`);
        await session.deleteIfExists(this.path);
        await session.create(this.path, data, 'ephemeral');
      }
    }
    if (!this.wanted) {
      await session.delete(this.path).catch(() => undefined);
      return;
    }
    // 'registered' means the znode was (re)created; a reconnect of the same session that finds it in place only
    // refreshed its data, and says nothing.
    if (alreadyOurs && this.isRegistered) return;
    this.isRegistered = true;
    this.lastError = undefined;
    this.options.logger.info(`registered ${this.path}`);
    this.emit('registered', this.path);
  }
}
