/**
 * Failover and outlier ejection on a real ZooKeeper, real HTTP servers on 127.0.0.1 and real axios.
 * An instance that "refuses connections" is a registered znode pointing at a port nobody listens on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import axios, { type AxiosError, type AxiosInstance, type AxiosResponse } from 'axios';
import express from 'express';
import { isConnectionError, silentLogger, withConnectTimeout, useGray, type GrayInterceptors, type OutlierEvent, type RetryEvent, type UseGrayOptions } from '../../src';
import { instancePath } from '../../src/registry/paths';
import { closedPort, eventually, registryFixture, startProvider, testZk, type TestProvider } from '../support/helpers';

interface VersionBody {
  version: string;
  port: number;
  gray: boolean;
}

const attemptsOf = (response: AxiosResponse) => response.config.gray?.attempts ?? 1;

describe('useGray: failover and outlier ejection (real ZooKeeper, real servers)', () => {
  const fx = registryFixture();
  const { open } = fx;

  async function provider(gray = false, version = 'v1'): Promise<TestProvider> {
    const started = await startProvider({ root: fx.root, service: 'demo', gray, version });
    open.push(started);
    return started;
  }

  /** Registers `127.0.0.1:<port>` for a port the test controls (closed unless the test listens on it). */
  async function registerPort(port: number, gray = false): Promise<string> {
    const id = `127.0.0.1:${port}`;
    await fx.admin.mkdirp(`${fx.root}/services/demo/instances`);
    await fx.admin.create(instancePath(fx.root, 'demo', id), JSON.stringify({ gray, weight: 100, version: 'dead' }), 'ephemeral');
    open.push({ close: () => fx.admin.delete(instancePath(fx.root, 'demo', id)).catch(() => undefined) });
    return id;
  }

  function client(options: UseGrayOptions = {}, http: AxiosInstance = axios.create()): { http: AxiosInstance; gray: GrayInterceptors; retries: RetryEvent[] } {
    const gray = useGray(http, { zk: testZk(), root: fx.root, logger: silentLogger, services: ['demo'], ...options });
    open.push(gray);
    const retries: RetryEvent[] = [];
    gray.consumer.on('retry', (event: RetryEvent) => retries.push(event));
    return { http, gray, retries };
  }

  async function instancesSeen(gray: GrayInterceptors, count: number): Promise<void> {
    await eventually(() => expect(gray.consumer.snapshot('demo')?.instances.length).toBe(count));
  }

  test('a GET sent to an instance that refuses connections is retried on another instance of the lane; none fails', async () => {
    const live = await provider();
    const dead = await registerPort(await closedPort());
    const { http, gray, retries } = client({ outlier: false }, axios.create({ baseURL: 'http://demo' }));
    await instancesSeen(gray, 2);
    const responses: AxiosResponse<VersionBody>[] = [];
    for (let i = 0; i < 20; i++) responses.push(await http.get<VersionBody>('/version', { params: { i } }));
    expect(responses.every((response) => response.data.port === live.port)).toBe(true);
    const retried = responses.filter((response) => attemptsOf(response) === 2);
    expect(retried.length).toBeGreaterThanOrEqual(9); // round-robin sends at least every other request to `dead` first
    for (const response of retried) {
      expect(response.config.gray?.failed).toEqual([dead]);
      // Routed again from the caller's URL: baseURL + relative path, query kept.
      expect(response.config.gray?.url).toBe('/version');
      expect(response.config.gray?.baseURL).toBe('http://demo');
      expect(response.config.url).toBe(`http://127.0.0.1:${live.port}/version`);
      expect(response.request.path).toMatch(/^\/version\?i=\d+$/);
    }
    expect(retries.length).toBe(retried.length);
    expect(retries.every((event) => event.instance.id === dead && event.attempt === 2 && isConnectionError(event.error))).toBe(true);
  });

  test('N connection failures in a row eject the instance: it then gets no request at all', async () => {
    const live = await provider();
    const dead = await registerPort(await closedPort());
    const { http, gray, retries } = client({ outlier: { consecutiveFailures: 3, baseEjectionMs: 60_000 } });
    const ejections: OutlierEvent[] = [];
    gray.consumer.on('ejected', (event: OutlierEvent) => ejections.push(event));
    await instancesSeen(gray, 2);
    for (let i = 0; i < 30; i++) expect((await http.get<VersionBody>('http://demo/version')).data.port).toBe(live.port);
    // Exactly the three failures that ejected it were retried; after that, nothing went to it.
    expect(retries.length).toBe(3);
    expect(ejections).toHaveLength(1);
    expect(ejections[0]).toMatchObject({ service: 'demo', ms: 60_000, failures: 3 });
    expect(ejections[0].instance.id).toBe(dead);
    expect(gray.consumer.ejected('demo')).toEqual([expect.objectContaining({ id: dead, state: 'ejected', ms: 60_000 })]);
  });

  test('half-open: after the period exactly one request probes the instance, and a response brings it back', async () => {
    const live = await provider();
    const port = await closedPort();
    const id = await registerPort(port);
    const { http, gray } = client({ outlier: { consecutiveFailures: 2, baseEjectionMs: 300, maxEjectionMs: 1000 } });
    const events: string[] = [];
    for (const name of ['ejected', 'probing', 'restored']) gray.consumer.on(name, (event: OutlierEvent) => events.push(`${name} ${event.instance.id}`));
    await instancesSeen(gray, 2);

    // Down: it is ejected after two failures; while ejected every request goes to the live instance at once.
    await eventually(async () => {
      await http.get('http://demo/version');
      expect(events).toContain(`ejected ${id}`);
    });
    const during = await Promise.all(Array.from({ length: 10 }, () => http.get<VersionBody>('http://demo/version')));
    expect(during.every((response) => response.data.port === live.port && attemptsOf(response) === 1)).toBe(true);

    // Back up, slow to answer its first request, so that the probe is in flight while others are routed.
    let served = 0;
    const app = express();
    app.get('/version', (_req, res) => {
      served++;
      setTimeout(() => res.json({ version: 'back', port, gray: false }), served === 1 ? 300 : 0);
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(port, '127.0.0.1', () => resolve(s));
    });
    open.push({ close: () => new Promise((resolve) => server.close(resolve)) });

    // As soon as a request becomes the probe, ten more are sent while it is in flight: none may go to the instance.
    const whileProbing = new Promise<{ ports: number[]; at: number }>((resolve) => {
      gray.consumer.once('probing', () => {
        void Promise.all(Array.from({ length: 10 }, () => http.get<VersionBody>('http://demo/version'))).then((responses) =>
          resolve({ ports: responses.map((response) => response.data.port), at: Date.now() }),
        );
      });
    });
    const probed = await eventually(async () => {
      const response = await http.get<VersionBody>('http://demo/version');
      expect(response.data.port).toBe(port);
      return response;
    }, 5000, 20);
    const probedAt = Date.now();
    const concurrent = await whileProbing;
    expect(concurrent.ports.every((p) => p === live.port)).toBe(true);
    expect(concurrent.at).toBeLessThan(probedAt); // they were all answered while the probe was still in flight
    expect(probed.data.version).toBe('back');
    expect(attemptsOf(probed)).toBe(1);
    expect(served).toBe(1);
    expect(events.filter((event) => event.startsWith('probing'))).toEqual([`probing ${id}`]);
    expect(events[events.length - 1]).toBe(`restored ${id}`);
    expect(gray.consumer.ejected('demo')).toEqual([]);

    // Back in rotation: round-robin over both again.
    const after = await Promise.all(Array.from({ length: 10 }, () => http.get<VersionBody>('http://demo/version')));
    const ports = after.map((response) => response.data.port);
    expect(ports.filter((p) => p === port).length).toBe(5);
    expect(ports.filter((p) => p === live.port).length).toBe(5);
  });

  test('while probes keep failing the ejection period doubles, up to the cap; callers see no failure', async () => {
    await provider();
    await registerPort(await closedPort());
    const { http, gray } = client({ outlier: { consecutiveFailures: 1, baseEjectionMs: 100, maxEjectionMs: 300 } });
    const periods: number[] = [];
    gray.consumer.on('ejected', (event: OutlierEvent) => periods.push(event.ms!));
    await instancesSeen(gray, 2);
    let sent = 0;
    await eventually(async () => {
      sent++;
      await http.get('http://demo/version'); // throws (and fails the test) if a probe failure reached the caller
      expect(periods.length).toBeGreaterThanOrEqual(4);
    }, 10_000, 10);
    expect(periods.slice(0, 4)).toEqual([100, 200, 300, 300]);
    expect(sent).toBeLessThan(1000);
  });

  test('only idempotent methods fail over by default; gray.failover opts a request in or out', async () => {
    await provider();
    const dead = await registerPort(await closedPort());
    const { http, gray } = client({ outlier: false });
    await instancesSeen(gray, 2);
    const anyStatus = { validateStatus: () => true };
    // Round-robin over two instances: one of two POSTs goes to the dead one, and is not sent again.
    const posts = await Promise.allSettled([http.post('http://demo/version', {}, anyStatus), http.post('http://demo/version', {}, anyStatus)]);
    const refused = posts.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect((refused[0].reason as AxiosError).code).toBe('ECONNREFUSED');
    expect((refused[0].reason as AxiosError).config?.gray?.instance?.id).toBe(dead);
    // Opted in: a POST with an idempotency key, say.
    for (let i = 0; i < 6; i++) expect((await http.post('http://demo/version', {}, { ...anyStatus, gray: { failover: true } })).status).toBe(404);
    // Opted out: a GET that must not be repeated.
    const gets = await Promise.allSettled([0, 1].map(() => http.get('http://demo/version', { gray: { failover: false } })));
    expect(gets.filter((result) => result.status === 'rejected')).toHaveLength(1);
  });

  test('a retried PUT carries its JSON body and headers again; a stream body is never sent twice', async () => {
    const app = express();
    app.use(express.json());
    app.put('/items/:id', (req, res) => void res.json({ id: req.params.id, body: req.body, header: req.get('x-test') }));
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    open.push({ close: () => new Promise((resolve) => server.close(resolve)) });
    await registerPort((server.address() as AddressInfo).port);
    await registerPort(await closedPort());
    const { http, gray } = client({ outlier: false });
    await instancesSeen(gray, 2);
    const responses = await Promise.all(
      [1, 2, 3, 4].map((n) => http.put(`http://demo/items/${n}`, { n, nested: { ok: true } }, { headers: { 'x-test': `h${n}` } })),
    );
    expect(responses.some((response) => attemptsOf(response) === 2)).toBe(true);
    responses.forEach((response, i) => expect(response.data).toEqual({ id: String(i + 1), body: { n: i + 1, nested: { ok: true } }, header: `h${i + 1}` }));
    // A stream is read as it is sent: never replayed, so a refused one fails.
    const { Readable } = await import('node:stream');
    const streamed = await Promise.allSettled([1, 2].map(() => http.put('http://demo/items/s', Readable.from(['{"s":1}']), { headers: { 'content-type': 'application/json' } })));
    expect(streamed.filter((result) => result.status === 'rejected')).toHaveLength(1);
  });

  test('a retry stays in its lane', async () => {
    const grayLive = await provider(true, 'v2');
    await provider(false, 'v1');
    await registerPort(await closedPort(), true);
    const { http, gray } = client({ outlier: false, ratio: 0 });
    await instancesSeen(gray, 3);
    const responses = await Promise.all(Array.from({ length: 20 }, () => http.get<VersionBody>('http://demo/version', { gray: { lane: 'gray' } })));
    expect(responses.every((response) => response.data.port === grayLive.port && response.config.gray?.lane === 'gray')).toBe(true);
    expect(responses.some((response) => attemptsOf(response) === 2)).toBe(true);
  });

  test('a lane with no instance left fails with the connection error, unless crossLane lets the retry go to the other lane', async () => {
    const normal = await provider(false, 'v1');
    const dead = await registerPort(await closedPort(), true);
    const strict = client({ outlier: false, ratio: 0 });
    await instancesSeen(strict.gray, 2);
    const error = (await strict.http.get('http://demo/version', { gray: { lane: 'gray' } }).catch((e: unknown) => e)) as AxiosError;
    expect(error.code).toBe('ECONNREFUSED');
    expect(error.config?.gray?.failed).toEqual([dead]);
    expect(error.config?.url).toBe(`http://${dead}/version`);

    const crossing = client({ outlier: false, ratio: 0, failover: { crossLane: true } });
    await instancesSeen(crossing.gray, 2);
    const response = await crossing.http.get<VersionBody>('http://demo/version', { gray: { lane: 'gray' } });
    expect(response.data.port).toBe(normal.port);
    expect(response.config.gray).toMatchObject({ lane: 'normal', attempts: 2, failed: [dead] });
    expect(response.config.headers['x-gray-lane']).toBe('normal');
  });

  test('attempts bound the retries; with every instance down the caller gets the connection error', async () => {
    const ids = [await registerPort(await closedPort()), await registerPort(await closedPort()), await registerPort(await closedPort())];
    const two = client({ outlier: false, failover: { attempts: 2 } });
    await instancesSeen(two.gray, 3);
    const bounded = (await two.http.get('http://demo/version').catch((e: unknown) => e)) as AxiosError;
    expect(bounded.code).toBe('ECONNREFUSED');
    expect(bounded.config?.gray?.attempts).toBe(2);
    const five = client({ outlier: false, failover: { attempts: 5 } });
    await instancesSeen(five.gray, 3);
    const exhausted = (await five.http.get('http://demo/version').catch((e: unknown) => e)) as AxiosError;
    expect(exhausted.code).toBe('ECONNREFUSED');
    expect([...(exhausted.config?.gray?.failed ?? [])].sort()).toEqual([...ids].sort()); // each tried once, then no instance left
    expect(five.retries).toHaveLength(2);
  });

  test('a connect timeout counts as a connection failure and fails over', async () => {
    const live = await provider();
    // A listener whose accept queue is full drops new SYNs: connecting to it hangs, on 127.0.0.1.
    const blackhole = await startBlackhole();
    open.push({ close: () => stopChild(blackhole.child) });
    const id = await registerPort(blackhole.port);
    const { http, gray, retries } = client({ outlier: false, failover: { connectTimeout: 200 } });
    await instancesSeen(gray, 2);
    const started = Date.now();
    const responses = await Promise.all([0, 1, 2, 3].map(() => http.get<VersionBody>('http://demo/version')));
    expect(responses.every((response) => response.data.port === live.port)).toBe(true);
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries.every((event) => event.instance.id === id)).toBe(true);
    const cause = (retries[0].error as { cause?: { code?: string; syscall?: string; name?: string } }).cause;
    expect(cause).toMatchObject({ code: 'ETIMEDOUT', syscall: 'connect', name: 'ConnectTimeoutError' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test('a connect that completed while the event loop was blocked is not taken for a connect timeout', async () => {
    const live = await provider();
    const agent = withConnectTimeout(new http.Agent(), 50);
    open.push({ close: () => agent.destroy() });
    const answer = new Promise<number | string>((resolve) => {
      http
        .get({ host: '127.0.0.1', port: live.port, path: '/version', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
    // Block past the timeout: the connect completes in the kernel meanwhile, and the expired timer runs first.
    const until = Date.now() + 200;
    while (Date.now() < until);
    expect(await answer).toBe(200);
  });

  test('a reset of a reused keep-alive connection fails over without counting against the instance', async () => {
    // An instance that closes each connection shortly after answering on it, as a keep-alive timeout does.
    const app = express();
    app.get('/version', (req, res) => {
      res.on('finish', () => setTimeout(() => req.socket.destroy(), 10));
      res.json({ version: 'closing', port: (req.socket.address() as AddressInfo).port, gray: true });
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    open.push({ close: () => new Promise((resolve) => server.close(resolve)) });
    const closingPort = (server.address() as AddressInfo).port;
    await registerPort(closingPort, true);
    const normal = await provider(false, 'v1');
    const { http: client_, gray } = client({ ratio: 0, failover: { crossLane: true }, outlier: { consecutiveFailures: 1 } });
    const ejected: OutlierEvent[] = [];
    gray.consumer.on('ejected', (event: OutlierEvent) => ejected.push(event));
    await instancesSeen(gray, 2);
    expect((await client_.get<VersionBody>('http://demo/version', { gray: { lane: 'gray' } })).data.port).toBe(closingPort);
    // Busy until after the instance closed the idle connection, without noticing: the pool still offers it.
    const until = Date.now() + 50;
    while (Date.now() < until);
    const second = await client_.get<VersionBody>('http://demo/version', { gray: { lane: 'gray' } });
    expect(second.config.gray?.attempts).toBe(2);
    expect(second.data.port).toBe(normal.port);
    expect(ejected).toEqual([]); // with consecutiveFailures 1, a counted failure would have ejected it
    expect(gray.consumer.ejected('demo')).toEqual([]);
  });

  test('useGray returns both interceptor ids; eject() removes both, and grayRoute alone keeps routing', async () => {
    await provider();
    const http = axios.create();
    const { gray } = client({}, http);
    await instancesSeen(gray, 1);
    expect(typeof gray.request).toBe('number');
    expect(typeof gray.response).toBe('number');
    // An adapter that answers with the URL it was given: shows whether the request was routed, with no traffic.
    const echo = { adapter: async (config: object) => ({ data: (config as { url: string }).url, status: 200, statusText: 'OK', headers: {}, config }) };
    expect((await http.get<string>('http://demo/version', echo as object)).data).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/version$/);
    gray.eject();
    expect((await http.get<string>('http://demo/version', echo as object)).data).toBe('http://demo/version');
    http.interceptors.request.use(gray.route);
    expect((await http.get<string>('http://demo/version', echo as object)).data).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/version$/);
  });

  test('invalid failover and outlier options are refused at once, naming the option', () => {
    expect(() => useGray(axios.create(), { zk: testZk(), failover: { attempts: 0 } })).toThrow(/`failover.attempts`/);
    expect(() => useGray(axios.create(), { zk: testZk(), failover: { connectTimeout: -1 } })).toThrow(/`failover.connectTimeout`/);
    expect(() => useGray(axios.create(), { zk: testZk(), outlier: { consecutiveFailures: 0 } })).toThrow(/`outlier.consecutiveFailures`/);
    expect(() => useGray(axios.create(), { zk: testZk(), outlier: { baseEjectionMs: 500, maxEjectionMs: 100 } })).toThrow(/`outlier.maxEjectionMs`/);
  });
});

/** A python3 listener with backlog 0 and its queue filled, so that further connects hang (python3 builds the zookeeper addon, so it is there). */
async function startBlackhole(): Promise<{ port: number; child: ChildProcess }> {
  const script = [
    'import socket, time',
    's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
    'port = s.getsockname()[1]',
    'fill = []',
    'for _ in range(4):',
    '    c = socket.socket(); c.setblocking(False)',
    '    try: c.connect(("127.0.0.1", port))',
    '    except BlockingIOError: pass',
    '    fill.append(c)',
    'time.sleep(0.3)',
    'print(port, flush=True)',
    'time.sleep(120)',
  ].join('\n');
  const child = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the blackhole listener did not start within 5 s')), 5000);
    child.stdout!.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      resolve(Number(String(chunk).trim()));
    });
    child.once('error', reject);
  });
  return { port, child };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(child.pid, 'SIGKILL');
  await exited;
}
