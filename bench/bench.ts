/**
 * `runBench()`: every part of the benchmark in one run, against one ZooKeeper, under a root znode of its own
 * (deleted at the end). A part that fails is recorded with its error and the others still run: a benchmark
 * reports, it never fails a build.
 */
import { loadavg } from 'node:os';
import { grayRoute, type GrayRouteInterceptor } from '../src';
import type { ZkSession } from '../src/registry/zk-session';
import { startChild, type Child } from '../scripts/children';
import { ratioChanges, flagChanges, type ChangeSeries } from './change';
import type { BenchConfig } from './config';
import { runE2e, type E2eResult } from './e2e';
import { machineInfo, type MachineInfo } from './machine';
import { runClsMicro, runMicro, type MicroCaseResult, type MicroResult } from './micro';
import { findNginx, startNginx, type NginxProxy } from './nginx';
import type { ScaleResult } from './scale-child';
import { runSplit, type SplitResult } from './split';
import { evaluateTargets, type TargetRow } from './targets';
import { benchRoot, deleteTree, openAdmin, registerSynthetic, syntheticInstances, writeConfig } from './zk';

export const E2E_SERVICE = 'bench-e2e';
export const FLAG_SERVICE = 'bench-flag';

export type Part<T> = { ok: true; value: T; seconds: number } | { ok: false; error: string; seconds: number };

export interface BenchResults {
  schema: 'graykit-bench/1';
  startedAt: string;
  seconds: number;
  machine: MachineInfo;
  loadAverage: { start: number[]; end: number[] };
  command: string;
  config: BenchConfig;
  zookeeper: string;
  nginx: { path?: string; version?: string; skipped?: string };
  micro: Part<MicroResult & { cls?: MicroCaseResult }>;
  e2e: Part<E2eResult>;
  split: Part<SplitResult>;
  change: Part<{ ratio: ChangeSeries; flag: ChangeSeries }>;
  scale: Part<ScaleResult>;
  targets: TargetRow[];
  /** Set when the setup failed and no part ran. */
  setupError?: string;
  /** The benchmark consumer's last log lines (debug included) and session events. */
  consumerLog: string[];
}

export interface RunOptions {
  zk: string;
  command: string;
  log?: (line: string) => void;
}

async function part<T>(name: string, log: (line: string) => void, run: () => Promise<T> | T): Promise<Part<T>> {
  const start = Date.now();
  log(`== ${name}`);
  try {
    const value = await run();
    return { ok: true, value, seconds: (Date.now() - start) / 1000 };
  } catch (error) {
    const message = (error as Error).stack ?? String(error);
    log(`   ${name} failed: ${message}`);
    return { ok: false, error: message.split('\n').slice(0, 6).join('\n'), seconds: (Date.now() - start) / 1000 };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

export async function runBench(config: BenchConfig, options: RunOptions): Promise<BenchResults> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const startLoad = loadavg().map((n) => Math.round(n * 100) / 100);
  const zk = options.zk;
  const root = benchRoot();
  const nginxFound = findNginx(config.nginx);
  let admin: ZkSession | undefined;
  let providers: Child | undefined;
  let interceptor: GrayRouteInterceptor | undefined;
  let nginx: NginxProxy | undefined;
  const results: Partial<BenchResults> = {
    schema: 'graykit-bench/1',
    startedAt: new Date(started).toISOString(),
    machine: machineInfo(),
    command: options.command,
    config,
    zookeeper: zk,
    nginx: nginxFound.path ? { path: nginxFound.path } : { skipped: nginxFound.reason },
  };
  const consumerLog = ringLogger(200);
  const microServices = new Map(config.micro.sizes.map((size) => [size, `micro-${size}`]));
  let providerList: { port: number; gray: boolean }[] = [];

  try {
    // ---- setup: synthetic services, the providers, one consumer (grayRoute) over all of them ----
    const setup = await part('setup', log, async () => {
      admin = await openAdmin(zk);
      let subnet = 1;
      for (const [size, service] of microServices) {
        await registerSynthetic(admin, root, service, syntheticInstances(size, subnet++));
        await writeConfig(admin, root, service, { ratio: config.split.ratio });
      }
      await registerSynthetic(admin, root, FLAG_SERVICE, syntheticInstances(2, 99));
      await writeConfig(admin, root, E2E_SERVICE, { ratio: config.e2e.ratio });
      // The providers give up on their own after a lifetime (so that none outlives a crashed run): longer than
      // every part that uses them, the end-to-end cases' measured time included.
      const lifetimeMs = Math.round(15 * 60_000 + 1.5 * 1000 * config.e2e.cases.length * (config.e2e.seconds + config.e2e.warmupSeconds));
      providers = startChild({
        name: 'providers',
        script: 'bench/provider-child.ts',
        env: { ZK_CONNECT: zk, BENCH_ROOT: root, BENCH_SERVICE: E2E_SERVICE, BENCH_PROVIDERS: '3', BENCH_PROVIDER_LIFETIME_MS: String(lifetimeMs) },
        relay: { stderr: false },
      });
      providerList = (await providers.waitForMarker<{ providers: { port: number; gray: boolean }[] }>('READY', 60_000)).providers;
      log(`   providers (pid ${providers.process.pid}): ${providerList.map((p) => `127.0.0.1:${p.port}${p.gray ? ' gray' : ''}`).join(', ')}`);
      const consumer = (interceptor = grayRoute({ zk, root, services: [...microServices.values(), E2E_SERVICE, FLAG_SERVICE], logger: consumerLog.logger })).consumer;
      // The consumer's session events, for the report: a lost connection or a new session explains odd figures.
      const session = (consumer as unknown as { session: ZkSession }).session;
      const started = Date.now();
      for (const event of ['connected', 'disconnected', 'expired'] as const) {
        session.on(event, (newSession?: boolean) => consumerLog.record(`session ${event}${event === 'connected' ? ` (new session: ${newSession})` : ''} at +${((Date.now() - started) / 1000).toFixed(1)} s`));
      }
      await until(
        () =>
          [...microServices].every(([size, service]) => consumer.snapshot(service)?.instances.length === size && consumer.ratioFor(service) === config.split.ratio) &&
          consumer.snapshot(E2E_SERVICE)?.instances.length === providerList.length &&
          consumer.ratioFor(E2E_SERVICE) === config.e2e.ratio &&
          consumer.snapshot(FLAG_SERVICE)?.instances.length === 2,
        30_000,
        'the consumer to see every benchmark service',
      );
    });
    if (setup.ok) await runParts();
    else results.setupError = setup.error;
  } finally {
    interceptor?.close();
    await nginx?.stop();
    await providers?.stop();
    if (admin) {
      await deleteTree(admin, root).catch(() => undefined);
      admin.close();
    }
  }

  async function runParts(): Promise<void> {
    const route = interceptor as GrayRouteInterceptor;
    const session = admin as ZkSession;

    const wanted = (n: number) => config.parts.includes(n);
    const skip = <T>(n: number): Part<T> => ({ ok: false, error: `part ${n} not selected (--parts=${config.parts.join(',')})`, seconds: 0 });
    results.micro = !wanted(1) ? skip(1) : await part('1. routing decision cost (in-process)', log, async () => {
      const micro = await runMicro({ interceptor: route, services: microServices, ratio: config.split.ratio }, config.micro.runs, config.micro.sampleMs);
      for (const c of micro.cases) log(`   ${c.instances === null ? '' : `${c.instances} instances: `}${c.name}: ${c.nsPerOp} ns/op`);
      return micro;
    });

    results.e2e = !wanted(2) ? skip(2) : await part('2. end to end (a) axios direct, (b) grayRoute, (c) nginx split_clients, (d) control, (e) fetch direct, (f) fetch + grayDispatcher', log, async () => {
      let skippedC = !config.e2e.cases.includes('c') ? 'not selected (--e2e-cases)' : nginxFound.path ? undefined : nginxFound.reason;
      if (nginxFound.path && skippedC === undefined) {
        try {
          nginx = await startNginx(nginxFound.path, providerList, config.e2e.ratio);
          results.nginx = { path: nginxFound.path, version: nginx.version };
          log(`   nginx (pid ${nginx.pid}) on 127.0.0.1:${nginx.port}, prefix ${nginx.dir}`);
        } catch (error) {
          skippedC = `nginx did not start: ${(error as Error).message}`;
          results.nginx = { path: nginxFound.path, skipped: skippedC };
          log(`   ${skippedC}`);
        }
      }
      try {
        return await runE2e({
          ...config.e2e,
          service: E2E_SERVICE,
          providers: providerList,
          interceptor: route,
          nginxPort: nginx?.port,
          nginxPid: nginx?.pid,
          providerPid: providers?.process.pid,
          skippedC,
          log,
        });
      } finally {
        await nginx?.stop();
        nginx = undefined;
      }
    });

    results.split = !wanted(4) ? skip(4) : await part('4. split accuracy', log, async () => {
      if (route.consumer.ratioFor(E2E_SERVICE) !== config.split.ratio) {
        await writeConfig(session, root, E2E_SERVICE, { ratio: config.split.ratio });
        await until(() => route.consumer.ratioFor(E2E_SERVICE) === config.split.ratio, 10_000, 'the split ratio');
      }
      const split = runSplit(route, E2E_SERVICE, config.split.decisions, config.split.ratio);
      log(`   ${split.decisions} decisions at ratio ${split.ratio}: ${split.grayLaneShare} % gray`);
      return split;
    });

    results.change = !wanted(3) ? skip(3) : await part('3. change -> effect', log, async () => {
      const ratio = await ratioChanges(route.consumer, session, root, E2E_SERVICE, config.change.count, config.change.timeoutMs);
      const flagId = route.consumer.snapshot(FLAG_SERVICE)!.instances[0].id;
      const flag = await flagChanges(route.consumer, session, root, FLAG_SERVICE, flagId, config.change.count, config.change.timeoutMs);
      for (const s of [ratio, flag]) log(`   ${s.kind}: ${s.seen}/${s.changes} seen, p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms`);
      return { ratio, flag };
    });

    // Last in this process: cls-hooked turns on async hooks for the whole process once its namespace exists.
    if (results.micro.ok && config.micro.cls) {
      const size = microServices.has(100) ? 100 : config.micro.sizes[0];
      const microValue = results.micro.value;
      try {
        microValue.cls = await runClsMicro(route, microServices.get(size)!, size, config.micro.runs, config.micro.sampleMs);
        log(`   ${size} instances: ${microValue.cls.name}: ${microValue.cls.nsPerOp} ns/op`);
      } catch (error) {
        log(`   cls measurement failed: ${(error as Error).message}`);
      }
    }

    route.close();
    interceptor = undefined;
    await providers?.stop();
    providers = undefined;

    results.scale = !wanted(5) ? skip(5) : await part('5. scale (one consumer, in a child process with --expose-gc)', log, async () => {
      const child = startChild({
        name: 'scale',
        script: 'bench/scale-child.ts',
        env: {
          ZK_CONNECT: zk,
          BENCH_ROOT: `${root}/scale`,
          BENCH_SCALE_SERVICES: String(config.scale.services),
          BENCH_SCALE_INSTANCES: String(config.scale.instancesPerService),
          BENCH_SCALE_SETTLE_MS: String(config.scale.settleMs),
        },
        nodeArgs: ['--expose-gc'],
        relay: { stderr: false },
      });
      try {
        const scale = await child.waitForMarker<ScaleResult>('RESULT', 120_000);
        log(`   ${scale.services} x ${scale.instancesPerService}: first full snapshot ${scale.firstFullSnapshotMs} ms, heap +${scale.memory.heapUsedDeltaMiB} MiB, rss +${scale.memory.rssDeltaMiB} MiB`);
        for (const c of scale.changes) log(`   ${c.change}: ${c.reads.total} reads (${c.servicesReRead} service(s)), seen in ${c.seenMs} ms`);
        return scale;
      } finally {
        await child.stop();
      }
    });
  }

  const done = results as BenchResults;
  const missing = (name: string): Part<never> => ({ ok: false, error: `${name} did not run: setup failed`, seconds: 0 });
  done.micro ??= missing('micro');
  done.e2e ??= missing('e2e');
  done.split ??= missing('split');
  done.change ??= missing('change');
  done.scale ??= missing('scale');
  done.loadAverage = { start: startLoad, end: loadavg().map((n) => Math.round(n * 100) / 100) };
  done.seconds = Math.round((Date.now() - started) / 100) / 10;
  done.targets = evaluateTargets(done);
  done.consumerLog = consumerLog.lines;
  return done;
}

/** A logger that keeps the consumer's last `size` lines (debug included), for the results. */
function ringLogger(size: number) {
  const lines: string[] = [];
  const record = (line: string) => {
    lines.push(`${new Date().toISOString()} ${line}`);
    if (lines.length > size) lines.shift();
  };
  const at = (level: string) => (message: string) => record(`${level}: ${message}`);
  return { lines, record, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}
