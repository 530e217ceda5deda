/** Helpers for the rollout tests: providers with metrics whose handler can fail or be slow, bounded traffic, the CLI. */
import { execFileSync } from 'node:child_process';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import axios, { type AxiosInstance } from 'axios';
import express from 'express';
import { grayRegister, silentLogger, useGray, type GrayInterceptors, type ProviderRegistration } from '../../src';
import { startChild, type Child } from '../../scripts/children';
import { testZk } from './helpers';

export interface MetricsProvider {
  port: number;
  id: string;
  registration: ProviderRegistration;
  /** Requests the handler of GET /work served (not metrics scrapes). */
  served(): number;
  close(): Promise<void>;
}

/**
 * A real Express provider on 127.0.0.1 with metrics at /metrics, answering GET /work. `fail: { every: 10, how:
 * '500' }` answers every 10th request with a 500 (deterministic: exactly 10 %); `how: 'reset'` destroys the
 * connection instead, so the consumer sees a connection error and the provider sends no response.
 */
export async function startMetricsProvider(options: {
  root: string;
  gray: boolean;
  version: string;
  fail?: { every: number; how: '500' | 'reset' };
  /** Answers every `every`th request `ms` later (a slow code path), without an error. */
  slow?: { every: number; ms: number };
  /** Default `demo`. */
  service?: string;
  /** Default the test's ZooKeeper. */
  zk?: string;
  /** A named lane (grayRegister's `lane`). Default none. */
  lane?: string;
}): Promise<MetricsProvider> {
  const app = express();
  const gray = grayRegister({
    zk: options.zk ?? testZk(),
    root: options.root,
    service: options.service ?? 'demo',
    gray: options.gray,
    lane: options.lane,
    version: options.version,
    host: '127.0.0.1',
    logger: silentLogger,
    sessionTimeout: 4000,
    drainMs: 0,
    metricsPath: '/metrics',
  });
  app.use(gray);
  let served = 0;
  app.get('/work', (req, res) => {
    served++;
    if (options.fail && served % options.fail.every === 0) {
      if (options.fail.how === 'reset') req.socket.destroy();
      else res.status(500).json({ error: 'injected failure' });
      return;
    }
    if (options.slow && served % options.slow.every === 0) {
      setTimeout(() => res.json({ version: options.version }), options.slow.ms);
      return;
    }
    res.json({ version: options.version });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  (server as import('node:http').Server).keepAliveTimeout = 60_000;
  await gray.registration.whenRegistered(15_000);
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    id: `127.0.0.1:${port}`,
    registration: gray.registration,
    served: () => served,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface Traffic {
  http: AxiosInstance;
  gray: GrayInterceptors;
  /** Requests sent so far, and those that failed. */
  readonly sent: number;
  readonly failed: number;
  /** Outlier ejections the consumer made (an ejected lane empties, and the router then ignores the ratio). */
  readonly ejections: number;
  /** Resolves once every request in flight now has completed (those sent later are not waited for). */
  settled(): Promise<void>;
  /** Stops sending, waits for requests in flight, closes the consumer. */
  stop(): Promise<void>;
}

/**
 * A real consumer (axios + useGray) sending GET http://demo/work at about `rps` requests per second, at most
 * `maxRequests` in all and for at most `maxMs`: bounded whatever happens to the test.
 */
export async function startTraffic(options: { root: string; rps: number; maxRequests?: number; maxMs?: number; service?: string; zk?: string }): Promise<Traffic> {
  const service = options.service ?? 'demo';
  // Generous client timeouts: on a CPU-starved test machine a loopback connect can take over useGray's default 1 s
  // connect timeout, and the requests that fail so are lost to the providers' counts unevenly between the lanes
  // (the bigger lane opens more connections), which would skew what the tests measure.
  const http = axios.create({ timeout: 10_000 });
  const gray = useGray(http, {
    zk: options.zk ?? testZk(),
    root: options.root,
    services: [service],
    logger: silentLogger,
    sessionTimeout: 4000,
    failover: { connectTimeout: 0 },
  });
  await gray.consumer.whenReady(service);
  let ejections = 0;
  gray.consumer.on('ejected', () => void ejections++);
  const maxRequests = options.maxRequests ?? 20_000;
  const until = Date.now() + (options.maxMs ?? 90_000);
  const gap = 1000 / options.rps;
  let stopped = false;
  let sent = 0;
  let failed = 0;
  const inFlight = new Set<Promise<unknown>>();
  const loop = (async () => {
    const started = Date.now();
    while (!stopped && sent < maxRequests && Date.now() < until) {
      const request = http.get(`http://${service}/work`).catch(() => void failed++);
      inFlight.add(request);
      void request.finally(() => inFlight.delete(request));
      sent++;
      // Paced against the clock, so a slow event loop sends in bursts instead of drifting below the rate.
      const next = started + sent * gap;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
    }
  })();
  return {
    http,
    gray,
    get sent() {
      return sent;
    },
    get failed() {
      return failed;
    },
    get ejections() {
      return ejections;
    },
    async settled() {
      await Promise.allSettled([...inFlight]);
    },
    async stop() {
      stopped = true;
      await loop;
      await Promise.allSettled([...inFlight]);
      gray.close();
    },
  };
}

const REPO = join(__dirname, '..', '..');

/**
 * Compiles graykit into `.test-build/<name>` (a folder per test file: files compiling at the same time never
 * overwrite each other) and returns the path of the compiled CLI.
 */
export function compileCli(name: string): string {
  const outDir = join(REPO, '.test-build', name);
  execFileSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(REPO, 'tsconfig.build.json'), '--outDir', outDir]);
  return join(outDir, 'cli', 'main.js');
}

/** The compiled CLI run as users run it, through scripts/children.ts (stopped by its pid; killed with this process). */
export function spawnCli(cli: string, zk: string, root: string, args: readonly string[], name = 'graykit'): Child {
  return startChild({ name, command: { file: process.execPath, args: [cli, '--zk', zk, '--root', root, ...args] }, ipc: false, relay: { stderr: false } });
}

/** The JSON lines a `--json` command printed, parsed (`type` for rollout events). */
export function jsonLines(child: Child): Array<{ type?: string; [key: string]: unknown }> {
  return child.lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
}

/** Waits for the first JSON line of the child whose `type` is `type` (and that `match` accepts). */
export function waitForType(child: Child, type: string, timeoutMs: number, match: (event: Record<string, unknown>) => boolean = () => true): Promise<Record<string, unknown>> {
  return child.waitUntil(() => jsonLines(child).find((event) => event.type === type && match(event)), `a '${type}' event`, timeoutMs);
}

