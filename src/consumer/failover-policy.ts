/**
 * The failover policy of every HTTP client graykit wraps (useGray for axios, grayDispatcher for fetch): what the end
 * of an attempt says about its instance (outlier reports, `outcome` events), whether the request is sent again, to
 * which instances not, and the `retry` event. The clients differ only in what they can tell it: whether a reset
 * connection was new (Node's http says, undici does not), and whether the request's body and method let it be sent
 * again after a failure of each kind. How a retry is sent stays theirs.
 */
import type { Instance, Lane } from '../types';
import { safeEmit } from '../util/emit';
import type { GrayConsumer, RouteOptions } from './consumer';
import { connectionFailure, type ConnectionFailure, type ResolvedFailover } from './failover';
import { emitOutcome, outcomeOfStatus } from './outcome';

/** Payload of the consumer's `retry` event. */
export interface RetryEvent {
  service: string;
  /** The instance that failed. */
  instance: Instance;
  /** The attempt about to be made (2 for the first retry). */
  attempt: number;
  error: unknown;
}

/** An attempt that ended without a response, as the client that sent it describes it. */
export interface FailedAttempt {
  service: string;
  instance: Instance;
  /** The request's own lane (not necessarily the instance's): a retry stays in it. Undefined: any lane. */
  lane: Lane | undefined;
  /** Attempts made for the request, this one included. */
  attempt: number;
  /** Ids of the instances that failed the request before this one. */
  failed?: Iterable<string>;
  /** The caller cancelled the request: no verdict, no outcome, no retry. */
  cancelled?: boolean;
  /**
   * The connection was new, not reused from a keep-alive pool: a reset then counts against the instance. A reset of a
   * reused connection is most likely the instance closing it as idle just as it was reused (Node's docs advise
   * retrying those); undici does not say which, so the fetch side never sets this.
   */
  fresh?: boolean;
  /** Whether the request may be sent again after a failure of this kind: its body, its method, the caller's say. */
  mayResend(kind: ConnectionFailure): boolean;
}

/** The policy's answer for a connection-level failure of a request that may be sent again. */
export interface Failover {
  /** The instances that failed the request, this one included: a retry avoids them. */
  readonly failed: ReadonlySet<string>;
  /** Whether an instance is left for a retry (then `retry` was emitted); false: the caller gets the error. */
  readonly retry: boolean;
}

const METHOD_MEMO_LIMIT = 64;

/** Route options of a request that must not be an ejected instance's probe (FailoverPolicy.mayProbe said no). */
export const NO_PROBE: RouteOptions = Object.freeze({ probe: false });

export class FailoverPolicy {
  private readonly repeatable = new Map<string, boolean>();

  constructor(
    readonly consumer: GrayConsumer,
    readonly options: ResolvedFailover,
  ) {}

  /** Whether a request of `method` may be sent again after the instance may have seen it (`methods`, any case). */
  mayRepeat(method: string | undefined): boolean {
    const name = method || 'GET';
    let repeat = this.repeatable.get(name);
    if (repeat === undefined) {
      if (this.repeatable.size >= METHOD_MEMO_LIMIT) this.repeatable.clear(); // bounded: methods are a caller's strings
      this.repeatable.set(name, (repeat = this.options.methods.has(name.toLowerCase())));
    }
    return repeat;
  }

  /**
   * Whether a request may be an ejected instance's half-open probe: a probe that finds the instance still down then
   * costs a retry, not an error. Without failover any request may probe, or an ejected instance would never return.
   */
  mayProbe(resendable: boolean): boolean {
    return this.options.attempts <= 1 || resendable;
  }

  /** The instance answered, with any status: it is reachable (a probe's answer restores it). */
  answered(service: string, instance: Instance, status: number): void {
    this.consumer.reportSuccess(service, instance.id);
    emitOutcome(this.consumer, service, instance, laneOf(instance), outcomeOfStatus(status), status);
  }

  /**
   * An attempt ended without a response. A connection-level failure is reported against the instance (a connection
   * never made, or a new one reset) and, when the request may be sent again and an instance is left, the `retry`
   * event is emitted and the answer says so; anything else (a response timeout, an abort) is no verdict on the
   * instance. Undefined: the caller gets the error as it is.
   */
  attemptFailed(attempt: FailedAttempt, error: unknown): Failover | undefined {
    const { consumer } = this;
    const { service, instance } = attempt;
    const kind = attempt.cancelled ? undefined : connectionFailure(error);
    if (kind === undefined) {
      consumer.reportAbandoned(service, instance.id);
      if (!attempt.cancelled) emitOutcome(consumer, service, instance, laneOf(instance), 'other_error');
      return undefined;
    }
    if (kind === 'unsent' || attempt.fresh) consumer.reportFailure(service, instance.id);
    emitOutcome(consumer, service, instance, laneOf(instance), 'connection_error');
    if (attempt.attempt >= this.options.attempts || !attempt.mayResend(kind)) return undefined;
    const failed = new Set(attempt.failed);
    failed.add(instance.id);
    const retry = consumer.canRoute(service, attempt.lane, { exclude: failed, crossLane: this.options.crossLane });
    if (retry) {
      const next = attempt.attempt + 1;
      consumer.connection.logger.debug(`service "${service}": ${instance.id} failed (${(error as { code?: unknown }).code}); attempt ${next}`);
      safeEmit(consumer, consumer.connection.logger, 'retry', { service, instance, attempt: next, error } satisfies RetryEvent);
    }
    return { failed, retry };
  }
}

/** The lane an attempt was served in: its instance's. */
function laneOf(instance: Instance): Lane {
  return instance.lane;
}
