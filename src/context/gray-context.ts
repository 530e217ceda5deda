import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidOptionError } from '../errors';
import { isHeaderName } from '../registry/codec';
import { DEFAULT_LANE_HEADER, parseLane, type Lane } from '../types';
import { contextBackend, isContextKind, type ContextBackend, type ContextKind, type LaneStore } from './lane-context';
import { runWithOtelLane } from './otel';
import { BAGGAGE_HEADER, laneFromBaggage } from './propagation';
import { laneFromJavaHeaders, resolveJavaLane, type JavaLaneOptions } from './java-lane';

export interface GrayContextOptions {
  /** Context backend: `als` (AsyncLocalStorage) or `cls` (cls-hooked), or a backend object. Default `als`. */
  context?: ContextKind | ContextBackend;
  /** Incoming header that pins the lane. Default `x-gray-lane`. */
  laneHeader?: string;
  /**
   * Whether a request may force its lane: by the lane header, or by the header and cookie rules. `true` trusts every
   * request (services behind your edge); `false` trusts none (a public edge: clients must not put themselves into
   * gray); a function decides per request (e.g. by source address or an authenticated tester). Untrusted requests
   * still get a lane, by bucketing or ratio. Default `true`.
   */
  trust?: boolean | ((req: IncomingMessage) => boolean);
  /**
   * The lane of a request that brings none (no trusted lane header or baggage): `grayRegister` passes the gray lane
   * while its instance is gray, so that traffic an ingress canary sent to a gray instance stays gray downstream.
   * Default: none (the first routed call decides by rules, bucketing and ratio).
   */
  defaultLane?: () => Lane | undefined;
  /**
   * Also take the lane from the headers Java routers use, after the lane header and baggage and under the same
   * `trust`: Spring Cloud LoadBalancer's `X-SC-LB-Hint` (`true`), and Nepxion's `n-d-version` when its versions are
   * given (`{ nepxion: { gray: 'v2', normal: 'v1' } }`). Default off.
   */
  javaHeaders?: JavaLaneOptions | boolean;
}

export const DEFAULT_CONTEXT_OPTIONS: Required<Omit<GrayContextOptions, 'defaultLane' | 'javaHeaders'>> = {
  context: 'als',
  laneHeader: DEFAULT_LANE_HEADER,
  trust: true,
};

type Next = (error?: unknown) => void;

/**
 * Express (or plain node:http) middleware that opens a lane context per incoming request. Inside it, the first
 * outbound call routed by graykit decides the lane and every later call of the same request reuses it. An incoming
 * lane header (`x-gray-lane: gray|normal`) or W3C baggage member (`baggage: gray.lane=gray`) from a trusted
 * source pins the lane; so does `defaultLane` for requests that bring none. A lane known on arrival is also set as
 * OpenTelemetry baggage of the request's context when the app uses `@opentelemetry/api`.
 *
 * @example
 * app.use(grayContext());
 * app.get('/call', async (req, res) => res.json((await http.get('http://demo/version')).data));
 */
export function grayContext(options: GrayContextOptions = {}) {
  if (typeof options !== 'object' || options === null || 'method' in options) {
    throw new InvalidOptionError('options', 'grayContext takes an options object: use app.use(grayContext()), not app.use(grayContext)');
  }
  const context = options.context ?? DEFAULT_CONTEXT_OPTIONS.context;
  if (!isContextKind(context) && typeof context !== 'object') {
    throw new InvalidOptionError('context', `expected 'als', 'cls' or a backend object, got ${JSON.stringify(context)}`);
  }
  const backend = contextBackend(context);
  const header = (options.laneHeader ?? DEFAULT_CONTEXT_OPTIONS.laneHeader).toLowerCase();
  if (!isHeaderName(header)) throw new InvalidOptionError('laneHeader', `expected an HTTP header name, got ${JSON.stringify(options.laneHeader)}`);
  const trust = options.trust ?? DEFAULT_CONTEXT_OPTIONS.trust;
  if (typeof trust !== 'boolean' && typeof trust !== 'function') throw new InvalidOptionError('trust', 'expected true, false or a function of the request');
  const defaultLane = options.defaultLane;
  const java = resolveJavaLane(options.javaHeaders);
  return function grayContextMiddleware(req: IncomingMessage, res: ServerResponse, next: Next): void {
    let forcing = false;
    try {
      forcing = typeof trust === 'function' ? trust(req) === true : trust;
    } catch {
      forcing = false; // a throwing trust check trusts nobody
    }
    const store: LaneStore = { request: req, forcing };
    if (forcing) {
      const fromHeader = parseLane(req.headers[header]);
      if (fromHeader) Object.assign(store, { lane: fromHeader, source: 'header' });
      else {
        const fromBaggage = laneFromBaggage(req.headers[BAGGAGE_HEADER]);
        if (fromBaggage) Object.assign(store, { lane: fromBaggage, source: 'baggage' });
        else if (java) {
          const fromJava = laneFromJavaHeaders(req.headers, java);
          if (fromJava) Object.assign(store, { lane: fromJava, source: 'header' });
        }
      }
    }
    if (store.lane === undefined && defaultLane) {
      const lane = defaultLane();
      if (lane) Object.assign(store, { lane, source: 'instance' });
    }
    const lane = store.lane;
    backend.run(store, () => {
      backend.bindEmitter(req);
      backend.bindEmitter(res);
      if (lane) runWithOtelLane(lane, next);
      else next();
    });
  };
}
