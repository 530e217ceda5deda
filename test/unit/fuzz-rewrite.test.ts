/**
 * Property-based fuzzing (10 000 cases each) of the interceptor's URL handling: for any `url`/`baseURL` an app
 * could pass, finding the target never throws, the host graykit reads is the host the WHATWG URL parser (what axios
 * and Node send by) reads, and a rewritten URL goes to exactly a validated instance, over http(s), with the
 * original path, query, fragment and user info.
 */
import { isIP } from 'node:net';
import fc from 'fast-check';
import { decodeInstance } from '../../src/registry/codec';
import { AUTHORITY_CACHE_SIZE, combineUrl, parseTarget, requestTarget, requestUrl, rewriteUrl, type TargetUrl } from '../../src/consumer/rewrite';
import type { Instance } from '../../src/types';
import { effectivePort, FUZZ_RUNS, instanceIdish, requestish, urlHost, urlish } from '../support/hostile';

const runs = { numRuns: FUZZ_RUNS };

function instance(id: string): Instance | undefined {
  const decoded = decodeInstance(`/graykit/services/demo/instances/${id}`, id, '{}');
  return decoded.ok ? decoded.value : undefined;
}

/** Validated instances: fixed ones (v4, v6, names, ports 80/443) and any generated id that decodes. */
const validInstance: fc.Arbitrary<Instance> = fc.oneof(
  fc.constantFrom('127.0.0.1:8081', '[::1]:80', '[::ffff:1.2.3.4]:443', 'host-a.internal:1', 'svc-1:65535', '10.0.0.5:443').map((id) => instance(id)!),
  instanceIdish.map(instance).filter((i): i is Instance => i !== undefined),
);

/** How axios resolves a request's URL (core/buildFullPath.js, combineURLs.js), to compare with graykit's reading. */
function axiosFullPath(url: string | undefined, baseURL: string | undefined): string | undefined {
  const absolute = url !== undefined && /^([a-z][a-z\d+\-.]*:)?\/\//i.test(url);
  if (baseURL && !absolute) return combineUrl(baseURL, url ?? '');
  return url;
}

function parse(url: string | undefined): URL | undefined {
  if (url === undefined) return undefined;
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/**
 * The reading parseTarget memoises, done the slow way on every call: the whole URL through the WHATWG parser, and
 * Node's isIP for the address test (graykit before the authority cache).
 */
function uncachedTarget(url: string): TargetUrl | undefined {
  const match = /^(https?:)\/\/(?:([^@/?#]*)@)?(\[[^\]]*\]|[^:/?#]*)(?::\d*)?([/?#].*)?$/is.exec(url);
  if (!match) return undefined;
  const host = match[3].toLowerCase();
  if (match[2]?.includes('\\') || parse(url)?.hostname !== host) return undefined;
  const address = host === 'localhost' || isIP(host.replace(/^\[|\]$/g, '')) !== 0;
  return { scheme: match[1].toLowerCase(), userinfo: match[2], host, address, rest: match[4] ?? '/' };
}

/** `url` with what follows its authority (as the regex splits it) replaced by `rest`; the URL itself otherwise. */
function withRest(url: string, rest: string): string {
  const match = /^(https?:\/\/[^/?#]*)[/?#]/is.exec(url);
  return match ? `${match[1]}${rest}` : url;
}

describe('fuzz: URL targets and rewrites', () => {
  test(`the memoised reading of an authority is the whole URL's, whatever URL filled the cache (${FUZZ_RUNS} cases)`, () => {
    const rest = fc.oneof(fc.constantFrom('/', '?x', '#y', '/\tx', '/\n', '/a\\b', '/ ', '?\\@evil.example', '#@evil.example'), fc.webPath().map((p) => `/${p}`), fc.string({ unit: 'binary', maxLength: 12 }).map((p) => `/${p}`));
    fc.assert(
      fc.property(urlish(['demo', 'api.internal']), rest, fc.boolean(), (url, otherRest, otherFirst) => {
        const other = withRest(url, otherRest);
        const order = otherFirst ? [other, url] : [url, other];
        for (const each of order) expect(parseTarget(each)).toEqual(uncachedTarget(each));
      }),
      runs,
    );
  });

  test(`requestTarget is parseTarget of the request URL (${FUZZ_RUNS} cases)`, () => {
    fc.assert(
      fc.property(requestish(['demo', 'api.internal']), ({ url, baseURL }) => {
        const full = requestUrl(url, baseURL);
        expect(requestTarget(url, baseURL)).toEqual(full === undefined ? undefined : parseTarget(full));
      }),
      runs,
    );
  });

  test('answers stay the same after the authority cache is emptied for being full', () => {
    const probes = ['http://demo/a', 'http://evil.example\\@demo/x', 'http://127.0.0.1:8080/', 'http://de%6Do/x'];
    const before = probes.map(parseTarget);
    for (let i = 0; i < 2 * AUTHORITY_CACHE_SIZE + 1; i++) parseTarget(`http://filler-${i}/x`);
    expect(probes.map(parseTarget)).toEqual(before);
    expect(before.map((t) => t?.host)).toEqual(['demo', undefined, '127.0.0.1', undefined]);
  });

  test(`requestUrl and parseTarget never throw, and read the host axios will send to (${FUZZ_RUNS} cases)`, () => {
    fc.assert(
      fc.property(requestish(['demo', 'api.internal']), ({ url, baseURL }) => {
        const full = requestUrl(url, baseURL);
        if (full === undefined) return;
        expect(full).toBe(axiosFullPath(url, baseURL));
        const target = parseTarget(full);
        if (!target) return;
        const parsed = parse(full);
        expect(parsed).toBeDefined();
        expect(parsed!.hostname).toBe(target.host);
        expect(['http:', 'https:']).toContain(parsed!.protocol);
        expect(target.scheme).toBe(parsed!.protocol);
      }),
      runs,
    );
  });

  test(`rewriteUrl only produces http(s) URLs to the instance's host:port, keeping path, query, fragment and user info (${FUZZ_RUNS} cases)`, () => {
    fc.assert(
      fc.property(urlish(['demo', 'api.internal']), validInstance, (url, chosen) => {
        const target = parseTarget(url);
        if (!target) return;
        const rewritten = rewriteUrl(target, chosen);
        const after = parse(rewritten);
        if (!after) throw new Error(`rewritten URL does not parse: ${JSON.stringify(rewritten)} (from ${JSON.stringify(url)})`);
        const before = new URL(url);
        expect(after.protocol).toBe(before.protocol);
        expect(after.hostname).toBe(urlHost(chosen.host));
        expect(effectivePort(after)).toBe(chosen.port);
        expect([after.pathname, after.search, after.hash]).toEqual([before.pathname, before.search, before.hash]);
        expect([after.username, after.password]).toEqual([before.username, before.password]);
      }),
      runs,
    );
  });

  test(`a plain service URL is always routable: http(s)://<service>[:port]<path> (${FUZZ_RUNS} cases)`, () => {
    const path = fc.oneof(fc.webPath(), fc.constant(''));
    fc.assert(
      fc.property(fc.constantFrom('http', 'https', 'HTTP'), fc.constantFrom('demo', 'DEMO', 'api.internal'), fc.constantFrom('', ':80', ':8080'), path, fc.option(fc.webQueryParameters()), (scheme, host, port, p, query) => {
        const url = `${scheme}://${host}${port}${p}${query === null ? '' : `?${query}`}`;
        const target = parseTarget(url);
        expect(target?.host).toBe(host.toLowerCase());
      }),
      runs,
    );
  });
});

describe('parser differentials found while fuzzing (regression table)', () => {
  test.each([
    // The WHATWG parser treats a backslash as a slash: the real host is evil.example, so nothing is routed.
    ['http://evil.example\\@demo/x'],
    ['http://demo:80\\@evil.example/'],
    // Both parsers read the host "demo" here, but the rewritten http://demo\@<instance>/ would still go to "demo".
    ['http://demo\\@demo/x'],
    // Percent-encoded, tabbed or unicode hosts are decoded by the URL parser: not the name graykit saw.
    ['http://de%6Do/x'],
    ['http://de\tmo/x'],
    // Not a valid URL for axios either.
    ['http://demo:99999/x'],
  ])('%s is not routed', (url) => {
    expect(parseTarget(url)).toBeUndefined();
  });

  test.each([
    ['ftp://demo/x', 'http://demo'],
    ['//demo/x', 'http://api'],
  ])('an absolute url %s is never joined to baseURL %s (axios uses it as it is)', (url, baseURL) => {
    expect(requestUrl(url, baseURL)).toBeUndefined();
  });

  test('baseURL trailing slashes are all dropped, as axios does', () => {
    expect(requestUrl('x', 'http://demo///')).toBe('http://demo/x');
  });
});
