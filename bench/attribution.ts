/**
 * `npm run bench:attribution`: where the end-to-end gap between (a) direct and (b) grayRoute comes from. One process,
 * the benchmark's provider process, and six clients (five for fetch) run in interleaved 0.5 s slices:
 *
 *   d    a hand-written round-robin over the three providers (the benchmark's control, case d);
 *   dh   d with the lane header and graykit's baggage member written as grayRoute writes them (the lane of the
 *        provider it goes to): what carrying a lane costs an axios request, with no graykit and no other change;
 *   dx   d with two headers of the same name lengths and values that nothing reads (the providers' lane context
 *        looks for neither): dh against dx tells the lane's meaning on the provider from the bytes of two headers;
 *   a    axios straight to one provider (the benchmark's case a);
 *   m3   a hand-written copy of what a grayRoute request carries: every third request to the gray provider, the
 *        others alternating over the normal ones, the lane header, `config.gray`, a URL built per request;
 *   mr   the same with the lane drawn at random at 33 %, as grayRoute does;
 *   b    grayRoute at ratio 33 (the benchmark's case b).
 *
 * For each: the median of per-slice throughput over the first client's (d, or fd for fetch: direct over the same
 * three providers, the fair baseline, see bench/e2e.ts) in the same round and of client CPU per request over its,
 * with 95 % intervals, the sockets its agent opened, and the median time spent in its interceptor. b against mr is
 * graykit's own cost; mr against d, what the traffic of a lane-carrying ratio split costs whoever routes it; b against
 * dh, graykit's code and the lane draw together.
 *
 * With BENCH_ATTRIBUTION_CLIENT=fetch, the same for Node's built-in fetch (the benchmark's cases e and f), each over
 * an undici Agent of its own made as bench/e2e-clients.ts fetchClient() makes them:
 *
 *   fd   a hand-written dispatcher that sends each request to the next of the three providers (round-robin);
 *   e    fetch straight to one provider (what the benchmark's case e was before it became a round-robin);
 *   fh   fd with the lane header and the baggage member of the instance's lane added to a copy of the headers:
 *        what carrying a lane costs, every request still to the next of the three in turn;
 *   fmr  a hand-written dispatcher that does what grayDispatcher's output is: the lane drawn at 33 %, the gray
 *        provider or the next normal one, the lane header and the baggage member added to a copy of the headers
 *        (fmr against fh: what drawing the lane costs, three pools loaded unevenly from one slice to the next);
 *   f    grayDispatcher (case f), over the same consumer and ratio.
 *
 * env: BENCH_ATTRIBUTION_ROUNDS (default 150), BENCH_ATTRIBUTION_CONCURRENCY (default 32),
 * BENCH_ATTRIBUTION_CLIENT (axios, the default, or fetch). Needs ZK_CONNECT (`npm run` sets it through
 * scripts/with-zookeeper.sh). Exits 0 whatever the figures.
 */
import type { InternalAxiosRequestConfig } from 'axios';
import { grayRoute, silentLogger, type GrayRouteInterceptor, type Instance } from '../src';
import { BAGGAGE_HEADER, withLaneInBaggage } from '../src/context/propagation';
import { DEFAULT_LANE_HEADER } from '../src/types';
import { builtinAgentClass, type DispatchOptions, type Dispatcher } from '../src/consumer/undici-builtin';
import { startChild } from '../scripts/children';
import { fetchClient, keepAliveClient, runSlice, type Sender } from './e2e-clients';
import { machineInfo, machineLine } from './machine';
import { median, medianInterval } from './stats';
import { benchRoot, deleteTree, openAdmin, writeConfig } from './zk';

const SERVICE = 'bench-attribution';
const ROUNDS = Number(process.env.BENCH_ATTRIBUTION_ROUNDS ?? 150);
const CONCURRENCY = Number(process.env.BENCH_ATTRIBUTION_CONCURRENCY ?? 32);
const SLICE_MS = 500;
const FAMILY = process.env.BENCH_ATTRIBUTION_CLIENT === 'fetch' ? 'fetch' : 'axios';

/** The two lanes the hand-written clients send. */
type HandLane = 'gray' | 'normal';
/**
 * graykit's baggage member alone (what it sends for a caller who sent no baggage), built once by graykit's own rule:
 * the hand-written clients then add a constant, as graykit does.
 */
const BAGGAGE: Readonly<Record<HandLane, string>> = { gray: withLaneInBaggage(undefined, 'gray') as string, normal: withLaneInBaggage(undefined, 'normal') as string };

/** Names as long as the lane header's and baggage's, for the dx client: headers that nothing reads. */
const UNREAD_LANE_HEADER = 'x-'.padEnd(DEFAULT_LANE_HEADER.length, 'z');
const UNREAD_BAGGAGE_HEADER = 'x-'.padEnd(BAGGAGE_HEADER.length, 'z');

type Interceptor = (config: InternalAxiosRequestConfig) => InternalAxiosRequestConfig | Promise<InternalAxiosRequestConfig>;

interface Client {
  key: string;
  name: string;
  url: string;
  http: { client: Sender; agent: { destroy(): unknown }; sockets: () => number };
  /** Wall time inside the interceptor (or graykit's own part of the dispatcher), ns, per request. */
  inside: number[];
  rps: number[];
  cpuPerRequest: number[];
}

function client(key: string, name: string, url: string, interceptor?: Interceptor): Client {
  const http = keepAliveClient(CONCURRENCY);
  const inside: number[] = [];
  if (interceptor) {
    http.client.interceptors.request.use((config) => {
      const t0 = process.hrtime.bigint();
      const out = interceptor(config);
      inside.push(Number(process.hrtime.bigint() - t0));
      return out;
    });
  }
  return { key, name, url, http, inside, rps: [], cpuPerRequest: [] };
}

/** A fetch client over an Agent of its own (as the benchmark's case e), its requests first passed to `rewrite`. */
function fetchByHand(key: string, name: string, url: string, rewrite: (opts: DispatchOptions) => DispatchOptions): Client {
  const Agent = builtinAgentClass();
  if (!Agent) throw new Error('bench:attribution: the built-in fetch has no undici Agent as its global dispatcher');
  const agent = new Agent({ connections: CONCURRENCY, headersTimeout: 5000, bodyTimeout: 5000 }) as Dispatcher & { on(event: 'connect', listener: () => void): unknown };
  let sockets = 0;
  agent.on('connect', () => void sockets++);
  const inside: number[] = [];
  const dispatcher = {
    dispatch(opts: DispatchOptions, handler: object): boolean {
      const t0 = process.hrtime.bigint();
      const rewritten = rewrite(opts);
      inside.push(Number(process.hrtime.bigint() - t0));
      return agent.dispatch(rewritten, handler);
    },
    close: () => agent.close(),
    destroy: () => agent.destroy(),
  };
  const init = { dispatcher } as unknown as RequestInit;
  const send = async (target: string) => {
    const response = await fetch(target, init);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return (await response.json()) as { gray?: boolean; port?: number };
  };
  return { key, name, url, http: { client: send, agent: { destroy: () => agent.close() }, sockets: () => sockets }, inside, rps: [], cpuPerRequest: [] };
}

/**
 * A copy of fetch's headers with the lane header and graykit's baggage member, made as graykit makes it (Object.assign,
 * not a spread: adding to a spread copy is slow in V8, see src/consumer/lane-headers.ts copyRecord).
 */
function withLaneHeaders(headers: unknown, lane: HandLane): Record<string, string> {
  const copy = Object.assign({}, headers as Record<string, string>);
  copy[DEFAULT_LANE_HEADER] = lane;
  copy.baggage = BAGGAGE[lane];
  return copy;
}

/** The fetch family: fd, e, fh, fmr (by hand) and f (grayDispatcher), as the module comment says. */
function fetchClients(route: GrayRouteInterceptor, started: { port: number; gray: boolean }[], grayInstance: Instance, normal: readonly Instance[]): Client[] {
  const origins = started.map((p) => `http://127.0.0.1:${p.port}`);
  const grayOrigin = `http://${grayInstance.host}:${grayInstance.port}`;
  const normalOrigins = normal.map((instance) => `http://${instance.host}:${instance.port}`);
  let next = 0;
  let nextLaned = 0;
  let nextNormal = 0;
  const direct = fetchClient(CONCURRENCY);
  const routed = fetchClient(CONCURRENCY, route);
  return [
    fetchByHand('fd', 'hand-written round-robin dispatcher over the three', 'http://control/version', (opts) => ({ ...opts, origin: origins[next++ % origins.length] })),
    { key: 'e', name: 'fetch direct to one provider', url: `${origins[started.findIndex((p) => !p.gray)]}/version`, http: direct, inside: [], rps: [], cpuPerRequest: [] },
    fetchByHand('fh', 'hand-written round-robin dispatcher over the three, with the lane header and baggage', 'http://control/version', (opts) => {
      const i = nextLaned++ % origins.length;
      return { ...opts, origin: origins[i], headers: withLaneHeaders(opts.headers, started[i].gray ? 'gray' : 'normal') };
    }),
    fetchByHand('fmr', 'hand-written lane dispatcher, gray drawn at 33 %', `http://${SERVICE}/version`, (opts) => {
      const lane = Math.random() < 0.33 ? 'gray' : 'normal';
      const origin = lane === 'gray' ? grayOrigin : normalOrigins[nextNormal++ % normalOrigins.length];
      return { ...opts, origin, headers: withLaneHeaders(opts.headers, lane) };
    }),
    { key: 'f', name: 'grayDispatcher at ratio 33', url: `http://${SERVICE}/version`, http: routed, inside: routed.ownNs, rps: [], cpuPerRequest: [] },
  ];
}

/** What grayRoute does to a request, written out by hand for one known snapshot: the lane comes from `gray()`. */
function handWrittenLaneRoute(grayInstance: Instance, normal: readonly Instance[], gray: () => boolean): Interceptor {
  let next = 0;
  return function handWrittenLaneRoute(config) {
    const lane = gray() ? 'gray' : 'normal';
    const instance = lane === 'gray' ? grayInstance : normal[next++ % normal.length];
    const url = config.url;
    config.url = `http://${instance.host}:${instance.port}/version`;
    config.baseURL = undefined;
    (config.headers as unknown as Record<string, string>)[DEFAULT_LANE_HEADER] = lane;
    config.gray = { lane, service: SERVICE, instance, url, baseURL: undefined };
    return config;
  };
}

const fixed = (values: number[], digits = 3) => (values.every(Number.isFinite) ? values.map((v) => v.toFixed(digits)).join('–') : 'too few rounds');

async function main(): Promise<void> {
  const zk = process.env.ZK_CONNECT;
  if (!zk) throw new Error('bench:attribution: ZK_CONNECT is not set; run `npm run bench:attribution`');
  console.log(machineLine(machineInfo()));
  console.log(`command: BENCH_ATTRIBUTION_ROUNDS=${ROUNDS}${FAMILY === 'fetch' ? ' BENCH_ATTRIBUTION_CLIENT=fetch' : ''} npm run bench:attribution   (${ROUNDS} rounds of ${SLICE_MS} ms slices, concurrency ${CONCURRENCY})`);
  const root = benchRoot();
  const admin = await openAdmin(zk);
  const providers = startChild({ name: 'providers', script: 'bench/provider-child.ts', env: { ZK_CONNECT: zk, BENCH_ROOT: root, BENCH_SERVICE: SERVICE, BENCH_PROVIDERS: '3' }, relay: { stderr: false } });
  const route = grayRoute({ zk, root, services: [SERVICE], logger: silentLogger });
  try {
    await writeConfig(admin, root, SERVICE, { ratio: 33 });
    const started = (await providers.waitForMarker<{ providers: { port: number; gray: boolean }[] }>('READY', 60_000)).providers;
    const deadline = Date.now() + 30_000;
    while (route.consumer.snapshot(SERVICE)?.instances.length !== started.length || route.consumer.ratioFor(SERVICE) !== 33) {
      if (Date.now() > deadline) throw new Error('the consumer did not see the three providers and ratio 33 within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const instances = route.consumer.snapshot(SERVICE)!.instances;
    const grayInstance = instances.find((instance) => instance.gray)!;
    const normal = instances.filter((instance) => !instance.gray);
    const urls = started.map((p) => `http://127.0.0.1:${p.port}/version`);
    let next = 0;
    /** d, with the lane of the provider it goes to in a header named `laneName` and the baggage member in `baggageName`. */
    const roundRobinWithHeaders = (laneName: string, baggageName: string): Interceptor => {
      let nextOne = 0;
      return (config) => {
        const i = nextOne++ % urls.length;
        const lane = started[i].gray ? 'gray' : 'normal';
        const headers = config.headers as unknown as Record<string, string>;
        config.url = urls[i];
        headers[laneName] = lane;
        headers[baggageName] = BAGGAGE[lane];
        return config;
      };
    };
    let third = 0;
    const axiosClients = () => [
      client('d', 'hand-written round-robin over the three', 'http://control/version', (config) => {
        config.url = urls[next++ % urls.length];
        return config;
      }),
      client('dh', 'd with the lane header and baggage, no graykit', 'http://control/version', roundRobinWithHeaders(DEFAULT_LANE_HEADER, BAGGAGE_HEADER)),
      client('dx', 'd with two headers of the same sizes that nothing reads', 'http://control/version', roundRobinWithHeaders(UNREAD_LANE_HEADER, UNREAD_BAGGAGE_HEADER)),
      client('a', 'axios direct to one provider', urls[started.findIndex((p) => !p.gray)]),
      client('m3', 'hand-written lane route, every third request gray', `http://${SERVICE}/version`, handWrittenLaneRoute(grayInstance, normal, () => third++ % 3 === 0)),
      client('mr', 'hand-written lane route, gray drawn at 33 %', `http://${SERVICE}/version`, handWrittenLaneRoute(grayInstance, normal, () => Math.random() < 0.33)),
      client('b', 'grayRoute at ratio 33', `http://${SERVICE}/version`, route),
    ];
    const clients = FAMILY === 'fetch' ? fetchClients(route, started, grayInstance, normal) : axiosClients();
    for (const c of clients) {
      await runSlice(c.http.client, c.url, CONCURRENCY, 1000, 1_000_000);
      c.inside.length = 0;
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < clients.length; i++) {
        const c = clients[(i + round) % clients.length];
        const cpu0 = process.cpuUsage();
        const slice = await runSlice(c.http.client, c.url, CONCURRENCY, SLICE_MS, 1_000_000);
        const cpu = process.cpuUsage(cpu0);
        c.rps.push(slice.inWindow / (slice.windowMs / 1000));
        c.cpuPerRequest.push(slice.requests ? (cpu.user + cpu.system) / slice.requests : NaN);
      }
      if ((round + 1) % 25 === 0) console.log(`  round ${round + 1}/${ROUNDS}`);
    }
    const a = clients[0];
    console.log('');
    console.log(`| client | req/s | throughput / ${a.key} (95 % CI) | client CPU µs/req | client CPU / ${a.key} (95 % CI) | sockets | ${FAMILY === 'fetch' ? 'in dispatch() (own) µs' : 'interceptor µs'} |`);
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const c of clients) {
      const throughput = c.rps.map((rps, i) => rps / a.rps[i]);
      const cpu = c.cpuPerRequest.map((micros, i) => micros / a.cpuPerRequest[i]);
      const inside = c.inside.length ? (median(c.inside) / 1000).toFixed(2) : '—';
      console.log(
        `| (${c.key}) ${c.name} | ${Math.round(median(c.rps))} | ${median(throughput).toFixed(3)} (${fixed(medianInterval(throughput))}) | ${median(c.cpuPerRequest).toFixed(0)} | ${median(cpu).toFixed(3)} (${fixed(medianInterval(cpu))}) | ${c.http.sockets()} | ${inside} |`,
      );
    }
    for (const c of clients) await c.http.agent.destroy();
  } finally {
    route.close();
    await providers.stop();
    await deleteTree(admin, root).catch(() => undefined);
    admin.close();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error((error as Error).stack ?? error);
    process.exit(1);
  },
);
