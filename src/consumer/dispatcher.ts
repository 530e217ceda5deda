/**
 * `grayDispatcher(options)`: an undici Dispatcher that makes Node's built-in `fetch` (and undici's `request()`)
 * route `http://<service>/…` as `grayRoute` routes axios: the same consumer, lanes (CallRouting), lane header and
 * baggage, rules, bucketing, failover to another instance on connection errors, outlier ejection, `outcome`
 * events and consumer metrics. Every other request goes to the dispatcher it wraps, untouched: the global one by
 * default, the one the built-in fetch would have used.
 *
 * It depends on no `undici` package (undici-builtin.ts says why): it never builds a request of its own, it hands
 * the wrapped dispatcher a rewritten copy of the caller's options with a handler of the caller's own style.
 *
 * Per routed request, a RoutedRequest wraps the caller's handler:
 * - it tells the caller the request started (onConnect / onRequestStart) once, at dispatch, with its own abort, so
 *   that an abort lands while the request waits for the registry, connects, or sits between two attempts;
 * - it reports the outcome when the response starts;
 * - on a connection-level error before any response it sends the request to another instance of the same lane
 *   (failover), without the caller seeing the failed attempt: a connection never made, for any method whose body
 *   can be sent again; a reset after sending, for idempotent methods only.
 */
import { EventEmitter } from 'node:events';
import { isIPv4 } from 'node:net';
import type { Dispatcher as UndiciDispatcher } from 'undici-types';
import { contextBackend } from '../context/lane-context';
import { BAGGAGE_HEADER, withLaneInBaggage, type LanePropagation } from '../context/propagation';
import { addJavaLane } from '../context/java-lane';
import { ClosedError, InvalidOptionError } from '../errors';
import { urlHost } from '../registry/paths';
import type { RouteDecision } from '../router';
import { parseLane, type Instance, type Lane } from '../types';
import { safeEmit } from '../util/emit';
import { GrayConsumer, type RouteOptions } from './consumer';
import { resolveFailoverOptions, type ResolvedFailover } from './failover';
import type { GrayRouteOptions } from './gray-route';
import { CallRouting, checkLaneOptions } from './lane-routing';
import { emitOutcome, type Outcome } from './outcome';
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
import type { FailoverOptions } from './failover';
import type { RetryEvent } from './use-gray';

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

// ---- connection errors ------------------------------------------------------------------------------------------

/** Before a connection existed: the instance certainly did not see the request. */
const UNSENT_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ETIMEDOUT']);
/** After the connection was made, before any response: the instance may or may not have seen it. */
const SENT_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/** 'unsent' | 'sent' | undefined (not a connection-level error: a timeout of the headers or body, an abort). */
function connectionErrorKind(error: unknown): 'unsent' | 'sent' | undefined {
  const e = error as { code?: unknown; syscall?: unknown } | undefined;
  if (typeof e?.code !== 'string') return undefined;
  if (UNSENT_CODES.has(e.code)) return e.code === 'ETIMEDOUT' && e.syscall !== 'connect' ? undefined : 'unsent';
  return SENT_CODES.has(e.code) ? 'sent' : undefined;
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

/** `http://<host>:<port>` of an instance, built once per instance object (snapshots' instances are immutable). */
const instanceOrigins = { 'http:': new WeakMap<Instance, string>(), 'https:': new WeakMap<Instance, string>() };
function instanceOrigin(scheme: string, instance: Instance): string {
  const cache = instanceOrigins[scheme as 'http:' | 'https:'];
  let origin = cache.get(instance);
  if (origin === undefined) cache.set(instance, (origin = `${scheme}//${urlHost(instance.host)}:${instance.port}`));
  return origin;
}

// ---- headers ------------------------------------------------------------------------------------------------------

type Headers = DispatchOptions['headers'];

function sameName(key: unknown, name: string): boolean {
  const text = typeof key === 'string' ? key : String(key);
  return text.length === name.length && text.toLowerCase() === name;
}

/** The header's value in any of undici's header formats (object, flat array, pairs), any case. @internal (exported for tests) */
export function headerValue(headers: Headers, name: string): unknown {
  if (!headers) return undefined;
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) return (headers as unknown as Array<[string, string]>).find(([key]) => sameName(key, name))?.[1];
    for (let i = 0; i < headers.length; i += 2) if (sameName(headers[i], name)) return headers[i + 1];
    return undefined;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [key, value] of headers as Iterable<[string, string]>) if (sameName(key, name)) return value;
    return undefined;
  }
  const record = headers as Record<string, unknown>;
  if (name in record) return record[name];
  for (const key in record) if (sameName(key, name)) return record[key];
  return undefined;
}

/** Whether undici's headers are a plain object (what fetch passes) or absent: not a flat array, pairs or an iterable. */
export function isRecord(headers: Headers): boolean {
  return !headers || (!Array.isArray(headers) && typeof (headers as Iterable<unknown>)[Symbol.iterator] !== 'function');
}

/** graykit's baggage member alone, for a caller who sent no baggage: what withLaneInBaggage(undefined, lane) builds. */
const OWN_BAGGAGE: Readonly<Record<Lane, string>> = Object.freeze({ gray: withLaneInBaggage(undefined, 'gray') as string, normal: withLaneInBaggage(undefined, 'normal') as string });

/** Bits of `respelled`: the caller's headers spell the lane header, or baggage, in another case too. */
const LANE_RESPELLED = 1;
const BAGGAGE_RESPELLED = 2;

/**
 * One pass over a plain headers object for the two names graykit writes: returns the caller's value of the lane
 * header `name` and sets `into.callerBaggage` and `into.respelled` (which names also appear in another case). Values
 * are read as headerValue reads them: the exact spelling when present, else the first other spelling in key order.
 * `name` is lower-case and is not `baggage`. @internal (exported for tests)
 */
export function readCallerHeaders(headers: Headers, name: string, into: { callerBaggage: unknown; respelled: number }): unknown {
  into.callerBaggage = undefined;
  into.respelled = 0;
  if (!headers) return undefined;
  const record = headers as Record<string, unknown>;
  let lane: unknown;
  let laneFound = 0; // 0: none, 1: another spelling, 2: the exact one
  let baggageFound = 0;
  for (const key in record) {
    if (key.length === name.length) {
      if (key === name) {
        lane = record[key];
        laneFound = 2;
      } else if (key.toLowerCase() === name) {
        into.respelled |= LANE_RESPELLED;
        if (laneFound === 0) {
          lane = record[key];
          laneFound = 1;
        }
      }
    }
    if (key.length === BAGGAGE_HEADER.length) {
      if (key === BAGGAGE_HEADER) {
        into.callerBaggage = record[key];
        baggageFound = 2;
      } else if (key.toLowerCase() === BAGGAGE_HEADER) {
        into.respelled |= BAGGAGE_RESPELLED;
        if (baggageFound === 0) {
          into.callerBaggage = record[key];
          baggageFound = 1;
        }
      }
    }
  }
  return lane;
}

/**
 * withLane for a plain headers object already read by RoutedRequest.readHeaders: the same copy, without reading the
 * headers again. `callerBaggage` is the caller's baggage (any spelling), `respelled` says which of the two names the caller
 * also spelled in another case (those spellings are dropped). @internal (exported for tests)
 */
export function withLaneRecord(headers: Headers, name: string, lane: Lane, propagation: LanePropagation, callerBaggage: unknown, respelled: number): Headers {
  const writeHeader = propagation !== 'baggage';
  const writeBaggage = propagation !== 'header';
  const record = (headers ?? {}) as Record<string, string | string[] | undefined>;
  let out: Record<string, string | string[] | undefined>;
  if ((writeHeader && respelled & LANE_RESPELLED) || (writeBaggage && respelled & BAGGAGE_RESPELLED)) {
    out = {};
    for (const key in record) {
      if (!((writeHeader && sameName(key, name)) || (writeBaggage && sameName(key, BAGGAGE_HEADER)))) out[key] = record[key];
    }
  } else out = { ...record };
  if (writeHeader) out[name] = lane;
  if (writeBaggage) out[BAGGAGE_HEADER] = callerBaggage === undefined ? OWN_BAGGAGE[lane] : ((withLaneInBaggage(callerBaggage, lane) ?? callerBaggage) as string);
  return out;
}

/**
 * A copy of the request's headers carrying `lane`: the lane header set and/or graykit's baggage member merged into
 * the caller's baggage, every other spelling of those two names dropped. Always a copy: undici's request() hands
 * over the caller's own object. For a plain object (what fetch passes) a spread, which V8 clones by the object's
 * shape in tens of nanoseconds. @internal (exported for tests)
 */
export function withLane(headers: Headers, name: string, lane: Lane, propagation: LanePropagation): Headers {
  const writeHeader = propagation !== 'baggage';
  const baggage = propagation !== 'header' ? (withLaneInBaggage(headerValue(headers, BAGGAGE_HEADER), lane) ?? headerValue(headers, BAGGAGE_HEADER)) : undefined;
  const replaced = (key: unknown) => (writeHeader && sameName(key, name)) || (baggage !== undefined && sameName(key, BAGGAGE_HEADER));
  if (headers && (Array.isArray(headers) || typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function')) {
    const flat: string[] = [];
    if (Array.isArray(headers) && !(headers.length > 0 && Array.isArray(headers[0]))) {
      for (let i = 0; i < headers.length; i += 2) if (!replaced(headers[i])) flat.push(headers[i] as string, headers[i + 1] as string);
    } else {
      for (const [key, value] of headers as Iterable<[string, string]>) if (!replaced(key)) flat.push(key, value);
    }
    if (writeHeader) flat.push(name, lane);
    if (baggage !== undefined) flat.push(BAGGAGE_HEADER, String(baggage));
    return flat;
  }
  const record = (headers ?? {}) as Record<string, string | string[] | undefined>;
  let out: Record<string, string | string[] | undefined>;
  let other = false;
  for (const key in record) if (replaced(key) && key !== name && key !== BAGGAGE_HEADER) other = true;
  if (other) {
    out = {};
    for (const key in record) if (!replaced(key)) out[key] = record[key];
  } else out = { ...record };
  if (writeHeader) out[name] = lane;
  if (baggage !== undefined) out[BAGGAGE_HEADER] = baggage as string;
  return out;
}

// ---- bodies -------------------------------------------------------------------------------------------------------

/**
 * fetch hands every body to the dispatcher as a one-shot async iterable; it can be sent again only if no attempt
 * began reading it (true after a refused connect or a connect timeout: undici reads the body once connected). This
 * records that, adding nothing per chunk.
 */
class ReplayGuard {
  started = false;
  constructor(private readonly source: AsyncIterable<unknown>) {}
  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    this.started = true;
    return this.source[Symbol.asyncIterator]();
  }
}

function isReplayable(body: unknown): boolean {
  if (body === null || body === undefined || typeof body === 'string' || ArrayBuffer.isView(body) || body instanceof ArrayBuffer) return true;
  return body instanceof ReplayGuard && !body.started;
}

function isStream(body: object): boolean {
  const b = body as { pipe?: unknown; on?: unknown; getReader?: unknown };
  return typeof b.pipe === 'function' || typeof b.on === 'function' || typeof b.getReader === 'function';
}

// ---- one routed request -------------------------------------------------------------------------------------------

type Handler = Record<string, ((...args: unknown[]) => unknown) | undefined>;

/**
 * State and logic of one routed request, shared by both handler styles; the subclasses carry exactly one style's
 * callbacks, since undici tells the styles apart by `typeof handler.onRequestStart`.
 */
abstract class RoutedRequest {
  decision?: RouteDecision;
  headers: Headers;
  body: unknown;
  attempt = 0;
  failed?: Set<string>;
  aborted = false;
  reason: unknown;
  /** The caller's handler got its final callback (complete or error). */
  done = false;
  /** A response head arrived on the current attempt: failover is no longer possible. */
  responded = false;
  /** A deferred lookup found the host is no service: the request goes on unchanged. */
  passthrough = false;
  /** The lane header name the caller's plain headers object was read for (readHeaders), if it was. */
  private readFor: string | undefined = undefined;
  /** What that read found: the caller's baggage (any spelling), and which names are spelled in another case too. */
  callerBaggage: unknown = undefined;
  respelled = 0;

  constructor(
    readonly gray: GrayDispatcher,
    readonly opts: DispatchOptions,
    readonly handler: Handler,
    readonly service: string,
    readonly scheme: string,
  ) {
    this.headers = opts.headers;
    this.body = opts.body;
  }

  abstract begin(): void;
  protected abstract clearInner(): void;
  protected abstract abortInner(reason: unknown): boolean;
  protected abstract deliverError(error: unknown): void;

  /**
   * The caller's value of the lane header `name`, read (readCallerHeaders) in the same single pass over a plain
   * headers object that also finds the caller's baggage for laneHeaders(): the hot path reads the caller's headers
   * once. Other header formats are read as before, by headerValue and withLane.
   */
  readHeaders(name: string): unknown {
    const headers = this.opts.headers;
    if (name === BAGGAGE_HEADER || !isRecord(headers)) return headerValue(headers, name);
    this.readFor = name;
    return readCallerHeaders(headers, name, this);
  }

  /** The headers of an attempt in `lane`: withLane, from what readHeaders found when it read for the same name. */
  laneHeaders(name: string, lane: Lane): Headers {
    const { propagation, java } = this.gray.calls;
    const headers = this.readFor === name ? withLaneRecord(this.opts.headers, name, lane, propagation, this.callerBaggage, this.respelled) : withLane(this.opts.headers, name, lane, propagation);
    // Both return a copy of the caller's headers (a record or a flat array): ours to add the Java headers to.
    return java ? (addJavaLane(headers as string[] | Record<string, unknown>, lane, java) as Headers) : headers;
  }

  /** Sends the request to the decision's instance (first attempt). `name`: the lane header, when already looked up. */
  route(decision: RouteDecision, name = this.gray.calls.headerFor(this.service)): boolean {
    this.decision = decision;
    this.headers = this.laneHeaders(name, decision.lane);
    const body = this.body;
    if (
      this.gray.failover.attempts > 1 &&
      body !== null &&
      typeof body === 'object' &&
      !ArrayBuffer.isView(body) &&
      !isStream(body) &&
      typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
    ) {
      this.body = new ReplayGuard(body as AsyncIterable<unknown>);
    }
    return this.send();
  }

  send(): boolean {
    this.attempt++;
    this.responded = false;
    this.clearInner();
    const opts: DispatchOptions = { ...this.opts, origin: instanceOrigin(this.scheme, this.decision!.instance), headers: this.headers };
    if (this.body !== this.opts.body) opts.body = this.body;
    // undici's request() leaves its `dispatcher` option in opts; undici 8 dispatchers refuse it.
    if (opts.dispatcher !== undefined) opts.dispatcher = undefined;
    try {
      return this.gray.instanceDispatcherFor(this).dispatch(opts, this);
    } catch (error) {
      this.finishWithError(error); // undici throws synchronously only for invalid options; the rest comes by onError
      return true;
    }
  }

  passThrough(): boolean {
    this.passthrough = true;
    this.attempt++;
    return this.gray.passOn(this.opts, this as unknown as Handler, this instanceof LegacyRoutedRequest);
  }

  callerAbort(reason: unknown): void {
    if (this.done || this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    if (this.abortInner(reason)) return; // the attempt in flight calls back with the error, which is passed on
    // Nothing in flight (waiting for the registry, connecting, between attempts): finish now.
    if (this.decision) this.gray.consumer.reportAbandoned(this.service, this.decision.instance.id);
    this.finishWithError(reason);
  }

  finishWithError(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.deliverError(error);
  }

  private servedLane(): Lane {
    return this.decision!.instance.gray ? 'gray' : 'normal';
  }

  private outcome(outcome: Outcome, status?: number): void {
    emitOutcome(this.gray.consumer, this.service, this.decision!.instance, this.servedLane(), outcome, status);
  }

  /** The current attempt's response head: the instance answered. */
  responseStarted(status: number): void {
    if (this.responded) return;
    this.responded = true;
    if (this.passthrough || status < 200) return;
    this.gray.consumer.reportSuccess(this.service, this.decision!.instance.id);
    this.outcome(status >= 500 ? 'http_error' : 'success', status);
  }

  /** The current attempt failed: true when another attempt was started (the caller must not see this error). */
  attemptFailed(error: unknown): boolean {
    if (this.passthrough || this.responded || !this.decision) return false;
    const { consumer, failover } = this.gray;
    const { instance } = this.decision;
    if (this.aborted) {
      consumer.reportAbandoned(this.service, instance.id);
      return false;
    }
    const kind = connectionErrorKind(error);
    if (kind === undefined) {
      consumer.reportAbandoned(this.service, instance.id);
      this.outcome('other_error');
      return false;
    }
    // A reset after sending may be a keep-alive connection the instance closed as idle just as it was reused
    // (undici does not say which): it fails over, but only a connection never made counts against the instance.
    if (kind === 'unsent') consumer.reportFailure(this.service, instance.id);
    this.outcome('connection_error');
    if (this.attempt >= failover.attempts || !this.mayResend(kind)) return false;
    (this.failed ??= new Set()).add(instance.id);
    let next: RouteDecision | undefined;
    try {
      next = consumer.route(this.service, this.decision.lane, { exclude: this.failed, crossLane: failover.crossLane });
    } catch {
      return false; // nothing left: the caller gets the connection error, which says more
    }
    if (!next) return false;
    this.decision = next;
    this.headers = this.laneHeaders(this.gray.calls.headerFor(this.service), next.lane);
    safeEmit(consumer, consumer.connection.logger, 'retry', { service: this.service, instance, attempt: this.attempt + 1, error } satisfies RetryEvent);
    // Not from inside the wrapped dispatcher's error path, which may be walking its queue: the next microtask.
    queueMicrotask(() => {
      if (this.done) return;
      if (this.aborted) this.finishWithError(this.reason);
      else this.send();
    });
    return true;
  }

  private mayResend(kind: 'unsent' | 'sent'): boolean {
    if (!isReplayable(this.body) || this.opts.upgrade) return false;
    if (kind === 'unsent') return true; // never reached the instance: safe for any method
    return this.gray.mayRepeat(this.opts.method);
  }
}

/** The old-style handler API: what the fetch of Node 20/22/24 and undici 6/7's request() pass. */
class LegacyRoutedRequest extends RoutedRequest {
  private innerAbort: ((reason?: unknown) => void) | null = null;

  begin(): void {
    this.handler.onConnect?.((reason: unknown) => this.callerAbort(reason));
  }

  protected clearInner(): void {
    this.innerAbort = null;
  }

  protected abortInner(reason: unknown): boolean {
    if (this.innerAbort === null) return false;
    this.innerAbort(reason);
    return true;
  }

  protected deliverError(error: unknown): void {
    this.handler.onError?.(error);
  }

  onConnect(abort: (reason?: unknown) => void): void {
    if (this.aborted || this.done) return void abort(this.reason);
    this.innerAbort = abort;
  }

  onResponseStarted(): unknown {
    return this.done ? undefined : this.handler.onResponseStarted?.();
  }

  onHeaders(statusCode: number, rawHeaders: unknown, resume: unknown, statusText: unknown): unknown {
    if (this.done) return false;
    this.responseStarted(statusCode);
    return this.handler.onHeaders?.(statusCode, rawHeaders, resume, statusText);
  }

  onData(chunk: unknown): unknown {
    return this.done ? false : this.handler.onData?.(chunk);
  }

  onComplete(trailers: unknown): unknown {
    if (this.done) return undefined;
    this.done = true;
    return this.handler.onComplete?.(trailers);
  }

  onError(error: unknown): void {
    if (this.done || this.attemptFailed(error)) return;
    this.done = true;
    this.handler.onError?.(error);
  }

  onUpgrade(statusCode: number, rawHeaders: unknown, socket: unknown): unknown {
    if (this.done) return undefined;
    this.responseStarted(statusCode);
    this.done = true;
    return this.handler.onUpgrade?.(statusCode, rawHeaders, socket);
  }

  onBodySent(chunk: unknown): unknown {
    return this.handler.onBodySent?.(chunk);
  }

  onRequestSent(): unknown {
    return this.handler.onRequestSent?.();
  }
}

/** The controller a new-style caller gets: the same across attempts, acting on the current attempt's own. */
class OuterController {
  constructor(private readonly request: ControllerRoutedRequest) {}
  abort(reason: unknown): void {
    this.request.callerAbort(reason);
  }
  pause(): void {
    this.request.paused = true;
    this.request.innerController?.pause();
  }
  resume(): void {
    this.request.paused = false;
    this.request.innerController?.resume();
  }
  get aborted(): boolean {
    return this.request.aborted;
  }
  get paused(): boolean {
    return this.request.paused;
  }
  get reason(): unknown {
    return this.request.reason ?? null;
  }
  // undici 8's fetch reads these in onResponseStart.
  get rawHeaders(): unknown {
    return this.request.innerController?.rawHeaders ?? null;
  }
  get rawTrailers(): unknown {
    return this.request.innerController?.rawTrailers ?? null;
  }
}

interface InnerController {
  abort(reason: unknown): void;
  pause(): void;
  resume(): void;
  rawHeaders?: unknown;
  rawTrailers?: unknown;
}

/** The new-style (controller) handler API: undici 7's new API and Node 26's fetch. */
class ControllerRoutedRequest extends RoutedRequest {
  innerController: InnerController | null = null;
  paused = false;
  private readonly outer = new OuterController(this);

  begin(): void {
    this.handler.onRequestStart?.(this.outer, {});
  }

  protected clearInner(): void {
    this.innerController = null;
  }

  protected abortInner(reason: unknown): boolean {
    if (this.innerController === null) return false;
    this.innerController.abort(reason);
    return true;
  }

  protected deliverError(error: unknown): void {
    this.handler.onResponseError?.(this.outer, error);
  }

  onRequestStart(controller: InnerController): void {
    if (this.aborted || this.done) return void controller.abort(this.reason);
    this.innerController = controller;
    if (this.paused) controller.pause();
  }

  onResponseStarted(): unknown {
    return this.done ? undefined : this.handler.onResponseStarted?.();
  }

  onRequestUpgrade(_controller: unknown, statusCode: number, headers: unknown, socket: unknown): void {
    if (this.done) return;
    this.responseStarted(statusCode);
    this.done = true;
    this.handler.onRequestUpgrade?.(this.outer, statusCode, headers, socket);
  }

  onResponseStart(_controller: unknown, statusCode: number, headers: unknown, statusMessage: unknown): void {
    if (this.done) return;
    this.responseStarted(statusCode);
    this.handler.onResponseStart?.(this.outer, statusCode, headers, statusMessage);
  }

  onResponseData(_controller: unknown, chunk: unknown): void {
    if (!this.done) this.handler.onResponseData?.(this.outer, chunk);
  }

  onResponseEnd(_controller: unknown, trailers: unknown): void {
    if (this.done) return;
    this.done = true;
    this.handler.onResponseEnd?.(this.outer, trailers);
  }

  onResponseError(_controller: unknown, error: unknown): void {
    if (this.done || this.attemptFailed(error)) return;
    this.done = true;
    this.handler.onResponseError?.(this.outer, error);
  }
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
export class GrayDispatcher extends EventEmitter implements Dispatcher {
  readonly consumer: GrayConsumer;
  readonly calls: CallRouting;
  readonly failover: ResolvedFailover;
  /** The dispatcher every request ends up on (routed requests, when graykit has no Agent of its own, too). */
  readonly inner: Dispatcher;
  private readonly ownConsumer: boolean;
  private closed = false;
  private readonly repeatable = new Map<string, boolean>();
  private readonly ownedAgent?: Dispatcher;
  private readonly instanceDispatcher: Dispatcher;
  private readonly legacyInstanceDispatcher: Dispatcher;
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
    this.calls = new CallRouting({ consumer: this.consumer, backend: contextBackend(context), laneHeader, propagation, java });
    this.inner = options.dispatcher ?? fetchGlobalDispatcher();
    // Routed requests get a connect timeout from graykit's own Agent, of the undici the built-in fetch runs on, when
    // the wrapped dispatcher is the built-in global one; any other keeps its own connect timeout.
    const wrapsGlobal = this.inner === getGlobalDispatcher(DISPATCHER_SYMBOL_V1) || this.inner === getGlobalDispatcher(DISPATCHER_SYMBOL_V2);
    const Agent = wrapsGlobal && this.failover.connectTimeout > 0 ? builtinAgentClass() : undefined;
    if (Agent) {
      this.ownedAgent = new Agent({ connect: preciseConnector(this.failover.connectTimeout) });
      const Wrapper = dispatcher1WrapperClass();
      this.instanceDispatcher = this.ownedAgent;
      this.legacyInstanceDispatcher = Wrapper ? new Wrapper(this.ownedAgent) : this.ownedAgent;
    } else {
      this.instanceDispatcher = this.inner;
      this.legacyInstanceDispatcher = this.inner;
    }
    const Wrapper = BUNDLED_UNDICI_MAJOR >= 8 && this.inner === getGlobalDispatcher(DISPATCHER_SYMBOL_V2) ? dispatcher1WrapperClass() : undefined;
    this.legacyInner = Wrapper ? new Wrapper(this.inner) : this.inner;
    if (!Agent && this.legacyInner !== this.inner) this.legacyInstanceDispatcher = this.legacyInner;
  }

  /** A request that is not routed: the caller's options and handler, as they are. */
  passOn(opts: DispatchOptions, handler: Handler, legacy = typeof handler.onRequestStart !== 'function'): boolean {
    if (legacy && this.legacyInner !== this.inner) return this.legacyInner.dispatch(opts.dispatcher === undefined ? opts : { ...opts, dispatcher: undefined }, handler);
    return this.inner.dispatch(opts, handler);
  }

  instanceDispatcherFor(request: RoutedRequest): Dispatcher {
    return request instanceof LegacyRoutedRequest ? this.legacyInstanceDispatcher : this.instanceDispatcher;
  }

  /** undici's Dispatcher#dispatch. Never throws: a request that cannot be routed fails through its handler. */
  dispatch(opts: DispatchOptions, handler: object): boolean {
    const target = parseOrigin(opts.origin);
    if (target === NOT_ROUTED) return this.passOn(opts, handler as Handler);
    const service = target.host;
    const known = this.consumer.isService(service);
    if (known === false) return this.passOn(opts, handler as Handler);
    const h = handler as Handler;
    const request = typeof h.onRequestStart === 'function' ? new ControllerRoutedRequest(this, opts, h, service, target.scheme) : new LegacyRoutedRequest(this, opts, h, service, target.scheme);
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
    const replayable = body === null || body === undefined || typeof body === 'string' || ArrayBuffer.isView(body) || (typeof body === 'object' && !isStream(body));
    return replayable && this.mayRepeat(opts.method) ? undefined : NO_PROBE;
  }

  /** Whether failover may send a request of this method again (its `methods`, any case); memoised per method name. */
  mayRepeat(method: string | undefined): boolean {
    const name = method || 'GET';
    let repeat = this.repeatable.get(name);
    if (repeat === undefined) {
      if (this.repeatable.size >= 64) this.repeatable.clear(); // bounded: methods are a caller's strings
      this.repeatable.set(name, (repeat = this.failover.methods.has(name.toLowerCase())));
    }
    return repeat;
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

const NO_PROBE: RouteOptions = Object.freeze({ probe: false });

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
