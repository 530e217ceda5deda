/**
 * The building blocks of failover, exported one by one so that callers can compose them: which errors
 * are connection-level failures, which requests may be sent again, and an http(s) agent with a connect timeout.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { Socket } from 'node:net';
import { InvalidOptionError } from '../errors';

/** Failover settings of `useGray(http, { failover })`. */
export interface FailoverOptions {
  /** Attempts in all for one request, the first included; 1 turns failover off. Default 3. */
  attempts?: number;
  /**
   * HTTP methods that may be sent again to another instance, any case. Default `['GET', 'HEAD', 'OPTIONS', 'PUT',
   * 'DELETE']`: the idempotent ones. A request can override with `gray: { failover: true | false }`. A request whose
   * body is a stream is never sent again.
   */
  methods?: readonly string[];
  /**
   * Whether a retry may go to the other lane once every instance of its own lane has failed the request. The retry
   * then carries the other lane in its lane header. Default false: a request stays in its lane, and fails when the
   * lane has no instance left.
   */
  crossLane?: boolean;
  /**
   * How long (ms) a new connection to an instance may take before it counts as a connection failure (and fails
   * over). Applied through graykit's own keep-alive agent on routed requests that set no `httpAgent`/`httpsAgent`;
   * with your own agent, the system's connect timeout applies. 0 turns it off. Default 1000.
   */
  connectTimeout?: number;
}

export const DEFAULT_FAILOVER_OPTIONS: Readonly<Required<FailoverOptions>> = Object.freeze({
  attempts: 3,
  methods: Object.freeze(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']),
  crossLane: false,
  connectTimeout: 1000,
});

/** Failover options checked, with methods lower-cased the way axios writes `config.method`. */
export interface ResolvedFailover {
  attempts: number;
  methods: ReadonlySet<string>;
  crossLane: boolean;
  connectTimeout: number;
}

export function resolveFailoverOptions(options: FailoverOptions | false | undefined): ResolvedFailover {
  if (options === false) return { attempts: 1, methods: new Set(), crossLane: false, connectTimeout: DEFAULT_FAILOVER_OPTIONS.connectTimeout };
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new InvalidOptionError('failover', `expected an object or false, got ${JSON.stringify(options)}`);
  }
  const merged = { ...DEFAULT_FAILOVER_OPTIONS, ...options };
  if (!(Number.isInteger(merged.attempts) && merged.attempts >= 1)) {
    throw new InvalidOptionError('failover.attempts', `expected a whole number >= 1, got ${JSON.stringify(merged.attempts)}`);
  }
  if (!Array.isArray(merged.methods) || merged.methods.some((method) => typeof method !== 'string')) {
    throw new InvalidOptionError('failover.methods', `expected an array of HTTP method names, got ${JSON.stringify(merged.methods)}`);
  }
  if (typeof merged.crossLane !== 'boolean') throw new InvalidOptionError('failover.crossLane', `expected true or false, got ${JSON.stringify(merged.crossLane)}`);
  if (!(Number.isFinite(merged.connectTimeout) && merged.connectTimeout >= 0)) {
    throw new InvalidOptionError('failover.connectTimeout', `expected milliseconds >= 0, got ${JSON.stringify(merged.connectTimeout)}`);
  }
  return {
    attempts: merged.attempts,
    methods: new Set(merged.methods.map((method) => method.toLowerCase())),
    crossLane: merged.crossLane,
    connectTimeout: merged.connectTimeout,
  };
}

/**
 * Codes of failures before a connection existed, so the instance certainly did not see the request: refused,
 * unreachable, no local address, undici's connect timeout. (`ETIMEDOUT` counts only from `connect`, see
 * connectionFailure.)
 */
const UNSENT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);
/** Codes of failures after the connection was made, before any response: the instance may have seen the request. */
const SENT_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/** `unsent`: the connection was never made; `sent`: it broke before any response (the request may have arrived). */
export type ConnectionFailure = 'unsent' | 'sent';

interface ErrorLike {
  code?: unknown;
  syscall?: unknown;
  response?: unknown;
  cause?: ErrorLike;
}

/**
 * The kind of connection-level failure `error` is, from Node's http (axios) or undici (fetch), or undefined when it
 * is none: a response of any status, a timeout of the response (the instance may be working on the request), an
 * abort. A connect timeout is `ETIMEDOUT` from `connect` (the system's, or graykit's `connectTimeout`) or undici's
 * `UND_ERR_CONNECT_TIMEOUT`.
 */
export function connectionFailure(error: unknown): ConnectionFailure | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as ErrorLike;
  if (e.response || typeof e.code !== 'string') return undefined;
  if (UNSENT_CODES.has(e.code)) return 'unsent';
  if (SENT_CODES.has(e.code)) return 'sent';
  return e.code === 'ETIMEDOUT' && (e.syscall === 'connect' || e.cause?.syscall === 'connect') ? 'unsent' : undefined;
}

/**
 * True for a connection-level failure: refused, unreachable, reset before any response, or a connect timeout. axios's
 * own request `timeout` is not one: the instance may be working on the request.
 */
export function isConnectionError(error: unknown): boolean {
  return connectionFailure(error) !== undefined;
}

/** A body read as it is sent (a Node or web stream, an emitter of chunks): never sent twice, so never failed over. */
export function isStreamBody(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as { pipe?: unknown; on?: unknown; getReader?: unknown };
  return typeof b.pipe === 'function' || typeof b.on === 'function' || typeof b.getReader === 'function';
}

/** The error a connect timeout destroys the socket with: shaped like the system's own connect ETIMEDOUT. */
export class ConnectTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  readonly syscall = 'connect';
  constructor(
    readonly address: string | undefined,
    readonly port: number | undefined,
    readonly timeoutMs: number,
  ) {
    super(`connect ETIMEDOUT ${address}:${port}: no connection within ${timeoutMs} ms (graykit connectTimeout)`);
    this.name = 'ConnectTimeoutError';
  }
}

/**
 * Makes `agent` give up on a connection that is not established within `timeoutMs`: the socket is destroyed with a
 * ConnectTimeoutError, which the request reports as its error. Sockets reused from the keep-alive pool are not
 * affected. Returns the same agent.
 */
export function withConnectTimeout<T extends http.Agent>(agent: T, timeoutMs: number): T {
  if (!(timeoutMs > 0)) return agent;
  const create = agent.createConnection.bind(agent);
  agent.createConnection = function createConnectionWithTimeout(options, callback) {
    const socket = create(options, callback);
    if (socket instanceof Socket && socket.connecting) {
      const timer = setTimeout(() => {
        // After an event-loop stall this timer runs before the I/O that completed meanwhile: look again once that
        // I/O has been processed (setImmediate runs after the poll phase), so a connect that made it is kept.
        setImmediate(() => {
          if (!socket.connecting || socket.destroyed) return;
          const port = options.port === undefined || options.port === null ? undefined : Number(options.port);
          socket.destroy(new ConnectTimeoutError(options.host ?? undefined, port, timeoutMs));
        });
      }, timeoutMs);
      timer.unref();
      const clear = () => clearTimeout(timer);
      socket.once('connect', clear);
      socket.once('close', clear);
    }
    return socket;
  };
  return agent;
}

/** Node 20's global agents' settings (keep-alive, LIFO, 5 s idle timeout), so routed calls behave as before. */
const AGENT_OPTIONS: http.AgentOptions = { keepAlive: true, scheduling: 'lifo', timeout: 5000 };

/** A keep-alive http agent with a connect timeout. */
export function createHttpAgent(connectTimeout: number): http.Agent {
  return withConnectTimeout(new http.Agent(AGENT_OPTIONS), connectTimeout);
}

/** A keep-alive https agent with a connect timeout. */
export function createHttpsAgent(connectTimeout: number): https.Agent {
  return withConnectTimeout(new https.Agent(AGENT_OPTIONS), connectTimeout);
}
