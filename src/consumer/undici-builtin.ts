/**
 * Node's built-in undici (the copy inside node that runs `fetch`), reached without the `undici` package: a
 * dispatcher built on a separately installed undici of another major breaks the built-in fetch, because the handler
 * interface changed between majors. Facts this relies on, checked on Node 20, 22, 24 and 26:
 *
 * - The bundled undici is loaded lazily: reading `globalThis.Headers` (a lazy getter) loads it synchronously, and
 *   loading it installs its Agent as the global dispatcher unless one is there already.
 * - The global dispatcher lives under `Symbol.for('undici.globalDispatcher.1')` (Node 20/22: undici 6; Node 24:
 *   undici 7 stores the same Agent under `.1` and `.2`), and under `.2` on Node 26 (undici 8), whose fetch reads
 *   `.2` only; `.1` there holds a Dispatcher1Wrapper that converts old-style handlers.
 * - Handler styles: old (`onConnect`, `onHeaders`, `onData`, `onComplete`, `onError`, …) is what the fetch of
 *   Node 20/22/24 passes; new (`onRequestStart`, `onResponseStart`, `onResponseData`, `onResponseEnd`,
 *   `onResponseError`, with a controller) is what Node 26's passes. undici itself tells them apart by
 *   `typeof handler.onRequestStart`.
 * - undici's own `connect: { timeout }` fires late (its timers tick every ~500 ms: 100–600 ms settings fire at about
 *   1 s); `preciseConnector` below times out within milliseconds, with undici's own error code.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { InvalidOptionError } from '../errors';

export const DISPATCHER_SYMBOL_V1 = Symbol.for('undici.globalDispatcher.1');
export const DISPATCHER_SYMBOL_V2 = Symbol.for('undici.globalDispatcher.2');

/** Major version of the undici inside this node (6 on Node 20/22, 7 on Node 24, 8 on Node 26). */
export const BUNDLED_UNDICI_MAJOR = Number((process.versions.undici ?? '0').split('.')[0]);

/** The global-dispatcher symbol this node's built-in fetch reads. */
const FETCH_DISPATCHER_SYMBOL = BUNDLED_UNDICI_MAJOR >= 8 ? DISPATCHER_SYMBOL_V2 : DISPATCHER_SYMBOL_V1;

/** The part of undici's Dispatcher that graykit calls. */
export interface Dispatcher {
  dispatch(options: DispatchOptions, handler: object): boolean;
  close(): Promise<void>;
  destroy(error?: Error | null): Promise<void>;
  readonly isMockActive?: boolean;
}

/** What a dispatcher receives from fetch or undici's request(): the parts graykit reads or rewrites. */
export interface DispatchOptions {
  origin?: string | URL;
  path: string;
  method: string;
  headers?: Record<string, string | string[] | undefined> | string[] | Iterable<[string, string]> | null;
  body?: unknown;
  upgrade?: string | null;
  [field: string]: unknown;
}

const globals = globalThis as unknown as Record<symbol, Dispatcher | undefined>;

/** Makes sure the bundled undici has been evaluated, so that its global dispatcher exists. Synchronous, cheap. */
export function loadBundledUndici(): void {
  void (globalThis as { Headers?: unknown }).Headers;
}

/** The dispatcher this node's built-in fetch uses when a call gives none. */
export function fetchGlobalDispatcher(): Dispatcher {
  loadBundledUndici();
  const dispatcher = globals[FETCH_DISPATCHER_SYMBOL];
  if (!dispatcher) {
    throw new InvalidOptionError(
      'dispatcher',
      `no global fetch dispatcher in this realm (Node.js ${process.version}): code in a vm context (Jest's test environment, for one) does not see the process's; pass the dispatcher to wrap`,
    );
  }
  return dispatcher;
}

export function getGlobalDispatcher(symbol: symbol): Dispatcher | undefined {
  return globals[symbol];
}

export function setGlobalDispatcher(symbol: symbol, dispatcher: Dispatcher | undefined): void {
  globals[symbol] = dispatcher;
}

type DispatcherClass = new (options?: object) => Dispatcher;

/**
 * The built-in Agent class (of the undici fetch runs on), from the global dispatcher's constructor. Undefined when
 * something else was installed as the global dispatcher before graykit looked (then graykit uses that one as is).
 */
export function builtinAgentClass(): DispatcherClass | undefined {
  const dispatcher = fetchGlobalDispatcher() as unknown as { constructor?: DispatcherClass & { name?: string } };
  return dispatcher.constructor?.name === 'Agent' ? dispatcher.constructor : undefined;
}

/** The prototype of the undici Dispatcher class the global dispatcher descends from (request(), stream(), …). */
export function builtinDispatcherPrototype(): object | undefined {
  for (let proto = Object.getPrototypeOf(fetchGlobalDispatcher()); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    if ((proto as { constructor?: { name?: string } }).constructor?.name === 'Dispatcher') return proto as object;
  }
  return undefined;
}

/** Node 26's Dispatcher1Wrapper: lets old-style handlers reach its new-style-only Agent. */
export function dispatcher1WrapperClass(): (new (dispatcher: Dispatcher) => Dispatcher) | undefined {
  if (BUNDLED_UNDICI_MAJOR < 8) return undefined;
  loadBundledUndici();
  const legacy = globals[DISPATCHER_SYMBOL_V1] as unknown as { constructor?: { name?: string } } | undefined;
  return legacy?.constructor?.name === 'Dispatcher1Wrapper' ? (legacy.constructor as new (dispatcher: Dispatcher) => Dispatcher) : undefined;
}

/** undici's connect-timeout error, as its own connector raises it: failover treats both alike. */
class UndiciConnectTimeoutError extends Error {
  readonly code = 'UND_ERR_CONNECT_TIMEOUT';
  constructor(host: string, port: number, timeoutMs: number) {
    super(`Connect Timeout Error (attempted address: ${host}:${port}, timeout: ${timeoutMs}ms, graykit connectTimeout)`);
    this.name = 'ConnectTimeoutError';
  }
}

interface ConnectOptions {
  hostname?: string;
  host?: string;
  protocol?: string;
  port?: string | number;
  servername?: string;
  localAddress?: string;
}

/**
 * An undici `connect` function whose connect timeout is a plain timer: precise, where undici's own fires up to a
 * second late. It does not add undici's TLS session cache or HTTP/2 negotiation: fine for instances that speak
 * HTTP/1.1, which is what graykit routes to.
 */
export function preciseConnector(timeoutMs: number) {
  return function connect(options: ConnectOptions, callback: (error: Error | null, socket?: net.Socket) => void): net.Socket {
    const https = options.protocol === 'https:';
    const host = options.hostname ?? options.host ?? '';
    const port = Number(options.port) || (https ? 443 : 80);
    const socket: net.Socket = https
      ? tls.connect({ host, port, servername: options.servername ?? (net.isIP(host) ? undefined : host), ALPNProtocols: ['http/1.1'], ...(options.localAddress ? { localAddress: options.localAddress } : {}) } as tls.ConnectionOptions)
      : net.connect({ host, port, localAddress: options.localAddress });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    const connected = https ? 'secureConnect' : 'connect';
    let settled = false;
    const finish = (error: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off(connected, onConnect).off('error', finish);
      if (error) {
        socket.destroy();
        callback(error);
      } else callback(null, socket);
    };
    const onConnect = () => finish(null);
    const timer = setTimeout(() => finish(new UndiciConnectTimeoutError(host, port, timeoutMs)), timeoutMs);
    socket.once(connected, onConnect).once('error', finish);
    return socket;
  };
}
