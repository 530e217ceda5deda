/**
 * Part 2: end-to-end HTTP through six clients, at the same concurrency, in the same run, against the same
 * provider process:
 *   (a) axios straight to one provider;
 *   (b) axios + grayRoute over the three providers (the service's snapshot, the config ratio);
 *   (c) axios to nginx, whose split_clients sends each request to the gray or the normal upstream group;
 *   (d) a control: axios with a hand-written round-robin interceptor over the same providers, no graykit. It pays
 *       what (b) pays for spreading over three hosts (more sockets, an asynchronous interceptor), so d/a is the cost
 *       of the spread and b/d what a grayRoute request costs beyond it (graykit's code and the lane it carries:
 *       bench/attribution.ts tells the two apart).
 *   (e) Node's built-in fetch direct, with a plain round-robin over the same providers' URLs (no graykit): the
 *       fetch that an app without graykit writes for a service with three instances. It reaches the same provider
 *       ports through as many connection pools and sockets as (f), so f/e is graykit's cost and not that of
 *       spreading. (It went to one provider until 2026-12: one pool of 32 sockets against (f)'s three of up to 32
 *       each. That comparison is kept in bench/attribution.ts, BENCH_ATTRIBUTION_CLIENT=fetch, as e beside fd,
 *       where it shows that the spread itself costs nothing measurable.)
 *   (f) fetch + grayDispatcher over the three providers (the same consumer, config ratio and propagation as (b)).
 *       f/e is to fetch what b/d is to axios: what routing costs a fetch client (see fetchClient() in
 *       e2e-clients.ts for why the two are comparable). For axios, (a) stays beside (d): d/a is the spread's cost,
 *       b/d graykit's.
 * Every axios client has its own keep-alive http.Agent, every fetch client its own undici Agent. The measured time of each case is split into rounds, and the
 * rounds of the cases are interleaved (a b c, b c a, c a b, ...), so that drift on a shared machine hits all alike.
 * Ratios are the median of the per-round ratios. A slice's throughput counts the responses received within its
 * window (those still in flight at its end are waited for, and their latency kept, but not counted).
 */
import type { GrayRouteInterceptor } from '../src';
import { childPids, groupCpuMicros } from './cpu';
import { fetchClient, keepAliveClient, runSlice, type Sender } from './e2e-clients';
import { distribution, median, medianInterval, round, type Distribution } from './stats';

export interface E2eCase {
  key: 'a' | 'b' | 'c' | 'd' | 'e' | 'f';
  name: string;
  url: string;
  client: Sender;
  /** Its keep-alive pool, destroyed at the end. */
  agent: { destroy(): unknown };
}

export interface E2eCaseResult {
  key: string;
  name: string;
  url: string;
  /** Median of the per-round throughputs, requests/s. */
  throughputRps: number;
  roundsRps: number[];
  requests: number;
  errors: number;
  firstError?: string;
  latencyMs: Distribution;
  /** Share of responses from the gray provider, %. */
  grayShare: number;
  byPort: Record<string, number>;
  /** Sockets the agent opened (keep-alive: at most the concurrency). */
  socketsOpened: number;
  /**
   * CPU per request, µs, over the measured rounds: the client (this process), the provider process, nginx (master
   * and workers; 0 when not in the path). Less sensitive to other load on the machine than throughput.
   */
  cpuPerRequestMicros: { client: number; providers: number; nginx: number; total: number };
  /** The client's CPU per request in each round, µs. */
  clientCpuMicrosByRound: number[];
}

export interface E2eResult {
  concurrency: number;
  secondsPerCase: number;
  rounds: number;
  cases: E2eCaseResult[];
  /** Median of per-round throughput ratios; null when a case did not run. */
  bOverA: number | null;
  bOverC: number | null;
  bOverD: number | null;
  dOverA: number | null;
  /** fetch: grayDispatcher / fetch direct, both over the same three providers (the fetch counterpart of b/d). */
  fOverE: number | null;
  /**
   * fetch direct / axios direct, both by hand-written round-robin over the three (e/d), and fetch + grayDispatcher /
   * axios + grayRoute: the two clients side by side.
   */
  eOverD: number | null;
  fOverB: number | null;
  /** 95 % confidence intervals of those medians (distribution-free, over the rounds), by name ('b/a', ...). */
  intervals: Record<string, [number, number]>;
  /**
   * The client's CPU per request, x's over y's: median of the per-round ratios, with its 95 % interval ('f/e',
   * 'b/d', 'b/a', 'e/d'). Above 1: x costs the client more per request.
   */
  clientCpuRatios: Record<string, { median: number; interval: [number, number] | null }>;
  /**
   * The same comparisons by CPU cost: requests per CPU-second of every process involved, b's over a's (and over
   * c's). Unlike throughput, this does not depend on how much of a shared machine the scheduler gave each case
   * (three busy processes in (c) get a larger share than two in (a) and (b) when other jobs compete).
   */
  bOverAByCpu: number | null;
  bOverCByCpu: number | null;
  /** Why case (c) did not run, when it did not. */
  skippedC?: string;
  /** Case (b): time inside the grayRoute interceptor per request, and its share of the client's CPU per request, %. */
  grayRouteInside: { microsPerRequest: number; medianMicros: number; shareOfClientCpu: number; calls: number } | null;
  /**
   * Cases (e) and (f): wall time inside dispatch() per request (medians, µs). (e) the Agent's own; (f) graykit's own
   * part of grayDispatcher's dispatch() (lane, route, origin and header rewrite, the per-request state), i.e. its
   * dispatch() less the inner Agent's dispatch() it calls, and that inner Agent's. The Agents' figures are not
   * comparable with each other: a pool with a free connection writes the request inside dispatch(), a pool whose
   * connections are all busy only queues it (and writes it later, outside), and (f)'s three pools have free
   * connections more often than (e)'s one.
   */
  dispatchInside: { eAgentMedianMicros: number; fOwnMedianMicros: number; fOwnMeanMicros: number; fAgentMedianMicros: number; fOwnShareOfClientCpu: number; calls: number } | null;
}

/**
 * Whether a result's (e) is the round-robin over the providers (results from 2026-12 on), or fetch direct to one
 * provider as before: the report and the f/e target describe each as it was measured.
 */
export function fetchRoundRobin(e: { cases: ReadonlyArray<{ key: string; name: string }> }): boolean {
  return e.cases.some((c) => c.key === 'e' && c.name.includes('round-robin'));
}

/** x's requests per CPU-second over y's: y's total CPU per request over x's. */
function cpuRatio(cases: E2eCaseResult[], x: string, y: string): number | null {
  const cx = cases.find((c) => c.key === x)?.cpuPerRequestMicros.total;
  const cy = cases.find((c) => c.key === y)?.cpuPerRequestMicros.total;
  return cx && cy && Number.isFinite(cx) && Number.isFinite(cy) ? round(cy / cx, 3) : null;
}

function perRequest(cpu: { client: number; providers: number; nginx: number }, requests: number) {
  const each = (micros: number) => (requests ? round(micros / requests, 1) : NaN);
  return { client: each(cpu.client), providers: each(cpu.providers), nginx: each(cpu.nginx), total: each(cpu.client + cpu.providers + cpu.nginx) };
}

export interface E2eSetup {
  concurrency: number;
  seconds: number;
  rounds: number;
  warmupSeconds: number;
  maxRequestsPerSlice: number;
  /** Cases to run: a, b, c, d. */
  cases: string[];
  service: string;
  /** The providers, the first one is gray. */
  providers: { port: number; gray: boolean }[];
  interceptor: GrayRouteInterceptor;
  nginxPort?: number;
  /** For CPU accounting: the providers' process and nginx's master. */
  providerPid?: number;
  nginxPid?: number;
  skippedC?: string;
  log: (line: string) => void;
}

export async function runE2e(setup: E2eSetup): Promise<E2eResult> {
  const { concurrency } = setup;
  const made: (E2eCase & { sockets: () => number })[] = [];
  const direct = keepAliveClient(concurrency);
  const normalProvider = setup.providers.find((p) => !p.gray) ?? setup.providers[0];
  made.push({ key: 'a', name: 'axios direct to one provider', url: `http://127.0.0.1:${normalProvider.port}/version`, ...direct });
  const routed = keepAliveClient(concurrency);
  // Timed: the wall time spent inside the interceptor, to set it against the client's CPU per request. The two
  // clock reads cost about 0.1 µs a request, under 0.1 % of a request here.
  const inside = { ns: [] as number[] };
  const route = setup.interceptor;
  routed.client.interceptors.request.use((config) => {
    const t0 = process.hrtime.bigint();
    const out = route(config);
    if (inside.ns.length < 1_000_000) inside.ns.push(Number(process.hrtime.bigint() - t0));
    return out;
  });
  made.push({ key: 'b', name: `axios + grayRoute over ${setup.providers.length} providers`, url: `http://${setup.service}/version`, ...routed });
  if (setup.nginxPort !== undefined) {
    const proxied = keepAliveClient(concurrency);
    made.push({ key: 'c', name: `axios via nginx split_clients over ${setup.providers.length} providers`, url: `http://127.0.0.1:${setup.nginxPort}/version`, ...proxied });
  }
  const control = keepAliveClient(concurrency);
  const targets = setup.providers.map((p) => `http://127.0.0.1:${p.port}/version`);
  let next = 0;
  control.client.interceptors.request.use(function roundRobinControl(config) {
    config.url = targets[next++ % targets.length];
    return config;
  });
  made.push({ key: 'd', name: `control: axios + a hand-written round-robin interceptor over the same ${setup.providers.length} providers`, url: 'http://control/version', ...control });
  const fetchDirect = setup.cases.includes('e') ? fetchClient(concurrency) : undefined;
  if (fetchDirect) {
    const send = fetchDirect.client;
    let nextTarget = 0;
    const roundRobinFetch = () => send(targets[nextTarget++ % targets.length]);
    made.push({ key: 'e', name: `fetch direct, a hand-written round-robin over the same ${setup.providers.length} providers`, url: 'http://control/version', ...fetchDirect, client: roundRobinFetch });
  }
  const fetchRouted = setup.cases.includes('f') ? fetchClient(concurrency, route) : undefined;
  if (fetchRouted) made.push({ key: 'f', name: `fetch + grayDispatcher over ${setup.providers.length} providers`, url: `http://${setup.service}/version`, ...fetchRouted });
  const selected = made.filter((c) => setup.cases.includes(c.key));
  made.length = 0;
  made.push(...selected);
  const acc = new Map(
    made.map((c) => [
      c.key,
      { rounds: [] as number[], clientCpuRounds: [] as number[], latencies: [] as number[], requests: 0, errors: 0, gray: 0, byPort: {} as Record<string, number>, firstError: undefined as string | undefined, cpu: { client: 0, providers: 0, nginx: 0 } },
    ]),
  );
  const providerPids = setup.providerPid === undefined ? [] : [setup.providerPid];
  const nginxPids = setup.nginxPid === undefined ? [] : [setup.nginxPid, ...childPids(setup.nginxPid)];
  const perRound: Record<string, number>[] = [];
  try {
    for (const c of made) {
      const warm = await runSlice(c.client, c.url, concurrency, setup.warmupSeconds * 1000, setup.maxRequestsPerSlice);
      if (warm.requests === 0) setup.log(`  warm-up of (${c.key}) got no answer: ${warm.firstError ?? 'no request completed'}`);
    }
    inside.ns.length = 0;
    for (const c of [fetchDirect, fetchRouted]) {
      if (c) c.agentNs.length = c.ownNs.length = 0;
    }
    const sliceMs = (setup.seconds * 1000) / setup.rounds;
    for (let round = 0; round < setup.rounds; round++) {
      const order = made.map((_, i) => made[(i + round) % made.length]);
      const rps: Record<string, number> = {};
      for (const c of order) {
        const client0 = process.cpuUsage();
        const providers0 = groupCpuMicros(providerPids);
        const nginx0 = groupCpuMicros(nginxPids);
        const slice = await runSlice(c.client, c.url, concurrency, sliceMs, setup.maxRequestsPerSlice);
        const client1 = process.cpuUsage(client0);
        const a = acc.get(c.key)!;
        a.cpu.client += client1.user + client1.system;
        // NaN for a slice without a response, so that round i of every case stays at index i (per-round ratios).
        a.clientCpuRounds.push(slice.requests > 0 ? (client1.user + client1.system) / slice.requests : NaN);
        a.cpu.providers += groupCpuMicros(providerPids) - providers0;
        // nginx only costs what goes through it: its idle timers during (a) and (b) are not theirs.
        if (c.key === 'c') a.cpu.nginx += groupCpuMicros(nginxPids) - nginx0;
        rps[c.key] = slice.inWindow / (slice.windowMs / 1000);
        a.rounds.push(rps[c.key]);
        for (const l of slice.latenciesMs) a.latencies.push(l);
        a.requests += slice.requests;
        a.errors += slice.errors;
        a.gray += slice.gray;
        a.firstError ??= slice.firstError;
        for (const [port, n] of Object.entries(slice.byPort)) a.byPort[port] = (a.byPort[port] ?? 0) + n;
      }
      perRound.push(rps);
      setup.log(`  round ${round + 1}/${setup.rounds}: ${made.map((c) => `(${c.key}) ${Math.round(rps[c.key])} req/s`).join(', ')}`);
    }
  } finally {
    for (const c of made) await c.agent.destroy();
  }
  const cases: E2eCaseResult[] = made.map((c) => {
    const a = acc.get(c.key)!;
    return {
      key: c.key,
      name: c.name,
      url: c.url,
      throughputRps: round(median(a.rounds), 0),
      roundsRps: a.rounds.map((r) => round(r, 0)),
      requests: a.requests,
      errors: a.errors,
      firstError: a.firstError,
      latencyMs: distribution(a.latencies),
      grayShare: a.requests ? round((100 * a.gray) / a.requests, 2) : NaN,
      byPort: a.byPort,
      socketsOpened: c.sockets(),
      cpuPerRequestMicros: perRequest(a.cpu, a.requests),
      clientCpuMicrosByRound: a.clientCpuRounds.map((x) => round(x, 1)),
    };
  });
  const intervals: Record<string, [number, number]> = {};
  const ratio = (x: string, y: string) => {
    const values = perRound.filter((r) => r[x] > 0 && r[y] > 0).map((r) => r[x] / r[y]);
    if (!values.length) return null;
    const [low, high] = medianInterval(values);
    if (Number.isFinite(low)) intervals[`${x}/${y}`] = [round(low, 3), round(high, 3)];
    return round(median(values), 3);
  };
  const clientCpuRatios: E2eResult['clientCpuRatios'] = {};
  const cpuRatioByRound = (x: E2eCase['key'], y: E2eCase['key']) => {
    const cx = acc.get(x)?.clientCpuRounds;
    const cy = acc.get(y)?.clientCpuRounds;
    if (!cx || !cy) return;
    const values = cx.map((v, i) => v / cy[i]).filter((v) => Number.isFinite(v) && v > 0);
    if (!values.length) return;
    const [low, high] = medianInterval(values);
    clientCpuRatios[`${x}/${y}`] = { median: round(median(values), 3), interval: Number.isFinite(low) ? [round(low, 3), round(high, 3)] : null };
  };
  for (const [x, y] of [['b', 'a'], ['b', 'd'], ['f', 'e'], ['e', 'd']] as const) cpuRatioByRound(x, y);
  const f = cases.find((c) => c.key === 'f');
  const dispatchInside =
    fetchDirect?.agentNs.length && fetchRouted?.ownNs.length && f
      ? {
          eAgentMedianMicros: round(median(fetchDirect.agentNs) / 1000, 2),
          fOwnMedianMicros: round(median(fetchRouted.ownNs) / 1000, 2),
          fOwnMeanMicros: round(fetchRouted.ownNs.reduce((x, y) => x + y, 0) / fetchRouted.ownNs.length / 1000, 2),
          fAgentMedianMicros: round(median(fetchRouted.agentNs) / 1000, 2),
          // The median: the mean is wall time that includes preemptions by other jobs.
          fOwnShareOfClientCpu: round((100 * median(fetchRouted.ownNs)) / 1000 / f.cpuPerRequestMicros.client, 2),
          calls: fetchRouted.ownNs.length,
        }
      : null;
  const b = cases.find((c) => c.key === 'b');
  // Mean (what it costs in total) and median (robust to the preemptions of a busy machine).
  const insideMean = inside.ns.length ? inside.ns.reduce((x, y) => x + y, 0) / inside.ns.length / 1000 : NaN;
  const insideMedian = median(inside.ns) / 1000;
  return {
    grayRouteInside:
      b && inside.ns.length
        ? {
            microsPerRequest: round(insideMean, 2),
            medianMicros: round(insideMedian, 2),
            // The median: the mean is wall time that includes preemptions by other jobs, not CPU spent here.
            shareOfClientCpu: round((100 * insideMedian) / b.cpuPerRequestMicros.client, 2),
            calls: inside.ns.length,
          }
        : null,
    concurrency,
    secondsPerCase: setup.seconds,
    rounds: setup.rounds,
    cases,
    bOverA: ratio('b', 'a'),
    bOverC: setup.nginxPort !== undefined ? ratio('b', 'c') : null,
    bOverD: ratio('b', 'd'),
    dOverA: ratio('d', 'a'),
    fOverE: ratio('f', 'e'),
    eOverD: ratio('e', 'd'),
    fOverB: ratio('f', 'b'),
    intervals,
    clientCpuRatios,
    dispatchInside,
    bOverAByCpu: cpuRatio(cases, 'b', 'a'),
    bOverCByCpu: cpuRatio(cases, 'b', 'c'),
    skippedC: setup.skippedC,
  };
}
