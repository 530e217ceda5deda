/**
 * The console's options: every default in one place (DEFAULT_CONSOLE_OPTIONS), checked once when the console is
 * created, so that a mistake is an InvalidOptionError from `createConsole` and never a failure later.
 */
import { randomBytes } from 'node:crypto';
import { InvalidOptionError } from '../errors';
import type { ConnectionOptions } from '../registry/connection';
import { canonicalHost } from '../registry/codec';
import type { CuratorOptions } from '../registry/curator';

/** The options of `createConsole()` and `graykit console`. */
export interface ConsoleOptions extends ConnectionOptions {
  /** Port `listen()` binds when called without one; 0 picks a free port. Default 7070. */
  port?: number;
  /**
   * Address `listen()` binds. Default `127.0.0.1`: only this machine reaches the console. Another address exposes
   * the read-only views to whoever reaches it (writes still need the token).
   */
  host?: string;
  /** Serve no write endpoint at all: the views only, and nothing that could change the registry. Default false. */
  readOnly?: boolean;
  /**
   * The secret every write must present, in `Authorization: Bearer <token>` or `x-graykit-token` (never a cookie
   * alone: a cookie rides along with any cross-site request). 16 to 256 visible ASCII characters. Default: 32
   * random bytes (base64url) per console, readable as `token` on the result and printed by `graykit console`.
   */
  token?: string;
  /**
   * Host names (or `name:port`) the console answers to besides `localhost` and IP addresses: the name operators
   * type, or a reverse proxy's. Any other `Host` header is refused with 421, which defeats DNS rebinding (a page on
   * an attacker's domain whose name was re-pointed at 127.0.0.1 still sends its own name). Default [].
   */
  allowedHosts?: readonly string[];
  /**
   * How often the metrics pages of a service open in a page are read, ms: each instance's `metricsPath` (as
   * `graykit rollout` reads them) and `consumerMetrics`. Default 2000: a chart moves every two seconds, at one
   * small GET per instance.
   */
  scrapeIntervalMs?: number;
  /** Longest wait for one metrics page, ms; below `scrapeIntervalMs`. Default 1500. */
  scrapeTimeoutMs?: number;
  /**
   * How much chart history is kept per service, ms; a service is still scraped this long after its last page
   * closed, so that coming back shows the recent past. Default 300000 (5 minutes).
   */
  historyMs?: number;
  /**
   * Consumers' metrics URLs (`consumerMetrics()` pages): their connection errors count against the lane of the
   * instance they were sent to, as in `graykit rollout --consumer-metrics`. Default [].
   */
  consumerMetrics?: readonly string[];
  /** Events kept per service (instance registered or gone, flag flipped, config changed, rollout steps, actions). Default 200. */
  eventLimit?: number;
  /** How long a write may wait for the ZooKeeper connection, ms. Default 5000. */
  timeout?: number;
  /** Also show services registered through Curator (Java services), as consumers' `curator` option reads them. Default off. */
  curator?: CuratorOptions | boolean;
}

export const DEFAULT_CONSOLE_OPTIONS = Object.freeze({
  port: 7070,
  host: '127.0.0.1',
  readOnly: false,
  allowedHosts: Object.freeze([]) as readonly string[],
  scrapeIntervalMs: 2000,
  scrapeTimeoutMs: 1500,
  historyMs: 300_000,
  consumerMetrics: Object.freeze([]) as readonly string[],
  eventLimit: 200,
  timeout: 5000,
});

/** The checked options; `token` is undefined exactly when the console is read-only. */
export interface ResolvedConsoleOptions {
  port: number;
  host: string;
  readOnly: boolean;
  token?: string;
  allowedHosts: ReadonlySet<string>;
  scrapeIntervalMs: number;
  scrapeTimeoutMs: number;
  historyMs: number;
  consumerMetrics: readonly string[];
  eventLimit: number;
  timeout: number;
}

const TOKEN = /^[\x21-\x7e]{16,256}$/;

/** A fresh write token: 32 random bytes, URL-safe (it travels in the fragment of the URL `graykit console` prints). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

function wholeNumber(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(option, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** `name` or `name:port` as the Host header spells it, lower-cased; undefined when it is neither. */
export function normalizeAllowedHost(entry: unknown): string | undefined {
  if (typeof entry !== 'string') return undefined;
  const match = /^(.+?)(?::(\d{1,5}))?$/.exec(entry.trim().toLowerCase());
  if (!match) return undefined;
  const host = canonicalHost(match[1].replace(/^\[(.*)\]$/, '$1'));
  if (host === undefined) return undefined;
  const spelled = host.includes(':') ? `[${host}]` : host;
  return match[2] === undefined ? spelled : `${spelled}:${Number(match[2])}`;
}

function metricsUrl(value: unknown): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new InvalidOptionError('consumerMetrics', `expected http(s) URLs of consumers' metrics pages, got ${JSON.stringify(value)}`);
  }
  return url.href;
}

/** `readOnly`: true or false. */
function resolveReadOnly(value: unknown): boolean {
  if (typeof value !== 'boolean') throw new InvalidOptionError('readOnly', `expected true or false, got ${JSON.stringify(value)}`);
  return value;
}

/** `host`: an address or name to listen on, or a wildcard address. */
function resolveHost(host: unknown): string {
  if (typeof host !== 'string' || (canonicalHost(host) === undefined && host !== '::' && host !== '0.0.0.0')) {
    throw new InvalidOptionError('host', `expected an IP address or host name to listen on, got ${JSON.stringify(host)}`);
  }
  return host;
}

/** The write token: none for a read-only console, else the one given or a fresh one. */
function resolveToken(readOnly: boolean, given: unknown): string | undefined {
  if (readOnly) {
    // A read-only console has no write to guard: a token given anyway is a sign of confusion, said clearly.
    if (given !== undefined) throw new InvalidOptionError('token', 'a read-only console takes no token (it serves no write endpoint)');
    return undefined;
  }
  const token = given ?? generateToken();
  // Never echo the value: it is a secret.
  if (typeof token !== 'string' || !TOKEN.test(token)) throw new InvalidOptionError('token', 'expected 16 to 256 visible ASCII characters (no spaces)');
  return token;
}

/** `allowedHosts`, each entry as the Host header spells it (normalizeAllowedHost). */
function resolveAllowedHosts(allowed: unknown): Set<string> {
  if (!Array.isArray(allowed)) throw new InvalidOptionError('allowedHosts', `expected an array of host names, got ${JSON.stringify(allowed)}`);
  const allowedHosts = new Set<string>();
  for (const entry of allowed) {
    const normalized = normalizeAllowedHost(entry);
    if (normalized === undefined) throw new InvalidOptionError('allowedHosts', `expected a host name or name:port, got ${JSON.stringify(entry)}`);
    allowedHosts.add(normalized);
  }
  return allowedHosts;
}

/** The scrape interval and timeout; the timeout's default fits below the interval, and a given one must. */
function resolveScrapeTimes(options: ConsoleOptions, d: typeof DEFAULT_CONSOLE_OPTIONS): { scrapeIntervalMs: number; scrapeTimeoutMs: number } {
  const scrapeIntervalMs = wholeNumber('scrapeIntervalMs', options.scrapeIntervalMs ?? d.scrapeIntervalMs, 100, 3_600_000);
  const scrapeTimeoutMs = wholeNumber('scrapeTimeoutMs', options.scrapeTimeoutMs ?? Math.min(d.scrapeTimeoutMs, Math.max(50, scrapeIntervalMs - 50)), 50, 3_600_000);
  if (scrapeTimeoutMs >= scrapeIntervalMs) throw new InvalidOptionError('scrapeTimeoutMs', `must be below scrapeIntervalMs (${scrapeIntervalMs}), got ${scrapeTimeoutMs}`);
  return { scrapeIntervalMs, scrapeTimeoutMs };
}

/** Checks the console's own options (the connection's are checked by resolveConnection). Never mutates `options`. */
export function resolveConsoleOptions(options: ConsoleOptions): ResolvedConsoleOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', `expected an options object, got ${JSON.stringify(options)}`);
  const d = DEFAULT_CONSOLE_OPTIONS;
  const readOnly = resolveReadOnly(options.readOnly ?? d.readOnly);
  const host = resolveHost(options.host ?? d.host);
  const token = resolveToken(readOnly, options.token);
  const allowedHosts = resolveAllowedHosts(options.allowedHosts ?? d.allowedHosts);
  const { scrapeIntervalMs, scrapeTimeoutMs } = resolveScrapeTimes(options, d);
  const consumerMetrics = options.consumerMetrics ?? d.consumerMetrics;
  if (!Array.isArray(consumerMetrics)) throw new InvalidOptionError('consumerMetrics', `expected an array of URLs, got ${JSON.stringify(consumerMetrics)}`);
  return {
    port: wholeNumber('port', options.port ?? d.port, 0, 65535),
    host,
    readOnly,
    token,
    allowedHosts,
    scrapeIntervalMs,
    scrapeTimeoutMs,
    historyMs: wholeNumber('historyMs', options.historyMs ?? d.historyMs, 1000, 86_400_000),
    consumerMetrics: Object.freeze(consumerMetrics.map(metricsUrl)),
    eventLimit: wholeNumber('eventLimit', options.eventLimit ?? d.eventLimit, 1, 100_000),
    timeout: wholeNumber('timeout', options.timeout ?? d.timeout, 1, 600_000),
  };
}
