/**
 * Smoke test of `npm run bench`: the smoke preset (tiny sizes, about ten seconds) against the test ZooKeeper, with
 * real providers and (when installed) a real nginx. It checks that every part produces a well-formed result with
 * sane values; it never checks a performance target (a benchmark does not fail a build).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBench, type BenchResults } from '../../bench/bench';
import { SMOKE_CONFIG, cloneConfig } from '../../bench/config';
import { findNginx } from '../../bench/nginx';
import { writeResults } from '../../bench/run';

/** The ZooKeeper of jest's globalSetup (as test/support/helpers.ts testZk() reads it). */
function testZk(): string {
  const connect = process.env.GRAYKIT_TEST_ZK;
  if (!connect) throw new Error('GRAYKIT_TEST_ZK is not set: jest globalSetup did not start ZooKeeper');
  return connect;
}

describe('benchmark smoke run', () => {
  let dir: string;
  let results: BenchResults;
  let files: { json: string; markdown: string };
  const nginx = findNginx('');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'graykit-bench-smoke-'));
    const config = cloneConfig(SMOKE_CONFIG);
    config.resultsFile = join(dir, 'latest.json');
    config.markdownFile = join(dir, 'BENCHMARKS.md');
    results = await runBench(config, { zk: testZk(), command: 'npm run bench -- --smoke' });
    files = writeResults(results, config);
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('set up, and every part ran', () => {
    expect(results.setupError).toBeUndefined();
    for (const part of [results.micro, results.e2e, results.split, results.change, results.scale]) {
      expect(part.ok ? 'ok' : part.error).toBe('ok');
    }
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.machine.cpuModel).not.toBe('');
    expect(results.machine.node).toBe(process.version);
  });

  test('1. routing cost: positive ns/op for every case and size, with baselines and ratios', () => {
    if (!results.micro.ok) throw new Error(results.micro.error);
    const micro = results.micro.value;
    for (const c of micro.cases) {
      expect(c.nsPerOp).toBeGreaterThan(0);
      expect(c.wallNsPerOp).toBeGreaterThan(0);
      expect(c.samples).toHaveLength(SMOKE_CONFIG.micro.runs);
    }
    expect(micro.interceptor.map((e) => e.instances)).toEqual(SMOKE_CONFIG.micro.sizes);
    for (const e of micro.interceptor) {
      expect(e.nsPerOp).toBeGreaterThan(0);
      expect(e.overMergeConfig).toBeGreaterThan(0);
      expect(e.overNoop).toBeGreaterThan(0);
    }
    expect(micro.axiosPipeline?.routedOverDirect).toBeGreaterThan(0);
    // grayDispatcher's dispatch() beside the interceptor, and the lane header alone against header + baggage.
    expect(micro.dispatcher.map((e) => e.instances)).toEqual(SMOKE_CONFIG.micro.sizes);
    for (const e of micro.dispatcher) expect(e.nsPerOp).toBeGreaterThan(0);
    for (const client of [micro.propagation?.interceptor, micro.propagation?.dispatcher]) {
      expect(client?.header).toBeGreaterThan(0);
      expect(client?.both).toBeGreaterThan(0);
    }
  });

  test('2. end to end: throughput and latency for each client, ratios, traffic over all providers', () => {
    if (!results.e2e.ok) throw new Error(results.e2e.error);
    const e2e = results.e2e.value;
    const keys = e2e.cases.map((c) => c.key);
    expect(keys).toEqual(nginx.path ? ['a', 'b', 'c', 'd', 'e', 'f'] : ['a', 'b', 'd', 'e', 'f']);
    for (const c of e2e.cases) {
      expect(c.errors).toBe(0);
      expect(c.requests).toBeGreaterThan(0);
      expect(c.throughputRps).toBeGreaterThan(0);
      expect(c.latencyMs.p50).toBeGreaterThan(0);
      expect(c.latencyMs.p99).toBeGreaterThanOrEqual(c.latencyMs.p50);
      expect(c.socketsOpened).toBeGreaterThan(0);
    }
    // (a) goes to one provider; (b) and (c) spread over the three.
    expect(Object.keys(e2e.cases[0].byPort)).toHaveLength(1);
    expect(Object.keys(e2e.cases[1].byPort)).toHaveLength(3);
    if (nginx.path) expect(Object.keys(e2e.cases[2].byPort)).toHaveLength(3);
    // (d), the control, spreads over the same three by hand.
    expect(Object.keys(e2e.cases.find((c) => c.key === 'd')!.byPort)).toHaveLength(3);
    expect(e2e.grayRouteInside?.calls).toBe(e2e.cases[1].requests);
    expect(e2e.grayRouteInside?.microsPerRequest).toBeGreaterThan(0);
    expect(e2e.cases[1].cpuPerRequestMicros.client).toBeGreaterThan(0);
    expect(e2e.bOverA).toBeGreaterThan(0);
    expect(e2e.bOverAByCpu).toBeGreaterThan(0);
    expect(e2e.bOverD).toBeGreaterThan(0);
    expect(e2e.dOverA).toBeGreaterThan(0);
    // (e) fetch direct reaches the same three providers as (f) fetch + grayDispatcher, by a plain round-robin (evenly);
    // (f) spreads by lane, the gray one about a third.
    const e = e2e.cases.find((c) => c.key === 'e')!;
    const f = e2e.cases.find((c) => c.key === 'f')!;
    expect(Object.keys(e.byPort).sort()).toEqual(Object.keys(f.byPort).sort());
    expect(Object.keys(f.byPort)).toHaveLength(3);
    const perPort = Object.values(e.byPort);
    expect(Math.max(...perPort) - Math.min(...perPort)).toBeLessThanOrEqual(1);
    expect(e2e.eOverD).toBeGreaterThan(0);
    expect(f.grayShare).toBeGreaterThan(0);
    expect(e.cpuPerRequestMicros.client).toBeGreaterThan(0);
    expect(f.cpuPerRequestMicros.client).toBeGreaterThan(0);
    expect(e2e.fOverE).toBeGreaterThan(0);
    expect(e2e.clientCpuRatios['f/e']?.median).toBeGreaterThan(0);
    expect(e2e.dispatchInside?.calls).toBe(f.requests);
    expect(e2e.dispatchInside?.fOwnMedianMicros).toBeGreaterThan(0);
    if (nginx.path) expect(e2e.bOverC).toBeGreaterThan(0);
    else expect(e2e.skippedC).toBeTruthy();
  });

  test('3. change -> effect: every change was seen, latencies recorded', () => {
    if (!results.change.ok) throw new Error(results.change.error);
    for (const series of [results.change.value.ratio, results.change.value.flag]) {
      expect(series.changes).toBe(SMOKE_CONFIG.change.count);
      expect(series.missed).toEqual([]);
      expect(series.seen).toBe(series.changes);
      expect(series.samplesMs).toHaveLength(series.changes);
      expect(series.latencyMs.p50).toBeGreaterThan(0);
      expect(series.latencyMs.p99).toBeGreaterThanOrEqual(series.latencyMs.p50);
    }
  });

  test('4. split: the gray share is near the ratio (loose bound at the smoke size)', () => {
    if (!results.split.ok) throw new Error(results.split.error);
    const split = results.split.value;
    expect(split.decisions).toBe(SMOKE_CONFIG.split.decisions);
    expect(split.grayLaneShare).toBeGreaterThan(split.ratio - 5);
    expect(split.grayLaneShare).toBeLessThan(split.ratio + 5);
    // One gray instance and two normal ones: the gray lane is exactly the gray instance.
    expect(split.grayInstanceShare).toBe(split.grayLaneShare);
  });

  test('5. scale: full snapshots, memory figures, and one change re-reads one service only', () => {
    if (!results.scale.ok) throw new Error(results.scale.error);
    const scale = results.scale.value;
    expect(scale.znodes).toBe(SMOKE_CONFIG.scale.services * SMOKE_CONFIG.scale.instancesPerService);
    expect(scale.firstFullSnapshotMs).toBeGreaterThan(0);
    expect(scale.memory.gcExposed).toBe(true);
    expect(Number.isFinite(scale.memory.heapUsedDeltaMiB)).toBe(true);
    expect(scale.initialReads.getData).toBeGreaterThanOrEqual(scale.znodes);
    expect(scale.changes.length).toBeGreaterThanOrEqual(3);
    for (const change of scale.changes) {
      expect(change.seenMs).not.toBeNull();
      expect(change.reads.total).toBeGreaterThan(0);
      expect(change.servicesReRead).toBe(1);
    }
  });

  test('the JSON and the markdown are written, with the targets beside the figures', () => {
    const json = JSON.parse(readFileSync(files.json, 'utf8')) as BenchResults;
    expect(json.schema).toBe('graykit-bench/1');
    expect(json.targets.length).toBeGreaterThan(5);
    for (const row of json.targets) expect(['met', 'missed', 'n/a']).toContain(row.verdict);
    const markdown = readFileSync(files.markdown, 'utf8');
    expect(markdown).toContain('| Measure | Result | Target | Met? |');
    expect(markdown).toContain('machine: ');
    expect(markdown).toContain('command: npm run bench -- --smoke');
    expect(existsSync(files.json)).toBe(true);
  });
});
