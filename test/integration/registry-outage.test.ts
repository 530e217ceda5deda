/**
 * ZooKeeper outages as a consumer lives them: a lost connection keeps the snapshot and routing goes on;
 * after reconnecting, changes are seen again. And a multi-host connect string works. Real ZooKeeper (a private one
 * for the outage, since this test stops it), real providers and real axios.
 */
import axios from 'axios';
import { silentLogger, useGray } from '../../src';
import { StandaloneZooKeeper } from '../faults/zookeeper';
import { closedPort, eventually, startProvider, testZk, uniqueRoot } from '../support/helpers';

interface VersionBody {
  version: string;
  port: number;
}

describe('registry outages (real ZooKeeper)', () => {
  test('while ZooKeeper is down the consumer routes from its last snapshot; once it is back, changes flow again', async () => {
    const zk = new StandaloneZooKeeper();
    const root = uniqueRoot();
    const connect = await zk.start();
    const provider = await startProvider({ zk: connect, root, service: 'demo', version: 'v1' });
    const http = axios.create();
    const gray = useGray(http, { zk: connect, root, services: ['demo'], logger: silentLogger });
    try {
      await eventually(() => expect(gray.consumer.snapshot('demo')?.instances).toHaveLength(1));
      await zk.stop();
      await eventually(() => expect(gray.consumer.connected).toBe(false));
      for (let i = 0; i < 50; i++) expect((await http.get<VersionBody>('http://demo/version')).data.port).toBe(provider.port);
      expect(gray.consumer.snapshot('demo')?.instances.map((instance) => instance.version)).toEqual(['v1']);

      await zk.start(); // same port, same data
      await eventually(() => expect(gray.consumer.connected).toBe(true), 20_000);
      await eventually(() => provider.registration.update({ version: 'v2' }), 20_000, 100);
      await eventually(() => expect(gray.consumer.snapshot('demo')?.instances.map((instance) => instance.version)).toEqual(['v2']), 20_000);
    } finally {
      gray.close();
      await provider.close();
      await zk.destroy();
    }
  });

  test('a multi-host connect string works, whichever of its hosts is down', async () => {
    const root = uniqueRoot();
    const ensembleLike = `127.0.0.1:${await closedPort()},${testZk()}`;
    const provider = await startProvider({ zk: ensembleLike, root, service: 'demo', version: 'v1' });
    const http = axios.create();
    const gray = useGray(http, { zk: ensembleLike, root, services: ['demo'], logger: silentLogger });
    try {
      expect((await http.get<VersionBody>('http://demo/version')).data.port).toBe(provider.port);
    } finally {
      gray.close();
      await provider.close();
    }
  });
});
