/**
 * `grayRoute()`: the axios request interceptor that sends `http://<service>/...` to a live instance of the service.
 */
import type { InternalAxiosRequestConfig } from 'axios';
import { contextBackend, type ContextBackend, type ContextKind } from '../context/lane-context';
import { BAGGAGE_HEADER, withLaneInBaggage, type LanePropagation } from '../context/propagation';
import { javaLaneHeaders, type JavaLaneOptions } from '../context/java-lane';
import { InvalidOptionError, RegistryUnavailableError } from '../errors';
import type { RouteDecision } from '../router';
import { servicesPath } from '../registry/paths';
import type { Instance, Lane } from '../types';
import { GrayConsumer, type GrayConsumerOptions, type RouteOptions } from './consumer';
import { NO_PROBE } from './failover-policy';
import { CallRouting, checkLaneOptions } from './lane-routing';
import { requestTarget, rewriteUrl, type TargetUrl } from './rewrite';

/** Per-request options and results, on the axios request config (and so on `response.config`). */
export interface GrayRequestConfig {
  /**
   * Pin this request's lane, over the context's and the ratio. After routing: the lane actually served, the lane of
   * the instance chosen (which differs from the request's own lane only when that lane had no instance and the
   * service falls back to all instances; see `stickyLane`).
   */
  lane?: Lane;
  /** Set by graykit: the request's own lane, which it carries on to the next service (lane header, baggage). */
  stickyLane?: Lane;
  /** Set by graykit: the service the request was routed for. */
  service?: string;
  /** Set by graykit: the instance chosen. */
  instance?: Instance;
  /** Set by graykit: the request's `url` before routing, which a retry routes again. */
  url?: string;
  /** Set by graykit: the request's `baseURL` before routing. */
  baseURL?: string;
  /**
   * useGray: whether this request may fail over to another instance after a connection failure. Default: by
   * method (`failover.methods`). Set true for a non-idempotent call made safe to repeat (an idempotency key).
   */
  failover?: boolean;
  /** Set by useGray: attempts made for this request, the first included (1 = no retry). */
  attempts?: number;
  /** Set by useGray: ids (`host:port`) of the instances that failed this request at the connection level. */
  failed?: string[];
}

declare module 'axios' {
  interface AxiosRequestConfig {
    /** graykit: pin a lane (`gray: { lane: 'gray' }`) and read the routing result after the request. */
    gray?: GrayRequestConfig;
  }
}

export interface GrayRouteOptions extends GrayConsumerOptions {
  /** Lane context backend shared with `grayContext()`: `als` or `cls`, or a backend object. Default `als`. */
  context?: ContextKind | ContextBackend;
  /** Header that carries the lane to the next service. Default `x-gray-lane`. */
  laneHeader?: string;
  /**
   * How the lane travels to the next service: `header` (the lane header), `baggage` (a W3C baggage member
   * `gray.lane=<lane>`, which services without graykit forward), or `both`. Default `both`. Incoming lanes are read
   * from either, whatever this says.
   */
  propagation?: LanePropagation;
  /**
   * Also write the lane in the headers Java routers read, for calls to Java services: Spring Cloud LoadBalancer's
   * `X-SC-LB-Hint` (`true`), and Nepxion's `n-d-version` with `{ nepxion: { gray: 'v2', normal: 'v1' } }`. Default off.
   */
  javaHeaders?: JavaLaneOptions | boolean;
}

/** The interceptor, with its consumer (for `close()`, snapshots and events). */
export interface GrayRouteInterceptor {
  (config: InternalAxiosRequestConfig): InternalAxiosRequestConfig | Promise<InternalAxiosRequestConfig>;
  readonly consumer: GrayConsumer;
  /** Closes the consumer (its ZooKeeper session). */
  close(): void;
}

const hasOwn = (object: object, key: string) => Object.prototype.hasOwnProperty.call(object, key);

/**
 * Writes the lane into the request's headers: the lane header `name` (lower-cased) and/or graykit's baggage member.
 * A plain property write where that cannot duplicate a header: `AxiosHeaders#set` re-validates the name, normalises
 * the value and scans the keys case-insensitively on every call, about a seventh of the interceptor's cost
 * (BENCHMARKS.md, section 1). A caller's own spelling of a header (`X-Gray-Lane`, `Baggage`) is left to `set`,
 * which overwrites it in place; a caller's baggage keeps its other members.
 *
 * One function of some twenty branches on purpose: it runs on every routed axios call, and its halves share the keys
 * found in one scan of the headers; split, they would need that scan twice or an object to hand the keys over.
 */
function writeLane(headers: InternalAxiosRequestConfig['headers'], name: string, lane: Lane, propagation: LanePropagation): void {
  const record = headers as unknown as Record<string, unknown>;
  const laneHeader = propagation !== 'baggage';
  const baggage = propagation !== 'header';
  let laneKey = laneHeader && hasOwn(record, name) ? name : undefined;
  let baggageKey = baggage && hasOwn(record, BAGGAGE_HEADER) ? BAGGAGE_HEADER : undefined;
  if ((laneHeader && !laneKey) || (baggage && !baggageKey)) {
    for (const key of Object.keys(record)) {
      const lower = key.toLowerCase();
      if (lower === name) laneKey ??= key;
      else if (lower === BAGGAGE_HEADER) baggageKey ??= key;
    }
  }
  if (laneHeader) {
    if (laneKey === undefined || laneKey === name) record[name] = lane;
    else headers.set(name, lane);
  }
  if (baggage) {
    const value = withLaneInBaggage(baggageKey === undefined ? undefined : record[baggageKey], lane);
    if (value === undefined) return; // malformed or full: left as it is (the lane header still carries the lane)
    if (baggageKey === undefined || baggageKey === BAGGAGE_HEADER) record[BAGGAGE_HEADER] = value;
    else headers.set(BAGGAGE_HEADER, value);
  }
}

/**
 * Creates the axios request interceptor. Every request whose host is a service name is rewritten to one of its
 * live instances, chosen by lane (sticky context, pinned lane, or ratio) and then round-robin by weight; the lane
 * goes out in the `x-gray-lane` header. Other requests pass untouched.
 *
 * @example
 * const route = grayRoute({ ratio: 33 });
 * axios.interceptors.request.use(route);
 * const { data } = await axios.get('http://demo/version');
 * // on shutdown: route.close();
 */
export function grayRoute(options: GrayRouteOptions | GrayConsumer = {}): GrayRouteInterceptor {
  if (typeof options === 'function' || (typeof options === 'object' && options !== null && 'headers' in options && 'method' in options)) {
    throw new InvalidOptionError('options', 'grayRoute takes an options object: use axios.interceptors.request.use(grayRoute()), not use(grayRoute)');
  }
  return options instanceof GrayConsumer ? createRouteInterceptor({}, options) : createRouteInterceptor(options);
}

/** What useGray adds to routing: how retries are routed, and a look at each routed request. */
export interface RouteHooks {
  /** A retry may cross to the other lane when its own has no instance left. */
  crossLane: boolean;
  /** Whether this request may be an ejected instance's half-open probe. */
  mayProbe(config: InternalAxiosRequestConfig): boolean;
  /** Called with each routed request, after its URL was rewritten. */
  routed(config: InternalAxiosRequestConfig): void;
}


/**
 * grayRoute's body: routing options, and the consumer to route with (made from the options when not given).
 * useGray passes hooks.
 */
export function createRouteInterceptor(routeOptions: GrayRouteOptions, shared?: GrayConsumer, hooks?: RouteHooks): GrayRouteInterceptor {
  const { context, laneHeader, propagation, java } = checkLaneOptions(routeOptions);
  const consumer = shared ?? new GrayConsumer(routeOptions);
  const calls = new CallRouting({ consumer, backend: contextBackend(context), laneHeader, propagation, java });
  const { logger } = consumer.connection;
  let warnedUnknownList = false;

  function apply(config: InternalAxiosRequestConfig, decision: RouteDecision, service: string, target: TargetUrl): InternalAxiosRequestConfig {
    const originalUrl = config.url;
    const originalBaseURL = config.baseURL;
    config.url = rewriteUrl(target, decision.instance);
    config.baseURL = undefined;
    // A config znode's laneHeader is validated and lower-cased by the codec.
    writeLane(config.headers, calls.headerFor(service), decision.lane, propagation);
    if (java) for (const [name, value] of javaLaneHeaders(decision.lane, java)) config.headers.set(name, value);
    const served: Lane = decision.instance.lane;
    const routed = { lane: served, stickyLane: decision.lane, service, instance: decision.instance, url: originalUrl, baseURL: originalBaseURL };
    // No spread on the common path (no per-request gray options): copying an absent object still costs a runtime call.
    config.gray = config.gray === undefined ? routed : { ...config.gray, ...routed };
    hooks?.routed(config);
    return config;
  }

  /** A retry avoids the instances that failed it; useGray keeps non-retryable requests from probing. */
  function routeOptionsFor(config: InternalAxiosRequestConfig): RouteOptions | undefined {
    if (!hooks) return undefined;
    const failed = config.gray?.failed;
    if (failed?.length) return { exclude: new Set(failed), crossLane: hooks.crossLane, probe: hooks.mayProbe(config) };
    return hooks.mayProbe(config) ? undefined : NO_PROBE;
  }

  async function routeLater(config: InternalAxiosRequestConfig, target: TargetUrl, known: boolean | undefined) {
    const { host } = target;
    if (known === undefined) {
      try {
        await consumer.servicesReady();
      } catch (error) {
        // The registry was never reached. A dotted name is most likely a real DNS host: let it through. A bare
        // name like `demo` cannot be anything but a service, so say why it cannot be routed.
        if (host.includes('.')) {
          if (!warnedUnknownList) {
            warnedUnknownList = true;
            logger.warn(`ZooKeeper not reached within ${consumer.timeout} ms; requests to hosts such as ${host} pass unrouted until it is`);
          }
          return config;
        }
        throw new RegistryUnavailableError(host, servicesPath(consumer.connection.root), consumer.timeout, { cause: error });
      }
      if (!consumer.isService(host)) return config;
    }
    return apply(config, await calls.later(host, config.gray?.lane, routeOptionsFor(config)), host, target);
  }

  const interceptor = function grayRouteInterceptor(config: InternalAxiosRequestConfig) {
    // One parse a request; its WHATWG host check is memoised per authority (rewrite.ts).
    const target = requestTarget(config.url, config.baseURL);
    if (!target || target.address) return config;
    const host = target.host;
    const known = consumer.isService(host);
    if (known === false) return config;
    if (known === true) {
      // The hot path: a memory read, no promise, no ZooKeeper.
      const decision = calls.now(host, config.gray?.lane, routeOptionsFor(config));
      if (decision) return apply(config, decision, host, target);
    }
    return routeLater(config, target, known);
  } as GrayRouteInterceptor;
  Object.defineProperty(interceptor, 'consumer', { value: consumer, enumerable: true });
  Object.defineProperty(interceptor, 'close', { value: () => consumer.close(), enumerable: true });
  return interceptor;
}
