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

/** axios's own rule for joining a base URL and a relative one. */
export function combineUrl(baseURL: string, url: string): string {
  return url ? `${baseURL.replace(/\/?\/$/, '')}/${url.replace(/^\/+/, '')}` : baseURL;
}

/** The absolute URL a request goes to, as axios will compute it, or undefined when it is not absolute. */
export function requestUrl(url: string | undefined, baseURL: string | undefined): string | undefined {
  if (url && ABSOLUTE_HTTP.test(url)) return url;
  if (baseURL) return combineUrl(baseURL, url ?? '');
  return undefined;
}

export function parseTarget(url: string): TargetUrl | undefined {
  const match = ABSOLUTE_HTTP.exec(url);
  if (!match) return undefined;
  return { scheme: match[1].toLowerCase(), userinfo: match[2], host: match[3].toLowerCase(), rest: match[4] ?? '/' };
}

/** The same URL with its authority replaced by the instance's `host:port`. */
export function rewriteUrl(target: TargetUrl, instance: Instance): string {
  const host = instance.host.includes(':') ? `[${instance.host}]` : instance.host;
  const userinfo = target.userinfo === undefined ? '' : `${target.userinfo}@`;
  return `${target.scheme}//${userinfo}${host}:${instance.port}${target.rest}`;
}
