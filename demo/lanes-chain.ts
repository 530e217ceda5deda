/**
 * The chain of `npm run demo:lanes` (demo/lanes.ts), apart so that its integration test drives the very same chain:
 *
 *   ingress (grayContext; axios + grayRoute)
 *     -> edge   (base v1; calls orders with axios + grayRoute)
 *     -> orders (base v1, and one instance of the preview lane pr-42; calls users with Node's fetch + grayDispatcher
 *                writing baggage only: the users hop reads the lane from `baggage` alone)
 *     -> users  (base v1, and one instance of the lane canary)
 *
 * Shares: canary at 10 % on edge (where a request's lane is decided, at its first routed call) and on users; users
 * are bucketed by x-user-id, so a user is in canary on every request or on none. A request with `x-gray-lane: pr-42`
 * reaches orders@pr-42 and base everywhere else, since only orders has that lane.
 */
import type { AddressInfo, Server } from 'node:net';
import axios from 'axios';
import express from 'express';
import { createAdmin, grayContext, grayDispatcher, grayRegister, grayRoute, silentLogger, type GrayAdmin } from '../src';
import { bucketLaneOf } from '../src/router/lane-policy';
import { laneSplit } from '../src/router/shares';

const HOST = '127.0.0.1';
export const CANARY_SHARE = 10;

export interface LaneChainOptions {
  root: string;
  /** ZooKeeper connect string. Default: env ZK_CONNECT. */
  zk?: string;
  /** Where each instance's start is said. Default: nothing. */
  log?: (line: string) => void;
}

/** One request's kind, and what it was served by, hop by hop (`edge v1`, `orders pr-42`, ...). */
export interface Served {
  kind: string;
  hops: string[];
  /** Whether every hop served the request in the lane it should have. */
  onLane: boolean;
}

export interface LaneChain {
  /** Sends one request of kind i % 3 (pr-42 header, bucketed user, nothing) and checks where it went. */
  request(i: number): Promise<Served>;
  close(): Promise<void>;
}

export async function startLaneChain(options: LaneChainOptions): Promise<LaneChain> {
  const { root } = options;
  const zk = options.zk ?? process.env.ZK_CONNECT;
  const log = options.log ?? (() => undefined);
  const servers: Server[] = [];
  const closers: Array<() => unknown> = [];
  const common = { zk, root, logger: silentLogger };

  async function listen(app: express.Express): Promise<number> {
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, HOST, () => resolve(s));
    });
    servers.push(server);
    return (server.address() as AddressInfo).port;
  }

  /** An instance of `service` in `lane` (undefined: base) whose GET /path answers `[its hop, ...next's hops]`. */
  async function instance(service: string, lane: string | undefined, next?: { service: string; client: 'axios' | 'fetch' }): Promise<void> {
    const app = express();
    const register = grayRegister({ ...common, service, version: lane ?? 'v1', lane, host: HOST, drainMs: 0 });
    app.use(register);
    let call: (() => Promise<string[]>) | undefined;
    if (next?.client === 'axios') {
      const route = grayRoute({ ...common, hashBy: 'x-user-id' });
      closers.push(() => route.close());
      const client = axios.create();
      client.interceptors.request.use(route);
      call = async () => (await client.get<string[]>(`http://${next.service}/path`)).data;
    } else if (next?.client === 'fetch') {
      const dispatcher = grayDispatcher({ ...common, hashBy: 'x-user-id', propagation: 'baggage' });
      closers.push(() => dispatcher.close());
      call = async () => {
        const response = await fetch(`http://${next.service}/path`, { dispatcher });
        if (!response.ok) throw new Error(`HTTP ${response.status} ${await response.text()}`);
        return (await response.json()) as string[];
      };
    }
    app.get('/path', async (req, res) => {
      try {
        // The last hop says how the lane reached it: by baggage alone, as the fetch hop before it writes it.
        const heard = call ? '' : req.headers['x-gray-lane'] !== undefined ? ' [x-gray-lane!]' : req.headers.baggage ? ' [baggage]' : ' [no lane]';
        res.json([`${service} ${lane ?? 'v1'}${heard}`, ...(call ? await call() : [])]);
      } catch (error) {
        res.status(502).json([`${service}: ${(error as Error).message}`]);
      }
    });
    const port = await listen(app);
    await register.registration.whenRegistered();
    log(`  ${service.padEnd(7)} ${(lane ?? 'base v1').padEnd(8)} on ${HOST}:${port}${next ? `, calls ${next.service} with ${next.client === 'axios' ? 'axios + grayRoute' : 'fetch + grayDispatcher (baggage only)'}` : ''}`);
  }

  const admin: GrayAdmin = createAdmin(common);
  closers.push(() => admin.close());
  try {
    await instance('users', undefined);
    await instance('users', 'canary');
    await instance('orders', undefined, { service: 'users', client: 'fetch' });
    await instance('orders', 'pr-42', { service: 'users', client: 'fetch' });
    await instance('edge', undefined, { service: 'orders', client: 'axios' });
    for (const service of ['edge', 'users']) await admin.setShare(service, 'canary', CANARY_SHARE);
    log(`  shares: canary ${CANARY_SHARE} % on edge and users; users bucketed by x-user-id`);

    const ingress = express();
    ingress.use(grayContext());
    const route = grayRoute({ ...common, hashBy: 'x-user-id' });
    closers.push(() => route.close());
    const client = axios.create();
    client.interceptors.request.use(route);
    ingress.get('/path', async (_req, res) => {
      try {
        res.json((await client.get<string[]>('http://edge/path')).data);
      } catch (error) {
        res.status(502).json([`ingress: ${(error as Error).message}`]);
      }
    });
    const base = `http://${HOST}:${await listen(ingress)}`;
    log(`  ingress on ${base}`);
    const canaryUsers = laneSplit(0, { canary: CANARY_SHARE });
    const plain = axios.create({ validateStatus: () => true });

    return {
      async request(i: number): Promise<Served> {
        const kind = ['x-gray-lane: pr-42', 'x-user-id bucket', 'no lane (drawn)'][i % 3];
        const user = `user-${i}`;
        const headers = i % 3 === 0 ? { 'x-gray-lane': 'pr-42' } : i % 3 === 1 ? { 'x-user-id': user } : {};
        const hops = (await plain.get<string[]>(`${base}/path`, { headers })).data;
        const users = i % 3 === 1 ? (bucketLaneOf(user, canaryUsers) === 'canary' ? 'canary' : 'v1') : undefined;
        const want =
          i % 3 === 0
            ? [['edge v1'], ['orders pr-42'], ['users v1 [baggage]']]
            : i % 3 === 1
              ? [['edge v1'], ['orders v1'], [`users ${users} [baggage]`]]
              : [['edge v1'], ['orders v1'], ['users v1 [baggage]', 'users canary [baggage]']];
        const onLane = hops.length === 3 && want.every((allowed, hop) => allowed.includes(hops[hop]));
        return { kind, hops, onLane };
      },
      async close() {
        for (const close of closers) await close();
        await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
      },
    };
  } catch (error) {
    for (const close of closers) await close();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    throw error;
  }
}
