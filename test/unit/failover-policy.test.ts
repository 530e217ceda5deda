/**
 * The failover policy useGray and grayDispatcher share, and the adapter between undici's two handler styles: pure
 * units, the consumer replaced by a recording double (the policy only reports to it and asks it canRoute).
 */
import { EventEmitter } from 'node:events';
import { silentLogger, type Instance, type OutcomeEvent, type RetryEvent } from '../../src';
import type { GrayConsumer } from '../../src/consumer/consumer';
import { connectionFailure, isConnectionError, resolveFailoverOptions, type ConnectionFailure } from '../../src/consumer/failover';
import { FailoverPolicy, type FailedAttempt } from '../../src/consumer/failover-policy';
import { asOldStyleHandler, headersObject } from '../../src/consumer/handler-adapter';

function instance(port: number, gray = false): Instance {
  return { id: `127.0.0.1:${port}`, host: '127.0.0.1', port, gray, lane: gray ? 'gray' : 'normal', weight: 100, meta: {}, path: `/x/${port}` };
}

/** A consumer double: records the reports and events; `routable` is what canRoute answers. */
function consumerDouble(routable = true) {
  const reports: string[] = [];
  const outcomes: OutcomeEvent[] = [];
  const retries: RetryEvent[] = [];
  const canRouteCalls: unknown[] = [];
  const consumer = Object.assign(new EventEmitter(), {
    connection: { logger: silentLogger },
    reportSuccess: (service: string, id: string) => reports.push(`success ${service} ${id}`),
    reportFailure: (service: string, id: string) => reports.push(`failure ${service} ${id}`),
    reportAbandoned: (service: string, id: string) => reports.push(`abandoned ${service} ${id}`),
    canRoute: (...args: unknown[]) => (canRouteCalls.push(args), routable),
  });
  consumer.on('outcome', (event: OutcomeEvent) => outcomes.push(event));
  consumer.on('retry', (event: RetryEvent) => retries.push(event));
  return { consumer: consumer as unknown as GrayConsumer, reports, outcomes, retries, canRouteCalls };
}

const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' });
const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
const timedOut = Object.assign(new Error('timeout of 100ms exceeded'), { code: 'ECONNABORTED' });

describe('connectionFailure: one classifier for Node\'s http and undici', () => {
  test.each([
    ['ECONNREFUSED', { code: 'ECONNREFUSED' }, 'unsent'],
    ['undici connect timeout', { code: 'UND_ERR_CONNECT_TIMEOUT' }, 'unsent'],
    ['ETIMEDOUT from connect', { code: 'ETIMEDOUT', syscall: 'connect' }, 'unsent'],
    ['ETIMEDOUT whose cause is from connect', { code: 'ETIMEDOUT', cause: { syscall: 'connect' } }, 'unsent'],
    ['no local address', { code: 'EADDRNOTAVAIL' }, 'unsent'],
    ['ECONNRESET', { code: 'ECONNRESET' }, 'sent'],
    ['undici socket error', { code: 'UND_ERR_SOCKET' }, 'sent'],
    ['ETIMEDOUT of a read', { code: 'ETIMEDOUT', syscall: 'read' }, undefined],
    ['axios timeout', { code: 'ECONNABORTED' }, undefined],
    ['a response', { code: 'ECONNRESET', response: { status: 502 } }, undefined],
    ['not an object', 'ECONNREFUSED', undefined],
  ] as const)('%s', (_name, error, kind) => {
    expect(connectionFailure(error)).toBe(kind);
    expect(isConnectionError(error)).toBe(kind !== undefined);
  });
});

describe('FailoverPolicy', () => {
  const a = instance(1);
  const attempt = (over: Partial<FailedAttempt> = {}): FailedAttempt => ({ service: 's', instance: a, lane: 'normal', attempt: 1, mayResend: () => true, ...over });

  test('an answer of any status reports success, and the outcome by status', () => {
    const { consumer, reports, outcomes } = consumerDouble();
    const policy = new FailoverPolicy(consumer, resolveFailoverOptions(undefined));
    policy.answered('s', a, 200);
    policy.answered('s', instance(2, true), 503);
    expect(reports).toEqual(['success s 127.0.0.1:1', 'success s 127.0.0.1:2']);
    expect(outcomes.map((event) => [event.outcome, event.lane, event.status])).toEqual([
      ['success', 'normal', 200],
      ['http_error', 'gray', 503],
    ]);
  });

  test('a refusal counts against the instance and is retried elsewhere, excluding what failed before', () => {
    const { consumer, reports, outcomes, retries, canRouteCalls } = consumerDouble();
    const policy = new FailoverPolicy(consumer, resolveFailoverOptions({ crossLane: true }));
    const verdict = policy.attemptFailed(attempt({ attempt: 2, failed: ['127.0.0.1:9'] }), refused);
    expect(verdict).toEqual({ failed: new Set(['127.0.0.1:9', '127.0.0.1:1']), retry: true });
    expect(reports).toEqual(['failure s 127.0.0.1:1']);
    expect(outcomes.map((event) => event.outcome)).toEqual(['connection_error']);
    expect(retries).toEqual([{ service: 's', instance: a, attempt: 3, error: refused }]);
    expect(canRouteCalls).toEqual([['s', 'normal', { exclude: new Set(['127.0.0.1:9', '127.0.0.1:1']), crossLane: true }]]);
  });

  test('a reset counts against the instance only on a connection known to be new', () => {
    const reused = consumerDouble();
    new FailoverPolicy(reused.consumer, resolveFailoverOptions(undefined)).attemptFailed(attempt(), reset);
    expect(reused.reports).toEqual([]);
    const fresh = consumerDouble();
    new FailoverPolicy(fresh.consumer, resolveFailoverOptions(undefined)).attemptFailed(attempt({ fresh: true }), reset);
    expect(fresh.reports).toEqual(['failure s 127.0.0.1:1']);
  });

  test('no retry past the attempts, when the request may not be resent (asked by kind), or with no instance left', () => {
    const kinds: ConnectionFailure[] = [];
    const { consumer, retries } = consumerDouble();
    const policy = new FailoverPolicy(consumer, resolveFailoverOptions({ attempts: 2 }));
    expect(policy.attemptFailed(attempt({ attempt: 2 }), refused)).toBeUndefined();
    expect(policy.attemptFailed(attempt({ mayResend: (kind) => (kinds.push(kind), false) }), reset)).toBeUndefined();
    expect(kinds).toEqual(['sent']);
    const empty = consumerDouble(false);
    expect(new FailoverPolicy(empty.consumer, resolveFailoverOptions(undefined)).attemptFailed(attempt(), refused)).toEqual({ failed: new Set([a.id]), retry: false });
    expect([...retries, ...empty.retries]).toEqual([]);
  });

  test('a response timeout is no verdict (other_error); a cancelled request is not even an outcome', () => {
    const { consumer, reports, outcomes } = consumerDouble();
    const policy = new FailoverPolicy(consumer, resolveFailoverOptions(undefined));
    expect(policy.attemptFailed(attempt(), timedOut)).toBeUndefined();
    expect(policy.attemptFailed(attempt({ cancelled: true }), refused)).toBeUndefined();
    expect(reports).toEqual(['abandoned s 127.0.0.1:1', 'abandoned s 127.0.0.1:1']);
    expect(outcomes.map((event) => event.outcome)).toEqual(['other_error']);
  });

  test('mayRepeat follows `methods` in any case; mayProbe lets any request probe when failover is off', () => {
    const on = new FailoverPolicy(consumerDouble().consumer, resolveFailoverOptions({ methods: ['GET', 'put'] }));
    expect(['GET', 'get', 'PUT', 'POST', undefined].map((method) => on.mayRepeat(method))).toEqual([true, true, true, false, true]);
    expect([on.mayProbe(true), on.mayProbe(false)]).toEqual([true, false]);
    const off = new FailoverPolicy(consumerDouble().consumer, resolveFailoverOptions(false));
    expect(off.mayProbe(false)).toBe(true);
  });
});

describe('the handler adapter: a new-style handler through the old style\'s callbacks', () => {
  test('an old-style handler is used as it is', () => {
    const handler = { onConnect() {}, onHeaders() {}, onData() {}, onComplete() {}, onError() {} };
    expect(asOldStyleHandler(handler)).toBe(handler);
  });

  test('start, head, data, end; pause by the controller, resume through the old style\'s resume; abort reaches the request', () => {
    const calls: unknown[][] = [];
    let controller: { pause(): void; resume(): void; abort(reason: unknown): void; rawHeaders: unknown; rawTrailers: unknown } | undefined;
    const adapted = asOldStyleHandler({
      onRequestStart: (c: typeof controller, context: unknown) => ((controller = c), calls.push(['start', context])),
      onResponseStart: (_c: unknown, status: number, headers: unknown, message: unknown) => calls.push(['head', status, headers, message, controller!.rawHeaders]),
      onResponseData: (_c: unknown, chunk: unknown) => calls.push(['data', chunk]),
      onResponseEnd: (_c: unknown, trailers: unknown) => calls.push(['end', trailers, controller!.rawTrailers]),
      onResponseError: (_c: unknown, error: unknown) => calls.push(['error', error]),
    });
    const aborts: unknown[] = [];
    adapted.onConnect!((reason: unknown) => aborts.push(reason));
    const raw = [Buffer.from('Content-Type'), Buffer.from('text/plain'), Buffer.from('Set-Cookie'), Buffer.from('a=1'), Buffer.from('set-cookie'), Buffer.from('b=2')];
    let resumed = 0;
    expect(adapted.onHeaders!(200, raw, () => resumed++, 'OK')).toBe(true);
    controller!.pause();
    expect(adapted.onData!(Buffer.from('x'))).toBe(false);
    controller!.resume();
    controller!.resume(); // not paused: nothing to do
    expect(resumed).toBe(1);
    expect(adapted.onData!(Buffer.from('y'))).toBe(true);
    adapted.onComplete!([Buffer.from('x-sum'), Buffer.from('1')]);
    controller!.abort('late');
    controller!.abort('twice');
    expect(aborts).toEqual(['late']);
    expect(calls).toEqual([
      ['start', {}],
      ['head', 200, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] }, 'OK', raw],
      ['data', Buffer.from('x')],
      ['data', Buffer.from('y')],
      ['end', { 'x-sum': '1' }, [Buffer.from('x-sum'), Buffer.from('1')]],
    ]);
  });

  test('errors and upgrades reach the new-style callbacks', () => {
    const calls: unknown[][] = [];
    const adapted = asOldStyleHandler({
      onRequestStart() {},
      onResponseError: (_c: unknown, error: unknown) => calls.push(['error', error]),
      onRequestUpgrade: (_c: unknown, status: number, headers: unknown, socket: unknown) => calls.push(['upgrade', status, headers, socket]),
    });
    adapted.onError!(refused);
    adapted.onUpgrade!(101, ['Upgrade', 'websocket'], 'socket');
    expect(calls).toEqual([
      ['error', refused],
      ['upgrade', 101, { upgrade: 'websocket' }, 'socket'],
    ]);
    expect(headersObject(undefined)).toEqual({});
  });
});
