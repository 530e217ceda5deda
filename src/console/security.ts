/**
 * The console's request checks, pure: which `Host` it answers to (DNS rebinding), how a write proves it holds the
 * token, and the headers every response carries.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * Sent with every response. The page runs only the console's own scripts (no inline script, no eval), may be
 * framed by no one (clickjacking), and talks only to its own origin; the browser must not guess content types.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
});

/** The host name and port of a `Host` header; undefined when it is not one. */
export function parseHostHeader(header: string | undefined): { name: string; port?: number } | undefined {
  if (typeof header !== 'string' || header.length === 0 || header.length > 300) return undefined;
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]\s/@]+)(?::(\d{1,5}))?$/i.exec(header);
  if (!match) return undefined;
  return { name: match[1].toLowerCase(), port: match[2] === undefined ? undefined : Number(match[2]) };
}

/**
 * Whether the console answers a request with this `Host`: `localhost`, an IP address, or an allowed name (alone,
 * or with the port the request names). DNS rebinding needs a name the attacker controls, which a browser sends as
 * it is: an IP address or `localhost` cannot be one.
 */
export function isAllowedHost(header: string | undefined, allowed: ReadonlySet<string>): boolean {
  const host = parseHostHeader(header);
  if (!host) return false;
  const bare = host.name.startsWith('[') ? host.name.slice(1, -1) : host.name;
  if (host.name === 'localhost' || isIP(bare) !== 0) return true;
  return allowed.has(host.name) || (host.port !== undefined && allowed.has(`${host.name}:${host.port}`));
}

/** The token a request presents: `Authorization: Bearer <token>`, else `x-graykit-token`. Never a cookie. */
export function presentedToken(req: IncomingMessage): string | undefined {
  const authorization = req.headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const header = req.headers['x-graykit-token'];
  return typeof header === 'string' && header.length > 0 ? header : undefined;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Compares in constant time (over digests of equal length, so the token's length does not leak either). */
export function tokenMatches(presented: string | undefined, token: string): boolean {
  if (presented === undefined) return false;
  return timingSafeEqual(digest(presented), digest(token));
}

/**
 * A write's `Origin`, when the browser sent one, must be the console's own (the same host and port as `Host`). The
 * token already stops cross-site writes; this refuses them before their body is read.
 */
export function isSameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
