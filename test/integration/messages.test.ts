/**
 * The lane across a message broker: a real Redis server (Debian's redis-server, started here on a free loopback
 * port, stopped by its pid) carries Redis Streams entries whose fields are the message's headers. An HTTP request in
 * the gray lane produces a message with `injectLane`; a worker reads it, restores the lane with `extractLane` and
 * `runInLane`, and its own routed call goes to the gray version. Kafka cannot run on these machines; the same two
 * functions are tested on kafkajs's record shape in test/unit/propagation.test.ts.
 */
import axios from 'axios';
import express from 'express';
import { createClient } from 'redis';
import { startChild, type Child } from '../../scripts/children';
import { currentLane, extractLane, grayContext, grayRoute, injectLane, runInLane, silentLogger, type Lane } from '../../src';
import { closedPort, closeServer, eventually, listen, startProvider, testZk, uniqueRoot, type TestProvider } from '../support/helpers';

describe('lanes across Redis Streams (a real redis-server)', () => {
  let redisServer: Child;
  let redis: ReturnType<typeof createClient>;
  let providers: TestProvider[];
  const root = uniqueRoot();

  beforeAll(async () => {
    const port = await closedPort();
    redisServer = startChild({
      name: 'redis-server',
      command: { file: 'redis-server', args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'] },
      ipc: false,
    });
    await redisServer.waitUntil(() => (redisServer.lines.some((line) => line.includes('Ready to accept connections')) ? true : undefined), 'readiness', 15_000);
    redis = createClient({ socket: { host: '127.0.0.1', port } });
    redis.on('error', () => undefined); // a stopped server at teardown is not a test failure
    await redis.connect();
    providers = await Promise.all([
      startProvider({ root, service: 'svc', gray: true, version: 'v2' }),
      startProvider({ root, service: 'svc', gray: false, version: 'v1' }),
      startProvider({ root, service: 'svc', lane: 'pr-42', version: 'v-pr' }),
    ]);
  }, 30_000);

  afterAll(async () => {
    await redis?.quit().catch(() => undefined);
    await redisServer?.stop();
    for (const provider of providers ?? []) await provider.close();
  });

  test('60 messages produced in their requests\' lanes (gray, normal, the named lane pr-42) are consumed in the same lanes: 0 crossed; a hostile lane field is no lane', async () => {
    // The producer: an HTTP service whose request lane goes into the message's headers.
    const producer = express();
    producer.use(grayContext());
    producer.post('/orders/:n', async (req, res) => {
      const headers = injectLane({}, currentLane() ?? 'normal') as Record<string, string>;
      await redis.xAdd('orders', '*', { ...headers, order: req.params.n });
      res.sendStatus(202);
    });
    const { server, base } = await listen(producer);
    const route = grayRoute({ zk: testZk(), root, logger: silentLogger, ratio: 0 });
    const worker = axios.create();
    worker.interceptors.request.use(route);
    try {
      const sent = new Map<string, Lane>();
      for (let n = 0; n < 60; n++) {
        const lane: Lane = ['gray', 'normal', 'pr-42'][n % 3];
        sent.set(String(n), lane);
        expect((await axios.post(`${base}/orders/${n}`, undefined, { headers: { 'x-gray-lane': lane } })).status).toBe(202);
      }
      await redis.xAdd('orders', '*', { 'x-gray-lane': 'PR_42\u0000', baggage: 'gray.lane=../x', order: 'hostile' });
      // The worker: each message handled in the lane its headers carry; its call to `svc` is routed in it.
      const handled = new Map<string, { lane?: Lane; version: string }>();
      let last = '0';
      await eventually(async () => {
        const batches = await redis.xRead({ key: 'orders', id: last }, { COUNT: 100 });
        for (const batch of (batches as Array<{ messages: Array<{ id: string; message: Record<string, string> }> }> | null) ?? []) {
          for (const { id, message } of batch.messages) {
            last = id;
            const lane = extractLane(message);
            const version = await runInLane(lane ?? 'normal', async () => (await worker.get<{ version: string }>('http://svc/version')).data.version);
            handled.set(message.order, { lane, version });
          }
        }
        expect(handled.size).toBe(61);
      }, 15_000);
      const versionOf: Record<Lane, string> = { gray: 'v2', normal: 'v1', 'pr-42': 'v-pr' };
      const crossed = [...sent].filter(([order, lane]) => handled.get(order)?.lane !== lane || handled.get(order)?.version !== versionOf[lane]);
      expect(crossed).toEqual([]);
      // Written by someone else, not by injectLane: a lane that is not a lane name is no lane; the worker runs it in base.
      expect(handled.get('hostile')).toEqual({ lane: undefined, version: 'v1' });
    } finally {
      route.close();
      await closeServer(server);
    }
  }, 60_000);
});
