/** URL helpers of the interceptor: find the host a request is for, and point the URL at an instance. No I/O. */
import { isIPv4 } from 'node:net';
import { urlHost } from '../registry/paths';
import type { Instance } from '../types';

/** Splits `scheme://[userinfo@]host[:port]rest`; undefined for a relative or non-http(s) URL. */
const ABSOLUTE_HTTP = /^(https?:)\/\/(?:([^@/?#]*)@)?(\[[^\]]*\]|[^:/?#]*)(?::\d*)?([/?#].*)?$/is;

export interface TargetUrl {
  scheme: string;
  userinfo?: string;
  /** Lower-cased host, as URL parsing makes it. */
  host: string;
  /** The host is an IP literal or `localhost`: never a service name, so never looked up in the registry. */
  address: boolean;
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

/** What a request's `scheme://[userinfo@]host[:port]` prefix says, read once: null host when it is not routed. */
interface Authority {
  scheme: string;
  userinfo: string | undefined;
  host: string | null;
  address: boolean;
}

/**
 * Readings of the authority prefixes seen, so that the regex split and the WHATWG parse (together about 1.3 µs, most
 * of the interceptor's cost before this cache: BENCHMARKS.md, section 1) run once per authority, not once per
 * request. Bounded: emptied when full, so a stream of distinct hosts costs at most AUTHORITY_CACHE_SIZE entries.
 * `lastAuthority` answers the common case, the same service again, without hashing the prefix.
 */
const authorities = new Map<string, Authority>();
let lastPrefix = '';
let lastAuthority: Authority | undefined;
export const AUTHORITY_CACHE_SIZE = 1024;

const HTTP_SCHEME = /^https?:\/\//i;
const NOT_ROUTED: Authority = Object.freeze({ scheme: '', userinfo: undefined, host: null, address: false });

/** Where the regex's split puts the end of the authority: the start of its rest group, or the URL's end. */
function splitEnd(url: string, match: RegExpExecArray): number {
  return match[4] === undefined ? url.length : url.length - match[4].length;
}

/**
 * Reads the authority of an absolute http(s) URL, split by the regex at `end`. The host must be the one the WHATWG
 * URL parser (what axios and Node send by) sees. The prefix alone gives the same hostname as the whole URL: the rest
 * starts with `/`, `?` or `#`, which ends the authority in both readings, and nothing after it (tabs and newlines,
 * which the parser strips anywhere, included) can move it; test/unit/fuzz-rewrite.test.ts checks this against
 * whole-URL parses.
 */
function readAuthority(url: string, match: RegExpExecArray, end: number): Authority {
  const host = match[3].toLowerCase();
  const userinfo = match[2];
  let whatwg: string | undefined;
  try {
    whatwg = new URL(`${url.slice(0, end)}/`).hostname;
  } catch {
    whatwg = undefined;
  }
  // A backslash ends the authority for the URL parser (special schemes) but not for the regex: in the user info
  // it would leave the host readings equal while the rewritten URL still goes to the host after it.
  if (userinfo?.includes('\\') || whatwg !== host) return NOT_ROUTED;
  // The WHATWG host is canonical here: IPv6 bracketed, IPv4 dotted-decimal (a numeric last label is parsed as IPv4).
  return { scheme: match[1].toLowerCase(), userinfo, host, address: host === 'localhost' || host.startsWith('[') || isIPv4(host) };
}

/** Where the authority of a URL that starts with `http://` or `https://` ends: at the first `/`, `?` or `#`. */
function authorityEnd(url: string): number {
  let i = (url.charCodeAt(4) | 0x20) === 0x73 /* s or S */ ? 8 : 7;
  for (; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 0x2f /* / */ || c === 0x3f /* ? */ || c === 0x23 /* # */) break;
  }
  return i;
}

function toTarget(authority: Authority, url: string, end: number): TargetUrl | undefined {
  if (authority.host === null) return undefined;
  return { scheme: authority.scheme, userinfo: authority.userinfo, host: authority.host, address: authority.address, rest: end === url.length ? '/' : url.slice(end) };
}

/** parseTarget for a URL known to start with `http://` or `https://`. */
function parseHttp(url: string): TargetUrl | undefined {
  const end = authorityEnd(url);
  if (end === lastPrefix.length && lastAuthority && url.startsWith(lastPrefix)) return toTarget(lastAuthority, url, end);
  const prefix = url.slice(0, end);
  let authority = authorities.get(prefix);
  if (!authority) {
    const match = ABSOLUTE_HTTP.exec(url);
    if (!match) {
      authority = NOT_ROUTED;
    } else {
      const split = splitEnd(url, match);
      // A bracketed host holding `/`, `?` or `#` ends the regex's authority past the first of them: not a prefix the
      // cache can key, and never routed (no such host is valid), so it is read as it is, uncached.
      if (split !== end) return toTarget(readAuthority(url, match, split), url, split);
      authority = readAuthority(url, match, end);
    }
    if (authorities.size >= AUTHORITY_CACHE_SIZE) authorities.clear();
    authorities.set(prefix, authority);
  }
  lastPrefix = prefix;
  lastAuthority = authority;
  return toTarget(authority, url, end);
}

/**
 * Splits an absolute http(s) URL, or undefined. Where the regex's and the WHATWG parser's readings of the host differ
 * (`http://evil.example\\@demo/`, `http://de%6Do/`, a tab in the host) the URL is not routed, so that a request
 * whose real host is something else is never pointed at an instance, nor a request for a service sent elsewhere.
 */
export function parseTarget(url: string): TargetUrl | undefined {
  return HTTP_SCHEME.test(url) ? parseHttp(url) : undefined;
}

/**
 * The target of a request as axios will send it: `parseTarget(requestUrl(url, baseURL))` with one parse. Undefined
 * when it is not an absolute http(s) URL or its host is not to be routed.
 */
export function requestTarget(url: string | undefined, baseURL: string | undefined): TargetUrl | undefined {
  if (url) {
    // An http(s) URL is absolute for axios too: one regex test on the hot path, not two.
    if (HTTP_SCHEME.test(url)) return parseHttp(url);
    if (AXIOS_ABSOLUTE.test(url)) return undefined;
  }
  if (baseURL) return parseTarget(combineUrl(baseURL, url ?? ''));
  return undefined;
}

/** The same URL with its authority replaced by the instance's `host:port`. */
export function rewriteUrl(target: TargetUrl, instance: Instance): string {
  const userinfo = target.userinfo === undefined ? '' : `${target.userinfo}@`;
  // A Curator instance registered with an sslPort only takes https (registry/curator.ts); never the other way round.
  const scheme = instance.meta.scheme === 'https' ? 'https:' : target.scheme;
  return `${scheme}//${userinfo}${urlHost(instance.host)}:${instance.port}${target.rest}`;
}
