/**
 * `useGray(http, options)`: installs graykit on an axios instance — the routing request interceptor and a response
 * interceptor that reports outcomes (outlier ejection) and fails over: a connection-level failure of a request that
 * may be repeated is sent again to another instance of the same lane, routed by the consumer with the failed
 * instances excluded.
 */
// Namespace imports: the declarations then type-check in CommonJS apps without esModuleInterop (TS1192).
import type * as http from 'node:http';
import type * as https from 'node:https';
import type { AxiosError, AxiosInstance, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import { NoInstanceError } from '../errors';
import type { GrayConsumer } from './consumer';
import { createHttpAgent, createHttpsAgent, isStreamBody, resolveFailoverOptions, type FailoverOptions } from './failover';
import { FailoverPolicy } from './failover-policy';
import { createRouteInterceptor, type GrayRouteInterceptor, type GrayRouteOptions } from './gray-route';

export interface UseGrayOptions extends GrayRouteOptions {
  /**
   * Failover on connection-level failures (see FailoverOptions), or false to only route and report outcomes.
   * Default: on, with `defaults.failover` (3 attempts, idempotent methods, same lane, 1000 ms connect timeout).
   */
  failover?: FailoverOptions | false;
  /**
   * A consumer to share (for several axios instances); the connection and routing options are then its own.
   * Default: a new consumer made from these options, closed by `close()`.
   */
  consumer?: GrayConsumer;
}

/** What useGray installed. */
export interface GrayInterceptors {
  /** The request interceptor's id: `http.interceptors.request.eject(id)`. */
  readonly request: number;
  /** The response interceptor's id: `http.interceptors.response.eject(id)`. */
  readonly response: number;
  /** The routing interceptor (the same function `grayRoute()` returns). */
  readonly route: GrayRouteInterceptor;
  readonly consumer: GrayConsumer;
  /** Ejects both interceptors. */
  eject(): void;
  /** Ejects both interceptors, frees graykit's agents, and closes the consumer if useGray made it. */
  close(): void;
}

/**
 * Whether the request went out on a keep-alive connection reused from the pool (Node's `reusedSocket`). axios's
 * default transport (follow-redirects) wraps the native request, which it keeps in `_currentRequest`.
 */
function isReusedSocket(request: unknown): boolean {
  const wrapper = request as { reusedSocket?: boolean; _currentRequest?: { reusedSocket?: boolean } } | undefined;
  return (wrapper?._currentRequest ?? wrapper)?.reusedSocket === true;
}

/**
 * Installs graykit on an axios instance: routing, outcome reports for outlier ejection, and failover.
 *
 * @example
 * const http = axios.create();
 * const gray = useGray(http, { ratio: 10, failover: { attempts: 3 } });
 * await http.get('http://demo/version');   // a refused connection is retried on another instance of the lane
 * // on shutdown: gray.close();
 */
export function useGray(http: AxiosInstance, options: UseGrayOptions = {}): GrayInterceptors {
  const failover = resolveFailoverOptions(options.failover);
  const ownConsumer = options.consumer === undefined;
  let httpAgent: http.Agent | undefined;
  let httpsAgent: https.Agent | undefined;
  // Made with the route interceptor below, which makes (or takes) the consumer it reports to.
  let policy: FailoverPolicy;

  /** Whether the request may be sent again: its body can be, and its method (or `gray.failover`) allows it. */
  function mayResend(config: InternalAxiosRequestConfig): boolean {
    if (failover.attempts <= 1 || isStreamBody(config.data)) return false;
    return config.gray?.failover ?? policy.mayRepeat(config.method);
  }

  const route = createRouteInterceptor(options, options.consumer, {
    crossLane: failover.crossLane,
    mayProbe: (config) => policy.mayProbe(mayResend(config)),
    routed(config) {
      config.gray!.attempts ??= 1;
      if (failover.connectTimeout <= 0) return;
      if (config.url?.startsWith('https:')) {
        if (config.httpsAgent === undefined) config.httpsAgent = httpsAgent ??= createHttpsAgent(failover.connectTimeout);
      } else if (config.httpAgent === undefined) {
        config.httpAgent = httpAgent ??= createHttpAgent(failover.connectTimeout);
      }
    },
  });
  policy = new FailoverPolicy(route.consumer, failover);

  const onResponse = function grayOutcome(response: AxiosResponse): AxiosResponse {
    const gray = response.config?.gray;
    if (gray?.service !== undefined && gray.instance) policy.answered(gray.service, gray.instance, response.status);
    return response;
  };

  const onError = function grayFailover(error: AxiosError): Promise<AxiosResponse> {
    const config = error?.config;
    const gray = config?.gray;
    // Not routed by graykit, or failed before it was sent (no instance, registry unavailable): nothing to do.
    if (!config || !gray?.instance || gray.service === undefined) return Promise.reject(error);
    const { service, instance } = gray;
    if (error.response) {
      policy.answered(service, instance, error.response.status); // it answered: the connection is fine
      return Promise.reject(error);
    }
    const attempts = gray.attempts ?? 1;
    // The retry stays in the request's own lane (which it carries on), not the lane of the instance that failed.
    const lane = gray.stickyLane ?? gray.lane;
    const verdict = policy.attemptFailed(
      { service, instance, lane, attempt: attempts, failed: gray.failed, cancelled: error.code === 'ERR_CANCELED', fresh: !isReusedSocket(error.request), mayResend: () => mayResend(config) },
      error,
    );
    if (!verdict) return Promise.reject(error);
    const failed = [...verdict.failed];
    if (!verdict.retry) {
      config.gray = { ...gray, failed }; // every instance the request may go to has failed it
      return Promise.reject(error);
    }
    // Routed again by the request interceptor, from the URL the caller gave, pinned to the same lane.
    const failedUrl = config.url;
    config.gray = { ...gray, lane, attempts: attempts + 1, failed, instance: undefined };
    config.url = gray.url;
    config.baseURL = gray.baseURL;
    return http.request(config).catch((retryError: unknown) => {
      if (!(retryError instanceof NoInstanceError)) throw retryError;
      // The snapshot changed meanwhile and left no instance: the caller gets the connection failure, which says
      // what went wrong.
      config.gray = { ...gray, failed };
      config.url = failedUrl;
      throw error;
    });
  };

  const request = http.interceptors.request.use(route);
  const response = http.interceptors.response.use(onResponse, onError);
  let ejected = false;
  const eject = () => {
    if (ejected) return;
    ejected = true;
    http.interceptors.request.eject(request);
    http.interceptors.response.eject(response);
  };
  return {
    request,
    response,
    route,
    consumer: route.consumer,
    eject,
    close() {
      eject();
      httpAgent?.destroy();
      httpsAgent?.destroy();
      if (ownConsumer) route.close();
    },
  };
}
