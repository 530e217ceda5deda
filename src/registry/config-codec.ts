/**
 * The service config znode (`<root>/services/<service>/config`): its validation and encoding, one small decoder per
 * field. Pure; no I/O. Decoders never throw: a bad config comes back as `{ ok: false, reason }` naming the field,
 * and consumers keep routing by the last good one. The JSON parsing and its limits are codec.ts's, shared with
 * the instance znodes.
 */
import { BASE_LANE, isLaneName, isNamedLane, type Lane, type LaneRule, type ServiceConfig } from '../types';
import { BUCKETS, bucketDemand, totalShare } from '../router/shares';
import { checkJsonObject, describe, isHeaderName, isJsonObject, isValidRatio, LANE_NAME_RULE, parseJson, type Decoded } from './codec';
import { parseNetworks } from './networks';

export const MAX_RULES = 32;
export const MAX_PATTERN_LENGTH = 256;
const CONFIG_FIELDS = new Set(['ratio', 'lanes', 'buckets', 'laneHeader', 'rules', 'hashBy', 'fallback', 'allowedNetworks']);
/** More named lanes than this in one config is refused: lanes are releases under way, not a per-user map. */
export const MAX_LANES = 64;

/** A cookie name: the same RFC 9110 token of at most 64 characters as a header name. */
const isCookieName = isHeaderName;

/** `lanes`: a share per named lane (not `gray`, whose share is `ratio`, nor the base lane, which takes the rest). */
function decodeLaneShares(value: unknown): Decoded<Record<Lane, number>> {
  if (!isJsonObject(value)) return { ok: false, reason: '"lanes" is not an object of lane: share' };
  const entries = Object.entries(value);
  if (entries.length > MAX_LANES) return { ok: false, reason: `"lanes" has ${entries.length} lanes, more than ${MAX_LANES}` };
  const lanes: Record<Lane, number> = {};
  for (const [lane, share] of entries) {
    if (!isLaneName(lane)) return { ok: false, reason: `"lanes" names ${describe(lane)}, not ${LANE_NAME_RULE}` };
    if (!isNamedLane(lane)) return { ok: false, reason: `"lanes" names "${lane}": the share of gray is "ratio", the base lane takes the rest` };
    if (!isValidRatio(share)) return { ok: false, reason: `"lanes.${lane}" is ${describe(share)}, not a number from 0 to 100` };
    lanes[lane] = share === 0 ? 0 : share;
  }
  return { ok: true, value: lanes };
}

/** `buckets`: each lane's buckets (integers 0-99), no bucket in two lanes. */
function decodeBucketSets(value: unknown): Decoded<Record<Lane, number[]>> {
  if (!isJsonObject(value)) return { ok: false, reason: '"buckets" is not an object of lane: [bucket, ...]' };
  const entries = Object.entries(value);
  if (entries.length > MAX_LANES + 1) return { ok: false, reason: `"buckets" has ${entries.length} lanes, more than ${MAX_LANES + 1}` };
  const seen = new Set<number>();
  const sets: Record<Lane, number[]> = {};
  for (const [lane, list] of entries) {
    if (!isLaneName(lane) || lane === BASE_LANE) return { ok: false, reason: `"buckets" names ${describe(lane)}, not a lane other than the base lane` };
    if (!Array.isArray(list) || list.length > 100) return { ok: false, reason: `"buckets.${lane}" is not a list of buckets` };
    for (const bucket of list) {
      if (!Number.isInteger(bucket) || bucket < 0 || bucket > 99) return { ok: false, reason: `"buckets.${lane}" holds ${describe(bucket)}, not a bucket from 0 to 99` };
      if (seen.has(bucket)) return { ok: false, reason: `"buckets" gives bucket ${bucket} to two lanes` };
      seen.add(bucket);
    }
    sets[lane] = [...(list as number[])];
  }
  return { ok: true, value: sets };
}

/** A rule's key: exactly one of `header` (lower-cased) and `cookie`. */
function decodeRuleKey(at: string, header: unknown, cookie: unknown): Decoded<Pick<LaneRule, 'header' | 'cookie'>> {
  if ((header === undefined) === (cookie === undefined)) return { ok: false, reason: `"${at}" needs exactly one of "header" and "cookie"` };
  if (header !== undefined) return isHeaderName(header) ? { ok: true, value: { header: header.toLowerCase() } } : { ok: false, reason: `"${at}.header" is not a header name` };
  return isCookieName(cookie) ? { ok: true, value: { cookie } } : { ok: false, reason: `"${at}.cookie" is not a cookie name` };
}

/** A rule's test: exactly one of `equals` (a string) and `matches` (a bounded regular expression). */
function decodeRuleTest(at: string, equals: unknown, matches: unknown): Decoded<Pick<LaneRule, 'equals' | 'matches'>> {
  if ((equals === undefined) === (matches === undefined)) return { ok: false, reason: `"${at}" needs exactly one of "equals" and "matches"` };
  if (equals !== undefined) return typeof equals === 'string' ? { ok: true, value: { equals } } : { ok: false, reason: `"${at}.equals" is not a string` };
  if (typeof matches !== 'string' || matches.length > MAX_PATTERN_LENGTH) return { ok: false, reason: `"${at}.matches" is not a string of at most ${MAX_PATTERN_LENGTH} characters` };
  try {
    new RegExp(matches);
  } catch {
    return { ok: false, reason: `"${at}.matches" is not a valid regular expression` };
  }
  return { ok: true, value: { matches } };
}

function decodeRule(rule: unknown, index: number): Decoded<LaneRule> {
  const at = `rules[${index}]`;
  if (!isJsonObject(rule)) return { ok: false, reason: `"${at}" is not an object` };
  const { header, cookie, equals, matches, lane, ...rest } = rule;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return { ok: false, reason: `"${at}" has unknown field ${describe(unknown[0])}` };
  const key = decodeRuleKey(at, header, cookie);
  if (!key.ok) return key;
  const test = decodeRuleTest(at, equals, matches);
  if (!test.ok) return test;
  if (!isLaneName(lane)) return { ok: false, reason: `"${at}.lane" is ${describe(lane)}, not ${LANE_NAME_RULE}` };
  return { ok: true, value: { lane, ...key.value, ...test.value } };
}

/** `ratio` and `lanes`, which together may ask for at most the 100 buckets there are. */
function decodeShares(input: Record<string, unknown>): Decoded<ServiceConfig> {
  const config: ServiceConfig = {};
  if (input.ratio !== undefined) {
    if (!isValidRatio(input.ratio)) return { ok: false, reason: `"ratio" is ${describe(input.ratio)}, not a number from 0 to 100` };
    config.ratio = input.ratio === 0 ? 0 : input.ratio; // -0 is 0 (and JSON writes it so)
  }
  if (input.lanes !== undefined) {
    const lanes = decodeLaneShares(input.lanes);
    if (!lanes.ok) return lanes;
    config.lanes = lanes.value;
  }
  const total = totalShare(config.ratio, config.lanes);
  if (total > 100) return { ok: false, reason: `"ratio" and "lanes" add up to ${total}, more than 100` };
  const demand = bucketDemand(config.ratio, config.lanes);
  if (demand > BUCKETS) return { ok: false, reason: `"ratio" and "lanes" add up to more than 100 after rounding: they ask for ${demand} of the ${BUCKETS} buckets` };
  return { ok: true, value: config };
}

function decodeBuckets(input: Record<string, unknown>): Decoded<ServiceConfig> {
  if (input.buckets === undefined) return { ok: true, value: {} };
  const buckets = decodeBucketSets(input.buckets);
  return buckets.ok ? { ok: true, value: { buckets: buckets.value } } : buckets;
}

/** `laneHeader` or `hashBy`: a header name, lower-cased. */
function decodeHeaderField(field: 'laneHeader' | 'hashBy'): (input: Record<string, unknown>) => Decoded<ServiceConfig> {
  return function decodeHeader(input) {
    const value = input[field];
    if (value === undefined) return { ok: true, value: {} };
    if (!isHeaderName(value)) return { ok: false, reason: `"${field}" is ${describe(value)}, not a header name` };
    return { ok: true, value: { [field]: value.toLowerCase() } };
  };
}

function decodeFallback(input: Record<string, unknown>): Decoded<ServiceConfig> {
  if (input.fallback === undefined) return { ok: true, value: {} };
  if (input.fallback !== 'all' && input.fallback !== 'none') return { ok: false, reason: `"fallback" is ${describe(input.fallback)}, not "all" or "none"` };
  return { ok: true, value: { fallback: input.fallback } };
}

function decodeAllowedNetworks(input: Record<string, unknown>): Decoded<ServiceConfig> {
  if (input.allowedNetworks === undefined) return { ok: true, value: {} };
  const networks = parseNetworks(input.allowedNetworks);
  return networks.ok ? { ok: true, value: { allowedNetworks: [...(input.allowedNetworks as string[])] } } : networks;
}

function decodeRules(input: Record<string, unknown>): Decoded<ServiceConfig> {
  if (input.rules === undefined) return { ok: true, value: {} };
  if (!Array.isArray(input.rules)) return { ok: false, reason: '"rules" is not an array' };
  if (input.rules.length > MAX_RULES) return { ok: false, reason: `"rules" has ${input.rules.length} entries, more than ${MAX_RULES}` };
  const rules: LaneRule[] = [];
  for (let i = 0; i < input.rules.length; i++) {
    const rule = decodeRule(input.rules[i], i);
    if (!rule.ok) return rule;
    rules.push(rule.value);
  }
  return { ok: true, value: { rules } };
}

/** The field decoders in the order their reasons are reported (and their fields written). */
const FIELD_DECODERS: ReadonlyArray<(input: Record<string, unknown>) => Decoded<ServiceConfig>> = [
  decodeShares,
  decodeBuckets,
  decodeHeaderField('laneHeader'),
  decodeHeaderField('hashBy'),
  decodeFallback,
  decodeAllowedNetworks,
  decodeRules,
];

/**
 * Validates a service config object (schema/service-config.schema.json says the same). The reason names the field.
 * Unknown top-level fields are refused, so that a typo (`"ration": 50`) is an error and not a silent no-op.
 */
export function validateConfig(value: unknown): Decoded<ServiceConfig> {
  if (!isJsonObject(value)) return { ok: false, reason: 'config is not a JSON object' };
  const unknown = Object.keys(value).filter((key) => !CONFIG_FIELDS.has(key));
  if (unknown.length > 0) return { ok: false, reason: `unknown field ${describe(unknown[0])}` };
  const config: ServiceConfig = {};
  for (const decode of FIELD_DECODERS) {
    const part = decode(value);
    if (!part.ok) return part;
    Object.assign(config, part.value);
  }
  return { ok: true, value: config };
}

/** Decodes a service config znode; empty data is an empty config. */
export function decodeConfig(data: Buffer | string | null | undefined): Decoded<ServiceConfig> {
  return decodeConfigDocument(data).config;
}

/**
 * A config znode's data parsed once: the document as written (null when it is not JSON, {} when empty) and the
 * config it is, or why consumers ignore it.
 */
export function decodeConfigDocument(data: Buffer | string | null | undefined): { document: unknown; config: Decoded<ServiceConfig> } {
  if (data === null || data === undefined || data.length === 0) return { document: {}, config: { ok: true, value: {} } };
  const json = parseJson(data);
  if (!json.ok) return { document: null, config: json };
  const object = checkJsonObject(json.value);
  return { document: json.value, config: object.ok ? validateConfig(object.value) : object };
}

export function encodeConfig(config: ServiceConfig): string {
  return JSON.stringify(config);
}
