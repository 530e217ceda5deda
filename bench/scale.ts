/**
 * The scale benchmark (`npm run bench:scale`): how graykit's costs grow with the number of consumer sessions and
 * of instances, on a 3-node ZooKeeper ensemble on loopback.
 *
 * Per point (C consumers x I instances across `services` services): instance znodes are ephemerals of a few raw
 * sessions (no HTTP servers); C consumers, each a real `createConsumer` with its own session, live in
 * ceil(C / perProcess) fleet processes (bench/scale-fleet.ts). Each consumer watches the hot service and
 * `watch - 1` others. Then, in order: memory and watches after the first load, an idle window, ratio changes,
 * instances added and removed, a registration burst, a leader loss, a full ensemble restart. Every wait is bounded
 * and names what did not happen; a phase that fails is recorded and the point goes on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { machineInfo } from './machine';
import { useZooKeeperAddon } from './zookeeper-addon';
import type { ScaleConfig } from './scale-config';
import { Ensemble, TrafficSampler, epochMs, sleep } from './scale-ensemble';
import type { Fleet } from './scale-fleets';
import { allSessions, Point } from './scale-point';
import type { SessionState } from './scale-protocol';
import type { PointResult, ScaleResults } from './scale-results';
import { round } from './stats';

export type { BurstResult, ChangeSeries, FaultResult, PointResult, ScaleResults } from './scale-results';

const load = () => loadavg().map((n) => round(n, 2));

async function measurePoint(ensemble: Ensemble, config: ScaleConfig, consumers: number, instances: number, log: (line: string) => void): Promise<PointResult> {
  const started = epochMs();
  const loadStart = load();
  const point = new Point(ensemble, config, consumers, instances);
  const errors: Record<string, string> = {};
  const phase = async <T>(name: string, run: () => Promise<T>): Promise<T | undefined> => {
    try {
      const value = await run();
      log(`  ${name}: ${JSON.stringify(value, (key, v) => (key === 'samples' ? undefined : v))}`);
      return value;
    } catch (error) {
      errors[name] = ((error as Error).message ?? String(error)).split('\n')[0];
      log(`  ${name}: FAILED ${errors[name]}`);
      return undefined;
    }
  };
  try {
    point.spawn();
    await point.setUp(log);
    const sampler = new TrafficSampler(ensemble);
    const spawnAt = epochMs();
    const fleets = await point.load().finally(() => sampler.stop());
    const loadMs = epochMs() - spawnAt;
    const loadTraffic = await sampler.stop();
    log(`  ${consumers} consumers in ${point.fleets.length} processes loaded in ${round(loadMs / 1000, 1)} s`);

    const wchs = await Promise.all(ensemble.servers.map((server) => ensemble.wchs(server)));
    const readsBefore = await allSessions(point.fleets);
    const packetsBefore = await ensemble.packetsReceived();
    await sleep(config.idleSeconds * 1000);
    const packetsAfter = await ensemble.packetsReceived();
    const readsAfter = await allSessions(point.fleets);
    const minutes = config.idleSeconds / 60;
    // From here (not while idle: its mntr would count), each server's outstanding requests.
    const pointSampler = new TrafficSampler(ensemble);
    point.onTearDown(() => pointSampler.stop());

    const result: PointResult = {
      consumers,
      instances,
      processes: point.fleets.length,
      perService: point.perService,
      watchedServices: config.watch,
      instancesWatchedPerConsumer: round(fleets.reduce((sum, f) => sum + f.instancesWatched, 0) / consumers, 1),
      loadMs: round(loadMs, 1),
      loadPeakPerSecond: loadTraffic.peakPerSecond,
      perConsumer: memoryAndIdle(fleets, consumers, readsBefore, readsAfter, minutes, packetsAfter - packetsBefore, wchs),
      servers: [],
      errors,
      loadAverage: { start: loadStart, end: [] },
      seconds: 0,
    };
    if (config.phases.includes('ratio')) result.ratio = await phase('ratio change', () => point.changeSeries('ratio', point.ratioWrites()));
    if (config.phases.includes('instance')) {
      const writes = point.instanceWrites();
      result.added = await phase('instance added', () => point.changeSeries('added', writes.added));
      result.removed = await phase('instance removed', () => point.changeSeries('removed', writes.removed));
    }
    if (config.phases.includes('leader')) result.leader = await phase('leader loss', () => point.fault('leader'));
    if (config.phases.includes('restart')) result.restart = await phase('full restart', () => point.fault('restart'));
    // Last: a burst's removal is the heaviest work a fleet process does (a snapshot rebuilt per removed instance,
    // per consumer), and a process that does not survive it must not cost the fault figures.
    if (config.phases.includes('burst')) result.burst = await phase('burst', () => point.burst());
    const traffic = await pointSampler.stop();
    result.servers = ensemble.servers.map((server, i) => ({ id: server.id, watches: wchs[i]?.watches ?? NaN, paths: wchs[i]?.paths ?? NaN, connections: wchs[i]?.connections ?? NaN, maxOutstanding: traffic.maxOutstanding[i] }));
    result.loadAverage.end = load();
    result.seconds = round((epochMs() - started) / 1000, 1);
    return result;
  } finally {
    await point.tearDown();
  }
}

function memoryAndIdle(
  fleets: Array<Awaited<ReturnType<Fleet['start']>>>,
  consumers: number,
  readsBefore: SessionState[],
  readsAfter: SessionState[],
  minutes: number,
  idlePackets: number,
  wchs: Array<{ watches: number } | undefined>,
): PointResult['perConsumer'] {
  const heap = fleets.reduce((sum, f) => sum + f.after.heapUsedMiB - f.before.heapUsedMiB, 0);
  const rss = fleets.reduce((sum, f) => sum + f.after.rssMiB - f.before.rssMiB, 0);
  const watched = fleets.reduce((sum, f) => sum + f.instancesWatched, 0);
  const reads = readsAfter.reduce((sum, state, i) => sum + state.reads - readsBefore[i].reads, 0);
  return {
    heapMiB: round(heap / consumers),
    rssMiB: round(rss / consumers),
    heapMiBPer1000Instances: round((heap * 1000) / watched),
    rssMiBPer1000Instances: round((rss * 1000) / watched),
    watches: round(wchs.reduce((sum, w) => sum + (w?.watches ?? 0), 0) / consumers, 1),
    idleReadsPerMinute: round(reads / consumers / minutes, 2),
    idlePacketsPerMinute: round(idlePackets / consumers / minutes, 2),
  };
}

export async function runScaleBench(config: ScaleConfig, options: { command: string; log?: (line: string) => void }): Promise<ScaleResults> {
  const log = options.log ?? (() => undefined);
  const started = epochMs();
  const results: ScaleResults = { schema: 'graykit-bench-scale/1', startedAt: new Date().toISOString(), seconds: 0, command: options.command, machine: machineInfo(), zookeeper: 'unknown', config, points: [], failedPoints: [] };
  results.addon = useZooKeeperAddon(config.addon);
  log(`client addon: ${results.addon}`);
  const dir = mkdtempSync(join(tmpdir(), 'graykit-scale-'));
  let ensemble: Ensemble | undefined;
  try {
    ensemble = await Ensemble.start(dir);
    const version = (await ensemble.mntr(ensemble.servers[0])).zk_version;
    results.zookeeper = typeof version === 'string' ? version.split(',')[0] : 'unknown';
    log(`ensemble ${ensemble.connect} (ZooKeeper ${results.zookeeper})`);
    for (const instances of config.instances) {
      for (const consumers of config.consumers) {
        log(`point: ${consumers} consumers x ${instances} instances (load ${load().join(' ')})`);
        try {
          results.points.push(await measurePoint(ensemble, config, consumers, instances, log));
        } catch (error) {
          const message = ((error as Error).message ?? String(error)).split('\n')[0];
          results.failedPoints.push({ consumers, instances, error: message });
          log(`  point FAILED: ${message}`);
          // A point that broke the ensemble would fail every later one for the same reason: stop here.
          await ensemble.waitServing(config.waitMs);
        }
      }
    }
  } catch (error) {
    results.setupError = (error as Error).stack ?? String(error);
    log(`FAILED: ${results.setupError}`);
  } finally {
    await ensemble?.stop();
    const failed = results.setupError !== undefined || results.failedPoints.length > 0 || results.points.some((point) => Object.keys(point.errors).length > 0);
    // After a failure the servers' logs (DIR/N/zookeeper.out) are kept for a look.
    if (failed) log(`kept the ensemble's directory for its logs: ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
    results.seconds = round((epochMs() - started) / 1000, 1);
  }
  return results;
}
