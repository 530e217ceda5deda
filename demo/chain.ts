/**
 * `npm run demo:chain`: a chain of five hops, registered in ZooKeeper (ZK_CONNECT, set by scripts/with-zookeeper.sh),
 * that keeps every request in one lane across three HTTP clients and a hop that is not graykit:
 *
 *   ingress -> edge (v1, gray v2; calls with axios + grayRoute)
 *           -> orders (v1, gray v2; calls with Node's built-in fetch + grayDispatcher)
 *           -> gate (a plain Node HTTP proxy, no graykit: one instance, registered by an operator's znode; it forwards
 *              only the `baggage` header, so x-gray-lane, x-user-id and the rest are dropped there)
 *           -> accounts (one instance, graykit, no canary of its own: reads the lane from baggage, calls with axios)
 *           -> users (v1, gray v2)
 *
 * Requests come in three kinds: forced gray by a trusted lane header, forced normal, and left to the ratio (30) with
 * per-user bucketing. Each answer lists the hops it went through, with versions; accounts says which lane it read
 * and from where. The table shows that no request ever mixes lanes: the lane crossed the gate on baggage alone.
 *
 * Every hop runs in this one process on its own loopback port; each graykit hop is its own provider and consumer,
 * with one `app.use(grayRegister(...))` (which also opens the lane context) and one grayRoute or grayDispatcher.
 */
import http from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import axios from 'axios';
import express from 'express';
import { createAdmin, grayContext, grayDispatcher, grayRegister, grayRoute, silentLogger, type GrayRouteInterceptor } from '../src';
import { contextBackend } from '../src/context/lane-context';
import { instancePath } from '../src/registry/paths';
import { ZkSession } from '../src/registry/zk-session';

const HOST = '127.0.0.1';
const ROOT = process.env.GRAYKIT_ROOT ?? '/graykit-chain';
const CALLS = Number(process.env.DEMO_CALLS ?? 300);
const RATIO = 30;
const servers: Server[] = [];
const closers: Array<() => unknown> = [];

type Client = 'axios' | 'fetch';

/**
 * A server whose GET /path calls `next` (a service, through graykit, with `client`) and answers `[hop, ...next's
 * hops]`. `first` is the app's own middleware (grayRegister for a tier, grayContext for the ingress).
 */
async function startHop(name: string, first: express.RequestHandler, next?: string, client: Client = 'axios', hop: () => string = () => name): Promise<Server> {
  const app = express();
  app.use(first);
  let call: (url: string) => Promise<string[]>;
  if (client === 'fetch') {
    const dispatcher = grayDispatcher({ root: ROOT, logger: silentLogger, hashBy: 'x-user-id' });
    closers.push(() => dispatcher.close());
    call = async (url) => {
      const response = await fetch(url, { dispatcher });
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${await response.text()}`);
      return [...viaHops(response.headers.get('via')), ...((await response.json()) as string[])];
    };
  } else {
    const route: GrayRouteInterceptor = grayRoute({ root: ROOT, logger: silentLogger, hashBy: 'x-user-id' });
    closers.push(() => route.close());
    const routed = axios.create();
    routed.interceptors.request.use(route);
    call = async (url) => {
      const response = await routed.get<string[]>(url);
      return [...viaHops(response.headers.via as string | undefined), ...response.data];
    };
  }
  app.get('/path', async (_req, res) => {
    try {
      const here = hop(); // read before the call: what this hop's context says
      const rest = next ? await call(`http://${next}/path`) : [];
      res.json(name === 'ingress' ? rest : [here, ...rest]);
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

/** Proxies on the way, from a response's `Via` header (RFC 9110: `1.1 gate`): a proxy cannot add to the body. */
function viaHops(via: string | null | undefined): string[] {
  return via ? via.split(',').map((entry) => entry.trim().split(/\s+/)[1] ?? entry.trim()) : [];
}

async function startTier(service: string, version: 'v1' | 'v2', next?: string, client: Client = 'axios'): Promise<void> {
  const register = grayRegister({ root: ROOT, service, version, gray: version === 'v2', host: HOST, logger: silentLogger });
  const server = await startHop(`${service} ${version}`, register as unknown as express.RequestHandler, next, client);
  await register.registration.whenRegistered();
  console.log(`  ${service.padEnd(8)} ${version} (${version === 'v2' ? 'gray' : 'formal'}) on ${HOST}:${(server.address() as AddressInfo).port}${next ? `, calls ${next} with ${client === 'fetch' ? 'fetch + grayDispatcher' : 'axios + grayRoute'}` : ''}`);
}

/** accounts: one instance, no canary; its hop says which lane its context holds and where that lane came from. */
async function startAccounts(): Promise<number> {
  const register = grayRegister({ root: ROOT, service: 'accounts', version: 'v1', host: HOST, logger: silentLogger });
  const als = contextBackend('als');
  const server = await startHop('accounts', register as unknown as express.RequestHandler, 'users', 'axios', () => {
    const store = als.current();
    return `accounts ${store?.lane ?? '-'}/${store?.source ?? '-'}`;
  });
  await register.registration.whenRegistered();
  const port = (server.address() as AddressInfo).port;
  console.log(`  accounts one instance, no canary, on ${HOST}:${port}, calls users with axios + grayRoute`);
  return port;
}

/**
 * gate: a plain Node HTTP proxy with no graykit, in front of the one accounts instance. It forwards the path and the
 * `baggage` header, nothing else: what a proxy or a service in another language does with headers it does not know.
 * It says it was there as proxies do, in the response's `Via` header.
 */
async function startGate(upstreamPort: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  closers.push(() => agent.destroy());
  const server = http.createServer((req, res) => {
    const headers: http.OutgoingHttpHeaders = {};
    if (req.headers.baggage) headers.baggage = req.headers.baggage;
    const upstream = http.get({ host: HOST, port: upstreamPort, path: req.url, headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, { 'content-type': answer.headers['content-type'] ?? 'application/json', via: '1.1 gate' });
      answer.pipe(res);
    });
    upstream.on('error', (error) => {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify([`gate: ${error.message}`]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

/** The ingress: the request's lane is decided here (lane header, else the user's bucket) and then travels along. */
async function startIngress(): Promise<string> {
  const server = await startHop('ingress', grayContext() as express.RequestHandler, 'edge');
  return `http://${HOST}:${(server.address() as AddressInfo).port}`;
}

/** The lane a hop was in: `edge v2` -> gray, `accounts normal/baggage` -> normal, `gate` -> none. */
function laneOf(hop: string): string | undefined {
  const [name, detail] = hop.split(' ');
  if (detail === 'v2') return 'gray';
  if (detail === 'v1') return 'normal';
  if (name === 'accounts') return detail?.split('/')[0];
  return undefined;
}

/** How a hop is shown: `accounts gray/baggage` as `accounts (baggage)`. */
function shown(hop: string): string {
  const [name, detail] = hop.split(' ');
  return name === 'accounts' ? `accounts (${detail?.split('/')[1] ?? '-'})` : hop;
}

async function main(): Promise<void> {
  console.log(`graykit chain demo: edge -> orders -> gate -> accounts -> users, ZooKeeper ${process.env.ZK_CONNECT}, root ${ROOT}`);
  const admin = createAdmin({ root: ROOT, logger: silentLogger });
  const operator = new ZkSession({ connect: process.env.ZK_CONNECT ?? '127.0.0.1:2181', sessionTimeout: 10_000, logger: silentLogger });
  try {
    await operator.whenConnected(15_000);
    for (const version of ['v1', 'v2'] as const) await startTier('users', version);
    const accountsPort = await startAccounts();
    const gatePort = await startGate(accountsPort);
    // The operator registers the gate, as with `zkCli.sh create -e <path> '{"version":"proxy"}'`: graykit routes
    // `http://gate/` to it like any instance; it runs no graykit itself.
    const gateZnode = instancePath(ROOT, 'gate', `${HOST}:${gatePort}`);
    await operator.mkdirp(`${ROOT}/services/gate/instances`);
    await operator.create(gateZnode, JSON.stringify({ gray: false, version: 'proxy' }), 'ephemeral');
    console.log(`  gate     plain Node proxy on ${HOST}:${gatePort} -> accounts, forwards baggage only; znode ${gateZnode} (by the operator)`);
    for (const version of ['v1', 'v2'] as const) {
      await startTier('orders', version, 'gate', 'fetch');
      await startTier('edge', version, 'orders');
    }
    for (const service of ['edge', 'orders', 'users']) await admin.setRatio(service, RATIO);
    console.log(`ratio ${RATIO} on edge, orders and users; callers bucketed by x-user-id\n`);
    const ingress = await startIngress();
    console.log(`ingress on ${ingress}\n`);
    const client = axios.create(); // a plain HTTP client, as a user's browser would be
    const paths = new Map<string, { kind: string; path: string; count: number }>();
    let mixed = 0;
    let viaBaggage = 0;
    for (let i = 0; i < CALLS; i++) {
      const kind = ['x-gray-lane: gray', 'x-gray-lane: normal', 'x-user-id bucket'][i % 3];
      const headers = i % 3 === 0 ? { 'x-gray-lane': 'gray' } : i % 3 === 1 ? { 'x-gray-lane': 'normal' } : { 'x-user-id': `user-${i}` };
      const hops = (await client.get<string[]>(`${ingress}/path`, { headers, validateStatus: () => true })).data;
      const lanes = new Set(hops.map(laneOf).filter((lane) => lane !== undefined));
      if (lanes.size !== 1 || hops.length !== 5) mixed++;
      if (hops.some((hop) => hop.startsWith('accounts ') && hop.endsWith('/baggage'))) viaBaggage++;
      const path = hops.map(shown).join(' -> ');
      const key = `${kind}|${path}`;
      const row = paths.get(key) ?? { kind, path, count: 0 };
      row.count++;
      paths.set(key, row);
    }
    const rows = [...paths.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.path.localeCompare(b.path));
    const width = Math.max(36, ...rows.map((row) => row.path.length));
    console.log(`${'request'.padEnd(20)}  ${'path'.padEnd(width)}  calls`);
    for (const row of rows) console.log(`${row.kind.padEnd(20)}  ${row.path.padEnd(width)}  ${row.count}`);
    const bucketed = rows.filter((row) => row.kind === 'x-user-id bucket');
    const grayBucketed = bucketed.filter((row) => row.path.includes('v2')).reduce((sum, row) => sum + row.count, 0);
    const totalBucketed = bucketed.reduce((sum, row) => sum + row.count, 0);
    console.log(`\n${CALLS} requests, ${mixed} mixed lanes; bucketed users in gray: ${grayBucketed}/${totalBucketed} (ratio ${RATIO})`);
    console.log(`the lane crossed the gate (no graykit, baggage only) on baggage: ${viaBaggage}/${CALLS}`);
    if (mixed > 0 || viaBaggage !== CALLS) process.exitCode = 1;
  } finally {
    admin.close();
    operator.close();
    for (const close of closers) await close();
    // Together: each registered server deregisters, then drains for its drainMs before it closes.
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

main().catch((error: unknown) => {
  console.error(`chain demo failed: ${(error as Error).stack ?? error}`);
  process.exitCode = 1;
});
