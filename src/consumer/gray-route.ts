/**
 * `grayRoute()`: the axios request interceptor that sends `http://<service>/...` to a live instance of the service.
 */
import type { InternalAxiosRequestConfig } from 'axios';
import { contextBackend, isContextKind, type ContextBackend, type ContextKind } from '../context/lane-context';
import { InvalidOptionError, RegistryUnavailableError } from '../errors';
import type { RouteDecision } from '../router';
import { decideLane } from '../router/lane-policy';
import { isHeaderName } from '../registry/codec';
import { servicesPath } from '../registry/paths';
import { DEFAULT_LANE_HEADER, type Instance, type Lane } from '../types';
import { GrayConsumer, type GrayConsumerOptions, type RouteOptions } from './consumer';
import { requestTarget, rewriteUrl, type TargetUrl } from './rewrite';

/** Per-request options and results, on the axios request config (and so on `response.config`). */
export interface GrayRequestConfig {
  /** Pin this request's lane, over the context's and the ratio. After routing: the lane the request went in. */
  lane?: Lane;
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
}

/** The interceptor, with its consumer (for `close()`, snapshots and events). */
export interface GrayRouteInterceptor {
  (config: InternalAxiosRequestConfig): InternalAxiosRequestConfig | Promise<InternalAxiosRequestConfig>;
  readonly consumer: GrayConsumer;
  /** Closes the consumer (its ZooKeeper session). */
  close(): void;
}

/**
 * Sets the lane header, `name` lower-cased. A plain property write where that cannot duplicate the header:
 * `AxiosHeaders#set` re-validates the name, normalises the value and scans the keys case-insensitively on every
 * call, about a seventh of the interceptor's cost (BENCHMARKS.md, section 1). A caller's own spelling of the same
 * header (`X-Gray-Lane`) is left to `set`, which overwrites it in place.
 */
function setLaneHeader(headers: InternalAxiosRequestConfig['headers'], name: string, lane: Lane): void {
  if (Object.prototype.hasOwnProperty.call(headers, name)) {
    (headers as unknown as Record<string, unknown>)[name] = lane;
    return;
  }
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === name) {
      headers.set(name, lane);
      return;
    }
  }
  (headers as unknown as Record<string, unknown>)[name] = lane;
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

const NO_PROBE: RouteOptions = Object.freeze({ probe: false });

/**
 * grayRoute's body: routing options, and the consumer to route with (made from the options when not given).
 * useGray passes hooks.
 */
export function createRouteInterceptor(routeOptions: GrayRouteOptions, shared?: GrayConsumer, hooks?: RouteHooks): GrayRouteInterceptor {
  const context = routeOptions.context ?? 'als';
  if (!isContextKind(context) && typeof context !== 'object') {
    throw new InvalidOptionError('context', `expected 'als', 'cls' or a backend object, got ${JSON.stringify(context)}`);
  }
  const backend = contextBackend(context);
  const laneHeader = (routeOptions.laneHeader ?? DEFAULT_LANE_HEADER).toLowerCase();
  if (!isHeaderName(laneHeader)) throw new InvalidOptionError('laneHeader', `expected an HTTP header name, got ${JSON.stringify(routeOptions.laneHeader)}`);
  const consumer = shared ?? new GrayConsumer(routeOptions);
  const { logger } = consumer.connection;
  let warnedUnknownList = false;

  function apply(config: InternalAxiosRequestConfig, decision: RouteDecision, service: string, target: TargetUrl): InternalAxiosRequestConfig {
    const store = backend.current();
    if (store && store.lane === undefined && config.gray?.lane === undefined) store.lane = decision.lane;
    const originalUrl = config.url;
    const originalBaseURL = config.baseURL;
    config.url = rewriteUrl(target, decision.instance);
    config.baseURL = undefined;
    // A config znode's laneHeader is validated and lower-cased by the codec.
    setLaneHeader(config.headers, consumer.snapshot(service)?.config.laneHeader ?? laneHeader, decision.lane);
    const routed = { lane: decision.lane, service, instance: decision.instance, url: originalUrl, baseURL: originalBaseURL };
    // No spread on the common path (no per-request gray options): copying an absent object still costs a runtime call.
    config.gray = config.gray === undefined ? routed : { ...config.gray, ...routed };
    hooks?.routed(config);
    return config;
  }

  /**
   * The request's lane before the router's draw: pinned on the request, else the context's (a trusted lane header,
   * or the first call's decision), else decided now from the incoming request by the service's lane rules and
   * bucketing, and kept in the context for the request's later calls. Undefined: the ratio decides.
   */
  function laneFor(config: InternalAxiosRequestConfig, service: string): Lane | undefined {
    if (config.gray?.lane) return config.gray.lane;
    const store = backend.current();
    if (!store) return undefined;
    if (store.lane === undefined && store.request) {
      store.lane = decideLane(store.request, consumer.lanePolicy(service), consumer.ratioFor(service), store.forcing !== false)?.lane;
    }
    return store.lane;
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
    await consumer.whenReady(host);
    return apply(config, await consumer.resolve(host, laneFor(config, host), routeOptionsFor(config)), host, target);
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
      const decision = consumer.route(host, laneFor(config, host), routeOptionsFor(config));
      if (decision) return apply(config, decision, host, target);
    }
    return routeLater(config, target, known);
  } as GrayRouteInterceptor;
  Object.defineProperty(interceptor, 'consumer', { value: consumer, enumerable: true });
  Object.defineProperty(interceptor, 'close', { value: () => consumer.close(), enumerable: true });
  return interceptor;
}
