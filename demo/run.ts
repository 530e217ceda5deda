/**
 * `npm run demo`: the gray-release walk-through, end to end on 127.0.0.1, against the ZooKeeper in ZK_CONNECT
 * (scripts/with-zookeeper.sh starts a throwaway one).
 *
 *   1. three formal v1 providers                        -> every call answered by v1, on all three
 *   2. 8081 restarted as v2 gray, config ratio 33       -> about a third of the calls on v2
 *   3. config ratio 100                                 -> every call on the gray v2
 *   4. 8081 flipped to formal live, ratio back to 0     -> every instance formal, traffic on all three
 *
 * Every change is followed by polling the consumer's GET /routing until it shows the change (bounded), never by
 * a sleep. Each step's outcome is checked; a surprise ends the demo with exit code 1. The demo stops every process
 * it started, also on failure and on Ctrl-C.
 *
 * Environment: DEMO_CALLS (calls per step, default 300), DEMO_BASE_PORT (consumer port, providers on the next three;
 * default 8080), GRAYKIT_SERVICE (default demo), ZK_CONNECT, GRAYKIT_ROOT.
 */
import { createServer } from 'node:net';
import { ServiceConfigAdmin } from './admin';
import { ChildProcesses, describeExit, type DemoChild } from './children';
import { LocalJsonClient } from './http';
import { formatTable, percent, tally, type CallResult, type TallyRow } from './report';

const service = process.env.GRAYKIT_SERVICE ?? 'demo';
const callsPerStep = positiveInteger('DEMO_CALLS', 300);
const consumerPort = positiveInteger('DEMO_BASE_PORT', 8080);
const providerPorts = [consumerPort + 1, consumerPort + 2, consumerPort + 3];
const [grayPort] = providerPorts;
const HOST = '127.0.0.1';
const ROUTING_DEADLINE_MS = 15_000;
const POLL_INTERVAL_MS = 50;

interface RoutingView {
  service: string;
  ratio: number;
  instances: { id: string; version?: string; gray: boolean; weight: number }[];
}

/** What the consumer's routing must show before a step sends traffic. */
interface ExpectedRouting {
  ratio: number;
  /** Port -> version and flag of every instance that must be registered, and of no other. */
  instances: Record<number, { version: string; gray: boolean }>;
}

class DemoFailure extends Error {}

const children = new ChildProcesses();
const providers = new Map<number, DemoChild>();
const client = new LocalJsonClient();
const admin = new ServiceConfigAdmin(service);
let interrupted = false;

function positiveInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new DemoFailure(`${name} must be a positive whole number, got ${JSON.stringify(text)}`);
  return value;
}

function heading(text: string): void {
  console.log(`\n=== ${text} ===`);
}

function check(condition: boolean, failure: string): void {
  if (!condition) throw new DemoFailure(failure);
}

// ---- processes ----------------------------------------------------------------------------------------------------

/** Fails before starting anything when a demo port is taken, rather than halfway through with a confusing error. */
async function assertPortFree(port: number): Promise<void> {
  const free = await new Promise<boolean>((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, HOST, () => probe.close(() => resolve(true)));
  });
  if (!free) {
    throw new DemoFailure(
      `port ${port} on ${HOST} is already in use. The demo needs ${consumerPort}-${consumerPort + 3}: stop whatever listens there, ` +
        `or shift the demo's ports with DEMO_BASE_PORT (e.g. DEMO_BASE_PORT=9080 npm run demo).`,
    );
  }
}

/** Environment every child shares: the service, and loopback only. */
function childEnv(port: number): Record<string, string> {
  return { GRAYKIT_SERVICE: service, PORT: String(port), LISTEN_HOST: HOST, GRAYKIT_HOST: HOST };
}

function startProvider(port: number, version: string, gray: boolean): void {
  const env = { ...childEnv(port), APP_VERSION: version, GRAY: String(gray) };
  providers.set(port, children.start(`provider ${port}`, 'demo/provider.ts', env));
}

async function stopProvider(port: number): Promise<void> {
  const provider = providers.get(port);
  if (!provider) return;
  const started = Date.now();
  const status = await children.stop(provider);
  providers.delete(port);
  console.log(`provider ${port} ${describeExit(status)} after ${Date.now() - started} ms`);
  check(status.signal === 'SIGTERM' || status.code === 0, `provider ${port} did not exit cleanly on SIGTERM (${describeExit(status)})`);
}

// ---- waiting for the consumer to see a change ---------------------------------------------------------------------

async function fetchRouting(): Promise<RoutingView | undefined> {
  try {
    return (await client.get<RoutingView>(consumerPort, '/routing')).body;
  } catch {
    return undefined; // not listening yet
  }
}

function routingMatches(view: RoutingView, expected: ExpectedRouting): boolean {
  if (view.ratio !== expected.ratio) return false;
  const wanted = Object.entries(expected.instances);
  if (view.instances.length !== wanted.length) return false;
  return wanted.every(([port, { version, gray }]) =>
    view.instances.some((instance) => instance.id === `${HOST}:${port}` && instance.version === version && instance.gray === gray),
  );
}

function describeRouting(view: RoutingView | undefined): string {
  if (!view) return 'the consumer never answered GET /routing';
  const instances = view.instances.map((i) => `${i.id} ${i.version ?? '-'}${i.gray ? ' gray' : ''}`).join(', ');
  return `ratio ${view.ratio}, instances [${instances}]`;
}

/** Polls the consumer until its routing shows `expected`; fails after a deadline with what it saw last. */
async function waitForRouting(expected: ExpectedRouting): Promise<void> {
  const started = Date.now();
  let last: RoutingView | undefined;
  while (Date.now() - started < ROUTING_DEADLINE_MS) {
    children.assertAlive();
    last = await fetchRouting();
    if (last && routingMatches(last, expected)) {
      console.log(`consumer routing after ${Date.now() - started} ms: ${describeRouting(last)}`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  throw new DemoFailure(`the consumer's routing did not reach the expected state within ${ROUTING_DEADLINE_MS} ms; last seen: ${describeRouting(last)}`);
}

function formalV1(...ports: number[]): ExpectedRouting['instances'] {
  return Object.fromEntries(ports.map((port) => [port, { version: 'v1', gray: false }]));
}

// ---- traffic ------------------------------------------------------------------------------------------------------

/** Sends the step's calls one after another (round-robin stays exact) and prints the table. */
async function sendCalls(): Promise<TallyRow[]> {
  const results: CallResult[] = [];
  for (let i = 0; i < callsPerStep; i++) {
    const { status, body } = await client.get<CallResult & { error?: string }>(consumerPort, '/call');
    if (status !== 200) throw new DemoFailure(`GET /call answered HTTP ${status}: ${body.error ?? JSON.stringify(body)}`);
    results.push(body);
  }
  const rows = tally(results);
  console.log(`${callsPerStep} calls to GET http://${HOST}:${consumerPort}/call:\n`);
  console.log(formatTable(rows));
  console.log('');
  return rows;
}

const callsOn = (rows: readonly TallyRow[], match: (row: TallyRow) => boolean) =>
  rows.filter(match).reduce((sum, row) => sum + row.calls, 0);
const portsWithTraffic = (rows: readonly TallyRow[]) => new Set(rows.map((row) => row.port));

// ---- the steps ----------------------------------------------------------------------------------------------------

async function stepAllFormal(): Promise<void> {
  heading(`Step 1: three formal v1 providers (${providerPorts.join(', ')}), no gray instance`);
  for (const port of providerPorts) startProvider(port, 'v1', false);
  children.start('consumer', 'demo/consumer.ts', childEnv(consumerPort));
  await waitForRouting({ ratio: 0, instances: formalV1(...providerPorts) });
  const rows = await sendCalls();
  check(rows.every((row) => row.version === 'v1' && !row.gray), 'a call reached something other than a formal v1 instance');
  check(portsWithTraffic(rows).size === Math.min(3, callsPerStep), 'the calls did not spread over all three instances');
  console.log('as expected: all calls on v1, spread over the three instances');
}

async function stepGrayRatio33(): Promise<void> {
  heading(`Step 2: restart ${grayPort} as v2 gray, set ratio 33 in ${admin.configPath}`);
  await stopProvider(grayPort);
  await waitForRouting({ ratio: 0, instances: formalV1(...providerPorts.slice(1)) });
  startProvider(grayPort, 'v2', true);
  await waitForRouting({ ratio: 0, instances: { ...formalV1(...providerPorts.slice(1)), [grayPort]: { version: 'v2', gray: true } } });
  await admin.setRatio(33);
  console.log(`wrote {"ratio":33} to ${admin.configPath}`);
  await waitForRouting({ ratio: 33, instances: { ...formalV1(...providerPorts.slice(1)), [grayPort]: { version: 'v2', gray: true } } });
  const rows = await sendCalls();
  const v2Calls = callsOn(rows, (row) => row.version === 'v2');
  // Each call goes gray with probability 0.33: allow four standard deviations either side.
  const spread = 4 * Math.sqrt((0.33 * 0.67) / callsPerStep);
  const [low, high] = [Math.max(0, 0.33 - spread), Math.min(1, 0.33 + spread)];
  console.log(`measured v2 share: ${percent(v2Calls, callsPerStep)} (ratio 33; expected between ${percent(low, 1)} and ${percent(high, 1)} for ${callsPerStep} calls)`);
  check(rows.every((row) => (row.version === 'v2') === (row.port === grayPort && row.gray)), `v2 answered from somewhere other than the gray ${grayPort}`);
  check(v2Calls / callsPerStep >= low && v2Calls / callsPerStep <= high, 'the v2 share is outside the expected range');
}

async function stepAllGray(): Promise<void> {
  heading('Step 3: ratio 100, every call to the gray lane');
  await admin.setRatio(100);
  console.log(`wrote {"ratio":100} to ${admin.configPath}`);
  await waitForRouting({ ratio: 100, instances: { ...formalV1(...providerPorts.slice(1)), [grayPort]: { version: 'v2', gray: true } } });
  const rows = await sendCalls();
  check(rows.length === 1 && rows[0].port === grayPort && rows[0].version === 'v2' && rows[0].gray, `not every call reached the gray v2 on ${grayPort}`);
  console.log(`as expected: all calls on the gray v2 (${grayPort})`);
}

async function stepAllFormalAgain(): Promise<void> {
  heading(`Step 4: mark ${grayPort} formal live (POST /admin/gray?value=false), ratio back to 0`);
  const { status, body } = await client.post<{ gray?: boolean; error?: string }>(grayPort, '/admin/gray?value=false');
  check(status === 200 && body.gray === false, `POST /admin/gray?value=false on ${grayPort} answered HTTP ${status}: ${JSON.stringify(body)}`);
  console.log(`provider ${grayPort} now reports gray=${body.gray}`);
  await admin.setRatio(0);
  console.log(`wrote {"ratio":0} to ${admin.configPath}`);
  await waitForRouting({ ratio: 0, instances: { ...formalV1(...providerPorts.slice(1)), [grayPort]: { version: 'v2', gray: false } } });
  const rows = await sendCalls();
  check(rows.every((row) => !row.gray), 'a call reached a gray instance');
  check(portsWithTraffic(rows).size === Math.min(3, callsPerStep), 'the calls did not spread over all three instances');
  console.log('as expected: every instance formal, traffic on all three (v2 now serves beside v1)');
}

// ---- main ---------------------------------------------------------------------------------------------------------

async function stopEverything(): Promise<void> {
  await children.stopAll();
  client.close();
  admin.close();
}

/** Ctrl-C or a TERM: stop the children first, then exit with the conventional code. */
function handleInterrupts(): void {
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${signal}: stopping the demo's processes`);
    void stopEverything().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

async function main(): Promise<void> {
  handleInterrupts();
  console.log(`graykit demo: service "${service}", ZooKeeper ${admin.connection.zk}, root ${admin.connection.root}, ${callsPerStep} calls per step`);
  console.log(`consumer on ${HOST}:${consumerPort}, providers on ${providerPorts.join(', ')}`);
  for (const port of [consumerPort, ...providerPorts]) await assertPortFree(port);
  await admin.connect();
  await admin.clearConfig();
  try {
    await stepAllFormal();
    await stepGrayRatio33();
    await stepAllGray();
    await stepAllFormalAgain();
    heading('Done: stopping the providers and the consumer');
  } finally {
    await stopEverything();
  }
  console.log('demo finished: every step behaved as expected');
}

main().catch((error: unknown) => {
  if (interrupted) return; // the signal handler reports and exits
  const message = error instanceof DemoFailure ? error.message : ((error as Error).stack ?? String(error));
  console.error(`\ndemo failed: ${message}`);
  process.exitCode = 1;
});
