/**
 * Property-based fuzzing (10 000 cases each) of the interceptor's URL handling: for any `url`/`baseURL` an app
 * could pass, finding the target never throws, the host graykit reads is the host the WHATWG URL parser (what axios
 * and Node send by) reads, and a rewritten URL goes to exactly a validated instance, over http(s), with the
 * original path, query, fragment and user info.
 */
import fc from 'fast-check';
import { decodeInstance } from '../../src/registry/codec';
import { combineUrl, parseTarget, requestUrl, rewriteUrl } from '../../src/consumer/rewrite';
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

describe('fuzz: URL targets and rewrites', () => {
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
