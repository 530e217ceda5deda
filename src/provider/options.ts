/** grayRegister's options: their types, their defaults in one place, and the one function that checks them. */
import { networkInterfaces } from 'node:os';
import type { ContextBackend, ContextKind } from '../context/lane-context';
import type { GrayContextOptions } from '../context/gray-context';
import { InvalidOptionError } from '../errors';
import { instanceLane, isValidHost, isValidPort, isValidWeight, LANE_NAME_RULE, MAX_WEIGHT } from '../registry/codec';
import { resolveConnection, type ConnectionOptions, type ResolvedConnection } from '../registry/connection';
import { isValidServiceName } from '../registry/paths';
import { resolveCuratorOptions, type CuratorOptions, type ResolvedCurator } from '../registry/curator';
import { isLaneName, isNamedLane, type InstanceMeta } from '../types';
import { checkMetricsPath, type ProviderMetricsOptions } from './metrics';

export interface GrayRegisterOptions extends ConnectionOptions {
  /** Service name, used as the host of consumers' URLs (`http://<service>/`). Required; env `GRAYKIT_SERVICE`. */
  service?: string;
  /** Whether this instance is gray (the lane `gray`). Default: env `GRAY` = `true`, else false. */
  gray?: boolean;
  /**
   * The instance's lane: `normal` (the base version), `gray`, or a named lane such as `canary` or `pr-42` (a lowercase
   * DNS label). Requests of the lane reach it; no other request does, except through rules, buckets and shares of the
   * service's config. Instances of a named lane register under `<service>/lanes/`, which consumers of graykit 0.1.0
   * never read. `gray: true` is `lane: 'gray'`. Default: env `GRAY_LANE`, else by `gray`.
   */
  lane?: string;
  /** Version label. Default: env `APP_VERSION`, else none. */
  version?: string;
  /** Share of traffic inside its lane; 0 drains the instance. Default 100. */
  weight?: number;
  /** Extra metadata published with the instance (kept by consumers, not used for routing). Default {}. */
  metadata?: Record<string, unknown>;
  /** Host consumers should call. Default: env `GRAYKIT_HOST`, else the first non-internal IPv4, else 127.0.0.1. */
  host?: string;
  /** Port consumers should call. Default: the port the server is bound to. */
  port?: number;
  /** Longest wait for the znode's deletion before the server stops accepting anyway, ms. Default 3000. */
  deregisterTimeout?: number;
  /**
   * How long shutdown keeps accepting after the znode is deleted, ms, so that consumers see the removal before the
   * port closes. Default 2000: a consumer learns of the deletion within a watch round trip (milliseconds on a LAN),
   * but one that is reconnecting to ZooKeeper or paused (GC, a busy event loop) learns later, and requests it
   * sends meanwhile should still be served, not refused. 2 s covers that with a wide margin at the price of 2 s
   * per instance in a rolling restart, and leaves most of a 30 s termination grace period to in-flight requests.
   * 0 closes as soon as the znode is gone.
   */
  drainMs?: number;
  /**
   * The lane context each incoming request gets (as `grayContext()` gives), so that a provider that is also a
   * consumer keeps an incoming request's lane on its own outbound calls with a single `app.use`: `'als'`, `'cls'`
   * (use the same value in its `grayRoute`), or `false` for none. Default `'als'`.
   */
  context?: ContextKind | ContextBackend | false;
  /** Whether an incoming request may force its lane (lane header, rules): as grayContext's `trust`. Default true. */
  trust?: GrayContextOptions['trust'];
  /** Also read an incoming lane from the headers Java routers use (`X-SC-LB-Hint`, `n-d-version`): as grayContext's `javaHeaders`. Default off. */
  javaHeaders?: GrayContextOptions['javaHeaders'];
  /**
   * Whether a request that reaches this instance while it is in a lane other than base (gray, or a named lane),
   * without a lane of its own (sent by an ingress canary, or by a client without graykit), takes that lane for its
   * outbound calls, so that it stays in it downstream. It comes right after a trusted lane header or baggage, before rules, bucketing and the ratio. A
   * normal instance pins nothing: an edge that is v1 still splits its calls by rules, bucketing and ratio. The
   * flag is the effective one (an operator's override counts). Default true.
   */
  laneFromInstance?: boolean;
  /**
   * Longest wait, ms, for in-flight requests once the server stops accepting; then the remaining connections are
   * destroyed and shutdown resolves. Default 10000.
   */
  shutdownTimeout?: number;
  /**
   * Request metrics (README "Progressive rollout"): request count and latency by status class, labelled with
   * service, version and lane, on a prom-client registry (`middleware.metrics.registry`). `true` or options turn
   * them on; `metricsPath` turns them on too. Default off.
   */
  metrics?: ProviderMetricsOptions | boolean;
  /**
   * Path that serves the metrics in Prometheus text format (GET), advertised as `metricsPath` in the instance
   * metadata so that `graykit rollout` finds them. Scrapes of it are not counted. Default none: not served.
   */
  metricsPath?: string;
  /**
   * Also register the instance where Java services look (README "Java services on the same ZooKeeper"): Apache
   * Curator's service discovery layout, `<basePath>/<service>/<uuid>`, with a Spring Cloud ZooKeeper payload whose
   * string metadata says its version, lane (`hint`: gray/normal, and `gray`), weight and `instance_status` UP, kept
   * in step with graykit's own znode (same session, same lifetime, an operator's override shows in it). `only: true`
   * registers it there alone. `true`: `/services` and Spring's keys. Default: off.
   */
  curator?: (CuratorOptions & { only?: boolean }) | boolean;
}

export const DEFAULT_REGISTER_OPTIONS = {
  gray: false,
  laneFromInstance: true,
  weight: 100,
  metadata: {},
  deregisterTimeout: 3000,
  drainMs: 2000,
  shutdownTimeout: 10_000,
} as const;

/** The first non-internal IPv4 address of this machine, else 127.0.0.1. */
export function defaultAdvertisedHost(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  return '127.0.0.1';
}

/** `true`/`1`/`yes` or `false`/`0`/`no`/empty, any case; anything else is a mistake worth stopping for. */
function parseBooleanEnv(name: string, value: string | undefined): boolean {
  if (value === undefined) return DEFAULT_REGISTER_OPTIONS.gray;
  if (/^(true|1|yes)$/i.test(value.trim())) return true;
  if (/^(false|0|no|)$/i.test(value.trim())) return false;
  throw new InvalidOptionError('gray', `env ${name}=${JSON.stringify(value)} is neither true nor false`);
}

export interface ResolvedRegisterOptions {
  connection: ResolvedConnection;
  service: string;
  host: string;
  port?: number;
  meta: InstanceMeta;
  deregisterTimeout: number;
  drainMs: number;
  shutdownTimeout: number;
  /** The Curator registration, when asked for; `only`: no graykit znode. */
  curator?: ResolvedCurator & { only: boolean };
}

function checkMs(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new InvalidOptionError(option, `expected milliseconds >= 0, got ${JSON.stringify(value)}`);
  return value;
}

/** The codec's bound on weights: a larger one would be published, then skipped by every consumer. */
export function invalidWeight(weight: unknown): InvalidOptionError {
  return new InvalidOptionError('weight', `expected a number from 0 to ${MAX_WEIGHT}, got ${JSON.stringify(weight)}`);
}

/** The instance's lane from `lane` (or env GRAY_LANE) and `gray`: a lane name, never both gray and another lane. */
function resolveLane(options: GrayRegisterOptions, env: NodeJS.ProcessEnv, gray: boolean): string {
  const lane = options.lane ?? (env.GRAY_LANE === undefined || env.GRAY_LANE.trim() === '' ? undefined : env.GRAY_LANE.trim());
  const where = options.lane !== undefined ? 'options.lane' : 'env GRAY_LANE';
  if (lane !== undefined && !isLaneName(lane)) throw new InvalidOptionError('lane', `${where} is ${JSON.stringify(lane)}, not ${LANE_NAME_RULE} (e.g. "pr-42")`);
  const decoded = instanceLane(lane, gray);
  if (!decoded.ok) throw new InvalidOptionError('lane', `${where} is ${JSON.stringify(lane)} but gray is true: an instance is in one lane (drop gray, or use lane "gray")`);
  return decoded.value;
}

export function resolveRegisterOptions(options: GrayRegisterOptions, env: NodeJS.ProcessEnv): ResolvedRegisterOptions {
  const connection = resolveConnection(options, env);
  const service = resolveService(options, env);
  const lane = resolveLane(options, env, resolveGray(options, env));
  const weight = options.weight ?? DEFAULT_REGISTER_OPTIONS.weight;
  if (!isValidWeight(weight)) throw invalidWeight(weight);
  const host = resolveHost(options, env);
  if (options.port !== undefined && !isValidPort(options.port)) throw new InvalidOptionError('port', `expected a port from 1 to 65535, got ${JSON.stringify(options.port)}`);
  const meta = resolveMeta(options, env, lane, weight);
  return {
    curator: resolveCurator(options.curator),
    connection,
    service,
    host,
    port: options.port,
    meta,
    deregisterTimeout: checkMs('deregisterTimeout', options.deregisterTimeout ?? DEFAULT_REGISTER_OPTIONS.deregisterTimeout),
    drainMs: checkMs('drainMs', options.drainMs ?? DEFAULT_REGISTER_OPTIONS.drainMs),
    shutdownTimeout: checkMs('shutdownTimeout', options.shutdownTimeout ?? DEFAULT_REGISTER_OPTIONS.shutdownTimeout),
  };
}

function resolveService(options: GrayRegisterOptions, env: NodeJS.ProcessEnv): string {
  const service = options.service ?? env.GRAYKIT_SERVICE;
  if (!isValidServiceName(service)) {
    throw new InvalidOptionError('service', `expected a service name (lower-case letters, digits, - _ .) in options.service or GRAYKIT_SERVICE, got ${JSON.stringify(service)}`);
  }
  return service;
}

function resolveGray(options: GrayRegisterOptions, env: NodeJS.ProcessEnv): boolean {
  const gray = options.gray ?? parseBooleanEnv('GRAY', env.GRAY);
  if (typeof gray !== 'boolean') throw new InvalidOptionError('gray', `expected true or false, got ${JSON.stringify(gray)}`);
  return gray;
}

function resolveHost(options: GrayRegisterOptions, env: NodeJS.ProcessEnv): string {
  const host = options.host ?? env.GRAYKIT_HOST ?? defaultAdvertisedHost();
  if (!isValidHost(host)) throw new InvalidOptionError('host', `expected an IP address or host name, got ${JSON.stringify(host)}`);
  return host;
}

/** The published metadata: the caller's extra fields, then lane, weight, version and metricsPath. */
function resolveMeta(options: GrayRegisterOptions, env: NodeJS.ProcessEnv, lane: string, weight: number): InstanceMeta {
  const metadata = options.metadata ?? DEFAULT_REGISTER_OPTIONS.metadata;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw new InvalidOptionError('metadata', 'expected a plain object');
  const version = options.version ?? env.APP_VERSION;
  const meta: InstanceMeta = { ...metadata, gray: lane === 'gray', weight };
  if (isNamedLane(lane)) meta.lane = lane;
  if (version !== undefined) meta.version = String(version);
  if (options.metricsPath !== undefined) meta.metricsPath = checkMetricsPath(options.metricsPath);
  return meta;
}

/** The `curator` option, and its `only` (no graykit znode). */
function resolveCurator(option: GrayRegisterOptions['curator']): ResolvedRegisterOptions['curator'] {
  const curator = resolveCuratorOptions(option);
  const only = typeof option === 'object' && option !== null ? option.only ?? false : false;
  if (typeof only !== 'boolean') throw new InvalidOptionError('curator.only', 'expected true or false');
  return curator && { ...curator, only };
}
