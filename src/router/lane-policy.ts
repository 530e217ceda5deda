/**
 * How a request that has no lane yet gets one, after a trusted lane header (handled where the request comes in):
 *
 *   1. header rules, 2. cookie rules (first match wins, in the order given),
 *   3. per-user bucketing: a stable hash of the user's key, modulo 100, compared with the ratio,
 *   4. otherwise nothing: the router draws by ratio.
 *
 * Bucketing is monotone: a user in the gray lane at ratio r stays gray at every ratio above r, so raising the ratio
 * only moves users from normal to gray (no share creep from cookie stickiness). With named lanes each lane owns a
 * set of buckets (shares.ts), so that changing one lane's share moves users only between it and the base lane.
 * Pure; no I/O.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { BASE_LANE, type Lane, type LaneRule } from '../types';
import { laneSplit, type LaneSplit } from './shares';

/** What the lane decision may read of the incoming request. */
export interface RequestView {
  readonly headers: IncomingHttpHeaders;
}

/** The user key for bucketing: a header name, or a function of the request (undefined: no key, no bucketing). */
export type HashBy = string | ((request: RequestView) => string | undefined);

/** A lane rule ready to run: where it reads (a header, lower-cased, or a cookie), what it tests, the lane it gives. */
export interface LaneRuleMatcher {
  readonly source: 'header' | 'cookie';
  readonly name: string;
  readonly test: (value: string) => boolean;
  readonly lane: Lane;
}

/** The rules and bucketing key in force for calls to one service (`GrayConsumer.lanePolicy`). */
export interface LanePolicy {
  readonly rules: readonly LaneRuleMatcher[];
  readonly hashBy?: HashBy;
}

export type LaneReason = 'header-rule' | 'cookie-rule' | 'bucket';

export function compileLanePolicy(rules: readonly LaneRule[] = [], hashBy?: HashBy): LanePolicy {
  return {
    rules: rules.map((rule) => {
      const pattern = rule.matches === undefined ? undefined : new RegExp(rule.matches);
      const equals = rule.equals;
      return {
        source: rule.header !== undefined ? 'header' : 'cookie',
        name: rule.header !== undefined ? rule.header.toLowerCase() : (rule.cookie as string),
        test: pattern ? (value: string) => pattern.test(value) : (value: string) => value === equals,
        lane: rule.lane,
      };
    }),
    hashBy: typeof hashBy === 'string' ? hashBy.toLowerCase() : hashBy,
  };
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** One cookie's value from a Cookie header; undefined when absent or not decodable. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }
  return undefined;
}

/** FNV-1a, 32 bits, over UTF-16 code units: stable across processes and versions, cheap, well spread. */
export function stableHash(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The user's bucket, 0-99. At ratio r the buckets below r are gray. */
export function bucketOf(key: string): number {
  return stableHash(key) % 100;
}

/** The lane of a bucketed user at a ratio: monotone in the ratio. */
export function bucketLane(key: string, ratio: number): Lane {
  return bucketOf(key) < ratio ? 'gray' : 'normal';
}

/** A user's lane under a split: the lane that owns the user's bucket, else the base lane. */
export function bucketLaneOf(key: string, split: LaneSplit): Lane {
  return split.buckets[bucketOf(key)] ?? BASE_LANE;
}

/**
 * Decides a lane from the rules and the user key. `split` is the service's split (shares.ts), or a gray ratio alone.
 * `forcing` says whether header and cookie rules may force a lane (the request comes from a trusted source).
 * Undefined: no rule matched and no key, so the shares decide.
 */
export function decideLane(request: RequestView, policy: LanePolicy, split: number | LaneSplit, forcing = true): { lane: Lane; reason: LaneReason } | undefined {
  if (forcing) {
    for (const rule of policy.rules) {
      const value = rule.source === 'header' ? headerValue(request.headers, rule.name) : cookieValue(headerValue(request.headers, 'cookie'), rule.name);
      if (value !== undefined && rule.test(value)) return { lane: rule.lane, reason: rule.source === 'header' ? 'header-rule' : 'cookie-rule' };
    }
  }
  const { hashBy } = policy;
  if (hashBy === undefined) return undefined;
  const key = typeof hashBy === 'string' ? headerValue(request.headers, hashBy) : hashBy(request);
  if (key === undefined || key === '') return undefined;
  return { lane: typeof split === 'number' ? bucketLane(key, split) : bucketLaneOf(key, split), reason: 'bucket' };
}
