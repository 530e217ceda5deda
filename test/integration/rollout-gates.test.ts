/**
 * runRollout in-process against a real ZooKeeper, real providers with metrics on 127.0.0.1 and a real consumer
 * (useGray, ~100 GET/s): its record in the registry and the refusal of a second rollout, webhook gates and
 * notifications against real HTTP servers, latency verdicts, and several services rolled out together.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rolloutExitCode } from '../../src/cli/exit';
import {
  RolloutBusyError,
  abortRollout,
  createAdmin,
  resumeRollout,
  runRollout,
  silentLogger,
  type GrayAdmin,
  type RolloutEvent,
  type RolloutOptions,
  type RolloutReport,
  type WebhookPayload,
} from '../../src';
import type { ZkSession } from '../../src/registry/zk-session';
import { eventually, forceExpiry, testZk, uniqueRoot } from '../support/helpers';
import { startMetricsProvider, startTraffic, type MetricsProvider, type Traffic } from '../support/rollout-helpers';

jest.setTimeout(90_000);

/** A webhook receiver on 127.0.0.1: answers `status` (or never, with `hang`), and keeps every payload. */
interface Receiver {
  url: string;
  status: number;
  hang: boolean;
  received: WebhookPayload[];
  close(): Promise<void>;
}

async function startReceiver(status = 200): Promise<Receiver> {
  const receiver = { status, hang: false, received: [] as WebhookPayload[] } as Receiver;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      receiver.received.push(JSON.parse(body));
      if (receiver.hang) return; // never answers: the caller's timeout must end the wait
      res.statusCode = receiver.status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  receiver.close = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return receiver;
}

describe('runRollout: record, gates, latency, several services (real ZooKeeper, providers, consumer)', () => {
  let root: string;
  let open: Array<{ close(): unknown } | { stop(): Promise<void> }> = [];

  beforeEach(() => {
    root = uniqueRoot();
  });
  afterEach(async () => {
    for (const item of open.reverse()) await ('stop' in item ? item.stop() : item.close());
    open = [];
  });

  type GrayBehaviour = Pick<Parameters<typeof startMetricsProvider>[0], 'fail' | 'slow'>;

  async function service(name: string, gray: GrayBehaviour = {}): Promise<{ normal: MetricsProvider; gray: MetricsProvider; traffic: Traffic }> {
    const normal = await startMetricsProvider({ root, service: name, gray: false, version: 'v1' });
    open.push(normal);
    const grayProvider = await startMetricsProvider({ root, service: name, version: 'v2', ...gray, gray: true });
    open.push(grayProvider);
    return { normal, gray: grayProvider, traffic: undefined as unknown as Traffic };
  }

  async function setup(names: string[], gray: Record<string, GrayBehaviour> = {}): Promise<{ admin: GrayAdmin; services: Record<string, Awaited<ReturnType<typeof service>>> }> {
    const services: Record<string, Awaited<ReturnType<typeof service>>> = {};
    const admin = createAdmin({ zk: testZk(), root, logger: silentLogger });
    open.push(admin);
    for (const name of names) {
      services[name] = await service(name, gray[name]);
      await admin.setRatio(name, 0);
    }
    for (const name of names) {
      const traffic = await startTraffic({ root, service: name, rps: names.length > 1 ? 70 : 100 });
      open.push(traffic);
      services[name].traffic = traffic;
      await eventually(() => expect(traffic.gray.consumer.snapshot(name)?.instances).toHaveLength(2));
    }
    return { admin, services };
  }

  const base: Omit<RolloutOptions, 'steps'> = { service: 'demo', intervalMs: 1500, maxErrorRate: 0.01, minRequests: 15, maxExtensions: 8, refreshMs: 300, scrapeTimeoutMs: 10_000 };

  test('a running rollout is recorded with its lease; a second one is refused; its outcome is recorded and the lease goes', async () => {
    const { admin } = await setup(['demo']);
    const controller = new AbortController();
    const events: RolloutEvent[] = [];
    let whileRunning: Awaited<ReturnType<GrayAdmin['rollout']>> | undefined;
    let second: unknown;
    const report = await runRollout(
      admin,
      { ...base, steps: [20, 100], intervalMs: 60_000 },
      {
        signal: controller.signal,
        onProgress: (event) => {
          events.push(event);
          if (event.type !== 'progress' || whileRunning) return;
          whileRunning = {} as never;
          void (async () => {
            whileRunning = await admin.rollout('demo');
            second = await runRollout(admin, { ...base, steps: [50] }).catch((error: unknown) => error);
            controller.abort();
          })();
        },
      },
    );
    expect(whileRunning).toMatchObject({
      leaseHeld: true,
      crashed: false,
      lease: { by: { pid: process.pid } },
      document: { state: 'running', service: 'demo', services: ['demo'], steps: [20, 100], step: 1, onCrash: 'rollback', by: { pid: process.pid } },
    });
    expect(second).toBeInstanceOf(RolloutBusyError);
    expect((second as Error).message).toMatch(/a rollout is running, run by .+ \(pid \d+\); stop it with `graykit abort demo` first/);
    expect({ outcome: report.outcome, ratio: report.ratio }).toEqual({ outcome: 'interrupted', ratio: 0 });
    const after = await admin.rollout('demo');
    expect(after).toMatchObject({ leaseHeld: false, crashed: false, document: { id: report.id, state: 'interrupted', step: 1 } });
    expect(after.document?.reason).toMatch(/^interrupted at step 1\/2; rolled back/);
  });

  test('a rollout whose session expired while another process resumed it stops and leaves the rollout to that process', async () => {
    const { admin } = await setup(['demo']);
    const other = createAdmin({ zk: testZk(), root, logger: silentLogger });
    open.push(other);
    const resumer = new AbortController();
    let resumed: Promise<RolloutReport> | undefined;
    const first = await runRollout(
      admin,
      { ...base, steps: [20, 100], intervalMs: 60_000, refreshMs: 5000 },
      {
        onProgress: (event) => {
          if (event.type !== 'progress' || resumed) return;
          // Between two of its reads: its session ends (its lease goes), and another process resumes the rollout.
          resumed = (async () => {
            await forceExpiry((admin as unknown as { session: ZkSession }).session);
            return resumeRollout(other, 'demo', { refreshMs: 300 }, { signal: resumer.signal });
          })();
        },
      },
    );
    expect({ outcome: first.outcome, action: first.action }).toEqual({ outcome: 'conflict', action: 'leave' });
    expect(first.reason).toMatch(/took the rollout over; this process stopped and left it to them/);
    // The resumed run was left alone: still running, its lease held, the ratio as it set it.
    const status = await other.rollout('demo');
    expect(status).toMatchObject({ leaseHeld: true, crashed: false, document: { state: 'running', id: first.id } });
    expect(status.document?.resumed).toHaveLength(1);
    expect((await other.getConfig('demo')).config.ratio).toBe(20);
    resumer.abort();
    const second = await resumed!;
    expect({ outcome: second.outcome, ratio: second.ratio, resumedFrom: second.resumedFrom }).toEqual({ outcome: 'interrupted', ratio: 0, resumedFrom: 1 });
  });

  test('a confirm-step gate answering 503 holds the step until it answers 200; every event reaches the event webhook', async () => {
    const { admin } = await setup(['demo']);
    const gate = await startReceiver(503);
    const events = await startReceiver(200);
    open.push(gate, events);
    const seen: RolloutEvent[] = [];
    const run = runRollout(
      admin,
      {
        ...base,
        steps: [20, 100],
        webhooks: [
          { kind: 'confirm-step', url: gate.url },
          { kind: 'event', url: events.url },
        ],
        gateIntervalMs: 200,
        gateTimeoutMs: 30_000,
      },
      { onProgress: (event) => seen.push(event) },
    );
    // Held: asked again and again, and no ratio written meanwhile.
    await eventually(() => expect(gate.received.length).toBeGreaterThanOrEqual(5), 20_000);
    expect(seen.some((e) => e.type === 'step')).toBe(false);
    expect((await admin.getConfig('demo')).config.ratio).toBe(0);
    expect(seen.find((e) => e.type === 'gate')).toMatchObject({ kind: 'confirm-step', step: 1, status: 'waiting' });
    expect(gate.received[0]).toMatchObject({ kind: 'confirm-step', services: ['demo'], step: 1, of: 2, ratio: 20 });
    gate.status = 200;
    const report = await run;
    expect({ outcome: report.outcome, exitCode: rolloutExitCode(report) }).toEqual({ outcome: 'promoted', exitCode: 0 });
    // Asked before each step: step 2's gate answered at once.
    expect([...new Set(gate.received.map((p) => p.step))]).toEqual([1, 2]);
    await eventually(() => expect(events.received.map((p) => (p.event as { type: string }).type)).toEqual(expect.arrayContaining(['start', 'gate', 'step', 'verdict', 'promote'])));
    expect(events.received.every((p) => p.kind === 'event' && p.id === report.id)).toBe(true);
  });

  test('a pre-rollout gate that never answers fails closed within its bound: no step, ratio 0, exit 11; the rollback webhook hears it', async () => {
    const { admin } = await setup(['demo']);
    const gate = await startReceiver();
    gate.hang = true;
    const rollback = await startReceiver(200);
    open.push(gate, rollback);
    const seen: RolloutEvent[] = [];
    const started = Date.now();
    const report = await runRollout(
      admin,
      {
        ...base,
        steps: [20, 100],
        webhooks: [
          { kind: 'pre-rollout', url: gate.url },
          { kind: 'rollback', url: rollback.url },
        ],
        webhookTimeoutMs: 300,
        gateIntervalMs: 200,
        gateTimeoutMs: 1500,
      },
      { onProgress: (event) => seen.push(event) },
    );
    expect({ outcome: report.outcome, exitCode: rolloutExitCode(report), step: report.step }).toEqual({ outcome: 'inconclusive', exitCode: 11, step: 0 });
    expect(Date.now() - started).toBeLessThan(1500 + 4000);
    expect(report.reason).toMatch(/pre-rollout webhook did not answer 2xx within 1500 ms \(http:\/\/127\.0\.0\.1:\d+\/hook: no answer within \d+ ms\)/);
    expect(seen.some((e) => e.type === 'step')).toBe(false);
    expect({ ratio: report.ratio, verified: report.ratioVerified }).toEqual({ ratio: 0, verified: true });
    expect(rollback.received).toHaveLength(1);
    expect(rollback.received[0]).toMatchObject({ kind: 'rollback', id: report.id, step: 0 });
    expect(rollback.received[0].reason).toMatch(/pre-rollout webhook did not answer/);
    expect((await admin.rollout('demo')).document).toMatchObject({ state: 'inconclusive', step: 0 });
  });

  test('a gray version slower at p99 (+300 ms on 20 % of requests) but error-free is aborted by maxLatencyMs, and by the tail test alone', async () => {
    const { admin } = await setup(['demo'], { demo: { slow: { every: 5, ms: 300 } } });
    const byLimit = await runRollout(admin, { ...base, steps: [20, 60, 100], maxLatencyMs: { p99: 250 } });
    expect({ outcome: byLimit.outcome, exitCode: rolloutExitCode(byLimit), step: byLimit.step }).toEqual({ outcome: 'aborted', exitCode: 10, step: 1 });
    expect(byLimit.reason).toMatch(/^step 1\/3 \(ratio 20\): gray p99 latency \d+ms > max 250ms \(normal p99 [\d.]+ms\)/);
    expect(byLimit.gray.errors).toBe(0);
    expect(byLimit.gray.latency?.p99).toBeGreaterThan(0.25);
    expect(byLimit.normal.latency?.p99).toBeLessThan(0.25);
    expect(await admin.getConfig('demo')).toMatchObject({ config: { ratio: 0 } });

    const byTail = await runRollout(admin, { ...base, steps: [20, 60, 100], latencyConfidence: 0.999 });
    expect({ outcome: byTail.outcome, step: byTail.step }).toEqual({ outcome: 'aborted', step: 1 });
    expect(byTail.reason).toMatch(/gray is slower than normal: requests over [\d.]+ms \(the normal lane's p99 bucket\) gray \d+\.\d\d% \(\d+\/\d+\), normal/);
    expect(byTail.gray.errors).toBe(0);
  });

  test('a gray version as fast as normal passes the same latency limits and tail test', async () => {
    const { admin } = await setup(['demo']);
    const report = await runRollout(admin, { ...base, steps: [50, 100], maxLatencyMs: { p99: 250, p50: 100 }, latencyConfidence: 0.999 });
    expect({ outcome: report.outcome, reason: report.reason }).toMatchObject({ outcome: 'promoted' });
    expect(report.reason).toMatch(/latency p50 [\d.]+ms <= 100ms, p99 [\d.]+ms <= 250ms/);
  });

  test('two services rolled out together: a breach in one rolls both back and records it in both znodes', async () => {
    const { admin, services } = await setup(['orders', 'users'], { users: { fail: { every: 10, how: '500' } } });
    const events: RolloutEvent[] = [];
    const report = await runRollout(admin, { ...base, service: undefined, services: ['orders', 'users'], steps: [30, 60, 100] }, { onProgress: (event) => events.push(event) });
    expect({ outcome: report.outcome, exitCode: rolloutExitCode(report), step: report.step, services: report.services }).toEqual({ outcome: 'aborted', exitCode: 10, step: 1, services: ['orders', 'users'] });
    expect(report.reason).toMatch(/^step 1\/3 \(ratio 30\): users: gray error rate/);
    expect(report.history[0].services.orders.verdict?.result).toBe('pass');
    expect(report.history[0].services.users.verdict?.result).toBe('breach');
    expect(report.byService).toEqual({ orders: { ratio: 0, ratioVerified: true }, users: { ratio: 0, ratioVerified: true } });
    expect(events.filter((e) => e.type === 'step')).toHaveLength(1);
    for (const name of ['orders', 'users']) {
      expect((await admin.getConfig(name)).config.ratio).toBe(0);
      expect((await admin.rollout(name)).document).toMatchObject({ id: report.id, state: 'aborted', service: name, services: ['orders', 'users'], step: 1 });
      await eventually(() => expect(services[name].traffic.gray.consumer.ratioFor(name)).toBe(0));
    }
    // Both services' steps were walked together: orders' gray got its share while users was judged.
    expect(report.history[0].services.orders.gray.requests).toBeGreaterThanOrEqual(15);
  });

  test('two healthy services rolled out together are both promoted', async () => {
    const { admin, services } = await setup(['orders', 'users']);
    const report = await runRollout(admin, { ...base, service: undefined, services: ['orders', 'users'], steps: [50, 100] });
    expect({ outcome: report.outcome, exitCode: rolloutExitCode(report) }).toEqual({ outcome: 'promoted', exitCode: 0 });
    expect(report.promoted?.sort()).toEqual([services.orders.gray.id, services.users.gray.id].sort());
    for (const name of ['orders', 'users']) {
      expect((await admin.getConfig(name)).config.ratio).toBe(0);
      expect((await admin.rollout(name)).document?.state).toBe('promoted');
      const status = await admin.status(name);
      expect(status.instances.every((instance) => instance.effective?.gray === false)).toBe(true);
    }
  });

  test('abortRollout from another handle stops a running rollout of several services', async () => {
    const { admin } = await setup(['orders', 'users']);
    const operator = createAdmin({ zk: testZk(), root, logger: silentLogger });
    open.push(operator);
    let aborted: Awaited<ReturnType<typeof abortRollout>> | undefined;
    const report = await runRollout(
      admin,
      { ...base, service: undefined, services: ['orders', 'users'], steps: [20, 100], intervalMs: 60_000 },
      {
        onProgress: (event) => {
          if (event.type === 'progress' && !aborted) {
            aborted = {} as never;
            void abortRollout(operator, 'users').then((result) => (aborted = result));
          }
        },
      },
    );
    expect({ outcome: report.outcome, exitCode: rolloutExitCode(report), ratio: report.ratio, verified: report.ratioVerified }).toEqual({ outcome: 'aborted', exitCode: 10, ratio: 0, verified: true });
    expect(report.reason).toMatch(/\(graykit abort\) at step 1\/2/);
    await eventually(() => expect(aborted).toMatchObject({ services: ['users', 'orders'], ratioVerified: true, acknowledged: true }));
  });
});
