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
import type { Instance } from '../types';
import { safeEmit } from '../util/emit';
import type { GrayConsumer } from './consumer';
import { createHttpAgent, createHttpsAgent, isConnectionError, resolveFailoverOptions, type FailoverOptions } from './failover';
import { createRouteInterceptor, type GrayRouteInterceptor, type GrayRouteOptions } from './gray-route';
import { emitOutcome, outcomeOfStatus } from './outcome';

export interface UseGrayOptions extends GrayRouteOptions {
  /**
   * Failover on connection-level failures (see FailoverOptions), or false to only route and report outcomes.
   * Default: on, with DEFAULT_FAILOVER_OPTIONS (3 attempts, idempotent methods, same lane, 1000 ms connect timeout).
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

/** Payload of the consumer's `retry` event. */
export interface RetryEvent {
  service: string;
  /** The instance that failed. */
  instance: Instance;
  /** The attempt about to be made (2 for the first retry). */
  attempt: number;
  error: unknown;
}

/**
 * Whether the request went out on a keep-alive connection reused from the pool (Node's `reusedSocket`). axios's
 * default transport (follow-redirects) wraps the native request, which it keeps in `_currentRequest`.
 */
function isReusedSocket(request: unknown): boolean {
  const wrapper = request as { reusedSocket?: boolean; _currentRequest?: { reusedSocket?: boolean } } | undefined;
  return (wrapper?._currentRequest ?? wrapper)?.reusedSocket === true;
}

/** A body that is read as it is sent cannot be sent twice. */
function isStream(data: unknown): boolean {
  return typeof data === 'object' && data !== null && (typeof (data as { pipe?: unknown }).pipe === 'function' || typeof (data as { getReader?: unknown }).getReader === 'function');
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

  function mayFailover(config: InternalAxiosRequestConfig): boolean {
    if (failover.attempts <= 1 || isStream(config.data)) return false;
    return config.gray?.failover ?? failover.methods.has((config.method ?? 'get').toLowerCase());
  }

  const route = createRouteInterceptor(options, options.consumer, {
    crossLane: failover.crossLane,
    // A probe that finds the instance still down then costs a retry, not an error. Without failover any request
    // may probe, or an ejected instance would never come back.
    mayProbe: (config) => failover.attempts <= 1 || mayFailover(config),
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

  const onResponse = function grayOutcome(response: AxiosResponse): AxiosResponse {
    const gray = response.config?.gray;
    if (gray?.service !== undefined && gray.instance) {
      route.consumer.reportSuccess(gray.service, gray.instance.id);
      emitOutcome(route.consumer, gray.service, gray.instance, gray.lane, outcomeOfStatus(response.status), response.status);
    }
    return response;
  };

  const onError = function grayFailover(error: AxiosError): Promise<AxiosResponse> {
    const config = error?.config;
    const gray = config?.gray;
    // Not routed by graykit, or failed before it was sent (no instance, registry unavailable): nothing to do.
    if (!config || !gray?.instance || gray.service === undefined) return Promise.reject(error);
    const { service, instance } = gray;
    if (error.response) {
      route.consumer.reportSuccess(service, instance.id); // it answered: the connection is fine
      emitOutcome(route.consumer, service, instance, gray.lane, outcomeOfStatus(error.response.status), error.response.status);
      return Promise.reject(error);
    }
    if (!isConnectionError(error)) {
      route.consumer.reportAbandoned(service, instance.id); // timed out or cancelled: no verdict
      if (error.code !== 'ERR_CANCELED') emitOutcome(route.consumer, service, instance, gray.lane, 'other_error');
      return Promise.reject(error);
    }
    // A reset of a reused keep-alive connection is most likely the instance closing it as idle just as it was reused
    // (Node's docs advise retrying those): fail over, but it says nothing about the instance's health.
    const reused = isReusedSocket(error.request);
    if (!(reused && (error.code === 'ECONNRESET' || error.code === 'EPIPE'))) route.consumer.reportFailure(service, instance.id);
    emitOutcome(route.consumer, service, instance, gray.lane, 'connection_error');
    const attempts = gray.attempts ?? 1;
    if (attempts >= failover.attempts || !mayFailover(config)) return Promise.reject(error);
    const failedUrl = config.url;
    const failed = [...(gray.failed ?? []), instance.id];
    // The retry stays in the request's own lane (which it carries on), not the lane of the instance that failed.
    const lane = gray.stickyLane ?? gray.lane;
    if (!route.consumer.canRoute(service, lane, { exclude: new Set(failed), crossLane: failover.crossLane })) {
      config.gray = { ...gray, failed }; // every instance the request may go to has failed it
      return Promise.reject(error);
    }
    // Routed again by the request interceptor, from the URL the caller gave, pinned to the same lane.
    config.gray = { ...gray, lane, attempts: attempts + 1, failed, instance: undefined };
    config.url = gray.url;
    config.baseURL = gray.baseURL;
    route.consumer.connection.logger.debug(`${config.method?.toUpperCase()} ${gray.url}: ${instance.id} failed (${error.code}); attempt ${attempts + 1}`);
    safeEmit(route.consumer, route.consumer.connection.logger, 'retry', { service, instance, attempt: attempts + 1, error } satisfies RetryEvent);
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
