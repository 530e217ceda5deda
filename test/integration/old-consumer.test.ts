/**
 * A consumer of graykit 0.1.0 never sends a request to an instance of a named lane: a preview build must never take
 * production traffic from a service that has not upgraded. 0.1.0 is loaded from its packed tarball
 * (test/fixtures/graykit-0.1.0.tgz, `npm pack` of commit 10ea229), extracted into a temporary directory whose
 * dependencies resolve to this repository's node_modules: no network. Real ZooKeeper, real servers on 127.0.0.1;
 * the providers are today's graykit.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import axios from 'axios';
import express from 'express';
import { createAdmin, grayRegister, silentLogger } from '../../src';
import { closeServer, eventually, listen, registryFixture, testZk } from '../support/helpers';

const TARBALL = resolve(__dirname, '../fixtures/graykit-0.1.0.tgz');
const REPO_MODULES = resolve(__dirname, '../../node_modules');

interface OldGraykit {
  createConsumer(options: Record<string, unknown>): { whenReady(service: string): Promise<void>; snapshot(service: string): { instances: unknown[]; config: { ratio?: number } } | undefined; close(): void };
  grayRoute(consumer: unknown): (config: unknown) => unknown;
  grayContext(options?: Record<string, unknown>): (req: unknown, res: unknown, next: () => void) => void;
}

/** graykit 0.1.0 as installed from its tarball: `<tmp>/node_modules/graykit`, its dependencies linked to ours. */
function installOld(dir: string): OldGraykit {
  const modules = join(dir, 'node_modules');
  const target = join(modules, 'graykit');
  mkdirSync(target, { recursive: true });
  execFileSync('tar', ['-xzf', TARBALL, '-C', target, '--strip-components=1']);
  for (const dependency of ['cls-hooked', 'commander', 'prom-client', 'uplot', 'zookeeper']) symlinkSync(join(REPO_MODULES, dependency), join(modules, dependency), 'dir');
  const old = require(target) as OldGraykit & { VERSION?: string };
  return old;
}

describe('graykit 0.1.0 consumers never reach a named lane (real ZooKeeper, real servers, 0.1.0 from its tarball)', () => {
  const fx = registryFixture();
  const { open } = fx;
  let dir: string;
  let old: OldGraykit;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'graykit-0.1.0-'));
    old = installOld(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('at ratios 0, 50 and 100, with x-gray-lane: pr-42 or none: 0 requests to the pr-42 and canary instances', async () => {
    const hits: Record<string, number> = {};
    const provider = async (version: string, options: { gray?: boolean; lane?: string }) => {
      const app = express();
      const register = grayRegister({ zk: testZk(), root: fx.root, service: 's', version, host: '127.0.0.1', logger: silentLogger, drainMs: 0, ...options });
      app.use(register);
      app.get('/who', (_req, res) => {
        hits[version] = (hits[version] ?? 0) + 1;
        res.json(version);
      });
      const { server } = await listen(app);
      open.push({ close: () => closeServer(server) });
      await register.registration.whenRegistered();
    };
    await provider('v1', {});
    await provider('v2', { gray: true });
    await provider('pr-42', { lane: 'pr-42' });
    await provider('canary', { lane: 'canary' });

    // The old edge: 0.1.0's grayContext reads the incoming lane header, 0.1.0's grayRoute routes its call to s.
    const consumer = old.createConsumer({ zk: testZk(), root: fx.root, logger: silentLogger, services: ['s'] });
    open.push(consumer);
    const client = axios.create();
    client.interceptors.request.use(old.grayRoute(consumer) as never);
    const edge = express();
    edge.use(old.grayContext() as never);
    edge.get('/call', async (_req, res) => void res.json((await client.get<string>('http://s/who')).data));
    const { server, base } = await listen(edge);
    open.push({ close: () => closeServer(server) });

    const admin = createAdmin({ zk: testZk(), root: fx.root, logger: silentLogger });
    open.push(admin);
    const figures: Record<string, Record<string, number>> = {};
    for (const ratio of [0, 50, 100]) {
      await admin.setConfig('s', { ratio });
      await eventually(async () => {
        await consumer.whenReady('s');
        expect(consumer.snapshot('s')).toMatchObject({ config: { ratio } });
      });
      // 0.1.0 sees the base and gray instances only: the named lanes' are in a directory it does not read.
      expect(consumer.snapshot('s')!.instances).toHaveLength(2);
      for (const header of [{ 'x-gray-lane': 'pr-42' }, { 'x-gray-lane': 'canary' }, { baggage: 'gray.lane=pr-42' }, {}]) {
        for (const key of Object.keys(hits)) delete hits[key];
        for (let i = 0; i < 100; i++) await axios.get(`${base}/call`, { headers: header });
        figures[`ratio ${ratio} ${JSON.stringify(header)}`] = { ...hits };
        expect({ ratio, header, named: (hits['pr-42'] ?? 0) + (hits.canary ?? 0) }).toEqual({ ratio, header, named: 0 });
        expect((hits.v1 ?? 0) + (hits.v2 ?? 0)).toBe(100);
        // The split still works (so the 0 above is not a consumer that routes nowhere): all base at 0, all gray at 100.
        if (ratio === 0) expect(hits.v1).toBe(100);
        if (ratio === 100) expect(hits.v2).toBe(100);
      }
    }
    if (process.env.GRAYKIT_FIGURES) console.log(JSON.stringify(figures, null, 1));
  }, 120_000);
});
