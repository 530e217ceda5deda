/** Helpers for integration tests: the shared ZooKeeper, a root per test, real providers, bounded polling. */
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server } from 'node:net';
import express from 'express';
import { grayRegister, silentLogger, type GrayRegisterOptions, type Logger, type ProviderRegistration } from '../../src';
import { ZkSession } from '../../src/registry/zk-session';

export function testZk(): string {
  const connect = process.env.GRAYKIT_TEST_ZK;
  if (!connect) throw new Error('GRAYKIT_TEST_ZK is not set: jest globalSetup did not start ZooKeeper');
  return connect;
}

/** A root znode no other test uses. */
export function uniqueRoot(): string {
  return `/graykit-test-${randomBytes(6).toString('hex')}`;
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released): connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls `check` until it returns without throwing; fails with its last error after `timeoutMs`. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A logger that records what it is told, for asserting warnings. */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const record = (level: string) => (message: string) => void lines.push(`${level}: ${message}`);
  return { lines, debug() {}, info() {}, warn: record('warn'), error: record('error') };
}

/** A raw session for reading and writing znodes behind graykit's back. */
export function adminSession(): ZkSession {
  return new ZkSession({ connect: testZk(), sessionTimeout: 4000, logger: silentLogger });
}

/** What {@link registryFixture} hands a describe block. Read `admin` and `root` in hooks and tests, not at describe time. */
export interface RegistryFixture {
  /** A raw session, connected before the block's first test and closed after its last. */
  readonly admin: ZkSession;
  /** A root znode of the running test's own, new for each test. */
  readonly root: string;
  /** What the running test opened; closed after it, the last opened first. The same array throughout. */
  readonly open: Array<{ close(): unknown }>;
}

/**
 * The hooks most integration suites share, registered once here rather than copied into each: an admin session for
 * the block, a fresh root per test so that no test sees another's znodes, and closing what a test opened, in reverse,
 * whether it passed or not. Call it in a describe block.
 */
export function registryFixture(): RegistryFixture {
  let admin: ZkSession | undefined;
  let root: string | undefined;
  const open: Array<{ close(): unknown }> = [];
  beforeAll(async () => {
    admin = adminSession();
    await admin.whenConnected(10_000);
  });
  afterAll(() => admin?.close());
  beforeEach(() => {
    root = uniqueRoot();
  });
  afterEach(async () => {
    for (const item of open.splice(0).reverse()) await item.close();
  });
  return {
    get admin() {
      if (!admin) throw new Error('registryFixture: admin is read outside a hook or test');
      return admin;
    },
    get root() {
      if (root === undefined) throw new Error('registryFixture: root is read outside a test');
      return root;
    },
    open,
  };
}

export interface TestProvider {
  server: Server;
  port: number;
  registration: ProviderRegistration;
  close(): Promise<void>;
}

/**
 * A real Express provider on 127.0.0.1 that answers GET /version with {version, port, gray}. No drain on close
 * (drainMs 0) unless the test asks for one: most tests close many providers.
 */
export async function startProvider(options: GrayRegisterOptions & { root: string }, port = 0): Promise<TestProvider> {
  const app = express();
  const gray = grayRegister({ zk: testZk(), host: '127.0.0.1', logger: silentLogger, sessionTimeout: 4000, drainMs: 0, ...options });
  app.use(gray);
  app.get('/version', (_req, res) => {
    res.json({ version: gray.registration.metadata.version, port: (server.address() as AddressInfo).port, gray: gray.registration.metadata.gray });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(port, '127.0.0.1', () => resolve(s));
  });
  // Longer than clients keep idle keep-alive sockets, so that load tests never race the server's idle close.
  (server as import('node:http').Server).keepAliveTimeout = 60_000;
  const bound = (server.address() as AddressInfo).port;
  await gray.registration.whenRegistered();
  return {
    server,
    port: bound,
    registration: gray.registration,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Ends a session from outside, as the server does when it expires one: a second client connects with the same id
 * and password, then closes. The first client may reconnect in between and take its session back (then the
 * twin's close does not end it), so this repeats until the session reports `expired`.
 */
export async function forceExpiry(session: ZkSession, attempts = 5): Promise<void> {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const credentials = session.credentials;
    if (!credentials) await session.whenConnected(10_000);
    const expired = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 8000);
      session.once('expired', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    await closeTwin(session.credentials!);
    if (await expired) return;
  }
  throw new Error(`session did not expire after ${attempts} attempts`);
}

async function closeTwin(credentials: { id: string; password: string }): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ZooKeeper = require('zookeeper');
  const twin = new ZooKeeper({ connect: testZk(), timeout: 4000, debug_level: 0, client_id: credentials.id, client_password: credentials.password });
  let refused = false;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('twin session did not connect')), 15_000);
    twin.on('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    // The server refused the twin: the session is already gone (an earlier twin ended it and the first client has
    // not noticed yet). That is the goal; the caller goes on waiting for 'expired'.
    twin.on('close', () => {
      refused = true;
      clearTimeout(timer);
      resolve();
    });
    twin.init({});
  });
  if (!refused) twin.close(); // closing a handle the server already closed crashes the addon (zookeeper#93)
}

/** Listens on a free loopback port; `base` is `http://127.0.0.1:<port>`. Keep-alive longer than clients keep sockets. */
export async function listen(app: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void): Promise<{ server: Server; base: string; port: number }> {
  const server = (await new Promise<Server>((resolve) => {
    const s = (app as unknown as express.Express).listen(0, '127.0.0.1', () => resolve(s));
  })) as import('node:http').Server;
  // Longer than the client agents keep idle sockets: a server closing a socket an agent is about to reuse would fail
  // a request with ECONNRESET, which is not what these tests are about.
  server.keepAliveTimeout = 60_000;
  const port = (server.address() as AddressInfo).port;
  return { server, base: `http://127.0.0.1:${port}`, port };
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
