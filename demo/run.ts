/**
 * `npm run demo`: the gray-release walk-through, end to end on 127.0.0.1, against the ZooKeeper in ZK_CONNECT
 * (scripts/with-zookeeper.sh starts a throwaway one).
 *
 *   1. three formal v1 providers                        -> every call answered by v1, on all three
 *   2. 8081 restarted as v2 gray, config ratio 33       -> about a third of the calls on v2 (the canary)
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
import { ChildGroup, describeExit, type Child, type ExitStatus } from '../scripts/children';
import { LocalJsonClient } from './http';
import { formatTable, percent, tally, type CallResult, type TallyRow } from './report';

/** Reads a whole-number setting; a bad one stops the demo before it starts anything. */
function integerEnv(name: string, fallback: number, min: number, max: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (Number.isInteger(value) && value >= min && value <= max) return value;
  console.error(`demo: ${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  process.exit(2);
}

const service = process.env.GRAYKIT_SERVICE ?? 'demo';
const callsPerStep = integerEnv('DEMO_CALLS', 300, 1, 1_000_000);
/** The consumer's port; the providers take the next three. */
const consumerPort = integerEnv('DEMO_BASE_PORT', 8080, 1024, 65532);
const providerPorts = [consumerPort + 1, consumerPort + 2, consumerPort + 3];
/** The provider that goes gray; the other two stay formal v1 throughout. */
const [grayPort, ...formalPorts] = providerPorts;
const HOST = '127.0.0.1';
const ROUTING_DEADLINE_MS = 15_000;
const POLL_INTERVAL_MS = 50;
/** The canary's share of traffic in step 2, percent. */
const CANARY_RATIO = 33;

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

const children = new ChildGroup();
const providers = new Map<number, Child>();
const client = new LocalJsonClient();
const admin = new ServiceConfigAdmin(service);
let interrupted = false;

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

/** How the demo's servers end when asked: by the re-raised SIGTERM (graykit's handleSignals), or with code 0. */
function isCleanExit({ code, signal }: ExitStatus): boolean {
  return signal === 'SIGTERM' || code === 0;
}

/**
 * A demo process: its output shown with its name in front, in a process group of its own so that a Ctrl-C in the
 * terminal reaches only the demo, which then stops its children in order.
 */
function startDemoChild(name: string, script: string, env: Record<string, string>): Child {
  return children.start({ name, script, env, ipc: false, detached: true, relay: { stdout: true, stderr: true } });
}

function startProvider(port: number, version: string, gray: boolean): void {
  const env = { ...childEnv(port), APP_VERSION: version, GRAY: String(gray) };
  providers.set(port, startDemoChild(`provider ${port}`, 'demo/provider.ts', env));
}

async function stopProvider(port: number): Promise<void> {
  const provider = providers.get(port);
  if (!provider) return;
  const started = Date.now();
  const status = await children.stop(provider);
  providers.delete(port);
  console.log(`provider ${port} ${describeExit(status)} after ${Date.now() - started} ms`);
  check(isCleanExit(status), `provider ${port} did not exit cleanly on SIGTERM (${describeExit(status)})`);
}

async function connectAdmin(): Promise<void> {
  try {
    await admin.connect();
  } catch (error) {
    throw new DemoFailure(`cannot reach ZooKeeper at ${admin.connection.zk} (${(error as Error).message}); unset ZK_CONNECT and npm run demo starts a throwaway one`);
  }
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

/** The routing to wait for: the formal v1 providers, plus the gray port's provider when `grayPortRuns` says how. */
function expectRouting(ratio: number, grayPortRuns?: { version: string; gray: boolean }): ExpectedRouting {
  const instances: ExpectedRouting['instances'] = Object.fromEntries(formalPorts.map((port) => [port, { version: 'v1', gray: false }]));
  if (grayPortRuns) instances[grayPort] = grayPortRuns;
  return { ratio, instances };
}

// ---- traffic ------------------------------------------------------------------------------------------------------

/** Sends the step's calls one after another (round-robin stays exact) and prints the table. */
async function sendCalls(): Promise<TallyRow[]> {
  const results: CallResult[] = [];
  for (let i = 0; i < callsPerStep; i++) {
    const { status, body } = await client.get<CallResult & { error?: string }>(consumerPort, '/call');
    if (status !== 200) {
      children.assertAlive(); // a crashed provider is the better explanation, when there is one
      throw new DemoFailure(`GET /call answered HTTP ${status}: ${body.error ?? JSON.stringify(body)}`);
    }
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
  // Local ratio 0: nothing reaches a gray instance until the service's config znode says so.
  startDemoChild('consumer', 'demo/consumer.ts', { ...childEnv(consumerPort), GRAYKIT_RATIO: '0' });
  await waitForRouting(expectRouting(0, { version: 'v1', gray: false }));
  const rows = await sendCalls();
  check(rows.every((row) => row.version === 'v1' && !row.gray), 'a call reached something other than a formal v1 instance');
  check(portsWithTraffic(rows).size === Math.min(3, callsPerStep), 'the calls did not spread over all three instances');
  console.log('as expected: all calls on v1, spread over the three instances');
}

async function stepCanary(): Promise<void> {
  heading(`Step 2: restart ${grayPort} as v2 gray, set ratio ${CANARY_RATIO} in ${admin.configPath}`);
  await stopProvider(grayPort);
  await waitForRouting(expectRouting(0));
  startProvider(grayPort, 'v2', true);
  await waitForRouting(expectRouting(0, { version: 'v2', gray: true }));
  await admin.setRatio(CANARY_RATIO);
  console.log(`wrote {"ratio":${CANARY_RATIO}} to ${admin.configPath}`);
  await waitForRouting(expectRouting(CANARY_RATIO, { version: 'v2', gray: true }));
  const rows = await sendCalls();
  check(rows.every((row) => (row.version === 'v2') === (row.port === grayPort && row.gray)), `v2 answered from somewhere other than the gray ${grayPort}`);
  reportCanaryShare(callsOn(rows, (row) => row.version === 'v2'));
}

/** Prints the measured v2 share and checks it against the ratio, allowing four standard deviations either side. */
function reportCanaryShare(v2Calls: number): void {
  const p = CANARY_RATIO / 100;
  const spread = 4 * Math.sqrt((p * (1 - p)) / callsPerStep);
  const [low, high] = [Math.max(0, p - spread), Math.min(1, p + spread)];
  console.log(
    `measured v2 share: ${percent(v2Calls, callsPerStep)} (ratio ${CANARY_RATIO}; expected between ${percent(low, 1)} and ${percent(high, 1)} for ${callsPerStep} calls)`,
  );
  const share = v2Calls / callsPerStep;
  check(share >= low && share <= high, 'the v2 share is outside the expected range');
}

async function stepAllGray(): Promise<void> {
  heading('Step 3: ratio 100, every call to the gray lane');
  await admin.setRatio(100);
  console.log(`wrote {"ratio":100} to ${admin.configPath}`);
  await waitForRouting(expectRouting(100, { version: 'v2', gray: true }));
  const rows = await sendCalls();
  check(rows.length === 1 && rows[0].port === grayPort && rows[0].version === 'v2' && rows[0].gray, `not every call reached the gray v2 on ${grayPort}`);
  console.log(`as expected: all calls on the gray v2 (${grayPort})`);
}

async function stepAllFormalAgain(): Promise<void> {
  heading(`Step 4: promote with the admin API (what \`graykit promote ${service}\` does): gray instances formal, ratio 0`);
  const promoted = await admin.promote();
  check(promoted.length === 1 && promoted[0] === `${HOST}:${grayPort}`, `promote changed ${JSON.stringify(promoted)}, expected only ${HOST}:${grayPort}`);
  console.log(`promoted ${promoted.join(', ')}; \`graykit status ${service}\` now shows:\n`);
  console.log((await admin.statusText()).replace(/^/gm, '  '));
  await waitForRouting(expectRouting(0, { version: 'v2', gray: false }));
  const rows = await sendCalls();
  check(rows.every((row) => !row.gray), 'a call reached a gray instance');
  check(portsWithTraffic(rows).size === Math.min(3, callsPerStep), 'the calls did not spread over all three instances');
  console.log('as expected: every instance formal, traffic on all three (v2 now serves beside v1)');
}

// ---- main ---------------------------------------------------------------------------------------------------------

/** Stops the children and closes the runner's own connections; true when every child exited cleanly. */
async function stopEverything(): Promise<boolean> {
  const stopped = await children.stopAll();
  client.close();
  admin.close();
  for (const { name, status } of stopped) console.log(`${name} ${describeExit(status)}`);
  return stopped.every(({ status }) => isCleanExit(status));
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
  try {
    for (const port of [consumerPort, ...providerPorts]) await assertPortFree(port);
    await connectAdmin();
    await admin.reset(providerPorts.map((port) => `${HOST}:${port}`));
    await stepAllFormal();
    await stepCanary();
    await stepAllGray();
    await stepAllFormalAgain();
  } catch (error) {
    if (!interrupted) await stopEverything();
    throw error;
  }
  heading('Done: stopping the providers and the consumer');
  check(await stopEverything(), 'a process did not exit cleanly on SIGTERM');
  console.log('demo finished: every step behaved as expected');
}

main().catch((error: unknown) => {
  if (interrupted) return; // the signal handler reports and exits
  const message = error instanceof DemoFailure ? error.message : ((error as Error).stack ?? String(error));
  console.error(`\ndemo failed: ${message}`);
  process.exitCode = 1;
});
