/**
 * The layout Java services register in: Apache Curator's service discovery (`curator-x-discovery`), which Spring
 * Cloud ZooKeeper and Dubbo 3's application-level registry use (README "Java services on the same ZooKeeper"):
 *
 *   <basePath>/<service>/<id>   EPHEMERAL (serviceType DYNAMIC), Curator's ServiceInstance as JSON
 *
 * whose `payload` is Spring's `ZookeeperInstance` (`{"@class":…,"id","name","metadata":{string: string}}`).
 * Here: the options that say where and by which metadata keys, the decoder that turns one such znode into the
 * metadata graykit's own instances have (verdict.ts judges it like any other), and the encoder a graykit provider
 * registers with. Pure; no I/O.
 *
 * The data is written by others: the same size and nesting limits as graykit's own znodes (codec.ts), fields read
 * as own properties only, and metadata copied into an object without a prototype, keeping string values and
 * dropping `__proto__`, `constructor` and `prototype`.
 */
import { InvalidOptionError } from '../errors';
import { decodeJsonObject, describe, DEFAULT_WEIGHT, isHeaderName, isJsonObject, isValidPort, isValidWeight, MAX_WEIGHT, type Decoded } from './codec';
import { instanceId, isValidRoot } from './paths';
import { isLaneName, isNamedLane } from '../types';

/** Spring Cloud ZooKeeper's default root (`spring.cloud.zookeeper.discovery.root`). */
export const DEFAULT_CURATOR_BASE_PATH = '/services';
/** The payload class Spring Cloud ZooKeeper reads (Jackson resolves `@class`). */
export const SPRING_PAYLOAD_CLASS = 'org.springframework.cloud.zookeeper.discovery.ZookeeperInstance';
/** The status Spring routes to; any other `instance_status` (OUT_OF_SERVICE, DOWN, STARTING) is unavailable. */
export const STATUS_UP = 'UP';

/** Which metadata keys say what, on both sides (a graykit provider writes them, a consumer reads them). */
export interface CuratorKeys {
  /** The version label (Nepxion Discovery's). Default `version`. */
  version?: string;
  /** The lane, `gray` or `normal` (Spring Cloud LoadBalancer's hint, matched against `X-SC-LB-Hint`). Default `hint`. */
  lane?: string;
  /** The weight inside the lane, a decimal string. Default `weight`. */
  weight?: string;
  /** The status; only `UP` is routed. Default `instance_status` (Spring's). */
  status?: string;
}

/** Where and how a consumer reads Curator registrations, and a provider writes its own. */
export interface CuratorOptions extends CuratorKeys {
  /** The Curator base path (Spring: `spring.cloud.zookeeper.discovery.root`; Dubbo: `/services` too). Default `/services`. */
  basePath?: string;
  /**
   * Versions that are the gray lane, for Java services that mark lanes by version only (Nepxion: `version: v2`).
   * An instance is gray when its lane key says `gray` or its version is listed here. Default none.
   */
  grayVersions?: readonly string[];
  /**
   * Consumer: also route instances that are not ephemeral (serviceType `STATIC` or `PERMANENT`, or a persistent
   * znode). Nothing removes them when their process dies, so they are skipped unless this is set. Default false.
   */
  persistent?: boolean;
}

export interface ResolvedCurator {
  readonly basePath: string;
  readonly keys: Readonly<Required<CuratorKeys>>;
  readonly grayVersions: ReadonlySet<string>;
  readonly persistent: boolean;
}

export const DEFAULT_CURATOR_KEYS: Readonly<Required<CuratorKeys>> = Object.freeze({ version: 'version', lane: 'hint', weight: 'weight', status: 'instance_status' });

/** The one check of the `curator` option of grayRegister and the consumers (`true`: every default). */
export function resolveCuratorOptions(option: CuratorOptions | boolean | undefined, name = 'curator'): ResolvedCurator | undefined {
  if (option === undefined || option === false) return undefined;
  const options: CuratorOptions = option === true ? {} : option;
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError(name, 'expected true or an options object');
  const basePath = options.basePath ?? DEFAULT_CURATOR_BASE_PATH;
  if (!isValidRoot(basePath)) throw new InvalidOptionError(`${name}.basePath`, `expected a ZooKeeper path such as /services, got ${JSON.stringify(basePath)}`);
  const keys = { ...DEFAULT_CURATOR_KEYS };
  for (const key of Object.keys(DEFAULT_CURATOR_KEYS) as Array<keyof CuratorKeys>) {
    const value = options[key];
    if (value === undefined) continue;
    // Keys become JSON member names and header-like tokens: the token rule keeps out `__proto__`-style surprises.
    if (!isHeaderName(value) || UNSAFE_KEYS.has(value)) throw new InvalidOptionError(`${name}.${key}`, `expected a metadata key (letters, digits, - _ .), got ${JSON.stringify(value)}`);
    keys[key] = value;
  }
  const grayVersions = options.grayVersions ?? [];
  if (!Array.isArray(grayVersions) || !grayVersions.every((v) => typeof v === 'string')) throw new InvalidOptionError(`${name}.grayVersions`, 'expected an array of version strings');
  if (options.persistent !== undefined && typeof options.persistent !== 'boolean') throw new InvalidOptionError(`${name}.persistent`, 'expected true or false');
  return Object.freeze({ basePath, keys: Object.freeze(keys), grayVersions: new Set(grayVersions), persistent: options.persistent ?? false });
}

const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** Metadata entries kept per instance: Dubbo's carry a few dozen, nothing real carries hundreds. */
export const MAX_METADATA_ENTRIES = 128;

/** A member of a parsed JSON object, own properties only (a parsed `__proto__` member is an own property too). */
function own(object: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(object, key) ? object[key] : undefined;
}

/** A Curator instance as graykit reads it, before the verdict (live, override, addresses). */
export interface CuratorRead {
  /** `host:port`, as graykit's own instances are named (outlier ejection and retries go by it). */
  readonly id: string;
  /** graykit's instance metadata: gray, weight, version, plus `scheme`, `status`, `serviceType`, `curatorId`, `metadata`. */
  readonly meta: Record<string, unknown>;
  /** serviceType `DYNAMIC` (Curator's ephemeral registration). */
  readonly dynamic: boolean;
  /** The metadata's status (absent: UP, as Curator without Spring writes none). */
  readonly status: string;
}

/**
 * Decodes one Curator instance znode of `service` (its data as read). The reason names the field at fault; the
 * caller names the znode.
 */
export function decodeCuratorInstance(service: string, data: Buffer | string | null | undefined, options: ResolvedCurator): Decoded<CuratorRead> {
  const json = decodeJsonObject(data);
  if (!json.ok) return json;
  const doc = json.value;
  const endpoint = readEndpoint(service, doc);
  if (!endpoint.ok) return endpoint;
  const metadata = readMetadata(own(doc, 'payload'));
  if (!metadata.ok) return metadata;
  const fields = metadata.value;
  const { keys } = options;
  const weight = readWeight(fields[keys.weight], keys.weight);
  if (!weight.ok) return weight;
  const { address, port, sslPort, serviceType } = endpoint.value;
  const version = fields[keys.version];
  // sslPort means https (Spring's ZookeeperServiceInstance.isSecure()); an instance with both is called on it.
  const secure = sslPort !== null;
  const meta: Record<string, unknown> = {
    ...readLane(fields[keys.lane], version, options.grayVersions),
    weight: weight.value,
    scheme: secure ? 'https' : 'http',
    status: fields[keys.status] ?? STATUS_UP,
    serviceType,
    curatorId: typeof own(doc, 'id') === 'string' ? own(doc, 'id') : undefined,
    metadata: Object.freeze(fields),
  };
  if (version !== undefined) meta.version = version;
  return {
    ok: true,
    value: { id: instanceId(address.includes(':') ? address.replace(/^\[|\]$/g, '') : address, (secure ? sslPort : port) as number), meta, dynamic: serviceType === 'DYNAMIC' || serviceType === 'DYNAMIC_SEQUENTIAL', status: String(meta.status) },
  };
}

const SERVICE_TYPES = new Set<unknown>(['DYNAMIC', 'STATIC', 'PERMANENT', 'DYNAMIC_SEQUENTIAL']);

/** Where a Curator instance is and how it was registered: name, address, ports, serviceType, enabled. */
function readEndpoint(service: string, doc: Record<string, unknown>): Decoded<{ address: string; port: number | null; sslPort: number | null; serviceType: unknown }> {
  const name = own(doc, 'name');
  if (name !== service) return { ok: false, reason: `"name" is ${describe(name)}, not "${service}"` };
  const address = own(doc, 'address');
  if (typeof address !== 'string') return { ok: false, reason: `"address" is ${describe(address)}, not a string` };
  const port = readPort(doc, 'port');
  if (!port.ok) return port;
  const sslPort = readPort(doc, 'sslPort');
  if (!sslPort.ok) return sslPort;
  if (port.value === null && sslPort.value === null) return { ok: false, reason: 'neither "port" nor "sslPort" is set' };
  const serviceType = own(doc, 'serviceType') ?? 'DYNAMIC';
  if (!SERVICE_TYPES.has(serviceType)) return { ok: false, reason: `"serviceType" is ${describe(serviceType)}, not DYNAMIC, DYNAMIC_SEQUENTIAL, STATIC or PERMANENT` };
  if (own(doc, 'enabled') === false) return { ok: false, reason: '"enabled" is false (Curator: the instance is registered but disabled)' };
  return { ok: true, value: { address, port: port.value, sslPort: sslPort.value, serviceType } };
}

/** `port` or `sslPort`: absent or null, or a port. */
function readPort(doc: Record<string, unknown>, field: 'port' | 'sslPort'): Decoded<number | null> {
  const port = own(doc, field) ?? null;
  if (port !== null && !isValidPort(port)) return { ok: false, reason: `"${field}" is ${describe(port)}, not a port from 1 to 65535` };
  return { ok: true, value: port };
}

/** `gray` from the lane key or a gray version, and a named lane when the key names another lane. */
function readLane(hint: string | undefined, version: string | undefined, grayVersions: ReadonlySet<string>): { gray: boolean; lane?: string } {
  const laneValue = hint?.trim().toLowerCase();
  const gray = laneValue === 'gray' || (version !== undefined && grayVersions.has(version));
  // A hint that names another lane puts a Java instance in that named lane (a preview build of a Java service).
  return !gray && isLaneName(laneValue) && isNamedLane(laneValue) ? { gray, lane: laneValue } : { gray };
}

/** The weight metadata, a decimal string; absent: the default weight. */
function readWeight(weightText: string | undefined, key: string): Decoded<number> {
  const weight = weightText === undefined ? DEFAULT_WEIGHT : /^\d+(?:\.\d+)?$/.test(weightText.trim()) ? Number(weightText) : NaN;
  if (!isValidWeight(weight)) return { ok: false, reason: `metadata "${key}" is ${describe(weightText)}, not a number from 0 to ${MAX_WEIGHT}` };
  return { ok: true, value: weight };
}

/** The payload's `metadata` map, strings only, in an object without a prototype. */
function readMetadata(payload: unknown): Decoded<Record<string, string>> {
  const fields = Object.create(null) as Record<string, string>;
  if (payload === undefined || payload === null) return { ok: true, value: fields };
  if (!isJsonObject(payload)) return { ok: false, reason: `"payload" is ${describe(payload)}, not an object` };
  const metadata = own(payload, 'metadata');
  if (metadata === undefined || metadata === null) return { ok: true, value: fields };
  if (!isJsonObject(metadata)) return { ok: false, reason: `"payload.metadata" is ${describe(metadata)}, not a map of strings` };
  const entries = Object.keys(metadata);
  if (entries.length > MAX_METADATA_ENTRIES) return { ok: false, reason: `"payload.metadata" has ${entries.length} entries, over the limit of ${MAX_METADATA_ENTRIES}` };
  for (const key of entries) {
    const value = metadata[key];
    // Spring's metadata is Map<String, String>: other values are not Spring's, and are left out rather than guessed at.
    if (UNSAFE_KEYS.has(key) || typeof value !== 'string') continue;
    fields[key] = value;
  }
  return { ok: true, value: fields };
}

/** What a graykit provider registers in the Curator layout. */
export interface CuratorRegistration {
  service: string;
  /** Curator's instance id (the znode's name), a UUID as Curator and Spring make them. */
  id: string;
  host: string;
  port: number;
  gray: boolean;
  /** A named lane (the `hint`); absent: `gray` or `normal` by `gray`. */
  lane?: string;
  weight: number;
  version?: string;
  /** Milliseconds since the epoch; Curator's `registrationTimeUTC`. */
  registeredAt: number;
}

/** The Spring Cloud ZooKeeper metadata of a graykit instance: version, lane (and `gray`), weight and status. */
export function curatorMetadata(instance: Pick<CuratorRegistration, 'gray' | 'lane' | 'weight' | 'version'>, keys: Readonly<Required<CuratorKeys>>): Record<string, string> {
  const lane = instance.lane ?? (instance.gray ? 'gray' : 'normal');
  const metadata: Record<string, string> = { [keys.status]: STATUS_UP, [keys.lane]: lane, gray: String(lane === 'gray'), [keys.weight]: String(instance.weight) };
  if (instance.version !== undefined) metadata[keys.version] = instance.version;
  return metadata;
}

/** Spring's default URI spec, `{scheme}://{address}:{port}`, as Curator serialises a UriSpec. */
const URI_SPEC = Object.freeze({
  parts: [
    { value: 'scheme', variable: true },
    { value: '://', variable: false },
    { value: 'address', variable: true },
    { value: ':', variable: false },
    { value: 'port', variable: true },
  ],
});

/** The JSON of a Curator ServiceInstance with a Spring Cloud ZooKeeper payload, as Curator 5's JsonInstanceSerializer writes it. */
export function encodeCuratorInstance(instance: CuratorRegistration, keys: Readonly<Required<CuratorKeys>>): string {
  return JSON.stringify({
    name: instance.service,
    id: instance.id,
    address: instance.host,
    port: instance.port,
    sslPort: null,
    payload: { '@class': SPRING_PAYLOAD_CLASS, id: `${instance.service}-${instance.id}`, name: instance.service, metadata: curatorMetadata(instance, keys) },
    registrationTimeUTC: instance.registeredAt,
    serviceType: 'DYNAMIC',
    uriSpec: URI_SPEC,
    enabled: true,
  });
}
