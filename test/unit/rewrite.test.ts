import type { Instance } from '../../src';
import { combineUrl, parseTarget, requestUrl, rewriteUrl } from '../../src/consumer/rewrite';

const target: Instance = { id: '10.1.2.3:8081', host: '10.1.2.3', port: 8081, gray: false, lane: 'normal', weight: 100, meta: {}, path: '/p' };

describe('request URL as axios computes it', () => {
  test.each([
    ['http://demo/version', undefined, 'http://demo/version'],
    ['/version', 'http://demo', 'http://demo/version'],
    ['version', 'http://demo/api/', 'http://demo/api/version'],
    ['http://demo/x', 'http://other', 'http://demo/x'],
    [undefined, 'http://demo/base', 'http://demo/base'],
    ['/relative', undefined, undefined],
  ])('url %p with baseURL %p is %p', (url, baseURL, expected) => expect(requestUrl(url, baseURL)).toBe(expected));

  test('combineUrl keeps a single slash', () => expect(combineUrl('http://a//', '//b')).toBe('http://a/b'));
});

describe('parseTarget and rewriteUrl', () => {
  test.each([
    ['http://demo/version?x=1#h', 'http://10.1.2.3:8081/version?x=1#h'],
    ['http://DEMO/version', 'http://10.1.2.3:8081/version'],
    ['http://demo', 'http://10.1.2.3:8081/'],
    ['http://demo:9999/a', 'http://10.1.2.3:8081/a'],
    ['https://demo/a', 'https://10.1.2.3:8081/a'],
    ['http://user:pw@demo/a', 'http://user:pw@10.1.2.3:8081/a'],
    ['http://demo?q=1', 'http://10.1.2.3:8081?q=1'],
  ])('%s -> %s', (url, expected) => {
    const parsed = parseTarget(url)!;
    expect(parsed.host).toBe('demo');
    expect(rewriteUrl(parsed, target)).toBe(expected);
  });

  test('an IPv6 instance is bracketed', () => {
    expect(rewriteUrl(parseTarget('http://demo/a')!, { ...target, host: '::1' })).toBe('http://[::1]:8081/a');
  });

  test.each([
    ['http://127.0.0.1:8080/a', true],
    ['http://[::1]/a', true],
    ['http://LOCALHOST/a', true],
    ['http://demo/a', false],
    ['http://svc-100/a', false],
    ['http://demo.internal/a', false],
    // A trailing dot makes a fully qualified DNS name; the host keeps it, and `demo.` is no service name (README
    // "Which requests are rewritten"), so such a request is never routed.
    ['http://demo./a', false],
  ])('%s: address %p', (url, address) => {
    expect(parseTarget(url)?.address).toBe(address);
  });

  test('a trailing dot is kept in the host: `demo.` is not `demo`', () => expect(parseTarget('http://demo./a')?.host).toBe('demo.'));

  test.each(['ftp://demo/a', '/a', 'demo/a', 'mailto:x@demo'])('%s is not an http(s) URL to route', (url) => {
    expect(parseTarget(url)).toBeUndefined();
  });
});
