/** The options every graykit entry point shares to reach ZooKeeper, with their defaults and checks. */
import { InvalidOptionError } from '../errors';
import { defaultLogger } from '../logger';
import type { Logger } from '../types';
import { parseCredentials } from './acl';
import { DEFAULT_ROOT, isValidRoot } from './paths';
import { ZkSession } from './zk-session';

export interface ConnectionOptions {
  /** ZooKeeper connect string, `host:port[,host:port...][/chroot]`. Default: env `ZK_CONNECT`, else `127.0.0.1:2181`. */
  zk?: string;
  /** Root znode of graykit's tree. Default: env `GRAYKIT_ROOT`, else `/graykit`. */
  root?: string;
  /** ZooKeeper session timeout, ms: how long after a crash the server drops an instance. Default 10000. */
  sessionTimeout?: number;
  /** Where graykit logs. Default: warnings and errors to the console. */
  logger?: Logger;
  /**
   * ZooKeeper digest credentials, `user:password`, presented on every connection. With them, every znode graykit
   * creates gets the ACL world:anyone:r plus every permission for this identity, and a provider creates only its
   * own instance znode (an operator lays out the tree: README "Security"). Default: env `GRAYKIT_ZK_AUTH`, else
   * none (anonymous; znodes get ZooKeeper's open ACL).
   */
  auth?: string;
}

export const DEFAULT_ZK_CONNECT = '127.0.0.1:2181';
export const DEFAULT_SESSION_TIMEOUT = 10_000;

/**
 * The checked connection options of one graykit object. The credentials live in a private field: no inspection
 * (`util.inspect` with `showHidden`), `JSON.stringify`, log line or error message can reach them; only the
 * sessions opened from here present them to ZooKeeper.
 */
export class ResolvedConnection {
  readonly #auth?: string;

  constructor(
    readonly zk: string,
    readonly root: string,
    readonly sessionTimeout: number,
    readonly logger: Logger,
    auth?: string,
  ) {
    this.#auth = auth;
  }

  /** Whether credentials were given. */
  get authenticated(): boolean {
    return this.#auth !== undefined;
  }

  /** The credentials' user name (never the password), for messages. */
  get identity(): string | undefined {
    return this.#auth === undefined ? undefined : parseCredentials(this.#auth)?.user;
  }

  /** Opens a session (it connects in the background) that presents the credentials on every connection. */
  openSession(): ZkSession {
    return new ZkSession({
      connect: this.zk,
      sessionTimeout: this.sessionTimeout,
      logger: this.logger,
      auth: this.#auth === undefined ? undefined : { scheme: 'digest', credentials: this.#auth },
    });
  }

  toJSON(): Record<string, unknown> {
    return { zk: this.zk, root: this.root, sessionTimeout: this.sessionTimeout, identity: this.identity };
  }
}

export function resolveConnection(options: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): ResolvedConnection {
  const zk = options.zk ?? env.ZK_CONNECT ?? DEFAULT_ZK_CONNECT;
  if (typeof zk !== 'string' || !/^[^\s,/]+(,[^\s,/]+)*(\/\S*)?$/.test(zk)) {
    throw new InvalidOptionError('zk', `expected host:port[,host:port...][/chroot], got ${JSON.stringify(zk)}`);
  }
  const root = options.root ?? env.GRAYKIT_ROOT ?? DEFAULT_ROOT;
  if (!isValidRoot(root)) throw new InvalidOptionError('root', `expected an absolute znode path like /graykit, got ${JSON.stringify(root)}`);
  const sessionTimeout = options.sessionTimeout ?? DEFAULT_SESSION_TIMEOUT;
  if (!Number.isInteger(sessionTimeout) || sessionTimeout < 1000) {
    throw new InvalidOptionError('sessionTimeout', `expected whole milliseconds >= 1000, got ${JSON.stringify(sessionTimeout)}`);
  }
  const logger = options.logger ?? defaultLogger;
  const auth = options.auth ?? (env.GRAYKIT_ZK_AUTH === '' ? undefined : env.GRAYKIT_ZK_AUTH);
  // The value is a secret: the error says what is wrong with it, never what it is.
  if (auth !== undefined && !parseCredentials(auth)) {
    const source = options.auth !== undefined ? 'option' : 'env GRAYKIT_ZK_AUTH';
    throw new InvalidOptionError('auth', `${source}: expected user:password (a user without ':' or spaces, and a non-empty password)`);
  }
  return new ResolvedConnection(zk, root, sessionTimeout, logger, auth);
}
