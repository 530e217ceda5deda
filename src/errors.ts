/**
 * graykit's errors. Every error is a GrayKitError with a stable `code`; those about the registry also carry the
 * service and the znode path they concern, and ZooKeeper failures keep ZooKeeper's numeric code in `zkCode`.
 * An error that wraps another keeps it as `cause`.
 */
import { isLaneName } from './types';
import { ZK_CODES } from './zk-codes';

export type GrayKitErrorCode =
  | 'ERR_GRAYKIT_INVALID_OPTION'
  | 'ERR_GRAYKIT_NO_INSTANCE'
  | 'ERR_GRAYKIT_REGISTRY_UNAVAILABLE'
  | 'ERR_GRAYKIT_ZOOKEEPER'
  | 'ERR_GRAYKIT_NATIVE_ADDON'
  | 'ERR_GRAYKIT_MISSING_DEPENDENCY'
  | 'ERR_GRAYKIT_CLOSED'
  | 'ERR_GRAYKIT_INVALID_CONFIG'
  | 'ERR_GRAYKIT_CONFLICT'
  | 'ERR_GRAYKIT_NOT_FOUND'
  | 'ERR_GRAYKIT_ACCESS_DENIED'
  | 'ERR_GRAYKIT_ROLLOUT_BUSY';

export class GrayKitError extends Error {
  readonly code: GrayKitErrorCode;
  constructor(code: GrayKitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GrayKitError';
    this.code = code;
  }
}

/** An option that cannot work; thrown by the factories when they are called, never later. */
export class InvalidOptionError extends GrayKitError {
  readonly option: string;
  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super('ERR_GRAYKIT_INVALID_OPTION', `graykit: invalid option \`${option}\`: ${message}`, options);
    this.name = 'InvalidOptionError';
    this.option = option;
  }
}

/** The service has no instance that can take the request (none registered, or none valid). */
export class NoInstanceError extends GrayKitError {
  readonly service: string;
  readonly path: string;
  /** The call's lane, when routing had chosen one. */
  readonly lane?: string;
  constructor(service: string, path: string, detail = 'no live instance is registered', lane?: string) {
    super('ERR_GRAYKIT_NO_INSTANCE', `graykit: service "${service}" has no instance to route to: ${detail} (znode ${path})`);
    this.name = 'NoInstanceError';
    this.service = service;
    this.path = path;
    this.lane = lane;
  }
}

/**
 * What was waited for from ZooKeeper did not come within the timeout: a service's first snapshot (consumers), a
 * registration (`whenRegistered`). `cause` is the last failure seen meanwhile, when there was one.
 */
export class RegistryUnavailableError extends GrayKitError {
  readonly service: string;
  readonly path: string;
  readonly timeoutMs: number;
  constructor(service: string, path: string, timeoutMs: number, options?: { cause?: unknown; waitingFor?: string }) {
    const what = options?.waitingFor ?? `no snapshot of service "${service}"`;
    super('ERR_GRAYKIT_REGISTRY_UNAVAILABLE', `graykit: ${what} within ${timeoutMs} ms: ZooKeeper is unreachable or slow (znode ${path})`, options);
    this.name = 'RegistryUnavailableError';
    this.service = service;
    this.path = path;
    this.timeoutMs = timeoutMs;
  }
}

/** A ZooKeeper operation failed; `zkCode` is ZooKeeper's own return code (ZK_CODES: NONODE, NODEEXISTS, …). */
export class ZooKeeperError extends GrayKitError {
  readonly zkCode: number;
  readonly operation: string;
  readonly path: string;
  constructor(operation: string, path: string, zkCode: number, zkMessage: string, options?: { cause?: unknown }) {
    super('ERR_GRAYKIT_ZOOKEEPER', `graykit: ZooKeeper ${operation} ${path} failed: ${zkCode} ${zkMessage}`, options);
    this.name = 'ZooKeeperError';
    this.zkCode = zkCode;
    this.operation = operation;
    this.path = path;
  }
}

/**
 * The `zookeeper` package's native addon could not be loaded: its install script did not run (npm 12 blocks
 * unapproved install scripts; `--ignore-scripts`) or it was built for another Node.js. The message says what to
 * run. Raised at the first connection, never at import.
 */
export class NativeAddonError extends GrayKitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_GRAYKIT_NATIVE_ADDON', message, options);
    this.name = 'NativeAddonError';
  }
}

/**
 * An optional dependency that the feature in use needs is not installed (express for `grayRegister`, prom-client
 * for metrics, cls-hooked for the `'cls'` context). The message names the package and the install command.
 */
export class MissingDependencyError extends GrayKitError {
  readonly dependency: string;
  constructor(dependency: string, feature: string, options?: { cause?: unknown }) {
    super('ERR_GRAYKIT_MISSING_DEPENDENCY', `graykit: ${feature} needs the package "${dependency}", which is not installed: run \`npm install ${dependency}\``, options);
    this.name = 'MissingDependencyError';
    this.dependency = dependency;
  }
}

/** The consumer, admin or console was closed and cannot serve the call. */
export class ClosedError extends GrayKitError {
  constructor(what: string) {
    super('ERR_GRAYKIT_CLOSED', `graykit: ${what} is closed`);
    this.name = 'ClosedError';
  }
}

/** A config (or override) document an operator tried to write is invalid; nothing was written. */
export class InvalidConfigError extends GrayKitError {
  readonly path: string;
  readonly reason: string;
  constructor(path: string, reason: string) {
    super('ERR_GRAYKIT_INVALID_CONFIG', `graykit: refusing to write ${path}: ${reason}`);
    this.name = 'InvalidConfigError';
    this.path = path;
    this.reason = reason;
  }
}

/** The znode changed since it was read (compare-and-set failed): someone else wrote it. Nothing was written. */
export class ConflictError extends GrayKitError {
  readonly path: string;
  readonly expectedVersion: number;
  constructor(path: string, expectedVersion: number) {
    super('ERR_GRAYKIT_CONFLICT', `graykit: ${path} was changed by someone else since version ${expectedVersion}; read it again and retry`);
    this.name = 'ConflictError';
    this.path = path;
    this.expectedVersion = expectedVersion;
  }
}

/** The service or instance named does not exist in the registry. */
export class NotFoundError extends GrayKitError {
  readonly path: string;
  constructor(what: string, path: string) {
    super('ERR_GRAYKIT_NOT_FOUND', `graykit: ${what} not found (znode ${path})`);
    this.name = 'NotFoundError';
    this.path = path;
  }
}

/**
 * A rollout of the service is already running (its lease is held), or one crashed and was neither resumed nor
 * aborted: a second rollout would fight it over the ratio. Nothing was changed; the message says what to run.
 */
export class RolloutBusyError extends GrayKitError {
  readonly service: string;
  readonly path: string;
  constructor(service: string, path: string, detail: string) {
    super('ERR_GRAYKIT_ROLLOUT_BUSY', `graykit: service "${service}": ${detail} (znode ${path})`);
    this.name = 'RolloutBusyError';
    this.service = service;
    this.path = path;
  }
}

/**
 * ZooKeeper refused an operation on a znode for lack of rights (ZK_CODES.NOAUTH: the znode's ACL does not grant the
 * session's identity the permission), or refused the session's credentials (ZK_CODES.AUTHFAILED). `identity` is the
 * digest user name the session authenticated as (never the password), undefined for an unauthenticated session.
 * A ZooKeeperError, so `zkCode`, `operation` and `path` are there too (README "Security").
 */
export class AccessDeniedError extends ZooKeeperError {
  readonly identity?: string;
  constructor(operation: string, path: string, zkCode: number, identity?: string, detail?: string) {
    super(operation, path, zkCode, zkCode === ZK_CODES.AUTHFAILED ? 'authentication failed' : 'not authorized');
    (this as { code: GrayKitErrorCode }).code = 'ERR_GRAYKIT_ACCESS_DENIED';
    this.name = 'AccessDeniedError';
    this.identity = identity;
    const who = identity === undefined ? 'an unauthenticated session' : `digest identity "${identity}"`;
    this.message =
      zkCode === ZK_CODES.AUTHFAILED
        ? `graykit: ZooKeeper refused the credentials of ${who} (${zkCode} authentication failed) while connecting to ${path}${detail ? `: ${detail}` : ''}`
        : `graykit: ZooKeeper refused to let ${who} ${operation} ${path} (${zkCode} not authorized)${detail ? `: ${detail}` : ': the znode\'s ACL does not allow it'}`;
  }
}

/** True when `error` is a ZooKeeperError with the given ZooKeeper code (ZK_CODES). */
export function isZkCode(error: unknown, code: number): boolean {
  return error instanceof ZooKeeperError && error.zkCode === code;
}

/**
 * What an error means to whoever reports it, in one vocabulary: the CLI's exit codes, the console's HTTP statuses and
 * the rollout's "wait out the registry" rule all read it from `errorKind`, so the same error means the same
 * everywhere.
 * - `unreachable`: ZooKeeper could not be reached or did not answer in time (the connection, not the request);
 * - `sessionExpired`: the session ended (expired, or moved to another client); a new one must be made;
 * - `accessDenied`: ZooKeeper refused the identity (an ACL, or the credentials);
 * - `conflict`: someone else wrote first (a compare-and-set lost; a znode created or changed meanwhile);
 * - `busy`: a rollout of the service is running or crashed: another would fight it;
 * - `invalid`: the input is wrong (an option, a config document); nothing was written;
 * - `notFound`: the service, instance, rollout or znode is not there;
 * - `unknown`: anything else (a bug, an unexpected ZooKeeper answer).
 */
export type ErrorKind = 'unreachable' | 'sessionExpired' | 'accessDenied' | 'conflict' | 'busy' | 'invalid' | 'notFound' | 'unknown';

const KIND_OF_CODE: Partial<Record<GrayKitErrorCode, ErrorKind>> = {
  ERR_GRAYKIT_INVALID_OPTION: 'invalid',
  ERR_GRAYKIT_INVALID_CONFIG: 'invalid',
  ERR_GRAYKIT_REGISTRY_UNAVAILABLE: 'unreachable',
  ERR_GRAYKIT_CONFLICT: 'conflict',
  ERR_GRAYKIT_NOT_FOUND: 'notFound',
  ERR_GRAYKIT_ACCESS_DENIED: 'accessDenied',
  ERR_GRAYKIT_ROLLOUT_BUSY: 'busy',
};

const KIND_OF_ZK_CODE = new Map<number, ErrorKind>([
  [ZK_CODES.CONNECTIONLOSS, 'unreachable'],
  [ZK_CODES.OPERATIONTIMEOUT, 'unreachable'],
  [ZK_CODES.INVALIDSTATE, 'unreachable'],
  [ZK_CODES.CLOSING, 'unreachable'],
  [ZK_CODES.SSLCONNECTIONERROR, 'unreachable'],
  [ZK_CODES.SESSIONEXPIRED, 'sessionExpired'],
  [ZK_CODES.SESSIONMOVED, 'sessionExpired'],
  [ZK_CODES.NOAUTH, 'accessDenied'],
  [ZK_CODES.AUTHFAILED, 'accessDenied'],
  [ZK_CODES.BADVERSION, 'conflict'],
  [ZK_CODES.NODEEXISTS, 'conflict'],
  [ZK_CODES.NOTEMPTY, 'conflict'],
  [ZK_CODES.NONODE, 'notFound'],
  [ZK_CODES.BADARGUMENTS, 'invalid'],
  [ZK_CODES.INVALIDACL, 'invalid'],
]);

/**
 * The kind of `error` (see ErrorKind): by graykit's error code; a ZooKeeperError by its ZooKeeper code (a failed
 * `connect` is unreachable whatever its code); an error that wraps one (`cause`) by what it wraps.
 */
export function errorKind(error: unknown): ErrorKind {
  for (let depth = 0; depth < 8 && error instanceof Error; depth++, error = error.cause) {
    if (error instanceof GrayKitError) {
      const kind = KIND_OF_CODE[error.code];
      if (kind) return kind;
    }
    if (error instanceof ZooKeeperError) return KIND_OF_ZK_CODE.get(error.zkCode) ?? (error.operation === 'connect' ? 'unreachable' : 'unknown');
  }
  return 'unknown';
}

/**
 * A lane handed to the API (`runInLane`, `injectLane`): a lane name, else InvalidOptionError. With any name a lane,
 * a typo (`'Gray'`, `'pr 42'`) would otherwise be a lane of its own that no instance is in.
 */
export function checkLaneName(lane: unknown, where: string): void {
  if (!isLaneName(lane)) {
    throw new InvalidOptionError('lane', `${where} takes a lane name (a lowercase DNS label such as "gray" or "pr-42"), got ${JSON.stringify(lane)}`);
  }
}
