/**
 * `npm run demo:chain`: a three-tier chain, edge -> orders -> users, each tier with a v1 instance and a gray v2
 * instance, all registered in ZooKeeper (ZK_CONNECT, set by scripts/with-zookeeper.sh). Requests come in three
 * kinds: forced gray by a trusted lane header, forced normal, and left to the ratio (30) with per-user bucketing.
 * Each answer lists the versions it went through; the table shows that no request ever mixes lanes.
 *
 * Every tier runs in this one process on its own loopback port; each server is its own provider and consumer,
 * with one `app.use(grayRegister(...))` (which also opens the lane context) and one grayRoute interceptor.
 */
import type { AddressInfo, Server } from 'node:net';
import axios from 'axios';
import express from 'express';
import { createAdmin, grayContext, grayRegister, grayRoute, silentLogger, type GrayRouteInterceptor } from '../src';

const HOST = '127.0.0.1';
const ROOT = process.env.GRAYKIT_ROOT ?? '/graykit-chain';
const CALLS = Number(process.env.DEMO_CALLS ?? 300);
const RATIO = 30;
const servers: Server[] = [];
const routes: GrayRouteInterceptor[] = [];

/**
 * A server whose GET /path calls `next` (a service, through graykit) and answers `[name, ...next's path]`.
 * `first` is the app's own middleware (grayRegister for a tier, grayContext for the ingress).
 */
async function startHop(name: string, first: express.RequestHandler, next?: string): Promise<Server> {
  const app = express();
  app.use(first);
  const route = grayRoute({ root: ROOT, logger: silentLogger, hashBy: 'x-user-id' });
  routes.push(route);
  const client = axios.create();
  client.interceptors.request.use(route);
  app.get('/path', async (_req, res) => {
    try {
      const rest = next ? (await client.get<string[]>(`http://${next}/path`)).data : [];
      res.json(name === 'ingress' ? rest : [name, ...rest]);
    } catch (error) {
      res.status(502).json([`${name}: ${(error as Error).message}`]);
    }
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, HOST, () => resolve(s));
  });
  servers.push(server);
  return server;
}

async function startTier(service: string, version: 'v1' | 'v2', next?: string): Promise<void> {
  const register = grayRegister({ root: ROOT, service, version, gray: version === 'v2', host: HOST, logger: silentLogger });
  const server = await startHop(`${service} ${version}`, register as unknown as express.RequestHandler, next);
  await register.registration.whenRegistered();
  console.log(`  ${service.padEnd(6)} ${version} (${version === 'v2' ? 'gray' : 'formal'}) on ${HOST}:${(server.address() as AddressInfo).port}`);
}

/** The ingress: the request's lane is decided here (lane header, else the user's bucket) and then travels along. */
async function startIngress(): Promise<string> {
  const server = await startHop('ingress', grayContext() as express.RequestHandler, 'edge');
  return `http://${HOST}:${(server.address() as AddressInfo).port}`;
}

async function main(): Promise<void> {
  console.log(`graykit chain demo: edge -> orders -> users, ZooKeeper ${process.env.ZK_CONNECT}, root ${ROOT}`);
  const admin = createAdmin({ root: ROOT, logger: silentLogger });
  try {
    for (const version of ['v1', 'v2'] as const) {
      await startTier('users', version);
      await startTier('orders', version, 'users');
      await startTier('edge', version, 'orders');
    }
    for (const service of ['edge', 'orders', 'users']) await admin.setRatio(service, RATIO);
    console.log(`ratio ${RATIO} on every tier; callers bucketed by x-user-id\n`);
    const ingress = await startIngress();
    console.log(`ingress on ${ingress}\n`);
    const client = axios.create(); // a plain HTTP client, as a user's browser would be
    const paths = new Map<string, { kind: string; path: string; count: number }>();
    let mixed = 0;
    for (let i = 0; i < CALLS; i++) {
      const kind = ['x-gray-lane: gray', 'x-gray-lane: normal', 'x-user-id bucket'][i % 3];
      const headers = i % 3 === 0 ? { 'x-gray-lane': 'gray' } : i % 3 === 1 ? { 'x-gray-lane': 'normal' } : { 'x-user-id': `user-${i}` };
      const hops = (await client.get<string[]>(`${ingress}/path`, { headers })).data;
      const versions = new Set(hops.map((hop) => hop.split(' ')[1]));
      if (versions.size !== 1) mixed++;
      const path = hops.join(' -> ');
      const key = `${kind}|${path}`;
      const row = paths.get(key) ?? { kind, path, count: 0 };
      row.count++;
      paths.set(key, row);
    }
    console.log(`${'request'.padEnd(20)}  ${'path'.padEnd(36)}  calls`);
    for (const row of [...paths.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.path.localeCompare(b.path))) {
      console.log(`${row.kind.padEnd(20)}  ${row.path.padEnd(36)}  ${row.count}`);
    }
    const bucketed = [...paths.values()].filter((row) => row.kind === 'x-user-id bucket');
    const grayBucketed = bucketed.filter((row) => row.path.includes('v2')).reduce((sum, row) => sum + row.count, 0);
    const totalBucketed = bucketed.reduce((sum, row) => sum + row.count, 0);
    console.log(`\n${CALLS} requests, ${mixed} mixed lanes; bucketed users in gray: ${grayBucketed}/${totalBucketed} (ratio ${RATIO})`);
    if (mixed > 0) process.exitCode = 1;
  } finally {
    admin.close();
    for (const route of routes) route.close();
    for (const server of servers) await new Promise((resolve) => server.close(resolve));
  }
}

main().catch((error: unknown) => {
  console.error(`chain demo failed: ${(error as Error).stack ?? error}`);
  process.exitCode = 1;
});
