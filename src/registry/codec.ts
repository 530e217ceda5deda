/**
 * Encoding and validation of what lives in znodes: instance metadata and service config. Pure; no I/O.
 * Decoders never throw: they return `{ ok: false, reason }` so that the caller can skip the znode with a warning.
 */
import { isIP } from 'node:net';
import type { Instance, InstanceMeta, ServiceConfig } from '../types';
import { isValidRatio } from '../router/split';

/** Larger znode data is refused: metadata is a handful of fields, and ZooKeeper itself caps data at 1 MiB. */
export const MAX_DATA_BYTES = 16 * 1024;
export const DEFAULT_WEIGHT = 100;

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** An IP address or a DNS host name: no scheme, path, user info or port inside it. */
export function isValidHost(host: unknown): host is string {
  return typeof host === 'string' && (isIP(host) !== 0 || HOSTNAME.test(host));
}

export function isValidPort(port: unknown): port is number {
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** Splits an instance znode name `host:port` (`[v6]:port` for IPv6). */
export function parseInstanceId(id: string): Decoded<{ host: string; port: number }> {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(id);
  if (!match) return { ok: false, reason: `znode name "${id}" is not host:port` };
  const host = match[1] ?? match[2];
  const port = Number(match[3]);
  if (match[1] !== undefined && isIP(host) !== 6) return { ok: false, reason: `"${host}" in brackets is not an IPv6 address` };
  if (!isValidHost(host)) return { ok: false, reason: `host "${host}" is not an IP address or host name` };
  if (!isValidPort(port)) return { ok: false, reason: `port ${match[3]} is outside 1-65535` };
  return { ok: true, value: { host, port } };
}

function parseJsonObject(data: Buffer | string | null | undefined): Decoded<Record<string, unknown>> {
  if (data === null || data === undefined || data.length === 0) return { ok: false, reason: 'no data' };
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (size > MAX_DATA_BYTES) return { ok: false, reason: `data is ${size} bytes, over the ${MAX_DATA_BYTES}-byte limit` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString());
  } catch (error) {
    return { ok: false, reason: `data is not JSON (${(error as Error).message})` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, reason: 'data is not a JSON object' };
  }
  return { ok: true, value: parsed as Record<string, unknown> };
}

/** `true`/`false`, or the original design's strings "true"/"false"; absent means false. */
function parseGrayFlag(value: unknown): boolean | undefined {
  if (value === undefined || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  return undefined;
}

/** Decodes and validates one instance znode. `id` is the znode's name, `path` its full path. */
export function decodeInstance(path: string, id: string, data: Buffer | string | null | undefined): Decoded<Instance> {
  const address = parseInstanceId(id);
  if (!address.ok) return address;
  const json = parseJsonObject(data);
  if (!json.ok) return json;
  const meta = json.value;
  const gray = parseGrayFlag(meta.gray);
  if (gray === undefined) return { ok: false, reason: `"gray" is ${JSON.stringify(meta.gray)}, not true or false` };
  const weight = meta.weight === undefined ? DEFAULT_WEIGHT : meta.weight;
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
    return { ok: false, reason: `"weight" is ${JSON.stringify(meta.weight)}, not a number >= 0` };
  }
  const version = meta.version;
  if (version !== undefined && typeof version !== 'string' && typeof version !== 'number') {
    return { ok: false, reason: `"version" is ${JSON.stringify(version)}, not a string` };
  }
  return {
    ok: true,
    value: {
      id,
      host: address.value.host,
      port: address.value.port,
      gray,
      version: version === undefined ? undefined : String(version),
      weight,
      meta: Object.freeze({ ...meta }),
      path,
    },
  };
}

/** The JSON written to an instance znode: the known fields first, then the extra metadata. */
export function encodeInstance(meta: InstanceMeta): string {
  const { gray, version, weight, ...extra } = meta;
  return JSON.stringify({ gray, version, weight, ...extra });
}

/** Decodes a service config znode. Unknown fields are ignored; a field of the wrong type makes it invalid. */
export function decodeConfig(data: Buffer | string | null | undefined): Decoded<ServiceConfig> {
  if (data === null || data === undefined || data.length === 0) return { ok: true, value: {} };
  const json = parseJsonObject(data);
  if (!json.ok) return json;
  const { ratio } = json.value;
  if (ratio !== undefined && !isValidRatio(ratio)) {
    return { ok: false, reason: `"ratio" is ${JSON.stringify(ratio)}, not a number from 0 to 100` };
  }
  return { ok: true, value: ratio === undefined ? {} : { ratio } };
}

export function encodeConfig(config: ServiceConfig): string {
  return JSON.stringify(config);
}
