/**
 * The console's HTTP face without a browser: mounted in a real Express app under /gray against a real ZooKeeper,
 * with real providers. Writes need the token, a read-only console has no write at all, a foreign Host is refused,
 * bad input gets a clear 4xx and never reaches the host app, and the ZooKeeper credentials never show.
 */
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createConsole, silentLogger, type GrayConsole } from '../../src';
import { OWN_SCRIPTS } from '../../src/console/assets';
import { configPath } from '../../src/registry/paths';
import type { ZkSession } from '../../src/registry/zk-session';
import { adminSession, eventually, startProvider, testZk, uniqueRoot, type TestProvider } from '../support/helpers';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request (fetch would not let a test set Host). */
function send(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const json = (answer: Answer) => JSON.parse(answer.body) as Record<string, any>;

describe('console HTTP (mounted in Express, real ZooKeeper)', () => {
  const root = uniqueRoot();
  const auth = 'consoleop:Zk-s3cret-pw';
  let providers: TestProvider[];
  let raw: ZkSession;
  let writable: GrayConsole;
  let readOnly: GrayConsole;
  let server: Server;
  let port: number;
  let hostAppHits = 0;

  beforeAll(async () => {
    providers = [await startProvider({ root, service: 'demo', gray: true, version: 'v2' }), await startProvider({ root, service: 'demo', gray: false, version: 'v1' })];
    raw = adminSession();
    await raw.whenConnected(10_000);
    // Digest credentials on an open-ACL tree: ZooKeeper accepts them; the test checks they never leak.
    writable = createConsole({ zk: testZk(), root, auth, logger: silentLogger });
    readOnly = createConsole({ zk: testZk(), root, readOnly: true, logger: silentLogger });
    const app = express();
    app.use('/gray', writable.handler);
    app.use('/view', readOnly.handler);
    app.get('/health', (_req, res) => {
      hostAppHits++;
      res.send('ok');
    });
    // The host app's own error handler: the console must never hand it an error.
    app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => res.status(599).send(`host app error: ${String(error)}`));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    port = (server.address() as AddressInfo).port;
    await eventually(async () => expect(json(await send(port, 'GET', '/gray/api/overview')).services.map((s: { service: string }) => s.service)).toEqual(['demo']));
  }, 60_000);

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await writable.close();
    await readOnly.close();
    raw.close();
    for (const provider of providers) await provider.close();
  });

  const authorized = () => ({ authorization: `Bearer ${writable.token}`, 'content-type': 'application/json' });

  test('the page: /gray redirects to /gray/, assets are served gzipped with the security headers', async () => {
    const redirect = await send(port, 'GET', '/gray');
    expect(redirect.status).toBe(308);
    expect(redirect.headers.location).toBe('/gray/');
    const page = await send(port, 'GET', '/gray/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<script type="module" src="assets/app.js"></script>');
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self';.*frame-ancestors 'none'/);
    expect(page.headers['content-security-policy']).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['x-frame-options']).toBe('DENY');
    const chart = await send(port, 'GET', '/gray/assets/uPlot.iife.min.js', { 'accept-encoding': 'gzip' });
    expect(chart.status).toBe(200);
    expect(chart.headers['content-encoding']).toBe('gzip');
    expect(Number(chart.headers['content-length'])).toBeLessThan(30_000);
    const again = await send(port, 'GET', '/gray/assets/app.js', { 'if-none-match': String((await send(port, 'GET', '/gray/assets/app.js')).headers.etag) });
    expect(again.status).toBe(304);
    // Every module of the page's script, as JavaScript: a browser refuses a module served under another type.
    for (const name of OWN_SCRIPTS) {
      const script = await send(port, 'GET', `/gray/assets/${name}`);
      expect({ name, status: script.status, type: script.headers['content-type'] }).toEqual({ name, status: 200, type: 'text/javascript; charset=utf-8' });
    }
    expect((await send(port, 'GET', '/gray/assets/..%2Fconsole.ts')).status).toBe(404);
  });

  test('reads: the overview and a service, with instances, flags and the config version', async () => {
    const detail = json(await send(port, 'GET', '/gray/api/services/demo'));
    expect(detail.summary).toMatchObject({ service: 'demo', gray: 1, normal: 1, configVersion: -1, versions: { gray: ['v2'], normal: ['v1'] } });
    expect(detail.instances.map((i: { id: string; lane: string; flagFrom: string }) => [i.id, i.lane, i.flagFrom]).sort()).toEqual(
      [[`127.0.0.1:${providers[0].port}`, 'gray', 'own'], [`127.0.0.1:${providers[1].port}`, 'normal', 'own']].sort(),
    );
    expect((await send(port, 'GET', '/gray/api/services/nosuch')).status).toBe(404);
    expect(json(await send(port, 'GET', '/gray/api/services/Bad%2FName')).error.code).toBe('ERR_GRAYKIT_INVALID_OPTION');
  });

  test('a write needs the token in a header: none, a wrong one, or a cookie alone are refused and change nothing', async () => {
    const body = JSON.stringify({ ratio: 40, expectedVersion: -1 });
    const attempts: Array<Record<string, string>> = [
      { 'content-type': 'application/json' },
      { 'content-type': 'application/json', authorization: 'Bearer wrong-token-wrong-token' },
      { 'content-type': 'application/json', 'x-graykit-token': `${writable.token}x` },
      { 'content-type': 'application/json', cookie: `token=${writable.token}` },
    ];
    for (const headers of attempts) {
      const answer = await send(port, 'POST', '/gray/api/services/demo/ratio', headers, body);
      expect({ headers, status: answer.status, code: json(answer).error.code }).toEqual({ headers, status: 401, code: 'ERR_CONSOLE_TOKEN' });
      expect(answer.headers['www-authenticate']).toMatch(/^Bearer/);
    }
    expect(await raw.exists(configPath(root, 'demo'))).toBeNull();
    const foreignOrigin = await send(port, 'POST', '/gray/api/services/demo/ratio', { ...authorized(), origin: 'http://evil.example' }, body);
    expect(foreignOrigin.status).toBe(403);
    expect(await raw.exists(configPath(root, 'demo'))).toBeNull();
  });

  test('with the token: ratio as a compare-and-set, flags, promote and rollback, each recorded in the events', async () => {
    const set = await send(port, 'POST', '/gray/api/services/demo/ratio', authorized(), JSON.stringify({ ratio: 40, expectedVersion: -1 }));
    expect(set.status).toBe(200);
    expect(json(set)).toEqual({ ok: true, version: 0, ratio: 40 });
    expect(JSON.parse(String((await raw.getData(configPath(root, 'demo'))).data))).toEqual({ ratio: 40 });
    // A write based on a version that is no longer current is a conflict, and writes nothing.
    const stale = await send(port, 'POST', '/gray/api/services/demo/ratio', { 'x-graykit-token': writable.token!, 'content-type': 'application/json' }, JSON.stringify({ ratio: 70, expectedVersion: -1 }));
    expect(stale.status).toBe(409);
    expect(json(stale).error).toMatchObject({ code: 'ERR_GRAYKIT_CONFLICT', current: { version: 0, ratio: 40 } });
    expect(JSON.parse(String((await raw.getData(configPath(root, 'demo'))).data))).toEqual({ ratio: 40 });

    const gray = `127.0.0.1:${providers[0].port}`;
    expect((await send(port, 'POST', `/gray/api/services/demo/instances/${encodeURIComponent(gray)}/flag`, authorized(), JSON.stringify({ gray: false }))).status).toBe(200);
    await eventually(async () => expect(json(await send(port, 'GET', '/gray/api/services/demo')).summary.gray).toBe(0));
    expect(json(await send(port, 'POST', `/gray/api/services/demo/instances/${encodeURIComponent(gray)}/flag`, authorized(), JSON.stringify({ gray: null })))).toEqual({ ok: true, cleared: true });
    await eventually(async () => expect(json(await send(port, 'GET', '/gray/api/services/demo')).summary.gray).toBe(1));
    expect(json(await send(port, 'POST', '/gray/api/services/demo/rollback', authorized(), '{}'))).toEqual({ ok: true, gray: [gray] });
    expect(json(await send(port, 'POST', '/gray/api/services/demo/promote', authorized(), '{}'))).toEqual({ ok: true, promoted: [gray] });
    await eventually(async () => {
      const detail = json(await send(port, 'GET', '/gray/api/services/demo'));
      expect(detail.summary).toMatchObject({ gray: 0, normal: 2, ratio: 0 });
      const actions = detail.events.filter((e: { kind: string }) => e.kind === 'action').map((e: { text: string }) => e.text.replace(/^console \([^)]*\): /, ''));
      expect(actions).toEqual([
        'ratio unset → 40 % (config v0)',
        expect.stringMatching(/^ratio 70 % refused — the config changed meanwhile: it is at version 0 \(ratio 40 %\)/),
        `${gray} marked normal (override)`,
        `${gray}: override cleared`,
        `rolled back: ratio 0; gray instances now idle: ${gray}`,
        `promoted ${gray}; ratio 0`,
      ]);
      expect(detail.events.map((e: { kind: string }) => e.kind)).toEqual(expect.arrayContaining(['config', 'flag']));
    });
    await send(port, 'POST', `/gray/api/services/demo/instances/${encodeURIComponent(gray)}/flag`, authorized(), JSON.stringify({ gray: null }));
  });

  test('bad input gets a clear 4xx, never the host app\'s error handler, and the app keeps serving', async () => {
    const cases: Array<[string, string, Record<string, string>, string | undefined, number]> = [
      ['POST', '/gray/api/services/demo/ratio', authorized(), '{"ratio": 150, "expectedVersion": 0}', 400],
      ['POST', '/gray/api/services/demo/ratio', authorized(), '{"ratio": 10}', 400],
      ['POST', '/gray/api/services/demo/ratio', authorized(), '{"ratio":', 400],
      ['POST', '/gray/api/services/demo/ratio', authorized(), '[1]', 400],
      ['POST', '/gray/api/services/demo/ratio', { ...authorized(), 'content-type': 'text/plain' }, '{}', 415],
      ['POST', '/gray/api/services/demo/ratio', authorized(), JSON.stringify({ ratio: 1, expectedVersion: 0, pad: 'x'.repeat(10_000) }), 413],
      ['POST', '/gray/api/services/%E0%A4%A/ratio', authorized(), '{}', 400],
      ['POST', '/gray/api/services/demo/instances/..%2Fconfig/flag', authorized(), '{"gray":true}', 400],
      ['POST', '/gray/api/services/demo/instances/127.0.0.1%3A1/flag', authorized(), '{"gray":"yes"}', 400],
      ['POST', '/gray/api/services/demo/instances/127.0.0.1%3A1/flag', authorized(), '{"gray":true}', 404],
      ['POST', '/gray/api/services/nosuch/promote', authorized(), '{}', 404],
      ['DELETE', '/gray/api/services/demo/ratio', authorized(), undefined, 405],
      ['GET', '/gray/api/stream?service=Bad%20Name', {}, undefined, 400],
      ['GET', '/gray/nothing-here', {}, undefined, 404],
    ];
    const before = await raw.getData(configPath(root, 'demo'));
    for (const [method, path, headers, body, status] of cases) {
      const answer = await send(port, method, path, headers, body);
      expect({ method, path, status: answer.status }).toEqual({ method, path, status });
      expect(json(answer).error.message.length).toBeGreaterThan(5);
    }
    expect((await raw.getData(configPath(root, 'demo'))).stat.version).toBe(before.stat.version);
    expect((await send(port, 'GET', '/health')).body).toBe('ok');
    expect(hostAppHits).toBe(1);
  });

  test('read-only: no write endpoint at all, whatever the token, and the registry is unchanged', async () => {
    const before = await raw.getData(configPath(root, 'demo'));
    for (const path of ['/view/api/services/demo/ratio', '/view/api/services/demo/promote', '/view/api/services/demo/rollback', `/view/api/services/demo/instances/127.0.0.1%3A${providers[0].port}/flag`]) {
      const answer = await send(port, 'POST', path, authorized(), JSON.stringify({ ratio: 90, expectedVersion: before.stat.version, gray: false }));
      expect({ path, status: answer.status }).toEqual({ path, status: 404 });
      expect(json(answer).error.message).toContain('read-only');
    }
    expect((await raw.getData(configPath(root, 'demo'))).stat.version).toBe(before.stat.version);
    expect(readOnly.token).toBeUndefined();
    expect(json(await send(port, 'GET', '/view/api/overview')).console.readOnly).toBe(true);
  });

  test('a foreign Host is refused (DNS rebinding); localhost and IP addresses are the console\'s own', async () => {
    for (const host of ['evil.example', `evil.example:${port}`, `localhost.evil.example:${port}`]) {
      const answer = await send(port, 'GET', '/gray/api/overview', { host });
      expect({ host, status: answer.status }).toEqual({ host, status: 403 });
      expect(answer.body).not.toContain('demo');
    }
    expect((await send(port, 'POST', '/gray/api/services/demo/rollback', { ...authorized(), host: 'evil.example' }, '{}')).status).toBe(403);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) expect((await send(port, 'GET', '/gray/api/overview', { host })).status).toBe(200);
  });

  test('the ZooKeeper credentials appear in no response', async () => {
    const [user, password] = auth.split(':');
    const paths = ['/gray/', '/gray/api/overview', '/gray/api/services/demo', ...OWN_SCRIPTS.map((name) => `/gray/assets/${name}`)];
    const answers = await Promise.all(paths.map((path) => send(port, 'GET', path)));
    const stream = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/gray/api/stream?service=demo' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('event: hello') && text.includes('\n\n', text.indexOf('event: hello'))) {
            req.destroy();
            resolve(text);
          }
        });
      });
      req.on('error', reject);
      req.end();
    });
    expect(stream).toContain('"exists":true');
    for (const text of [...answers.map((a) => a.body), stream]) {
      expect(text).not.toContain(password);
      expect(text).not.toContain(user);
    }
    expect(JSON.stringify(writable)).not.toContain(password);
  });
});
