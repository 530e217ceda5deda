/**
 * One request grayDispatcher routes: an old-style undici handler (handler-adapter.ts says why that style) that wraps
 * the caller's, and sends the request to an instance, attempt after attempt.
 *
 * - It tells the caller the request started (onConnect) once, at dispatch, with its own abort, so that an abort lands
 *   while the request waits for the registry, connects, or sits between two attempts.
 * - It reports each attempt's end through the failover policy (failover-policy.ts, shared with useGray).
 * - On a connection-level error before any response it sends the request to another instance of the same lane,
 *   without the caller seeing the failed attempt: a connection never made, for any method whose body can be sent
 *   again; a reset after sending, for the methods failover may repeat.
 */
import { addJavaLane } from '../context/java-lane';
import { BAGGAGE_HEADER } from '../context/propagation';
import { urlHost } from '../registry/paths';
import type { RouteDecision } from '../router';
import type { Instance, Lane } from '../types';
import type { GrayConsumer } from './consumer';
import { isStreamBody, type ConnectionFailure, type ResolvedFailover } from './failover';
import type { FailoverPolicy } from './failover-policy';
import type { Handler } from './handler-adapter';
import { headerValue, isRecord, readCallerHeaders, withLane, withLaneRecord, type Headers } from './lane-headers';
import type { CallRouting } from './lane-routing';
import type { DispatchOptions, Dispatcher } from './undici-builtin';

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

// ---- instances ----------------------------------------------------------------------------------------------------

/** `http://<host>:<port>` of an instance, built once per instance object (snapshots' instances are immutable). */
const instanceOrigins = { 'http:': new WeakMap<Instance, string>(), 'https:': new WeakMap<Instance, string>() };
function instanceOrigin(scheme: string, instance: Instance): string {
  const cache = instanceOrigins[scheme as 'http:' | 'https:'];
  let origin = cache.get(instance);
  if (origin === undefined) cache.set(instance, (origin = `${scheme}//${urlHost(instance.host)}:${instance.port}`));
  return origin;
}

// ---- one routed request -------------------------------------------------------------------------------------------

/** What a routed request needs of the dispatcher that made it. */
export interface RouteHost {
  readonly consumer: GrayConsumer;
  readonly calls: CallRouting;
  readonly failover: ResolvedFailover;
  readonly policy: FailoverPolicy;
  /** Where attempts go: a dispatcher that takes old-style handlers. */
  readonly attemptDispatcher: Dispatcher;
  /** Hands on, unrouted, a request whose host turned out not to be a service. */
  passOn(opts: DispatchOptions, handler: Handler, oldStyle: boolean): boolean;
}

export class RoutedRequest {
  decision?: RouteDecision;
  headers: Headers;
  body: unknown;
  attempt = 0;
  failed?: ReadonlySet<string>;
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
  /** The abort of the attempt in flight, if one is. */
  private attemptAbort: ((reason?: unknown) => void) | null = null;

  constructor(
    readonly host: RouteHost,
    readonly opts: DispatchOptions,
    /** The caller's handler, in the old style (handler-adapter.ts). */
    readonly handler: Handler,
    readonly service: string,
    readonly scheme: string,
  ) {
    this.headers = opts.headers;
    this.body = opts.body;
  }

  /** Tells the caller the request started, with an abort that reaches whatever the request is doing. */
  begin(): void {
    this.handler.onConnect?.((reason: unknown) => this.callerAbort(reason));
  }

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
    const { propagation, java } = this.host.calls;
    const headers = this.readFor === name ? withLaneRecord(this.opts.headers, name, lane, propagation, this.callerBaggage, this.respelled) : withLane(this.opts.headers, name, lane, propagation);
    // Both return a copy of the caller's headers (a record or a flat array): ours to add the Java headers to.
    return java ? (addJavaLane(headers as string[] | Record<string, unknown>, lane, java) as Headers) : headers;
  }

  /** Sends the request to the decision's instance (first attempt). `name`: the lane header, when already looked up. */
  route(decision: RouteDecision, name = this.host.calls.headerFor(this.service)): boolean {
    this.decision = decision;
    this.headers = this.laneHeaders(name, decision.lane);
    const body = this.body;
    if (
      this.host.failover.attempts > 1 &&
      body !== null &&
      typeof body === 'object' &&
      !ArrayBuffer.isView(body) &&
      !isStreamBody(body) &&
      typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
    ) {
      this.body = new ReplayGuard(body as AsyncIterable<unknown>);
    }
    return this.send();
  }

  private send(): boolean {
    this.attempt++;
    this.responded = false;
    this.attemptAbort = null;
    const opts: DispatchOptions = { ...this.opts, origin: instanceOrigin(this.scheme, this.decision!.instance), headers: this.headers };
    if (this.body !== this.opts.body) opts.body = this.body;
    // undici's request() leaves its `dispatcher` option in opts; undici 8 dispatchers refuse it.
    if (opts.dispatcher !== undefined) opts.dispatcher = undefined;
    try {
      return this.host.attemptDispatcher.dispatch(opts, this);
    } catch (error) {
      this.finishWithError(error); // undici throws synchronously only for invalid options; the rest comes by onError
      return true;
    }
  }

  passThrough(): boolean {
    this.passthrough = true;
    this.attempt++;
    return this.host.passOn(this.opts, this as unknown as Handler, true);
  }

  private callerAbort(reason: unknown): void {
    if (this.done || this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    if (this.attemptAbort !== null) return void this.attemptAbort(reason); // the attempt calls back with the error
    // Nothing in flight (waiting for the registry, connecting, between attempts): finish now.
    if (this.decision) this.host.consumer.reportAbandoned(this.service, this.decision.instance.id);
    this.finishWithError(reason);
  }

  finishWithError(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.handler.onError?.(error);
  }

  /** The current attempt's response head: the instance answered. */
  private responseStarted(status: number): void {
    if (this.responded) return;
    this.responded = true;
    if (this.passthrough || status < 200) return;
    this.host.policy.answered(this.service, this.decision!.instance, status);
  }

  /** The current attempt failed: true when another attempt was started (the caller must not see this error). */
  private attemptFailed(error: unknown): boolean {
    if (this.passthrough || this.responded || !this.decision) return false;
    const { service } = this;
    const { instance, lane } = this.decision;
    const verdict = this.host.policy.attemptFailed({ service, instance, lane, attempt: this.attempt, failed: this.failed, cancelled: this.aborted, mayResend: (kind) => this.mayResend(kind) }, error);
    if (!verdict?.retry) return false;
    this.failed = verdict.failed;
    let next: RouteDecision | undefined;
    try {
      next = this.host.consumer.route(service, lane, { exclude: verdict.failed, crossLane: this.host.failover.crossLane });
    } catch {
      return false; // nothing left: the caller gets the connection error, which says more
    }
    if (!next) return false;
    this.decision = next;
    this.headers = this.laneHeaders(this.host.calls.headerFor(service), next.lane);
    // Not from inside the wrapped dispatcher's error path, which may be walking its queue: the next microtask.
    queueMicrotask(() => {
      if (this.done) return;
      if (this.aborted) this.finishWithError(this.reason);
      else this.send();
    });
    return true;
  }

  private mayResend(kind: ConnectionFailure): boolean {
    if (!isReplayable(this.body) || this.opts.upgrade) return false;
    if (kind === 'unsent') return true; // never reached the instance: safe for any method
    return this.host.policy.mayRepeat(this.opts.method);
  }

  // ---- the old-style handler the attempts are dispatched with --------------------------------------------------------

  onConnect(abort: (reason?: unknown) => void): void {
    if (this.aborted || this.done) return void abort(this.reason);
    this.attemptAbort = abort;
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
