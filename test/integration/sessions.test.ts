/**
 * One ZooKeeper session per process role, counted by the server (the four-letter word `cons`), not by reading the
 * code: a console with its writes, a consumer, a provider. Each test counts the sessions of this process that are
 * new since it started, once the role has done what would open a second session (the console: a write).
 */
import { request as httpRequest } from 'node:http';
import { createConsole, createConsumer, silentLogger } from '../../src';
import { eventually, startProvider, testZk, uniqueRoot } from '../support/helpers';
import { ownSessions } from '../support/zk-sessions';

/** The sessions this process holds now that it did not hold in `before`. */
async function newSessions(before: ReadonlySet<string>): Promise<string[]> {
  return [...(await ownSessions())].filter((sid) => !before.has(sid));
}

function post(port: number, path: string, token: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = { host: `127.0.0.1:${port}`, 'content-type': 'application/json', 'x-graykit-token': token };
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('one ZooKeeper session per process role (counted with cons)', () => {
  test('a console holds exactly one session, for its model and its writes', async () => {
    const before = await ownSessions();
    const grayConsole = createConsole({ zk: testZk(), root: uniqueRoot(), logger: silentLogger });
    try {
      const { port } = await grayConsole.listen(0, '127.0.0.1');
      // A write: an admin with a session of its own would have opened and connected it by the time it answers.
      await eventually(async () => expect(await post(port, '/api/services/demo/ratio', grayConsole.token as string, { ratio: 10, expectedVersion: -1 })).toBe(200));
      expect(await newSessions(before)).toHaveLength(1);
    } finally {
      await grayConsole.close();
    }
    await eventually(async () => expect(await newSessions(before)).toHaveLength(0));
  });

  test('a consumer holds exactly one session', async () => {
    const root = uniqueRoot();
    const provider = await startProvider({ root, service: 'demo' });
    const before = await ownSessions();
    const consumer = createConsumer({ zk: testZk(), root, logger: silentLogger });
    try {
      await consumer.resolve('demo');
      expect(await newSessions(before)).toHaveLength(1);
    } finally {
      consumer.close();
      await provider.close();
    }
    await eventually(async () => expect(await newSessions(before)).toHaveLength(0));
  });

  test('a provider holds exactly one session', async () => {
    const before = await ownSessions();
    const provider = await startProvider({ root: uniqueRoot(), service: 'demo' });
    try {
      expect(await newSessions(before)).toHaveLength(1);
    } finally {
      await provider.close();
    }
    await eventually(async () => expect(await newSessions(before)).toHaveLength(0));
  });
});
