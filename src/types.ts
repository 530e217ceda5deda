/** Shared types. This module imports nothing, so every other module may import it. */

/**
 * A traffic lane's name: `normal` (the base lane), `gray` (the original design's canary lane), or any other lowercase
 * DNS label (`canary`, `pr-42`): a named lane. `isLaneName` is the one check of a name; `parseLane` reads one off the
 * wire.
 */
export type Lane = string;

/** The base lane: instances without a lane, and every request that is not steered elsewhere. */
export const BASE_LANE = 'normal';
/** The original design's canary lane: `gray: true` instances, and the share `ratio` sends. */
export const GRAY_LANE = 'gray';

/** Lowercase DNS label (RFC 1123): travels in a header, a baggage member and a znode name without encoding. */
const LANE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Whether `value` is a lane name: a lowercase DNS label of at most 63 characters. */
export function isLaneName(value: unknown): value is Lane {
  return typeof value === 'string' && LANE_NAME.test(value);
}

/**
 * A named lane: neither the base lane nor `gray`. Its instances register apart (`<service>/lanes/`), where consumers
 * of graykit 0.1.0, which know only gray and normal, never look.
 */
export function isNamedLane(lane: Lane): boolean {
  return lane !== BASE_LANE && lane !== GRAY_LANE;
}

/** Metadata an instance publishes as the JSON data of its ephemeral znode. Unknown fields are kept. */
export interface InstanceMeta {
  /** Whether the instance is a gray (canary) instance: the lane `gray`. */
  gray: boolean;
  /** The instance's lane when it is a named one (`pr-42`); absent: `gray` when `gray` is true, else `normal`. */
  lane?: Lane;
  /** Free-form version label, e.g. `v2`. */
  version?: string;
  /** Relative share of traffic inside its lane; 0 takes the instance out of rotation. Default 100. */
  weight: number;
  [field: string]: unknown;
}

/** One live, validated instance of a service, as the consumer's snapshot holds it. */
export interface Instance {
  /** `host:port`, the znode's name. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** In the lane `gray` (the same as `lane === 'gray'`). */
  readonly gray: boolean;
  /** Its lane: `normal`, `gray`, or a named lane. */
  readonly lane: Lane;
  readonly version?: string;
  readonly weight: number;
  /** The whole decoded metadata object, unknown fields included. */
  readonly meta: Readonly<Record<string, unknown>>;
  /** The instance znode's full path. */
  readonly path: string;
}

/**
 * A lane rule of a service's config: when the incoming request's header (or cookie) equals a value or matches a
 * regular expression, the request goes to `lane`. Exactly one of `header`/`cookie`, one of `equals`/`matches`.
 */
export interface LaneRule {
  header?: string;
  cookie?: string;
  equals?: string;
  matches?: string;
  lane: Lane;
}

/** A service's live config, from `<root>/services/<service>/config` (schema: schema/service-config.schema.json). */
export interface ServiceConfig {
  /** Share of requests (0-100) sent to the gray lane; overrides the consumer's local `ratio`. */
  ratio?: number;
  /**
   * Shares (0-100) of named lanes (`{"canary": 10}`), beside `ratio` (the share of `gray`); all shares together are
   * at most 100, the rest goes to the base lane.
   */
  lanes?: Record<Lane, number>;
  /**
   * Each lane's buckets (0-99) for per-user bucketing, written by the admin API as shares change so that a user
   * moves only between a lane and the base lane. Absent: `gray` takes the buckets below `ratio`, as before lanes.
   */
  buckets?: Record<Lane, number[]>;
  /** Header that carries the lane to the next hop, for calls to this service. */
  laneHeader?: string;
  /** Lane rules, first match wins. */
  rules?: LaneRule[];
  /** Request header whose value buckets users into lanes (stable per user). */
  hashBy?: string;
  /**
   * What a call gets when its lane has no instance: `all` (every instance serves it, the original design) or
   * `none` (strict lanes: the call fails with NoInstanceError). Absent: `all`.
   */
  fallback?: 'all' | 'none';
  /** CIDRs instance hosts must be in; narrows the consumer's own `allowedNetworks`, never widens it. */
  allowedNetworks?: string[];
}

/** Partial instance metadata an operator lays over an instance's own: `<root>/services/<s>/overrides/<host>:<port>`. */
export interface InstanceOverride {
  gray?: boolean;
  /** The lane consumers see the instance in (`normal` promotes a named lane's instance to the base version). */
  lane?: Lane;
  weight?: number;
  [field: string]: unknown;
}

/** What graykit logs through. `console` fits; so do pino and winston loggers. */
export interface Logger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

/** The request header that carries the lane to the next hop. */
export const DEFAULT_LANE_HEADER = 'x-gray-lane';

/**
 * A lane's entry of a record keyed by lane names, own properties only: `constructor` and `toString` are lane names
 * too, and must not read what Object.prototype holds under them.
 */
export function laneEntry<T>(record: Readonly<Record<Lane, T>> | undefined, lane: Lane): T | undefined {
  return record !== undefined && Object.prototype.hasOwnProperty.call(record, lane) ? record[lane] : undefined;
}

/** Reads a lane off the wire (header, baggage, message): a lane name in any case; anything else is no lane. */
export function parseLane(value: unknown): Lane | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (typeof text !== 'string' || text.length > 70) return undefined;
  const lower = text.trim().toLowerCase();
  return LANE_NAME.test(lower) ? lower : undefined;
}
