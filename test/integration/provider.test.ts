import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import express from 'express';
import { grayRegister, silentLogger } from '../../src';
import { instancePath } from '../../src/registry/paths';
import type { ZkSession } from '../../src/registry/zk-session';
import { adminSession, eventually, forceExpiry, recordingLogger, registryFixture, startProvider, testZk, uniqueRoot } from '../support/helpers';
import { startSlowProxy, type SlowProxy } from '../support/slow-proxy';

describe('grayRegister (real ZooKeeper)', () => {
  const fx = registryFixture();

  async function readInstance(port: number) {
    const { data, stat } = await fx.admin.getData(instancePath(fx.root, 'demo', `127.0.0.1:${port}`));
    return { json: JSON.parse(String(data)), stat };
  }

  test('app.listen(0) registers an ephemeral znode at the exact path with the bound port and the metadata', async () => {
    const provider = await startProvider({ root: fx.root, service: 'demo', gray: true, version: 'v2', metadata: { zone: 'a' } });
    try {
      expect(provider.port).toBeGreaterThan(0);
      expect(provider.registration.path).toBe(`${fx.root}/services/demo/instances/127.0.0.1:${provider.port}`);
      const { json, stat } = await readInstance(provider.port);
      expect(json).toEqual({ gray: true, version: 'v2', weight: 100, zone: 'a' });
      expect(stat.ephemeralOwner).not.toBe('0');
    } finally {
      await provider.close();
    }
  });

  test('server.close() removes the znode before the port stops accepting (drainMs keeps it open meanwhile)', async () => {
    const provider = await startProvider({ root: fx.root, service: 'demo', drainMs: 300 });
    const path = provider.registration.path as string;
    let acceptingWhenDeleted: boolean | undefined;
    let listeningWhenDeleted: boolean | undefined;
    // Watch the deletion and, at that moment, check the port still accepts a connection. The watch is armed
    // (awaited) before close() starts, so the deletion cannot slip past it.
    let onDeleted: () => void = () => undefined;
    const deleted = new Promise<void>((resolve) => (onDeleted = resolve));
    const stat = await fx.admin.exists(path, (event) => {
      if (event.type !== 'deleted') return;
      listeningWhenDeleted = provider.server.listening;
      const socket = http.get({ host: '127.0.0.1', port: provider.port, path: '/version', agent: false }, (res) => {
        acceptingWhenDeleted = res.statusCode === 200;
        res.resume();
        onDeleted();
      });
      socket.on('error', () => {
        acceptingWhenDeleted = false;
        onDeleted();
      });
    });
    expect(stat).not.toBeNull();
    const closed = provider.close();
    await deleted;
    await closed;
    expect(listeningWhenDeleted).toBe(true);
    expect(acceptingWhenDeleted).toBe(true);
    expect(provider.server.listening).toBe(false);
    expect(await fx.admin.exists(path)).toBeNull();
  });

  test('http.createServer(app) with an explicit attach(server) registers too', async () => {
    const app = express();
    const gray = grayRegister({ zk: testZk(), root: fx.root, service: 'demo', host: '127.0.0.1', logger: silentLogger });
    app.use(gray);
    const server = http.createServer(app);
    gray.registration.attach(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      await gray.registration.whenRegistered();
      expect((await readInstance(port)).json.gray).toBe(false);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(await fx.admin.exists(instancePath(fx.root, 'demo', `127.0.0.1:${port}`))).toBeNull();
  });

  test('setGray() rewrites the data of the same znode', async () => {
    const provider = await startProvider({ root: fx.root, service: 'demo', gray: false, version: 'v1' });
    try {
      const before = await readInstance(provider.port);
      await provider.registration.setGray(true);
      const after = await readInstance(provider.port);
      expect(after.json).toMatchObject({ gray: true, version: 'v1' });
      expect(after.stat.version).toBe(before.stat.version + 1);
      expect(after.stat.ephemeralOwner).toBe(before.stat.ephemeralOwner);
    } finally {
      await provider.close();
    }
  });

  test('re-registers by itself after its ZooKeeper session expires', async () => {
    const provider = await startProvider({ root: fx.root, service: 'demo', version: 'v1' });
    try {
      const owner = (await readInstance(provider.port)).stat.ephemeralOwner;
      const session = (provider.registration as unknown as { session: ZkSession }).session;
      await forceExpiry(session);
      const after = await eventually(async () => {
        const read = await readInstance(provider.port);
        expect(read.stat.ephemeralOwner).not.toBe(owner);
        return read;
      }, 15_000);
      expect(after.json).toMatchObject({ gray: false, version: 'v1' });
    } finally {
      await provider.close();
    }
  });

  test('ZooKeeper unreachable at start: the app still serves and registration waits in the background', async () => {
    // A port nothing listens on yet; later a proxy to the real ZooKeeper opens there, as a registry that comes up.
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const app = express();
    const gray = grayRegister({ zk: `127.0.0.1:${port}`, root: fx.root, service: 'demo', host: '127.0.0.1', sessionTimeout: 4000, logger: silentLogger });
    app.use(gray);
    app.get('/ping', (_req, res) => void res.send('pong'));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    let proxy: SlowProxy | undefined;
    try {
      const appPort = (server.address() as AddressInfo).port;
      const body = await new Promise<string>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: appPort, path: '/ping', agent: false }, (res) => {
          let text = '';
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve(text));
        }).on('error', reject);
      });
      expect(body).toBe('pong');
      expect(gray.registration.registered).toBe(false);
      // The registry comes up: the instance registers by itself, without a restart.
      proxy = await startSlowProxy(testZk(), 0, port);
      const path = await gray.registration.whenRegistered(20_000);
      expect(path).toBe(instancePath(fx.root, 'demo', `127.0.0.1:${appPort}`));
      expect(await fx.admin.exists(path)).not.toBeNull();
    } finally {
      const started = Date.now();
      await new Promise((resolve) => server.close(resolve));
      expect(Date.now() - started).toBeLessThan(5000); // close is bounded by deregisterTimeout, never hangs
      await proxy?.close();
    }
  }, 30_000);

  describe('a middleware that never sees its server listen warns, naming the fix', () => {
    const serve = async (app: express.Express, listen: (app: express.Express) => http.Server) => {
      const server = listen(app);
      await new Promise((resolve) => server.once('listening', resolve));
      const port = (server.address() as AddressInfo).port;
      const status = await new Promise<number | undefined>((resolve, reject) =>
        http.get({ host: '127.0.0.1', port, path: '/ping', agent: false }, (res) => resolve(res.resume().statusCode)).on('error', reject),
      );
      return { server, status };
    };

    test.each([
      ['mounted on an express.Router()', (gray: express.RequestHandler) => {
        const app = express();
        const router = express.Router();
        router.use(gray);
        router.get('/ping', (_req, res) => void res.send('pong'));
        app.use(router);
        return { app, listen: (a: express.Express) => a.listen(0, '127.0.0.1') };
      }],
      ['http.createServer(app) without attach()', (gray: express.RequestHandler) => {
        const app = express();
        app.use(gray);
        app.get('/ping', (_req, res) => void res.send('pong'));
        return { app, listen: (a: express.Express) => http.createServer(a).listen(0, '127.0.0.1') };
      }],
    ])('%s', async (_case, build) => {
      const logger = recordingLogger();
      const gray = grayRegister({ zk: testZk(), root: fx.root, service: 'demo', host: '127.0.0.1', logger });
      const { app, listen } = build(gray as unknown as express.RequestHandler);
      const { server, status } = await serve(app, listen);
      try {
        expect(status).toBe(200); // the app serves, unregistered
        expect(gray.registration.registered).toBe(false);
        const warnings = logger.lines.filter((line) => line.startsWith('warn:') && line.includes('not registered'));
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toContain('service "demo"');
        expect(warnings[0]).toContain('registration.attach(server)');
        expect(warnings[0]).toContain('express.Router()');
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });

    test('an app that listens as documented says nothing of the kind', async () => {
      const logger = recordingLogger();
      const gray = grayRegister({ zk: testZk(), root: fx.root, service: 'demo', host: '127.0.0.1', logger, drainMs: 0 });
      const app = express();
      app.use(gray);
      app.get('/ping', (_req, res) => void res.send('pong'));
      const { server, status } = await serve(app, (a) => a.listen(0, '127.0.0.1'));
      try {
        expect(status).toBe(200);
        await gray.registration.whenRegistered();
        expect(logger.lines.filter((line) => line.includes('not registered'))).toEqual([]);
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });
  });

  test('invalid options are refused when the factory is called, with a message that names the option', async () => {
    expect(() => grayRegister({ zk: testZk(), service: 'Bad/Name' })).toThrow(/`service`/);
    expect(() => grayRegister({ zk: testZk(), service: 'demo', weight: -1 })).toThrow(/`weight`/);
    // Above the codec's bound every consumer would skip the instance: refused here instead.
    expect(() => grayRegister({ zk: testZk(), service: 'demo', weight: 1_000_001 })).toThrow(/`weight`: expected a number from 0 to 1000000/);
    const largest = grayRegister({ zk: testZk(), service: 'demo', weight: 1_000_000 }); // opens no session until listen
    await expect(largest.registration.update({ weight: 2_000_000 })).rejects.toThrow(/`weight`: expected a number from 0 to 1000000/);
    expect(() => grayRegister({ zk: testZk(), service: 'demo', host: 'http://x' })).toThrow(/`host`/);
    expect(() => grayRegister({ zk: testZk(), service: 'demo', root: 'graykit' })).toThrow(/`root`/);
  });
});

describe('connect string with a chroot', () => {
  test('registers under the chroot', async () => {
    const admin = adminSession();
    await admin.whenConnected(10_000);
    const chroot = uniqueRoot();
    try {
      await admin.mkdirp(chroot);
      const app = express();
      const gray = grayRegister({ zk: `${testZk()}${chroot}`, service: 'demo', host: '127.0.0.1', logger: silentLogger });
      app.use(gray);
      const server = app.listen(0, '127.0.0.1');
      try {
        await gray.registration.whenRegistered();
        const port = (server.address() as AddressInfo).port;
        expect(await admin.exists(`${chroot}/graykit/services/demo/instances/127.0.0.1:${port}`)).not.toBeNull();
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    } finally {
      admin.close();
    }
  });
});
