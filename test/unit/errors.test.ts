/** One error vocabulary: errorKind, and the CLI's exit codes and the console's HTTP statuses that read it. */
import { EXIT, EXIT_OF_KIND, exitCodeOf } from '../../src/cli/exit';
import { STATUS_OF_KIND, httpErrorOf } from '../../src/console/server';
import {
  AccessDeniedError,
  ClosedError,
  ConflictError,
  InvalidConfigError,
  InvalidOptionError,
  NotFoundError,
  RegistryUnavailableError,
  RolloutBusyError,
  ZooKeeperError,
  errorKind,
  type ErrorKind,
} from '../../src/errors';
import { ZK_CODES } from '../../src/zk-codes';

const zk = (operation: string, code: number) => new ZooKeeperError(operation, '/graykit/services/demo', code, 'from the test');

const cases: Array<[name: string, error: unknown, kind: ErrorKind]> = [
  ['InvalidOptionError', new InvalidOptionError('steps', 'bad'), 'invalid'],
  ['InvalidConfigError', new InvalidConfigError('/graykit/services/demo/config', 'bad'), 'invalid'],
  ['ConflictError', new ConflictError('/graykit/services/demo/config', 3), 'conflict'],
  ['RolloutBusyError', new RolloutBusyError('demo', '/graykit/services/demo/rollout', 'a rollout is running'), 'busy'],
  ['NotFoundError', new NotFoundError('service "demo"', '/graykit/services/demo'), 'notFound'],
  ['RegistryUnavailableError', new RegistryUnavailableError('demo', '/graykit/services/demo', 1000), 'unreachable'],
  ['AccessDeniedError NOAUTH', new AccessDeniedError('set', '/graykit/services/demo/config', ZK_CODES.NOAUTH), 'accessDenied'],
  ['AccessDeniedError AUTHFAILED on connect', new AccessDeniedError('connect', '127.0.0.1:2181', ZK_CODES.AUTHFAILED), 'accessDenied'],
  ['ZooKeeperError CONNECTIONLOSS', zk('get', ZK_CODES.CONNECTIONLOSS), 'unreachable'],
  ['ZooKeeperError OPERATIONTIMEOUT', zk('set', ZK_CODES.OPERATIONTIMEOUT), 'unreachable'],
  ['ZooKeeperError INVALIDSTATE (no session)', zk('get', ZK_CODES.INVALIDSTATE), 'unreachable'],
  ['ZooKeeperError CLOSING', zk('get', ZK_CODES.CLOSING), 'unreachable'],
  ['ZooKeeperError on connect, any code', zk('connect', ZK_CODES.SYSTEMERROR), 'unreachable'],
  ['ZooKeeperError SESSIONEXPIRED', zk('get', ZK_CODES.SESSIONEXPIRED), 'sessionExpired'],
  ['ZooKeeperError SESSIONMOVED', zk('get', ZK_CODES.SESSIONMOVED), 'sessionExpired'],
  ['ZooKeeperError BADVERSION', zk('set', ZK_CODES.BADVERSION), 'conflict'],
  ['ZooKeeperError NODEEXISTS', zk('create', ZK_CODES.NODEEXISTS), 'conflict'],
  ['ZooKeeperError NOTEMPTY', zk('delete', ZK_CODES.NOTEMPTY), 'conflict'],
  ['ZooKeeperError NONODE', zk('get', ZK_CODES.NONODE), 'notFound'],
  ['ZooKeeperError NOAUTH (not wrapped as AccessDeniedError)', zk('set', ZK_CODES.NOAUTH), 'accessDenied'],
  ['ZooKeeperError BADARGUMENTS', zk('set', ZK_CODES.BADARGUMENTS), 'invalid'],
  ['ZooKeeperError SYSTEMERROR', zk('get', ZK_CODES.SYSTEMERROR), 'unknown'],
  ['an Error wrapping a ZooKeeperError', new Error('reading the config failed', { cause: zk('get', ZK_CODES.CONNECTIONLOSS) }), 'unreachable'],
  ['an Error wrapping an Error wrapping a busy rollout', new Error('a', { cause: new Error('b', { cause: new RolloutBusyError('demo', '/r', 'busy') }) }), 'busy'],
  ['ClosedError', new ClosedError('the admin'), 'unknown'],
  ['a plain Error', new Error('boom'), 'unknown'],
  ['a string', 'boom', 'unknown'],
  ['undefined', undefined, 'unknown'],
];

describe('errorKind', () => {
  test.each(cases)('%s is %s', (_name, error, kind) => {
    expect(errorKind(error)).toBe(kind);
  });

  test('a cause chain that loops ends', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(errorKind(a)).toBe('unknown');
  });
});

describe('the CLI\'s exit code and the console\'s status come from errorKind', () => {
  test.each(cases)('%s', (_name, error, kind) => {
    expect(exitCodeOf(error)).toBe(EXIT_OF_KIND[kind]);
    expect(httpErrorOf(error).status).toBe(STATUS_OF_KIND[kind]);
  });

  test('busy means the same everywhere: exit 3 and HTTP 409', () => {
    const busy = new RolloutBusyError('demo', '/graykit/services/demo/rollout', 'a rollout is running');
    expect(exitCodeOf(busy)).toBe(EXIT.CONFLICT);
    expect(exitCodeOf(busy)).toBe(3);
    expect(httpErrorOf(busy).status).toBe(409);
    expect(httpErrorOf(busy).code).toBe('ERR_GRAYKIT_ROLLOUT_BUSY');
  });

  test('every kind has an exit code and a status', () => {
    const kinds = new Set(cases.map(([, , kind]) => kind));
    expect([...kinds].sort()).toEqual(Object.keys(EXIT_OF_KIND).sort());
    expect(Object.keys(STATUS_OF_KIND).sort()).toEqual(Object.keys(EXIT_OF_KIND).sort());
  });

  test('the console tells a page no message of an error that is not graykit\'s, nor the identity ZooKeeper refused', () => {
    expect(httpErrorOf(new Error('secret detail')).message).not.toMatch(/secret/);
    expect(httpErrorOf(new AccessDeniedError('set', '/graykit/x', ZK_CODES.NOAUTH, 'ops')).message).not.toMatch(/ops/);
  });
});
