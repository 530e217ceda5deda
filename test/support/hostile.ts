/**
 * fast-check arbitraries for hostile input: znode names and data that someone with write access to the
 * registry could leave there, and request URLs that an app could build from user input. Each mixes known-nasty
 * constants (parser differentials, numeric hosts, deep nesting) with random text, so that shrinking lands on a
 * readable counterexample.
 */
import fc from 'fast-check';

/** Runs per property: the issue asks for 10 000 generated cases each. */
export const FUZZ_RUNS = 10_000;

const TRICKY_HOSTS = [
  '127.0.0.1',
  '10.0.0.5',
  '::1',
  '0:0::1',
  '::ffff:1.2.3.4',
  'fe80::1%eth0',
  'localhost',
  'LOCALHOST',
  'Host-A.Internal',
  'svc_1.internal',
  '2130706433',
  '0x7f.1',
  '0x7f000001',
  '010.0.0.1',
  '1.2.3',
  'a.1',
  'a.0x',
  '1.2.3.4.',
  'xn--a',
  'xn--dmo-bma',
  'démo',
  'a..b',
  '-a',
  'a-',
  'evil.example/x',
  'user@evil.example',
  'evil.example\\x',
  'evil.example#',
  'evil.example?',
  'a b',
  '',
];

/** Something that may or may not be a host: addresses, names, the tricky ones above, or any text. */
export const hostish: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...TRICKY_HOSTS),
  fc.ipV4(),
  fc.ipV6(),
  fc.domain(),
  fc.string({ unit: 'binary', maxLength: 16 }),
);

/** Something that may or may not be a port. */
export const portish: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: -2, max: 70_000 }).map(String),
  fc.constantFrom('0', '00080', '65535', '65536', '', 'x', '80 ', '1e3'),
  fc.string({ maxLength: 6 }),
);

/** A znode name for an instance: `host:port`, `[host]:port`, or any text (ZooKeeper allows most of it). */
export const instanceIdish: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(hostish, portish).map(([host, port]) => `${host}:${port}`),
  fc.tuple(hostish, portish).map(([host, port]) => `[${host}]:${port}`),
  fc.string({ unit: 'binary', maxLength: 24 }),
);

const KEYS = ['gray', 'weight', 'version', 'host', 'port', 'id', 'path', 'meta', '__proto__', 'constructor', 'toString', 'zone'];

/** A value for a metadata field: anything JSON holds, and the near-misses of each known field. */
export const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(true, false, 'true', 'false', 'TRUE', 'yes', 1, 0, -1, -0, 1e308, 1_000_000, 1_000_001, 5e-324, null, '', '100', [], {}),
  fc.double(),
  fc.jsonValue({ maxDepth: 3 }),
);

/** A metadata object with known, unknown and hostile keys. */
export const metaObject: fc.Arbitrary<Record<string, unknown>> = fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 })), fieldValue, { maxKeys: 8 });

/** JSON nested `depth` levels deep under `key`, as text (JSON.parse takes it; JSON.stringify of it may not). */
function nested(key: string, depth: number, open: string, close: string): string {
  return `{"${key}":${open.repeat(depth)}${close.repeat(depth)}}`;
}

/** What a znode's data could be: JSON objects, near-JSON, random bytes, deep nesting, too much. */
export const znodeData: fc.Arbitrary<string | Buffer | null> = fc.oneof(
  { weight: 5, arbitrary: metaObject.map((meta) => JSON.stringify(meta)) },
  { weight: 1, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value) ?? 'null') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 64 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...KEYS), fc.integer({ min: 1, max: 8000 }), fc.constantFrom<[string, string]>(['[', ']'], ['{"a":', '}']))
      .map(([key, depth, [open, close]]) => (open === '[' ? nested(key, depth, open, close) : `{"${key}":${open.repeat(depth)}1${close.repeat(depth)}}`)),
  },
  { weight: 1, arbitrary: fc.integer({ min: 16_300, max: 16_500 }).map((n) => JSON.stringify({ gray: false, pad: 'x'.repeat(n) })) },
  { weight: 1, arbitrary: fc.constantFrom<string | Buffer | null>(null, '', Buffer.alloc(0), '{}', '{"gray":true}', 'null', '[]', '"x"', '{"gray":"true","weight":0}') },
);

// ---- URLs ------------------------------------------------------------------------------------------------------

const SCHEMES = ['http:', 'https:', 'HTTP:', 'HtTpS:', 'ftp:', 'ws:', 'javascript:', 'file:', '', ' http:', '\thttp:', 'http\t:'];
const SLASHES = ['//', '/', '\\\\', '/\\', '\\/', '///', '', '\t//', '/\t/'];
const USERINFO = ['', 'u@', 'u:p@', '@', ':@', 'evil.example@', 'demo@', 'evil.example\\@', 'a@b@', '%40@', 'u:p:q@'];
const HOSTS = ['evil.example', '127.0.0.1', '[::1]', '[0:0::1]', 'localhost', 'de%6Do', 'demo.', 'de\tmo', 'démo', '0x7f.1', '2130706433', '[fe80::1%25eth0]', 'demo%00', '', ' '];
const PORTS = ['', ':', ':80', ':443', ':8080', ':0', ':65535', ':65536', ':99999', ':-1', ':x', ':80:90', ':0080'];
const PATHS = [
  '',
  '/',
  '/a',
  '/a/../b',
  '/..',
  '/%2e%2e/',
  '//evil.example/x',
  '/\\evil.example',
  '/@evil.example',
  '?x=1',
  '?q=http://evil.example',
  '#frag',
  '/a?b#c',
  '\\@evil.example/',
  '/a b',
  '/%',
  ' ',
  '\n/x',
  '/ü?ü=ü#ü',
  '/a\tb',
];

/** A URL, or something near one, built around `services` (the names routed in the test). */
export function urlish(services: readonly string[]): fc.Arbitrary<string> {
  const host = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...services, ...services.map((s) => s.toUpperCase())) },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTS) },
    { weight: 1, arbitrary: fc.domain() },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 10 }) },
  );
  const path = fc.oneof(fc.constantFrom(...PATHS), fc.webPath(), fc.string({ unit: 'binary', maxLength: 16 }));
  const built = fc
    .tuple(fc.constantFrom(...SCHEMES), fc.constantFrom(...SLASHES), fc.constantFrom(...USERINFO), host, fc.constantFrom(...PORTS), path, fc.option(fc.webQueryParameters()))
    .map(([scheme, slashes, userinfo, h, port, p, query]) => `${scheme}${slashes}${userinfo}${h}${port}${p}${query === null ? '' : `?${query}`}`);
  // Well-formed URLs for the services, so that the rewrite itself is exercised often, not only the refusals.
  const wellFormed = fc
    .tuple(fc.constantFrom('http://', 'https://', 'HTTP://'), fc.constantFrom('', 'u@', 'u:p@'), fc.constantFrom(...services), fc.constantFrom('', ':80', ':8080'), path, fc.option(fc.webQueryParameters()), fc.option(fc.webFragments()))
    .map(([scheme, userinfo, h, port, p, query, fragment]) => `${scheme}${userinfo}${h}${port}${p}${query === null ? '' : `?${query}`}${fragment === null ? '' : `#${fragment}`}`);
  return fc.oneof(
    { weight: 4, arbitrary: wellFormed },
    { weight: 6, arbitrary: built },
    { weight: 1, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  );
}

/** A request's `url` and `baseURL` as an app could set them: absolute, relative, or either missing. */
export function requestish(services: readonly string[]): fc.Arbitrary<{ url?: string; baseURL?: string }> {
  const relative = fc.oneof(fc.constantFrom(...PATHS, 'version', '//demo/x', 'ftp://demo/x', 'http:demo', 'http:/demo/x'), fc.webPath());
  return fc.oneof(
    urlish(services).map((url) => ({ url })),
    fc.tuple(fc.option(fc.oneof(relative, urlish(services)), { nil: undefined }), urlish(services)).map(([url, baseURL]) => ({ url, baseURL })),
  );
}

/** `[v6]` for an IPv6 address, the host itself otherwise: how a URL writes it. */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The port a parsed http(s) URL goes to, its scheme's default included. */
export function effectivePort(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}
