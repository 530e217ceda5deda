// A consumer only (no express installed): calls `http://greeter/...` and `http://catalog/...` through graykit and
// checks where each call went. Exits 0 when every check passes.
//
//   npm run build && ZK_CONNECT=127.0.0.1:2181 npm start
import axios from 'axios';
import { grayDispatcher, grayRoute, useGray, type GrayRequestConfig, type Lane } from 'graykit';
// A subpath, resolved here by TypeScript's node10 resolution (module commonjs), which ignores `exports`.
import { DEFAULT_ROOT, instancePath } from 'graykit/layout';

interface Hello { service: string; version: string; app: string }
interface Chain { greeter: string; lane: Lane; catalog: { version: string; laneHeader: string | null } }

const failures: string[] = [];
function check(what: string, ok: boolean, detail: unknown): void {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}: ${JSON.stringify(detail)}`);
  if (!ok) failures.push(what);
}

async function main(): Promise<void> {
  // useGray on an instance: routing, outcome reporting and failover.
  const http = axios.create({ timeout: 5000 });
  const installed = useGray(http, { services: ['greeter', 'catalog'], ratio: 0 });

  for (let i = 0; i < 4; i++) {
    const res = await http.get<Hello>('http://greeter/hello');
    const routed: GrayRequestConfig | undefined = res.config.gray;
    check(`ratio 0 -> normal greeter (${i})`, res.data.version === 'v1' && routed?.lane === 'normal', { data: res.data, lane: routed?.lane });
  }
  for (let i = 0; i < 4; i++) {
    const res = await http.get<Hello>('http://greeter/hello', { gray: { lane: 'gray' } });
    check(`pinned gray -> greeter v2 (${i})`, res.data.version === 'v2' && res.config.gray?.instance?.gray === true, res.data);
  }
  const grayChain = await http.get<Chain>('http://greeter/chain', { gray: { lane: 'gray' } });
  check('gray chain stays gray (greeter v2 -> catalog v2)', grayChain.data.greeter === 'v2' && grayChain.data.catalog.version === 'v2' && grayChain.data.catalog.laneHeader === 'gray', grayChain.data);
  const normalChain = await http.get<Chain>('http://greeter/chain', { gray: { lane: 'normal' } });
  check('normal chain stays normal (greeter v1 -> catalog v1)', normalChain.data.greeter === 'v1' && normalChain.data.catalog.version === 'v1', normalChain.data);

  // grayRoute on the default axios instance, as in the README.
  const route = grayRoute({ services: ['catalog'], ratio: 100 });
  const id = axios.interceptors.request.use(route);
  const res = await axios.get('http://catalog/items');
  check('grayRoute on axios, ratio 100 -> catalog v2', res.config.gray?.lane === 'gray' && res.config.gray.instance?.version === 'v2', res.config.gray?.instance);
  const routed = res.config.gray?.instance;
  const expectedPath = routed && instancePath(process.env.GRAYKIT_ROOT ?? DEFAULT_ROOT, 'catalog', routed.id);
  check('graykit/layout names the routed instance\'s znode', routed?.path === expectedPath, { path: routed?.path, expectedPath });
  axios.interceptors.request.eject(id);
  route.close();

  // Node's built-in fetch, routed the same way: a dispatcher per call (the caller's own lane header pins the lane).
  const dispatcher = grayDispatcher({ services: ['catalog'], ratio: 0 });
  const normal = (await (await fetch('http://catalog/items', { dispatcher })).json()) as { version: string; laneHeader: string | null };
  check('fetch + grayDispatcher, ratio 0 -> catalog v1', normal.version === 'v1' && normal.laneHeader === 'normal', normal);
  const pinned = (await (await fetch('http://catalog/items', { dispatcher, headers: { 'x-gray-lane': 'gray' } })).json()) as { version: string; laneHeader: string | null };
  check('fetch + grayDispatcher, pinned gray -> catalog v2', pinned.version === 'v2' && pinned.laneHeader === 'gray', pinned);
  await dispatcher.close();
  installed.close();
}

main().then(
  () => {
    console.log(failures.length === 0 ? 'CONSUMER PASSED' : `CONSUMER FAILED: ${failures.join('; ')}`);
    process.exitCode = failures.length === 0 ? 0 : 1;
  },
  (error: unknown) => {
    console.error('CONSUMER ERROR', error);
    process.exitCode = 1;
  },
);
