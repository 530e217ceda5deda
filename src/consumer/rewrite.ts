/** URL helpers of the interceptor: find the host a request is for, and point the URL at an instance. No I/O. */
import type { Instance } from '../types';

/** Splits `scheme://[userinfo@]host[:port]rest`; undefined for a relative or non-http(s) URL. */
const ABSOLUTE_HTTP = /^(https?:)\/\/(?:([^@/?#]*)@)?(\[[^\]]*\]|[^:/?#]*)(?::\d*)?([/?#].*)?$/is;

export interface TargetUrl {
  scheme: string;
  userinfo?: string;
  /** Lower-cased host, as URL parsing makes it. */
  host: string;
  /** Path, query and fragment, as given. */
  rest: string;
}

/** axios's test for an absolute URL (helpers/isAbsoluteURL.js): such a `url` is used as it is, baseURL or not. */
const AXIOS_ABSOLUTE = /^([a-z][a-z\d+\-.]*:)?\/\//i;

/** axios's own rule for joining a base URL and a relative one (helpers/combineURLs.js). */
export function combineUrl(baseURL: string, url: string): string {
  return url ? `${baseURL.replace(/\/+$/, '')}/${url.replace(/^\/+/, '')}` : baseURL;
}

/**
 * The absolute URL a request goes to, as axios will compute it, or undefined when it is not an absolute http(s)
 * URL. A `url` that axios takes as absolute (`ftp://x`, `//host/x`) is never joined to baseURL here either.
 */
export function requestUrl(url: string | undefined, baseURL: string | undefined): string | undefined {
  if (url && AXIOS_ABSOLUTE.test(url)) return ABSOLUTE_HTTP.test(url) ? url : undefined;
  if (baseURL) return combineUrl(baseURL, url ?? '');
  return undefined;
}

function whatwgHostname(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

/**
 * Splits an absolute http(s) URL, or undefined. The host must be the one the WHATWG URL parser (what axios and
 * Node send by) sees: where the two readings differ (`http://evil.example\\@demo/`, `http://de%6Do/`, a tab in
 * the host) the URL is not routed, so that a request whose real host is something else is never pointed at an
 * instance, nor a request for a service sent elsewhere.
 */
export function parseTarget(url: string): TargetUrl | undefined {
  const match = ABSOLUTE_HTTP.exec(url);
  if (!match) return undefined;
  const host = match[3].toLowerCase();
  // A backslash ends the authority for the URL parser (special schemes) but not for the regex: in the user info
  // it would leave the host readings equal while the rewritten URL still goes to the host after it.
  if (match[2]?.includes('\\') || whatwgHostname(url) !== host) return undefined;
  return { scheme: match[1].toLowerCase(), userinfo: match[2], host, rest: match[4] ?? '/' };
}

/** The same URL with its authority replaced by the instance's `host:port`. */
export function rewriteUrl(target: TargetUrl, instance: Instance): string {
  const host = instance.host.includes(':') ? `[${instance.host}]` : instance.host;
  const userinfo = target.userinfo === undefined ? '' : `${target.userinfo}@`;
  return `${target.scheme}//${userinfo}${host}:${instance.port}${target.rest}`;
}
