/**
 * What every fault scenario shares: three provider processes, a consumer (useGray on axios) in this process, the
 * load, the wait for re-convergence (bounded polling), and the report line.
 */
import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import axios, { type AxiosInstance } from 'axios';
import { useGray, type GrayInterceptors, type Logger, type OutlierEvent, type RetryEvent } from '../../src';
import { eventually } from '../support/helpers';
import { startProviderProcess, type ProviderProcess } from './children';
import { adminSessionFor } from './admin';
import { LoadGenerator, type LoadResult } from './load';

export const SERVICE = 'faults';
export const ROOT = '/graykit-faults';
/** Providers' ZooKeeper session timeout: how long after a crash the registry drops them. */
export const PROVIDER_SESSION_TIMEOUT = 4000;
/** Each request makes the provider wait this long, so that some are always in flight when a fault hits. */
export const WORK_URL = `http://${SERVICE}/work?delay=5`;
/** Requests per second of the load. */
export const RATE = 200;

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s`;

/** Progress on stderr, so that a slow or failing scenario can be read afterwards. */
export function note(message: string): void {
  process.stderr.write(`[faults ${elapsed()}] ${message}\n`);
}

/** How many ZooKeeper sessions the consumer opened after losing one (each a new session and a full re-read). */
export const consumerSessions = { replaced: 0, refused: 0 };

const consumerLogger: Logger = {
  debug: (message) => {
    if (message.includes('new ZooKeeper session was refused')) consumerSessions.refused++;
    // Session changes and failed registry reads: what to look at when a re-convergence is slow.
    if (/zookeeper connected|failed|refused/i.test(message)) note(`consumer (debug): ${message}`);
  },
  info: (message) => note(`consumer: ${message}`),
  warn: (message) => {
    if (message.includes('session closed by the server')) consumerSessions.replaced++;
    note(`consumer: ${message}`);
  },
  error: (message) => note(`consumer error: ${message}`),
};

export interface Consumer {
  http: AxiosInstance;
  gray: GrayInterceptors;
  ejections: OutlierEvent[];
  /** Why requests were retried: error code (and the cause's name when it is not a plain system error), counted. */
  retryCauses: Record<string, number>;
  /** Ids (`host:port`) in the consumer's snapshot, sorted. */
  ids(): string[];
  /** Whether its ZooKeeper session is connected. */
  connected(): boolean;
}

/** This process's event-loop delay over a scenario: stalls make timers (and connect timeouts) fire late. */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });

export function startConsumer(zk: string): Consumer {
  loopDelay.reset();
  loopDelay.enable();
  const http = axios.create();
  const gray = useGray(http, { zk, root: ROOT, services: [SERVICE], logger: consumerLogger });
  const ejections: OutlierEvent[] = [];
  gray.consumer.on('ejected', (event: OutlierEvent) => ejections.push(event));
  const retryCauses: Record<string, number> = {};
  gray.consumer.on('retry', ({ error }: RetryEvent) => {
    const e = error as { code?: string; cause?: { name?: string }; request?: { reusedSocket?: boolean } };
    const key = `${e.code}${e.cause?.name && e.cause.name !== 'Error' ? ` (${e.cause.name})` : ''}${e.request?.reusedSocket ? ' on a reused socket' : ''}`;
    retryCauses[key] = (retryCauses[key] ?? 0) + 1;
  });
  return {
    http,
    gray,
    ejections,
    retryCauses,
    ids: () => (gray.consumer.snapshot(SERVICE)?.instances ?? []).map((instance) => instance.id).sort(),
    connected: () => gray.consumer.connected,
  };
}

export const idOf = (provider: ProviderProcess) => `127.0.0.1:${provider.port}`;

export function startProviders(zk: string, count: number, ports: Array<number | undefined> = []): Promise<ProviderProcess[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      startProviderProcess({ zk, root: ROOT, port: ports[i], sessionTimeout: PROVIDER_SESSION_TIMEOUT, name: `p${i}` }),
    ),
  );
}

/**
 * Polls until the consumer's snapshot lists exactly `ids`; resolves with the time it happened. When it does not
 * happen in time, says what ZooKeeper and the consumer's catalog hold, before failing.
 */
export async function untilSnapshot(consumer: Consumer, ids: string[], timeoutMs = 60_000): Promise<number> {
  const expected = [...ids].sort();
  try {
    await eventually(() => expect(consumer.ids()).toEqual(expected), timeoutMs, 20);
  } catch (error) {
    await describeRegistry(consumer).catch((dumpError: Error) => note(`(could not describe the registry: ${dumpError.message})`));
    throw error;
  }
  return Date.now();
}

/** Diagnostics: the instances znodes as a fresh session reads them, and the catalog's view (its internals). */
async function describeRegistry(consumer: Consumer): Promise<void> {
  const internals = consumer.gray.consumer as unknown as { connection: { zk: string }; catalog: { services: Map<string, unknown> } };
  const admin = adminSessionFor(internals.connection.zk);
  try {
    await admin.whenConnected(10_000);
    note(`registry: ${ROOT}/services/${SERVICE}/instances has ${JSON.stringify(await admin.getChildren(`${ROOT}/services/${SERVICE}/instances`))}`);
  } finally {
    admin.close();
  }
  const state = internals.catalog.services.get(SERVICE) as Record<string, unknown> | undefined;
  const describe = (value: unknown): unknown =>
    value instanceof Map ? [...value.keys()] : value instanceof Set ? [...value] : typeof value === 'object' && value !== null ? '{…}' : value;
  const directory = state?.instances as Record<string, unknown> | undefined;
  note(`consumer: snapshot ${JSON.stringify(consumer.ids())}, connected ${consumer.connected()}`);
  if (directory) note(`consumer catalog: instances directory ${JSON.stringify(Object.fromEntries(Object.entries(directory).map(([k, v]) => [k, describe(v)])))}`);
}

export function startLoad(consumer: Consumer): LoadGenerator {
  return new LoadGenerator(consumer.http, WORK_URL, { rate: RATE, maxDurationMs: 120_000 }).start();
}

/** Prints the scenario's figures and adds them to the run's summary (printed by the global teardown). */
export function report(scenario: string, result: LoadResult, convergence: string, consumer: Consumer, extra: Record<string, unknown> = {}): void {
  const line =
    `faults: ${scenario}: sent ${result.sent}, failed ${result.failed}, retries ${result.retries}, ` +
    `re-converged ${convergence} (${(result.durationMs / 1000).toFixed(1)} s of load at ~${Math.round((result.sent * 1000) / result.durationMs)} req/s)`;
  process.stdout.write(`${line}\n`);
  const lagMs = (ns: number) => Math.round(ns / 1e6);
  note(
    `${scenario}: retried on ${JSON.stringify(consumer.retryCauses)}; ejections ${consumer.ejections.length}; ` +
      `event-loop delay p99 ${lagMs(loopDelay.percentile(99))} ms, max ${lagMs(loopDelay.max)} ms`,
  );
  if (result.failures.length) process.stdout.write(`faults: ${scenario}: first failures: ${JSON.stringify(result.failures)}\n`);
  const summary = process.env.GRAYKIT_FAULTS_SUMMARY;
  if (summary) appendFileSync(summary, `${JSON.stringify({ scenario, ...result, failures: result.failures.length, convergence, ...extra })}\n`);
}

/**
 * The scenario really ran under load: at least 1000 requests, at 40% of the target rate or more (a starved machine
 * sends fewer than it means to; the generator reports it rather than bursting to catch up).
 */
export function expectRealLoad(result: LoadResult): void {
  expect(result.sent).toBeGreaterThanOrEqual(1000);
  expect((result.sent * 1000) / result.durationMs).toBeGreaterThanOrEqual(0.4 * RATE);
}

/** Seconds with one decimal, for the report. */
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A fault scenario's parts, once begun: the registry's address, three providers, the consumer, and its load. */
export interface Scenario {
  connect: string;
  /** The providers; a scenario may replace or add to them, and every one in here is killed at the end. */
  providers: ProviderProcess[];
  consumer: Consumer;
  load: LoadGenerator;
  /** The providers' ids at the start. */
  ids: string[];
}

/**
 * Declares a scenario's setup and its cleanup (an `afterAll` that stops the load, closes the consumer, kills every
 * provider and destroys the registry, plus `cleanup` when given). `begin()` starts the registry, three providers and
 * the consumer, waits for the consumer to see them all, and for 400 answered requests of steady load.
 */
export function faultScenario(registry: { start(): Promise<string>; destroy(): Promise<void> }, cleanup?: () => unknown): { begin(): Promise<Scenario> } {
  const parts: { providers: ProviderProcess[]; consumer?: Consumer; load?: LoadGenerator } = { providers: [] };
  afterAll(async () => {
    await parts.load?.stop();
    parts.consumer?.gray.close();
    await cleanup?.();
    await Promise.all(parts.providers.map((provider) => provider.kill()));
    await registry.destroy();
  });
  return {
    async begin() {
      const connect = await registry.start();
      parts.providers.push(...(await startProviders(connect, 3)));
      const ids = parts.providers.map(idOf);
      const consumer = (parts.consumer = startConsumer(connect));
      await untilSnapshot(consumer, ids);
      const load = (parts.load = startLoad(consumer));
      await load.untilAnswered(400); // two seconds of steady traffic first
      return { connect, providers: parts.providers, consumer, load, ids };
    },
  };
}
