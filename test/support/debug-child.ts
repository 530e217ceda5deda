/**
 * A consumer that routes two calls and exits, for the debug-channel test: run with NODE_DEBUG=graykit, it prints
 * graykit's registry events and routing decisions on stderr (Node's util.debuglog convention).
 */
import axios from 'axios';
import { grayRoute } from '../../src';

async function main(): Promise<void> {
  const route = grayRoute({ zk: process.env.ZK_CONNECT, root: process.env.GRAYKIT_ROOT, services: ['demo'] });
  const client = axios.create();
  client.interceptors.request.use(route);
  await client.get('http://demo/version');
  await client.get('http://demo/version', { gray: { lane: 'gray' } });
  route.close();
}

main().then(
  () => process.stdout.write('DONE {}\n'),
  (error: Error) => {
    process.stderr.write(`${error.stack}\n`);
    process.exitCode = 1;
  },
);
