/** Shared types. This module imports nothing, so every other module may import it. */

/** The two traffic lanes of a gray release. */
export type Lane = 'gray' | 'normal';

/** Metadata an instance publishes as the JSON data of its ephemeral znode. Unknown fields are kept. */
export interface InstanceMeta {
  /** Whether the instance is a gray (canary) instance. */
  gray: boolean;
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
  readonly gray: boolean;
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

/** Reads a lane header value: `gray` or `normal` (any case); anything else is no lane. */
export function parseLane(value: unknown): Lane | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (typeof text !== 'string') return undefined;
  const lower = text.trim().toLowerCase();
  return lower === 'gray' || lower === 'normal' ? lower : undefined;
}
