import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidOptionError } from '../errors';
import { DEFAULT_LANE_HEADER, parseLane } from '../types';
import { contextBackend, isContextKind, type ContextBackend, type ContextKind } from './lane-context';

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
}

export const DEFAULT_CONTEXT_OPTIONS: Required<GrayContextOptions> = {
  context: 'als',
  laneHeader: DEFAULT_LANE_HEADER,
  trust: true,
};

type Next = (error?: unknown) => void;

/**
 * Express (or plain node:http) middleware that opens a lane context per incoming request. Inside it, the first
 * outbound call routed by graykit decides the lane and every later call of the same request reuses it. An incoming
 * lane header (`x-gray-lane: gray|normal`) pins the lane.
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
  const trust = options.trust ?? DEFAULT_CONTEXT_OPTIONS.trust;
  if (typeof trust !== 'boolean' && typeof trust !== 'function') throw new InvalidOptionError('trust', 'expected true, false or a function of the request');
  return function grayContextMiddleware(req: IncomingMessage, res: ServerResponse, next: Next): void {
    let forcing = false;
    try {
      forcing = typeof trust === 'function' ? trust(req) === true : trust;
    } catch {
      forcing = false; // a throwing trust check trusts nobody
    }
    const lane = forcing ? parseLane(req.headers[header]) : undefined;
    backend.run({ lane, request: req, forcing }, () => {
      backend.bindEmitter(req);
      backend.bindEmitter(res);
      next();
    });
  };
}
