/**
 * `grayDispatcher(options)`: an undici Dispatcher that makes Node's built-in `fetch` (and undici's `request()`)
 * route `http://<service>/…` as `grayRoute` routes axios: the same consumer, lanes (CallRouting), lane header and
 * baggage (lane-headers.ts), rules, bucketing, failover (failover-policy.ts, shared with useGray), outlier ejection,
 * `outcome` events and consumer metrics. Every other request goes to the dispatcher it wraps, untouched: the global
 * one by default, the one the built-in fetch would have used.
 *
 * It depends on no `undici` package (undici-builtin.ts says why): it never builds a request of its own, it hands
 * the wrapped dispatcher a rewritten copy of the caller's options with a handler that wraps the caller's
 * (routed-request.ts), whichever of undici's two handler styles the caller used (handler-adapter.ts).
 */
import { EventEmitter } from 'node:events';
import { isIPv4 } from 'node:net';
import type { Dispatcher as UndiciDispatcher } from 'undici-types';
import { contextBackend } from '../context/lane-context';
import { ClosedError, InvalidOptionError } from '../errors';
import { parseLane, type Lane } from '../types';
import type { RouteDecision } from '../router';
import { GrayConsumer, type RouteOptions } from './consumer';
import { isStreamBody, resolveFailoverOptions, type FailoverOptions, type ResolvedFailover } from './failover';
import { FailoverPolicy, NO_PROBE } from './failover-policy';
import type { GrayRouteOptions } from './gray-route';
import { asOldStyleHandler, isControllerHandler, type Handler } from './handler-adapter';
import { CallRouting, checkLaneOptions } from './lane-routing';
import { RoutedRequest, type RouteHost } from './routed-request';
import {
  BUNDLED_UNDICI_MAJOR,
  DISPATCHER_SYMBOL_V1,
  DISPATCHER_SYMBOL_V2,
  builtinAgentClass,
  builtinDispatcherPrototype,
  dispatcher1WrapperClass,
  fetchGlobalDispatcher,
  getGlobalDispatcher,
  loadBundledUndici,
  preciseConnector,
  setGlobalDispatcher,
  type DispatchOptions,
  type Dispatcher,
} from './undici-builtin';

export interface GrayDispatcherOptions extends GrayRouteOptions {
  /**
   * Failover on connection-level failures (see FailoverOptions), or false to only route and report outcomes.
   * Default: on (3 attempts, idempotent methods, same lane, 1000 ms connect timeout applied by graykit's own Agent
   * for routed requests).
   */
  failover?: FailoverOptions | false;
  /** A consumer to share (with useGray, say); the connection and routing options are then its own. */
  consumer?: GrayConsumer;
  /** The dispatcher that sends every request, routed or not. Default: the built-in fetch's global dispatcher. */
  dispatcher?: Dispatcher;
}

// ---- origins ----------------------------------------------------------------------------------------------------

interface Target {
  scheme: string;
  host: string;
}

/** Origins that are never routed: IP literals, localhost, other schemes, unparsable. */
const NOT_ROUTED: Target = Object.freeze({ scheme: '', host: '' });
const ORIGIN_CACHE_SIZE = 1024;
const origins = new Map<string, Target>();
let lastOrigin = '';
let lastTarget = NOT_ROUTED;

function readOrigin(origin: string): Target {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return NOT_ROUTED;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return NOT_ROUTED;
  const host = url.hostname;
  if (host === '' || host === 'localhost' || host.startsWith('[') || isIPv4(host)) return NOT_ROUTED;
  return Object.freeze({ scheme: url.protocol, host });
}

/**
 * `{ scheme, host }` of a dispatch origin (fetch passes `url.origin`, a string; direct callers may pass a URL), read
 * once per distinct origin and bounded like the axios side's authority cache; the same origin as the last request
 * costs one string compare.
 */
function parseOrigin(origin: string | URL | undefined): Target {
  if (origin === undefined || origin === null) return NOT_ROUTED;
  const text = typeof origin === 'string' ? origin : origin.origin;
  if (text === lastOrigin) return lastTarget;
  let target = origins.get(text);
  if (target === undefined) {
    target = readOrigin(text);
    if (origins.size >= ORIGIN_CACHE_SIZE) origins.clear();
    origins.set(text, target);
  }
  lastOrigin = text;
  lastTarget = target;
  return target;
}

// ---- the dispatcher -----------------------------------------------------------------------------------------------

/** undici's API on top of `dispatch()`, which a GrayDispatcher borrows from the built-in Dispatcher's prototype. */
const UNDICI_API = ['request', 'stream', 'pipeline', 'connect', 'upgrade', 'compose'] as const;
let borrowedUndiciApi = false;

/**
 * Gives GrayDispatcher.prototype the built-in undici's `request()`, `stream()`, `compose()`, …: they are written
 * against `this.dispatch()`, so a GrayDispatcher is a whole Dispatcher (and typed as one) without the undici package.
 * Done at the first construction, so that importing graykit does not load undici.
 */
function borrowUndiciApi(): void {
  if (borrowedUndiciApi) return;
  borrowedUndiciApi = true;
  const base = builtinDispatcherPrototype() as Record<string, unknown> | undefined;
  if (!base) return;
  for (const name of UNDICI_API) {
    if (typeof base[name] === 'function' && !Object.prototype.hasOwnProperty.call(GrayDispatcher.prototype, name)) {
      Object.defineProperty(GrayDispatcher.prototype, name, { value: base[name], writable: true, configurable: true });
    }
  }
}

/**
 * The dispatcher. Events of its own: none; routing events (`outcome`, `retry`, `ejected`, …) are the consumer's,
 * as with useGray.
 */
export class GrayDispatcher extends EventEmitter implements Dispatcher, RouteHost {
  readonly consumer: GrayConsumer;
  readonly calls: CallRouting;
  readonly failover: ResolvedFailover;
  readonly policy: FailoverPolicy;
  /** The dispatcher every request ends up on (routed requests, when graykit has no Agent of its own, too). */
  readonly inner: Dispatcher;
  /** Where routed attempts go: graykit's own Agent or the inner dispatcher, able to take old-style handlers. */
  readonly attemptDispatcher: Dispatcher;
  private readonly ownConsumer: boolean;
  private closed = false;
  private readonly ownedAgent?: Dispatcher;
  /** Node 26: old-style callers reach the new-style-only built-in Agent through its Dispatcher1Wrapper. */
  private readonly legacyInner: Dispatcher;

  constructor(options: GrayDispatcherOptions = {}) {
    super();
    borrowUndiciApi();
    const { context, laneHeader, propagation, java } = checkLaneOptions(options);
    if (options.dispatcher !== undefined && typeof options.dispatcher?.dispatch !== 'function') {
      throw new InvalidOptionError('dispatcher', 'expected an undici Dispatcher (an object with dispatch())');
    }
    this.failover = resolveFailoverOptions(options.failover);
    this.ownConsumer = options.consumer === undefined;
    this.consumer = options.consumer ?? new GrayConsumer(options);
    this.policy = new FailoverPolicy(this.consumer, this.failover);
    this.calls = new CallRouting({ consumer: this.consumer, backend: contextBackend(context), laneHeader, propagation, java });
    this.inner = options.dispatcher ?? fetchGlobalDispatcher();
    // Routed requests get a connect timeout from graykit's own Agent, of the undici the built-in fetch runs on, when
    // the wrapped dispatcher is the built-in global one; any other keeps its own connect timeout.
    const wrapsGlobal = this.inner === getGlobalDispatcher(DISPATCHER_SYMBOL_V1) || this.inner === getGlobalDispatcher(DISPATCHER_SYMBOL_V2);
    const Agent = wrapsGlobal && this.failover.connectTimeout > 0 ? builtinAgentClass() : undefined;
    if (Agent) this.ownedAgent = new Agent({ connect: preciseConnector(this.failover.connectTimeout) });
    // Attempts are old-style handlers (handler-adapter.ts): on Node 26, whose dispatchers take only the new style,
    // they go through the built-in Dispatcher1Wrapper.
    const Wrapper = dispatcher1WrapperClass();
    const target = this.ownedAgent ?? this.inner;
    this.attemptDispatcher = Wrapper ? new Wrapper(target) : target;
    const wrapInner = Wrapper && BUNDLED_UNDICI_MAJOR >= 8 && this.inner === getGlobalDispatcher(DISPATCHER_SYMBOL_V2);
    this.legacyInner = !wrapInner ? this.inner : target === this.inner ? this.attemptDispatcher : new Wrapper(this.inner);
  }

  /** A request that is not routed: the caller's options and handler, as they are. */
  passOn(opts: DispatchOptions, handler: Handler, oldStyle = !isControllerHandler(handler)): boolean {
    if (oldStyle && this.legacyInner !== this.inner) return this.legacyInner.dispatch(opts.dispatcher === undefined ? opts : { ...opts, dispatcher: undefined }, handler);
    return this.inner.dispatch(opts, handler);
  }

  /** undici's Dispatcher#dispatch. Never throws: a request that cannot be routed fails through its handler. */
  dispatch(opts: DispatchOptions, handler: object): boolean {
    const target = parseOrigin(opts.origin);
    if (target === NOT_ROUTED) return this.passOn(opts, handler as Handler);
    const service = target.host;
    const known = this.consumer.isService(service);
    if (known === false) return this.passOn(opts, handler as Handler);
    const request = new RoutedRequest(this, opts, asOldStyleHandler(handler), service, target.scheme);
    request.begin();
    if (this.closed) {
      request.finishWithError(new ClosedError('the grayDispatcher'));
      return true;
    }
    // A caller's own lane header pins the request's lane, as `gray: { lane }` does for axios.
    const laneHeader = this.calls.headerFor(service);
    const pinned = parseLane(request.readHeaders(laneHeader));
    const routeOptions = this.routeOptionsFor(opts);
    if (known === true) {
      let decision: RouteDecision | undefined;
      try {
        decision = this.calls.now(service, pinned, routeOptions);
      } catch (error) {
        request.finishWithError(error); // fetch rejects with TypeError('fetch failed', { cause: error })
        return true;
      }
      if (decision) return request.route(decision, laneHeader); // the hot path: memory only, no promise
    }
    void this.routeLater(request, known, pinned, routeOptions);
    return true;
  }

  /** A request that could not fail over must not be an ejected instance's probe (a failed probe would fail it). */
  private routeOptionsFor(opts: DispatchOptions): RouteOptions | undefined {
    if (this.failover.attempts <= 1) return undefined;
    const body = opts.body;
    const replayable = body === null || body === undefined || typeof body === 'string' || ArrayBuffer.isView(body) || (typeof body === 'object' && !isStreamBody(body));
    return this.policy.mayProbe(replayable && this.policy.mayRepeat(opts.method)) ? undefined : NO_PROBE;
  }

  /** The slow path: the service list or the service's first snapshot is not in memory yet. */
  private async routeLater(request: RoutedRequest, known: boolean | undefined, pinned: Lane | undefined, routeOptions: RouteOptions | undefined): Promise<void> {
    try {
      if (known === undefined) {
        await this.consumer.servicesReady();
        if (request.done) return; // aborted meanwhile
        if (!this.consumer.isService(request.service)) {
          request.passThrough();
          return;
        }
      }
      const decision = await this.calls.later(request.service, pinned, routeOptions);
      if (!request.done) request.route(decision);
    } catch (error) {
      request.finishWithError(error);
    }
  }

  /** undici's close([callback]): closes what graykit made (its Agent, its consumer), never the wrapped dispatcher. */
  close(callback?: (error: Error | null, data: null) => void): Promise<void> {
    this.closed = true;
    const done = Promise.resolve(this.ownedAgent?.close()).then(() => {
      if (this.ownConsumer) this.consumer.close();
    });
    if (callback) done.then(() => callback(null, null), (error: Error) => callback(error, null));
    return done;
  }

  destroy(error?: Error | null | ((error: Error | null, data: null) => void), callback?: (error: Error | null, data: null) => void): Promise<void> {
    if (typeof error === 'function') {
      callback = error;
      error = null;
    }
    this.closed = true;
    const done = Promise.resolve(this.ownedAgent?.destroy(error)).then(() => {
      if (this.ownConsumer) this.consumer.close();
    });
    if (callback) done.then(() => callback!(null, null), (e: Error) => callback!(e, null));
    return done;
  }

  // Read by undici's fetch (MockAgent), WebSocket and EventSource from the dispatcher they were given.
  get isMockActive(): boolean | undefined {
    return this.inner.isMockActive;
  }
  get webSocketOptions(): unknown {
    return (this.inner as { webSocketOptions?: unknown }).webSocketOptions;
  }
  get eventSourceOptions(): unknown {
    return (this.inner as { eventSourceOptions?: unknown }).eventSourceOptions;
  }
}


/**
 * An undici Dispatcher for Node's built-in `fetch` (and undici's `request()`): `http://<service>/…` goes to a live
 * instance, in the request's lane, with failover and outcome reports; everything else passes to the wrapped
 * dispatcher untouched. Per call: `fetch(url, { dispatcher })`; for every fetch of the process: `installGrayDispatcher`.
 *
 * @example
 * const dispatcher = grayDispatcher({ ratio: 10 });
 * const res = await fetch('http://demo/version', { dispatcher });
 * // on shutdown: await dispatcher.close();
 */
export function grayDispatcher(options: GrayDispatcherOptions = {}): GrayDispatcher & UndiciDispatcher {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'grayDispatcher takes an options object');
  return new GrayDispatcher(options) as GrayDispatcher & UndiciDispatcher;
}

/** What `installGrayDispatcher` did, and how to undo it. */
export interface InstalledGrayDispatcher {
  /** The dispatcher(s) installed: one, or one per global slot on Node 26. They share one consumer. */
  readonly dispatchers: ReadonlyArray<GrayDispatcher & UndiciDispatcher>;
  readonly consumer: GrayConsumer;
  /** Puts the previous global dispatchers back and closes what was installed. */
  uninstall(): Promise<void>;
}

/**
 * Routes every `fetch` of the process (what undici's `setGlobalDispatcher` does, without the undici package): the
 * built-in fetch's global dispatcher is wrapped in a GrayDispatcher, in each global slot this Node.js has (one on
 * Node 20–24, where Node 24 keeps the same dispatcher under two symbols; two on Node 26), sharing one consumer.
 *
 * @example
 * const gray = installGrayDispatcher({ services: ['demo'] });
 * await fetch('http://demo/version');   // routed
 * // on shutdown: await gray.uninstall();
 */
export function installGrayDispatcher(options: Omit<GrayDispatcherOptions, 'dispatcher'> = {}): InstalledGrayDispatcher {
  loadBundledUndici();
  const consumer = options.consumer ?? new GrayConsumer(options);
  const installed: Array<{ symbol: symbol; previous: Dispatcher; dispatcher: GrayDispatcher }> = [];
  try {
    for (const symbol of [DISPATCHER_SYMBOL_V2, DISPATCHER_SYMBOL_V1]) {
      const previous = getGlobalDispatcher(symbol);
      if (previous === undefined) continue;
      const same = installed.find((entry) => entry.previous === previous);
      const dispatcher = same?.dispatcher ?? new GrayDispatcher({ ...options, consumer, dispatcher: previous });
      installed.push({ symbol, previous, dispatcher });
    }
  } catch (error) {
    if (!options.consumer) consumer.close();
    throw error;
  }
  for (const { symbol, dispatcher } of installed) setGlobalDispatcher(symbol, dispatcher);
  const dispatchers = [...new Set(installed.map((entry) => entry.dispatcher))];
  return {
    dispatchers: dispatchers as Array<GrayDispatcher & UndiciDispatcher>,
    consumer,
    async uninstall() {
      for (const { symbol, previous, dispatcher } of installed) if (getGlobalDispatcher(symbol) === dispatcher) setGlobalDispatcher(symbol, previous);
      await Promise.all(dispatchers.map((dispatcher) => dispatcher.close()));
      if (!options.consumer) consumer.close();
    },
  };
}
