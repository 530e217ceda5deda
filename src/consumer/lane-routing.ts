/**
 * Routing one outbound call in its lane, the part every HTTP client shares (the axios interceptor, the fetch
 * dispatcher, and any client routed by hand): which lane the call belongs to, the route from memory when possible,
 * and what the call carries on to the next service.
 *
 * The lane, first match wins: a lane pinned on the call; the request context's lane (an incoming lane header or
 * baggage, a gray instance's own lane, or the decision of the request's first routed call); a lane set as
 * OpenTelemetry baggage; else it is decided now from the incoming request by the service's rules and bucketing, or
 * drawn by the ratio, and recorded in the context for the request's later calls.
 *
 * A request's first call to a service whose snapshot is not in memory yet must wait for it. Its lane decision is
 * recorded in the context (`pending`) before it waits, and the request's other calls wait for that same decision:
 * a fan-out on a cold consumer stays in one lane.
 */
import { debugChannel } from '../logger';
import type { RouteDecision } from '../router';
import { decideLane } from '../router/lane-policy';
import { DEFAULT_LANE_HEADER, type Lane } from '../types';
import { isContextKind, type ContextBackend, type ContextKind, type LaneSource, type LaneStore } from '../context/lane-context';
import { laneFromOtel } from '../context/otel';
import { DEFAULT_PROPAGATION, isLanePropagation, type LanePropagation } from '../context/propagation';
import { resolveJavaLane, type JavaLaneOptions, type ResolvedJavaLane } from '../context/java-lane';
import { InvalidOptionError } from '../errors';
import { isHeaderName } from '../registry/codec';
import type { GrayConsumer, RouteOptions } from './consumer';

/**
 * The lane options of both clients (grayRoute, grayDispatcher), checked, with their defaults: the context kind, the
 * lane header (lower-cased) and how the lane is written. Throws InvalidOptionError naming the option.
 */
export function checkLaneOptions(options: { context?: ContextKind | ContextBackend; laneHeader?: string; propagation?: LanePropagation; javaHeaders?: JavaLaneOptions | boolean }): {
  context: ContextKind | ContextBackend;
  laneHeader: string;
  propagation: LanePropagation;
  java?: ResolvedJavaLane;
} {
  const context = options.context ?? 'als';
  if (!isContextKind(context) && typeof context !== 'object') {
    throw new InvalidOptionError('context', `expected 'als', 'cls' or a backend object, got ${JSON.stringify(context)}`);
  }
  const laneHeader = (options.laneHeader ?? DEFAULT_LANE_HEADER).toLowerCase();
  if (!isHeaderName(laneHeader)) throw new InvalidOptionError('laneHeader', `expected an HTTP header name, got ${JSON.stringify(options.laneHeader)}`);
  const propagation = options.propagation ?? DEFAULT_PROPAGATION;
  if (!isLanePropagation(propagation)) throw new InvalidOptionError('propagation', `expected 'header', 'baggage' or 'both', got ${JSON.stringify(propagation)}`);
  return { context, laneHeader, propagation, java: resolveJavaLane(options.javaHeaders) };
}

export interface CallRoutingOptions {
  consumer: GrayConsumer;
  backend: ContextBackend;
  /** The lane header, lower-cased (a service's config `laneHeader` replaces it for calls to that service). */
  laneHeader: string;
  propagation: LanePropagation;
  /** Also write the lane in the headers Java routers read (option `javaHeaders`). */
  java?: ResolvedJavaLane;
}

/** The lane of a call as far as it is known before routing, and why. */
interface KnownLane {
  lane?: Lane;
  source?: LaneSource;
}

const UNDECIDED: KnownLane = Object.freeze({});

export class CallRouting {
  readonly consumer: GrayConsumer;
  readonly backend: ContextBackend;
  readonly laneHeader: string;
  readonly propagation: LanePropagation;
  readonly java?: ResolvedJavaLane;

  constructor(options: CallRoutingOptions) {
    this.java = options.java;
    this.consumer = options.consumer;
    this.backend = options.backend;
    this.laneHeader = options.laneHeader;
    this.propagation = options.propagation;
  }

  /** The header that carries the lane on calls to `service`: its config's `laneHeader`, else the option. */
  headerFor(service: string): string {
    return this.consumer.snapshot(service)?.config.laneHeader ?? this.laneHeader;
  }

  /**
   * Routes a call from memory: the decision, or undefined when the call must wait (the service's first snapshot, or
   * a lane decision pending for its request): then call `later`. Throws NoInstanceError when the service has no
   * instance for the call. The hot path: no promise, no allocation beyond the decision.
   */
  now(service: string, pinned: Lane | undefined, options?: RouteOptions): RouteDecision | undefined {
    if (pinned) {
      const decision = this.consumer.route(service, pinned, options);
      return decision && this.settle(service, decision, undefined, 'pinned');
    }
    const store = this.backend.current();
    const known = this.knownLane(service, store);
    if (known === undefined) return undefined;
    const decision = this.consumer.route(service, known.lane, options);
    return decision && this.settle(service, decision, store, known.source);
  }

  /** Routes a call, waiting (bounded by the consumer's `timeout`) for the snapshot and any pending lane decision. */
  async later(service: string, pinned: Lane | undefined, options?: RouteOptions): Promise<RouteDecision> {
    if (pinned) return this.settle(service, await this.consumer.resolve(service, pinned, options), undefined, 'pinned');
    const store = this.backend.current();
    if (!store) {
      const lane = laneFromOtel();
      return this.settle(service, await this.consumer.resolve(service, lane, options), undefined, lane ? 'opentelemetry' : undefined);
    }
    let known = this.knownLane(service, store);
    if (known === undefined) {
      // A decision is pending for this request (this call's own, or an earlier call's): the same for every call.
      // When it could not be made (registry unavailable), this call routes on its own and fails the same way.
      const lane = await store.pending;
      known = lane ? { lane, source: store.source } : UNDECIDED;
    }
    return this.settle(service, await this.consumer.resolve(service, known.lane, options), store, known.source);
  }

  /**
   * The call's lane before routing. Undefined when it cannot be known without waiting: then, for a request whose lane
   * is undecided, the decision is recorded as `store.pending` before returning.
   */
  private knownLane(service: string, store: LaneStore | undefined): KnownLane | undefined {
    if (!store) {
      const lane = laneFromOtel();
      if (lane) return { lane, source: 'opentelemetry' };
      return this.consumer.snapshot(service) ? UNDECIDED : undefined;
    }
    if (store.lane) return { lane: store.lane, source: store.source };
    if (store.pending) return undefined;
    if (store.forcing !== false) {
      const lane = laneFromOtel();
      if (lane) return this.record(store, lane, 'opentelemetry');
    }
    if (!this.consumer.snapshot(service)) {
      store.pending = this.decideLater(service, store);
      return undefined;
    }
    const decided = this.decide(service, store);
    return decided ? this.record(store, decided.lane, decided.reason) : UNDECIDED;
  }

  /** The lane the request's rules or bucketing give, from the service's snapshot; undefined: draw by ratio. */
  private decide(service: string, store: LaneStore) {
    return store.request && decideLane(store.request, this.consumer.lanePolicy(service), this.consumer.splitFor(service), store.forcing !== false);
  }

  private record(store: LaneStore, lane: Lane, source: LaneSource): KnownLane {
    store.lane = lane;
    store.source = source;
    return { lane, source };
  }

  /** The first call's lane decision, once its service's snapshot is in: rules, bucketing, else a draw by ratio. */
  private async decideLater(service: string, store: LaneStore): Promise<Lane | undefined> {
    try {
      await this.consumer.whenReady(service);
      if (store.lane) return store.lane;
      const decided = this.decide(service, store);
      if (decided) this.record(store, decided.lane, decided.reason);
      else this.record(store, this.consumer.drawLane(service), 'ratio');
      return store.lane;
    } catch {
      // The first call fails on its own (registry unavailable); the request's next call decides afresh.
      return undefined;
    } finally {
      store.pending = undefined;
    }
  }

  /** After routing: the request's first routed call decides its lane for the calls after it. */
  private settle(service: string, decision: RouteDecision, store: LaneStore | undefined, source: LaneSource | undefined): RouteDecision {
    if (store && store.lane === undefined) this.record(store, decision.lane, 'ratio');
    if (debugChannel.enabled) {
      debugChannel('route %s: lane %s (%s) -> %s%s', service, decision.lane, source ?? store?.source ?? 'ratio', decision.instance.id, decision.instance.lane === decision.lane ? '' : ` (an instance of lane ${decision.instance.lane}: the lane has none)`);
    }
    return decision;
  }
}
