/**
 * Encoding and validation of what lives in znodes: instance metadata and overrides here, service config in
 * config-codec.ts on the same helpers. Pure; no I/O.
 * Decoders never throw: they return `{ ok: false, reason }` so that the caller can skip the znode with a warning.
 *
 * Znode data is written by others (README "Security"): sizes and nesting are bounded, reasons quote values
 * through `describe` (bounded, and safe on anything), and a host is accepted only in the form a URL parser keeps
 * as it is, so that what is validated here is exactly where a rewritten request goes.
 */
import { isIP } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';
import { BASE_LANE, GRAY_LANE, isLaneName, isNamedLane, type Instance, type InstanceMeta, type InstanceOverride, type Lane } from '../types';

/** Larger znode data is refused: metadata is a handful of fields, and ZooKeeper itself caps data at 1 MiB. */
export const MAX_DATA_BYTES = 16 * 1024;
export const DEFAULT_WEIGHT = 100;
/**
 * Weights above this are refused: smooth weighted round-robin adds weights up, and a weight such as 1e308 would
 * make the sum infinite and the rotation stick; a million to one is more spread than any real fleet needs.
 */
export const MAX_WEIGHT = 1_000_000;
/** JSON nested deeper than this is refused: metadata is a handful of fields, and deep values break JSON.stringify. */
export const MAX_JSON_DEPTH = 32;

/** True for a ratio the router accepts: a finite number from 0 to 100. */
export function isValidRatio(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 100;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/**
 * The host as a URL keeps it, or undefined when it is not an IP address or a DNS host name. IPv6 comes back
 * compressed and lower-case without brackets (`0:0::1` -> `::1`), names lower-case. Refused: names that a URL
 * parser reads as IPv4 (`2130706433`, `0x7f.1`, `010.0.0.1` and `1.2.3` all mean other addresses), IPv6 zone ids
 * (`fe80::1%eth0`, which URLs cannot carry), Punycode labels that do not decode (`xn--a`), and anything the WHATWG
 * URL parser would change or reject.
 */
export function canonicalHost(host: unknown): string | undefined {
  if (typeof host !== 'string' || host.length === 0 || host.length > 253) return undefined;
  const family = isIP(host);
  if (family === 6) {
    if (host.includes('%')) return undefined;
    const parsed = urlHostname(`[${host}]`);
    return parsed?.startsWith('[') ? parsed.slice(1, -1) : undefined;
  }
  if (family === 4) return urlHostname(host) === host ? host : undefined;
  if (!HOSTNAME.test(host)) return undefined;
  const lower = host.toLowerCase();
  const last = lower.slice(lower.lastIndexOf('.') + 1);
  // WHATWG "ends in a number": such a name is parsed as an IPv4 address, not looked up.
  if (/^(?:\d+|0x[0-9a-f]*)$/.test(last)) return undefined;
  if (lower.includes('xn--') && lower.split('.').some((label) => label.startsWith('xn--') && !isValidALabel(label))) return undefined;
  return urlHostname(lower) === lower ? lower : undefined;
}

/**
 * An `xn--` label that is Punycode for a Unicode label and back. Checked here rather than left to the URL parser:
 * Node 22's refuses `xn--a`, Node 24's keeps it (the URL standard dropped that check), and one registry must mean
 * the same on every consumer.
 */
function isValidALabel(label: string): boolean {
  const unicode = domainToUnicode(label);
  return unicode !== '' && unicode !== label && domainToASCII(unicode) === label;
}

function urlHostname(host: string): string | undefined {
  try {
    return new URL(`http://${host}/`).hostname;
  } catch {
    return undefined;
  }
}

/** An IP address or a DNS host name, in a form URLs keep: no scheme, path, user info or port inside it. */
export function isValidHost(host: unknown): host is string {
  return canonicalHost(host) !== undefined;
}

export function isValidPort(port: unknown): port is number {
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** A weight consumers accept: a finite number from 0 to MAX_WEIGHT. */
export function isValidWeight(weight: unknown): weight is number {
  return typeof weight === 'number' && Number.isFinite(weight) && weight >= 0 && weight <= MAX_WEIGHT;
}

/** A value for a reason: JSON, at most 64 characters, and never an exception (deep or odd values included). */
export function describe(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? 'undefined' : (JSON.stringify(value) ?? String(typeof value));
  } catch {
    text = Array.isArray(value) ? '[…]' : typeof value === 'object' && value !== null ? '{…}' : typeof value;
  }
  return text.length > 64 ? `${text.slice(0, 63)}…` : text;
}

/** Whether a parsed JSON value nests deeper than `max` (iterative: no recursion on hostile input). */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= max) return true;
    for (const child of Object.values(current)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

/** Splits an instance znode name `host:port` (`[v6]:port` for IPv6). */
export function parseInstanceId(id: string): Decoded<{ host: string; port: number }> {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(id);
  if (!match) return { ok: false, reason: `znode name "${id}" is not host:port` };
  const raw = match[1] ?? match[2];
  const port = Number(match[3]);
  if (match[1] !== undefined && isIP(raw) !== 6) return { ok: false, reason: `"${raw}" in brackets is not an IPv6 address` };
  const host = canonicalHost(raw);
  if (host === undefined) return { ok: false, reason: `host "${raw}" is not an IP address or host name that URLs keep as it is` };
  if (!isValidPort(port)) return { ok: false, reason: `port ${match[3]} is outside 1-65535` };
  return { ok: true, value: { host, port } };
}

function parseJsonObject(data: Buffer | string | null | undefined): Decoded<Record<string, unknown>> {
  const json = parseJson(data);
  return json.ok ? checkJsonObject(json.value) : json;
}

/** Znode data as JSON, within the size limit. */
export function parseJson(data: Buffer | string | null | undefined): Decoded<unknown> {
  if (data === null || data === undefined || data.length === 0) return { ok: false, reason: 'no data' };
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (size > MAX_DATA_BYTES) return { ok: false, reason: `data is ${size} bytes, over the ${MAX_DATA_BYTES}-byte limit` };
  try {
    return { ok: true, value: JSON.parse(data.toString()) };
  } catch (error) {
    return { ok: false, reason: `data is not JSON (${(error as Error).message})` };
  }
}

/** A JSON object: not null, not an array. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A parsed JSON value as graykit's znodes hold it: an object, not nested too deep. */
export function checkJsonObject(parsed: unknown): Decoded<Record<string, unknown>> {
  if (!isJsonObject(parsed)) return { ok: false, reason: 'data is not a JSON object' };
  if (nestsDeeperThan(parsed, MAX_JSON_DEPTH)) return { ok: false, reason: `data nests deeper than ${MAX_JSON_DEPTH} levels` };
  return { ok: true, value: parsed as Record<string, unknown> };
}

/** `true`/`false`, or the original design's strings "true"/"false"; absent means false. */
export function parseGrayFlag(value: unknown): boolean | undefined {
  if (value === undefined || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  return undefined;
}

/** Decodes and validates one instance znode. `id` is the znode's name, `path` its full path. */
export function decodeInstance(path: string, id: string, data: Buffer | string | null | undefined): Decoded<Instance> {
  const json = parseJsonObject(data);
  if (!json.ok) return json;
  return decodeInstanceMeta(path, id, json.value);
}

/** Validates instance metadata already parsed (an instance's own, or with an operator override merged over it). */
export function decodeInstanceMeta(path: string, id: string, meta: Record<string, unknown>): Decoded<Instance> {
  if (!isJsonObject(meta)) return { ok: false, reason: 'metadata is not an object' };
  const address = typeof id === 'string' ? parseInstanceId(id) : ({ ok: false, reason: 'znode name is not a string' } as const);
  if (!address.ok) return address;
  const gray = parseGrayFlag(meta.gray);
  if (gray === undefined) return { ok: false, reason: `"gray" is ${describe(meta.gray)}, not true or false` };
  const lane = instanceLane(meta.lane, gray);
  if (!lane.ok) return lane;
  const weight = meta.weight === undefined ? DEFAULT_WEIGHT : meta.weight;
  if (!isValidWeight(weight)) return { ok: false, reason: `"weight" is ${describe(meta.weight)}, not a number from 0 to ${MAX_WEIGHT}` };
  const version = meta.version;
  if (version !== undefined && typeof version !== 'string' && !(typeof version === 'number' && Number.isFinite(version))) {
    return { ok: false, reason: `"version" is ${describe(version)}, not a string` };
  }
  return {
    ok: true,
    value: {
      id,
      host: address.value.host,
      port: address.value.port,
      gray: lane.value === GRAY_LANE,
      lane: lane.value,
      version: version === undefined ? undefined : String(version),
      weight,
      meta: Object.freeze({ ...meta }),
      path,
    },
  };
}

/** What a lane name must be, for reasons and errors. */
export const LANE_NAME_RULE = 'a lowercase DNS label: a-z, 0-9 and -, at most 63 characters, starting and ending with a letter or digit';

/** An instance's lane from its `lane` and `gray` fields: `gray: true` is the lane `gray`, and a named lane is not gray. */
export function instanceLane(lane: unknown, gray: boolean): Decoded<Lane> {
  if (lane === undefined) return { ok: true, value: gray ? GRAY_LANE : BASE_LANE };
  if (!isLaneName(lane)) return { ok: false, reason: `"lane" is ${describe(lane)}, not ${LANE_NAME_RULE}` };
  if (gray && lane !== GRAY_LANE) return { ok: false, reason: `"gray" is true but "lane" is "${lane}": an instance is in one lane` };
  return { ok: true, value: lane };
}

/** Parses znode data as a JSON object (the format of every graykit znode). */
export function decodeJsonObject(data: Buffer | string | null | undefined): Decoded<Record<string, unknown>> {
  return parseJsonObject(data);
}

/** An operator override: partial metadata whose `gray` and `weight`, when present, must be usable. */
export function decodeOverride(data: Buffer | string | null | undefined): Decoded<InstanceOverride> {
  const json = parseJsonObject(data);
  if (!json.ok) return json;
  const override = { ...json.value };
  if ('gray' in override) {
    const gray = parseGrayFlag(override.gray);
    if (gray === undefined || override.gray === undefined) return { ok: false, reason: `"gray" is ${describe(override.gray)}, not true or false` };
    override.gray = gray;
  }
  if ('lane' in override && !isLaneName(override.lane)) return { ok: false, reason: `"lane" is ${describe(override.lane)}, not ${LANE_NAME_RULE}` };
  if ('weight' in override && !isValidWeight(override.weight)) {
    return { ok: false, reason: `"weight" is ${describe(override.weight)}, not a number from 0 to ${MAX_WEIGHT}` };
  }
  return { ok: true, value: override };
}

/** What consumers route by for one instance: its own data with the operator's override merged over it. */
export interface EffectiveInstance {
  /** The instance's own metadata, or why it is unusable. */
  own: Decoded<Record<string, unknown>>;
  /** The override, when there is one, or why it is ignored (the instance's own data then applies). */
  override?: Decoded<InstanceOverride>;
  /** The merged and validated instance, or why it is not routed. */
  instance: Decoded<Instance>;
}

/**
 * Decodes an instance znode (`path`, named `id`) and its override znode's data (undefined when there is none), the
 * way consumers, the admin API and the console all read them.
 */
export function effectiveInstance(path: string, id: string, ownData: Buffer | string | null | undefined, overrideData?: Buffer | string | null): EffectiveInstance {
  const own = parseJsonObject(ownData);
  if (!own.ok) return { own, instance: own };
  let meta = own.value;
  let override: Decoded<InstanceOverride> | undefined;
  if (overrideData !== undefined) {
    override = decodeOverride(overrideData);
    if (override.ok) meta = overlay(meta, override.value);
  }
  return { own, override, instance: decodeInstanceMeta(path, id, meta) };
}

/**
 * The override laid over an instance's own data. An override that says `gray` or `lane` sets the instance's lane
 * as a whole: `{gray: false}` moves a named lane's instance to the base lane too, `{lane: 'normal'}` a gray one.
 */
function overlay(meta: Record<string, unknown>, override: InstanceOverride): Record<string, unknown> {
  if (override.lane !== undefined) return { ...meta, ...override, gray: override.lane === GRAY_LANE };
  if (override.gray !== undefined) {
    const { lane: _own, ...rest } = meta;
    return { ...rest, ...override };
  }
  return { ...meta, ...override };
}

/** The JSON written to an instance znode: the known fields first, then the extra metadata. */
export function encodeInstance(meta: InstanceMeta): string {
  const { gray, lane, version, weight, ...extra } = meta;
  return JSON.stringify({ gray, lane: lane === undefined || !isNamedLane(lane) ? undefined : lane, version, weight, ...extra });
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]{1,64}$/i;

/** An HTTP header name (an RFC 9110 token) of at most 64 characters. */
export function isHeaderName(name: unknown): name is string {
  return typeof name === 'string' && HEADER_NAME.test(name);
}
