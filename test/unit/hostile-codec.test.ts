/**
 * Hostile registry data, table-driven: the gaps the fuzzers found or that a reading of the code showed, one row each, plus the
 * pure helpers of registry access (digest identities, ACL checks) and the CLI's terminal escaping.
 */
import { canonicalHost, decodeInstance, decodeInstanceMeta, decodeOverride, describe as describeValue, MAX_JSON_DEPTH, MAX_WEIGHT } from '../../src/registry/codec';
import { decodeConfig, validateConfig } from '../../src/registry/config-codec';
import { digestId, formatAcl, instancesDirAcl, isDigestId, isOpenAcl, parseCredentials, PERM, READ_ALL_CREATOR_ALL } from '../../src/registry/acl';
import { resolveConnection } from '../../src/registry/connection';
import { terminalSafe } from '../../src/cli/main';
import { InvalidOptionError } from '../../src';

const path = '/graykit/services/demo/instances/x';

describe('hosts: only the form a URL keeps, never a name a URL parser reads as another address', () => {
  test.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
    ['0:0::1', '::1'],
    ['::FFFF:1.2.3.4', '::ffff:102:304'],
    ['Host-A.Internal', 'host-a.internal'],
    ['localhost', 'localhost'],
    ['xn--dmo-bma', 'xn--dmo-bma'],
    ['XN--Bcher-KVA.example', 'xn--bcher-kva.example'],
  ])('%s is kept as %s', (host, canonical) => expect(canonicalHost(host)).toBe(canonical));

  test.each([
    ['2130706433', 'a decimal integer: 127.0.0.1 to a URL parser'],
    ['0x7f.1', 'hex and short form: 127.0.0.1'],
    ['0x7f000001', 'hex: 127.0.0.1'],
    ['010.0.0.1', 'octal: 8.0.0.1'],
    ['1.2.3', 'short form: 1.2.0.3'],
    ['a.1', 'ends in a number'],
    ['fe80::1%eth0', 'a zone id URLs cannot carry'],
    ['xn--a', 'Punycode that does not decode (Node 22 refuses it, Node 24 keeps it: refused on both)'],
    ['xn--a.example', 'such a label anywhere in the name'],
    ['xn--abc-', 'Punycode that decodes to plain ASCII'],
    ['a..b', 'an empty label'],
    ['evil.example/x', 'a path'],
    ['user@evil.example', 'user info'],
    ['', 'empty'],
    ['a'.repeat(254), 'too long'],
  ])('%s is refused (%s)', (host) => expect(canonicalHost(host)).toBeUndefined());

  test('an instance id with such a host is skipped with a reason', () => {
    const decoded = decodeInstance(path, '2130706433:80', '{}');
    expect(!decoded.ok && decoded.reason).toMatch(/2130706433/);
  });

  test('an IPv6 instance id is kept in canonical form, so the rewritten URL shows exactly that host', () => {
    const decoded = decodeInstance(path, '[0:0::1]:8081', '{}');
    expect(decoded.ok && decoded.value.host).toBe('::1');
  });
});

describe('data that would break or bend the consumer', () => {
  test.each([
    ['gray', `{"gray":${'['.repeat(6000)}${']'.repeat(6000)}}`],
    ['version', `{"version":${'{"a":'.repeat(2500)}1${'}'.repeat(2500)}}`],
    ['zone', `{"zone":${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}}`],
  ])('nesting under "%s" deeper than the limit is refused, without throwing', (_field, data) => {
    const decoded = decodeInstance(path, '10.0.0.1:80', data);
    expect(!decoded.ok && decoded.reason).toMatch(/nests deeper/);
    expect(decodeOverride(data).ok).toBe(false);
    expect(decodeConfig(data).ok).toBe(false);
  });

  test('nesting up to the limit is fine (metadata may carry structured extras)', () => {
    const data = `{"zone":${'['.repeat(MAX_JSON_DEPTH - 1)}${']'.repeat(MAX_JSON_DEPTH - 1)}}`;
    expect(decodeInstance(path, '10.0.0.1:80', data).ok).toBe(true);
  });

  test.each([
    ['{"weight":1e308}', false],
    [`{"weight":${MAX_WEIGHT + 1}}`, false],
    [`{"weight":${MAX_WEIGHT}}`, true],
    ['{"weight":0}', true],
  ])('weight %s accepted: %p (a sum of huge weights would stick the balancer)', (data, ok) => {
    expect(decodeInstance(path, '10.0.0.1:80', data).ok).toBe(ok);
    expect(decodeOverride(data).ok).toBe(ok);
  });

  test.each([null, 'text', 7, [], ['gray']])('decodeInstanceMeta on %p (not an object) is a reason, not an exception', (meta) => {
    expect(decodeInstanceMeta(path, '10.0.0.1:80', meta as unknown as Record<string, unknown>).ok).toBe(false);
  });

  test('an override cannot move an instance: host and port come from the znode name only', () => {
    const override = decodeOverride('{"host":"evil.example","port":1,"id":"evil.example:1","path":"/x"}');
    expect(override.ok).toBe(true);
    const merged = decodeInstanceMeta(path, '10.0.0.1:80', { gray: false, ...(override.ok ? override.value : {}) });
    expect(merged.ok && [merged.value.host, merged.value.port, merged.value.id]).toEqual(['10.0.0.1', 80, '10.0.0.1:80']);
  });

  test('reasons quote values bounded, and never throw on values JSON cannot show', () => {
    expect(describeValue('x'.repeat(1000)).length).toBeLessThanOrEqual(64);
    expect(describeValue(BigInt(1))).toBe('bigint');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(describeValue(cyclic)).toBe('{…}');
    expect(validateConfig({ ratio: cyclic }).ok).toBe(false);
    expect(validateConfig({ ['k'.repeat(10_000)]: 1 }).ok).toBe(false);
    const long = validateConfig({ ['k'.repeat(10_000)]: 1 });
    expect(!long.ok && long.reason.length).toBeLessThan(100);
  });
});

describe('digest identities and ACLs', () => {
  test("digestId matches ZooKeeper's own DigestAuthenticationProvider (a password may contain ':')", () => {
    // java -cp '/usr/share/java/*' org.apache.zookeeper.server.auth.DigestAuthenticationProvider demo-provider:pv:with:colons
    expect(digestId('demo-provider:pv:with:colons')).toBe('demo-provider:MBV6TaSpa4F/fv2P4eBvdvTGEF8=');
    expect(isDigestId(digestId('a:b'))).toBe(true);
  });

  test.each(['nopassword', ':pw', 'user:', 'us er:pw', '', 7])('%p is not user:password', (value) => {
    expect(parseCredentials(value)).toBeUndefined();
    expect(() => resolveConnection({ auth: value as string })).toThrow(InvalidOptionError);
  });

  test('a bad GRAYKIT_ZK_AUTH is an option error that does not show the value', () => {
    const error = (() => {
      try {
        resolveConnection({}, { GRAYKIT_ZK_AUTH: 'secret-without-colon' });
      } catch (caught) {
        return caught as Error;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error!.message).toMatch(/GRAYKIT_ZK_AUTH/);
    expect(error!.message).not.toContain('secret-without-colon');
  });

  test.each(['a:b', 'a:0123456789012345678901234567=', 'a:012345678901234567890123456=', 'a b:012345678901234567890123456='])('isDigestId(%p) only for user:<28 base64>', (value) => {
    expect(isDigestId(value)).toBe(value === 'a:012345678901234567890123456=');
  });

  test('the roles in zkCli notation', () => {
    expect(formatAcl(READ_ALL_CREATOR_ALL)).toBe('world:anyone:r,auth::cdrwa');
    expect(formatAcl(instancesDirAcl(['p:012345678901234567890123456=']))).toBe('world:anyone:r,auth::cdrwa,digest:p:012345678901234567890123456=:cd');
    expect(isOpenAcl([{ perms: PERM.ALL, scheme: 'world', id: 'anyone' }])).toBe(true);
    expect(isOpenAcl([{ perms: PERM.READ, scheme: 'world', id: 'anyone' }, { perms: PERM.ALL, scheme: 'digest', id: 'x' }])).toBe(false);
  });
});

describe('CLI output of registry text', () => {
  test.each([
    ['\u001b]0;pwned\u0007', '\\u001b]0;pwned\\u0007'],
    ['v2\u001b[2J', 'v2\\u001b[2J'],
    ['\u009b31m', '\\u009b31m'],
    ['a\u202eb', 'a\\u202eb'],
    ['line one\nline two\tcol', 'line one\nline two\tcol'],
  ])('%j is printed as %j', (text, shown) => expect(terminalSafe(text)).toBe(shown));
});
