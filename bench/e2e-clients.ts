/**
 * The clients of the end-to-end benchmark (bench/e2e.ts) and of bench/attribution.ts, and the closed loop that drives
 * them: an axios instance on a keep-alive http.Agent of its own, Node's built-in fetch on an undici Agent of its own
 * (with or without grayDispatcher, each timed inside dispatch()), and runSlice, which sends through either.
 */
import { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import axios, { type AxiosInstance } from 'axios';
import { grayDispatcher, type GrayRouteInterceptor } from '../src';
import { builtinAgentClass, type DispatchOptions, type Dispatcher } from '../src/consumer/undici-builtin';

export interface SliceResult {
  /** Responses received, all of them (the slice waits for the requests in flight at its end). */
  requests: number;
  /** Responses received by the end of the slice's window: the throughput's numerator. */
  inWindow: number;
  windowMs: number;
  errors: number;
  elapsedMs: number;
  latenciesMs: number[];
  gray: number;
  byPort: Record<string, number>;
  firstError?: string;
}

/** What the benchmark providers answer. */
export interface VersionBody {
  gray?: boolean;
  port?: number;
}

/** A client: an axios instance (its `get`, as before), or a function that sends one GET and returns the JSON body. */
export type Sender = AxiosInstance | ((url: string) => Promise<VersionBody | undefined>);

/**
 * A closed loop of `concurrency` workers, each sending one request after the other until `durationMs` has passed
 * or `maxRequests` were sent (whichever comes first). Every request has its own timeout (the client's).
 */
export async function runSlice(client: Sender, url: string, concurrency: number, durationMs: number, maxRequests: number): Promise<SliceResult> {
  const result: SliceResult = { requests: 0, inWindow: 0, windowMs: durationMs, errors: 0, elapsedMs: 0, latenciesMs: [], gray: 0, byPort: {} };
  let issued = 0;
  const start = performance.now();
  const end = start + durationMs;
  // axios clients are called exactly as before fetch cases existed, with no wrapper of their own.
  // (An axios instance is a function too: told apart by its get().)
  const axiosClient = typeof (client as AxiosInstance).get === 'function' ? (client as AxiosInstance) : undefined;
  const send = axiosClient ? undefined : (client as (url: string) => Promise<VersionBody | undefined>);
  const worker = async () => {
    while (issued < maxRequests && performance.now() < end) {
      issued++;
      const t0 = performance.now();
      try {
        const data = axiosClient ? (await axiosClient.get<VersionBody>(url)).data : await send!(url);
        const t1 = performance.now();
        result.latenciesMs.push(t1 - t0);
        result.requests++;
        if (t1 <= end) result.inWindow++;
        if (data?.gray === true) result.gray++;
        const port = String(data?.port);
        result.byPort[port] = (result.byPort[port] ?? 0) + 1;
      } catch (error) {
        result.errors++;
        const e = error as Error & { cause?: Error };
        result.firstError ??= e.cause ? `${e.message}: ${e.cause.message}` : e.message;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  result.elapsedMs = performance.now() - start;
  if (issued >= maxRequests) {
    // Stopped by the request cap, not the clock: the whole slice is the window.
    result.windowMs = result.elapsedMs;
    result.inWindow = result.requests;
  }
  return result;
}

export function keepAliveClient(concurrency: number, timeoutMs = 5000): { client: AxiosInstance; agent: Agent; sockets: () => number } {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency, keepAliveMsecs: 10_000 });
  let sockets = 0;
  const createConnection = agent.createConnection.bind(agent);
  (agent as unknown as { createConnection: typeof createConnection }).createConnection = ((...args: Parameters<typeof createConnection>) => {
    sockets++;
    return createConnection(...args);
  }) as typeof createConnection;
  const client = axios.create({ httpAgent: agent, timeout: timeoutMs, proxy: false });
  return { client, agent, sockets: () => sockets };
}

type UndiciAgent = Dispatcher & { on(event: 'connect', listener: () => void): unknown };

/**
 * A fetch client for (e) and (f): Node's built-in fetch, given its own keep-alive pool as its `dispatcher`, so that
 * no case shares the process's global one.
 *
 * The pool is the built-in undici's Agent class (the class of the global dispatcher fetch uses, reached without the
 * undici package as graykit itself reaches it: src/consumer/undici-builtin.ts): `connections` = the concurrency per
 * origin, as the axios clients' `maxSockets`; undici's headers and body timeouts at the axios clients' 5 s (a
 * per-request AbortSignal.timeout would add a signal and a timer to every request of both cases).
 *
 * - (e) hands fetch that Agent directly.
 * - (f) hands fetch `grayDispatcher({ consumer, dispatcher: agent })`, with another Agent made the same way: routed
 *   requests go out through the same kind of pool, with the same options, as (e)'s, so that f/e is what graykit
 *   adds (the lane, the route, the rewritten origin and headers, the handler it wraps around fetch's, the outcome
 *   report). Without `dispatcher`, grayDispatcher would make an Agent of its own with graykit's connect-timeout
 *   connector: the same on an established keep-alive connection, but not set up as (e)'s is. The consumer is (b)'s:
 *   the same snapshot, config ratio and default propagation (lane header and baggage) as (b), and its default
 *   failover (3 attempts), as an app gets it.
 *
 * Timed inside dispatch(): (e) its Agent's; (f) its grayDispatcher's and, nested in it, its Agent's, so that
 * graykit's own part is the difference. Each clock read costs ~0.05 µs; (f) has two more than (e) (~0.1 µs of ~200).
 */
export function fetchClient(concurrency: number, route?: { consumer: GrayRouteInterceptor['consumer'] }, timeoutMs = 5000) {
  const Agent = builtinAgentClass();
  if (!Agent) throw new Error('bench: the built-in fetch has no undici Agent as its global dispatcher (something replaced it); cannot build cases e and f');
  const agent = new Agent({ connections: concurrency, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }) as UndiciAgent;
  let sockets = 0;
  agent.on('connect', () => void sockets++);
  /** Per request: ns inside the Agent's dispatch(); with a grayDispatcher, ns of its own (its dispatch() less the Agent's). */
  const agentNs: number[] = [];
  const ownNs: number[] = [];
  let nested = false;
  let agentInNested = 0;
  const agentDispatch = agent.dispatch.bind(agent);
  (agent as { dispatch: Dispatcher['dispatch'] }).dispatch = function timedAgentDispatch(opts: DispatchOptions, handler: object): boolean {
    const t0 = process.hrtime.bigint();
    const accepted = agentDispatch(opts, handler);
    const ns = Number(process.hrtime.bigint() - t0);
    if (agentNs.length < 1_000_000) agentNs.push(ns);
    if (nested) agentInNested += ns;
    return accepted;
  };
  const dispatcher: Dispatcher = route ? grayDispatcher({ consumer: route.consumer, dispatcher: agent }) : agent;
  if (route) {
    const grayDispatch = dispatcher.dispatch.bind(dispatcher);
    (dispatcher as { dispatch: Dispatcher['dispatch'] }).dispatch = function timedGrayDispatch(opts: DispatchOptions, handler: object): boolean {
      nested = true;
      agentInNested = 0;
      const t0 = process.hrtime.bigint();
      try {
        return grayDispatch(opts, handler);
      } finally {
        const ns = Number(process.hrtime.bigint() - t0);
        nested = false;
        if (ownNs.length < 1_000_000) ownNs.push(ns - agentInNested);
      }
    };
  }
  const init = { dispatcher } as unknown as RequestInit;
  const send = async (url: string): Promise<VersionBody> => {
    const response = await fetch(url, init);
    if (!response.ok) {
      await response.arrayBuffer();
      throw new Error(`HTTP ${response.status}`);
    }
    return (await response.json()) as VersionBody;
  };
  return {
    client: send,
    agent: { destroy: () => Promise.all([dispatcher.close(), agent.close()]) },
    sockets: () => sockets,
    agentNs,
    ownNs,
  };
}
