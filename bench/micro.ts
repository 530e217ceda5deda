/**
 * Part 1: what routing costs in-process, per request: the grayRoute interceptor's hot path (a known service with a
 * snapshot), its pieces (router + balancer, URL rewrite), and baselines measured in the same loop (a no-op
 * interceptor, axios's own per-request config merge).
 *
 * Each case runs a calibrated, fixed number of iterations per sample; samples of all cases are interleaved, and
 * the median sample is reported, in CPU time of the process (process.cpuUsage) so that time the scheduler gave to
 * other jobs on a shared machine does not count; the wall-clock median is kept beside it.
 */
import axios, { AxiosHeaders, type AxiosRequestConfig, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { grayDispatcher, type GrayRouteInterceptor, type Instance } from '../src';
import { createRouteInterceptor } from '../src/consumer/gray-route';
import type { DispatchOptions, Dispatcher } from '../src/consumer/undici-builtin';
import type { LanePropagation } from '../src/context/propagation';
import { buildRoutingTable, route } from '../src/router';
import { drawLane, laneShares } from '../src/router/shares';
import { contextBackend } from '../src/context/lane-context';
import { parseTarget, rewriteUrl } from '../src/consumer/rewrite';
import { median, round } from './stats';

export interface MicroCaseResult {
  name: string;
  /** Instances of the routed service; null for size-independent cases. */
  instances: number | null;
  /** Median over the samples of the process's CPU time per op, ns: what other jobs on the machine took is not in it. */
  nsPerOp: number;
  /** Median of the wall-clock time per op, ns (higher than nsPerOp when the machine is shared). */
  wallNsPerOp: number;
  /** Every sample, CPU ns/op. */
  samples: number[];
  iterations: number;
}

function caseResult(name: string, instances: number | null, samples: Timing[], iterations: number): MicroCaseResult {
  return {
    name,
    instances,
    nsPerOp: round(median(samples.map((t) => t.cpu)), 1),
    wallNsPerOp: round(median(samples.map((t) => t.wall)), 1),
    samples: samples.map((t) => round(t.cpu, 1)),
    iterations,
  };
}

export interface MicroResult {
  cases: MicroCaseResult[];
  /** ns/op of the interceptor by instance count, and its ratio to the baselines. */
  interceptor: { instances: number; nsPerOp: number; overMergeConfig: number; overNoop: number }[];
  baseline: { noopNsPerOp: number; mergeConfigNsPerOp: number };
  /** One whole axios request with the adapter in memory, without and with grayRoute (null when not measured). */
  axiosPipeline: { instances: number; directNsPerOp: number; routedNsPerOp: number; routedOverDirect: number } | null;
  /** ns/op of grayDispatcher's dispatch() (a stub inner dispatcher) by instance count, and its ratio to mergeConfig. */
  dispatcher: { instances: number; nsPerOp: number; overMergeConfig: number }[];
  /**
   * What writing the lane as baggage too costs per request, at one size: each client with `propagation: 'header'`
   * (the lane header only) and with the default `'both'` (lane header and the W3C baggage member). Null when not measured.
   */
  propagation: { instances: number; interceptor: { header: number; both: number }; dispatcher: { header: number; both: number } } | null;
}

interface Case {
  name: string;
  instances: number | null;
  op?: () => number;
  /** An asynchronous op (one axios request), awaited one after the other. */
  asyncOp?: () => Promise<unknown>;
  iterations: number;
  samples: Timing[];
}

/** Keeps results observable so that the optimiser cannot drop the measured work. */
let blackhole = 0;

/** ns per op of one sample: CPU time of this process (what the work cost), and wall time (what it took). */
interface Timing {
  cpu: number;
  wall: number;
}

function timing(cpu0: NodeJS.CpuUsage, wall0: bigint, iterations: number): Timing {
  const cpu = process.cpuUsage(cpu0);
  return { cpu: ((cpu.user + cpu.system) * 1000) / iterations, wall: Number(process.hrtime.bigint() - wall0) / iterations };
}

function timeLoop(op: () => number, iterations: number): Timing {
  let sink = 0;
  const cpu0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink = (sink + op()) | 0;
  const result = timing(cpu0, wall0, iterations);
  blackhole ^= sink;
  return result;
}

async function timeAsyncLoop(op: () => Promise<unknown>, iterations: number): Promise<Timing> {
  const cpu0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await op();
  return timing(cpu0, wall0, iterations);
}

/**
 * One sample, then a turn of the event loop: the ZooKeeper client sends its pings from the event loop, and a
 * benchmark that never yields (await on a resolved promise does not) would let every session of this process expire.
 */
async function timeCase(c: Case, iterations: number): Promise<Timing> {
  const ns = c.op ? timeLoop(c.op, iterations) : await timeAsyncLoop(c.asyncOp as () => Promise<unknown>, iterations);
  await new Promise((resolve) => setImmediate(resolve));
  return ns;
}

/**
 * Iterations for one sample of about `sampleMs` of CPU time (doubling from 16; also the warm-up), at least 256 and at
 * most 2^26, and never more than four times `sampleMs` of wall time. CPU time, not wall time: on a busy machine
 * wall time would shrink the samples.
 */
async function calibrate(c: Case, sampleMs: number): Promise<number> {
  const perOp = (t: Timing) => (t.cpu > 0 ? t.cpu : t.wall);
  const count = (t: Timing) => Math.min(2 ** 26, Math.max(256, Math.round(Math.min((sampleMs * 1e6) / perOp(t), (4 * sampleMs * 1e6) / Math.max(t.wall, 1e-3)))));
  let iterations = 16;
  for (;;) {
    const t = await timeCase(c, iterations);
    if ((Math.max(perOp(t), t.wall) * iterations) / 1e6 >= sampleMs / 4 && iterations >= 256) break;
    if (iterations >= 2 ** 26) return iterations;
    iterations *= 2;
  }
  // Twice more at the estimated count: the first estimate includes the time before the optimising compiler kicked in.
  iterations = count(await timeCase(c, iterations));
  return count(await timeCase(c, iterations));
}

/** axios's adapter replaced by an answer in memory: the request pipeline without the network. */
const memoryAdapter = async (config: InternalAxiosRequestConfig): Promise<AxiosResponse> => ({ data: { ok: true }, status: 200, statusText: 'OK', headers: {}, config, request: {} });

export const SERVICE_URL = (service: string) => `http://${service}/api/items?id=42`;

/** A synthetic request config as axios hands it to request interceptors. */
export function requestConfig(url: string): InternalAxiosRequestConfig {
  return { url, method: 'get', headers: new AxiosHeaders() } as InternalAxiosRequestConfig;
}

/**
 * An op that sends a fresh request for `service` through `interceptor` (resetting what the last call rewrote). The
 * lane header and the baggage the last call wrote are cleared too (set to undefined, which keeps the headers
 * object's shape): otherwise every call would find the previous call's `baggage: gray.lane=…` and re-parse it as a
 * caller's baggage (~0.6 µs), which no real request, whose headers axios builds afresh, pays.
 */
export function interceptorOp(interceptor: (config: InternalAxiosRequestConfig) => unknown, service: string): () => number {
  const url = SERVICE_URL(service);
  const config = requestConfig(url);
  const headers = config.headers as unknown as Record<string, unknown>;
  return () => {
    config.url = url;
    config.gray = undefined;
    headers['x-gray-lane'] = undefined;
    headers.baggage = undefined;
    const out = interceptor(config) as InternalAxiosRequestConfig;
    return (out.url as string).length;
  };
}

/** The headers fetch sends by default, in its order. */
const FETCH_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['accept', '*/*'],
  ['accept-language', '*'],
  ['sec-fetch-mode', 'cors'],
  ['user-agent', 'node'],
  ['accept-encoding', 'gzip, deflate'],
];

/**
 * What Node 22's built-in fetch hands its dispatcher for `fetch(url)` (checked with a stub dispatcher): a new object
 * per request, its headers a new object filled key by key, as undici's HeadersList.entries makes it. (One object
 * reused for every call hid what V8 makes of copying a fresh one: bench/analysis.md, section 2f.)
 */
export function fetchDispatchOptions(service: string): DispatchOptions {
  const headers: Record<string, string> = {};
  for (const [name, value] of FETCH_HEADERS) headers[name] = value;
  return {
    path: '/api/items?id=42',
    origin: `http://${service}`,
    method: 'GET',
    body: null,
    headers,
    maxRedirections: 0,
    upgrade: undefined,
  };
}

/** A handler of fetch's shape (Node 20-24: the old-style callbacks), one for every call: the stub never calls it. */
const fetchLikeHandler = {
  body: null,
  abort: undefined,
  onConnect() {},
  onResponseStarted() {},
  onHeaders() {
    return true;
  },
  onData() {
    return true;
  },
  onComplete() {},
  onError() {},
  onUpgrade() {},
};

/** The origin the last stub dispatch was given (the instance a dispatcherOp was routed to). */
let lastStubOrigin = '';

/**
 * An op that hands one fetch-shaped request for `service` to a grayDispatcher whose inner dispatcher is a stub that
 * only looks at what it was given: the decision (lane, route), the origin and header rewrite and the per-request
 * state grayDispatcher keeps for failover, without any network.
 */
export function dispatcherOp(consumer: GrayRouteInterceptor['consumer'], service: string, propagation: LanePropagation = 'both'): () => number {
  const stub: Dispatcher = {
    dispatch(opts: DispatchOptions) {
      lastStubOrigin = opts.origin as string;
      return true;
    },
    close: async () => undefined,
    destroy: async () => undefined,
  };
  const dispatcher = grayDispatcher({ consumer, dispatcher: stub, propagation });
  return () => {
    dispatcher.dispatch(fetchDispatchOptions(service), fetchLikeHandler);
    return lastStubOrigin.length;
  };
}

/** The instances spread over `lanes` lanes: base, gray, then named lanes lane-0, lane-1, ... */
function inLanes(instances: readonly Instance[], lanes: number): Instance[] {
  const names = ['normal', 'gray', ...Array.from({ length: lanes - 2 }, (_, i) => `lane-${i}`)];
  return instances.map((instance, i) => ({ ...instance, lane: names[i % lanes], gray: names[i % lanes] === 'gray' }));
}

/** Instances with unequal weights (so the balancer is smooth weighted round-robin, O(n) a pick). */
function weighted(instances: readonly Instance[]): Instance[] {
  return instances.map((instance, i) => ({ ...instance, weight: 50 + (i % 4) * 50 }));
}

export interface MicroSetup {
  interceptor: GrayRouteInterceptor;
  /** service name by instance count; every service has a snapshot and a config ratio. */
  services: Map<number, string>;
  ratio: number;
}

export async function runMicro(setup: MicroSetup, runs: number, sampleMs: number): Promise<MicroResult> {
  const { interceptor, services, ratio } = setup;
  const cases: Omit<Case, 'iterations' | 'samples'>[] = [];
  const direct = axios.create({ adapter: memoryAdapter, timeout: 5000 });
  const identity = (config: InternalAxiosRequestConfig) => config;
  cases.push({ name: 'baseline: no-op interceptor (same loop, config reset)', instances: null, op: interceptorOp(identity, 'noop') });
  // What Axios#request merges on every call: the instance defaults with the call's config.
  const defaults = axios.create({ baseURL: 'http://example', timeout: 1000 }).defaults as AxiosRequestConfig;
  cases.push({
    name: "baseline: axios's per-request config merge (mergeConfig)",
    instances: null,
    op: () => {
      const merged = axios.mergeConfig(defaults, { url: '/api/items?id=42', method: 'get' });
      return (merged.url as string).length;
    },
  });
  // What parseTarget did per request before its authority cache, and still does once per new authority.
  const whatwgUrl = SERVICE_URL('svc-100');
  cases.push({ name: 'baseline: one WHATWG URL parse (new URL(url).hostname)', instances: null, op: () => new URL(whatwgUrl).hostname.length });
  cases.push({ name: 'baseline: one axios request, adapter in memory (no network)', instances: null, asyncOp: () => direct.get('http://127.0.0.1:8080/api/items?id=42') });
  const als = contextBackend('als');
  // The lane-context cost is measured at one size: 100 instances when measured, else the smallest.
  const contextSize = services.has(100) ? 100 : Math.min(...services.keys());
  for (const [size, service] of services) {
    const snapshot = interceptor.consumer.snapshot(service);
    if (!snapshot || snapshot.instances.length !== size) throw new Error(`micro: service ${service} has no full snapshot of ${size} instances`);
    // Sanity: the hot path must answer synchronously with a rewritten URL.
    const probe = interceptor(requestConfig(SERVICE_URL(service)));
    if (probe instanceof Promise || !(probe.url ?? '').startsWith('http://10.')) throw new Error(`micro: ${service} is not routed on the hot path`);
    cases.push({ name: 'grayRoute interceptor (hot path)', instances: size, op: interceptorOp(interceptor, service) });
    // Sanity: the dispatcher routes this service from memory, to one of its instances.
    dispatcherOp(interceptor.consumer, service)();
    if (!lastStubOrigin.startsWith('http://10.')) throw new Error(`micro: ${service} is not routed by grayDispatcher on the hot path`);
    cases.push({ name: 'grayDispatcher dispatch() (hot path, stub inner dispatcher)', instances: size, op: dispatcherOp(interceptor.consumer, service) });
    const table = buildRoutingTable(snapshot.instances);
    const input = { ratio };
    cases.push({ name: 'router: route() (split + balancer)', instances: size, op: () => (route(table, input) as { instance: Instance }).instance.port });
    const url = SERVICE_URL(service);
    cases.push({
      name: 'router + URL rewrite (route, parseTarget, rewriteUrl)',
      instances: size,
      op: () => rewriteUrl(parseTarget(url)!, (route(table, input) as { instance: Instance }).instance).length,
    });
    if (size === 100) {
      // Named lanes: the same instances in 10 lanes (base, gray and 8 named), each call's lane drawn by shares
      // (gray 10, each named lane 5) or pinned to a named lane: the whole routing decision, draw included.
      const laned = buildRoutingTable(inLanes(snapshot.instances, 10));
      const shares = laneShares(10, Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`lane-${i}`, 5])));
      cases.push({ name: 'router: 10 lanes, lane drawn by shares + route()', instances: size, op: () => (route(laned, { ratio, lane: drawLane(shares) }) as { instance: Instance }).instance.port });
      const pinned = { ratio, lane: 'lane-3' };
      cases.push({ name: 'router: 10 lanes, a pinned named lane', instances: size, op: () => (route(laned, pinned) as { instance: Instance }).instance.port });
    }
    const weightedTable = buildRoutingTable(weighted(snapshot.instances));
    cases.push({ name: 'router: route(), unequal weights (smooth WRR)', instances: size, op: () => (route(weightedTable, input) as { instance: Instance }).instance.port });
    if (size === contextSize) {
      // The same two with the lane header only: the difference to the rows above is what the baggage member costs.
      cases.push({ name: "grayRoute interceptor, propagation 'header' (no baggage)", instances: size, op: interceptorOp(createRouteInterceptor({ propagation: 'header' }, interceptor.consumer), service) });
      cases.push({ name: "grayDispatcher dispatch(), propagation 'header' (no baggage)", instances: size, op: dispatcherOp(interceptor.consumer, service, 'header') });
      const op = interceptorOp(interceptor, service);
      cases.push({ name: 'grayRoute interceptor in a new als lane context per call', instances: size, op: () => als.run({}, op) });
      const routed = axios.create({ adapter: memoryAdapter, timeout: 5000 });
      routed.interceptors.request.use(interceptor);
      cases.push({ name: 'one axios request + grayRoute, adapter in memory (no network)', instances: size, asyncOp: () => routed.get(url) });
    }
  }
  const timed: Case[] = [];
  for (const c of cases) {
    const entry: Case = { ...c, iterations: 0, samples: [] };
    entry.iterations = await calibrate(entry, sampleMs);
    timed.push(entry);
  }
  for (let run = 0; run < runs; run++) for (const c of timed) c.samples.push(await timeCase(c, c.iterations));
  if (blackhole === 0.5) console.log('unreachable');
  const results: MicroCaseResult[] = timed.map((c) => caseResult(c.name, c.instances, c.samples, c.iterations));
  const noop = results[0].nsPerOp;
  const merge = results[1].nsPerOp;
  const direct1 = results.find((r) => r.name.startsWith('baseline: one axios request'));
  const routed1 = results.find((r) => r.name.startsWith('one axios request + grayRoute'));
  // Paired: each run's routed sample over the same run's direct sample, so that drift in the machine's load cancels.
  const paired = direct1 && routed1 ? median(routed1.samples.map((ns, i) => ns / direct1.samples[i])) : NaN;
  const at = (prefix: string, size: number) => results.find((r) => r.name.startsWith(prefix) && r.instances === size)?.nsPerOp;
  const interceptorHeader = at('grayRoute interceptor, propagation', contextSize);
  const dispatcherHeader = at('grayDispatcher dispatch(), propagation', contextSize);
  const interceptorBoth = at('grayRoute interceptor (hot', contextSize);
  const dispatcherBoth = at('grayDispatcher dispatch() (hot', contextSize);
  return {
    dispatcher: results
      .filter((r) => r.name.startsWith('grayDispatcher dispatch() (hot'))
      .map((r) => ({ instances: r.instances as number, nsPerOp: r.nsPerOp, overMergeConfig: round(r.nsPerOp / merge, 3) })),
    propagation:
      interceptorHeader !== undefined && dispatcherHeader !== undefined && interceptorBoth !== undefined && dispatcherBoth !== undefined
        ? { instances: contextSize, interceptor: { header: interceptorHeader, both: interceptorBoth }, dispatcher: { header: dispatcherHeader, both: dispatcherBoth } }
        : null,
    axiosPipeline:
      direct1 && routed1
        ? { instances: routed1.instances as number, directNsPerOp: direct1.nsPerOp, routedNsPerOp: routed1.nsPerOp, routedOverDirect: round(paired, 3) }
        : null,
    cases: results,
    baseline: { noopNsPerOp: noop, mergeConfigNsPerOp: merge },
    interceptor: results
      .filter((r) => r.name.startsWith('grayRoute interceptor (hot'))
      .map((r) => ({ instances: r.instances as number, nsPerOp: r.nsPerOp, overMergeConfig: round(r.nsPerOp / merge, 2), overNoop: round(r.nsPerOp / noop, 2) })),
  };
}

/**
 * The interceptor in a new cls-hooked context per call. Run last: creating the cls namespace turns on async hooks
 * for the whole process, which would slow every later measurement.
 */
export async function runClsMicro(interceptor: GrayRouteInterceptor, service: string, size: number, runs: number, sampleMs: number): Promise<MicroCaseResult> {
  const cls = contextBackend('cls');
  const inner = interceptorOp(interceptor, service);
  const c: Case = { name: '', instances: size, op: () => cls.run({}, inner), iterations: 0, samples: [] };
  const iterations = await calibrate(c, sampleMs);
  const samples: Timing[] = [];
  for (let run = 0; run < runs; run++) samples.push(await timeCase(c, iterations));
  return caseResult('grayRoute interceptor in a new cls lane context per call', size, samples, iterations);
}
