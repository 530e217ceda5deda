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
import { encodeInstance } from '../src/registry/codec';
import type { ZkSession } from '../src/registry/zk-session';
import { groupCpuMicros } from './cpu';
import { machineInfo } from './machine';
import { useZooKeeperAddon } from './zookeeper-addon';
import type { ScaleConfig } from './scale-config';
import { Ensemble, TrafficSampler, epochMs, sleep, type Server, type Traffic } from './scale-ensemble';
import { Fleet } from './scale-fleets';
import type { Condition, SessionState } from './scale-protocol';
import type { BurstResult, ChangeSeries, FaultResult, PointResult, ScaleResults } from './scale-results';
import { distribution, mean, round } from './stats';
import { benchRoot, deleteTree, eachLimited, openAdmin, registerSynthetic, syntheticInstances, writeConfig } from './zk';

export type { BurstResult, ChangeSeries, FaultResult, PointResult, ScaleResults } from './scale-results';

const HOT_INDEX = 0;
const REGISTRARS = 4;
const BURST_SESSIONS = 5;
const BURST_SLICES = 10;
const load = () => loadavg().map((n) => round(n, 2));
const serviceName = (i: number) => `svc-${String(i).padStart(3, '0')}`;

/** The hot service and `watch - 1` others, spread so that every service has watchers. */
export function watchedServices(consumer: number, services: number, watch: number): string[] {
  const names = [serviceName(HOT_INDEX)];
  const others = services - 1;
  for (let j = 1; j < watch && others > 0; j++) names.push(serviceName(1 + ((consumer * (watch - 1) + j - 1) % others)));
  return [...new Set(names)];
}

async function allSessions(fleets: readonly Fleet[]): Promise<SessionState[]> {
  return (await Promise.all(fleets.map((fleet) => fleet.sessions()))).flat();
}

/** Retries `task` through connection loss until it succeeds or `timeoutMs` is over. */
async function retrying<T>(what: string, timeoutMs: number, task: () => Promise<T>): Promise<T> {
  const deadline = epochMs() + timeoutMs;
  for (;;) {
    try {
      return await task();
    } catch (error) {
      if (epochMs() > deadline) throw new Error(`scale: ${what} failed for ${timeoutMs} ms: ${(error as Error).message}`);
      await sleep(100);
    }
  }
}

class Point {
  private readonly hot = serviceName(HOT_INDEX);
  private expectId = 0;
  private ratioValue = 0;
  fleets: Fleet[] = [];
  registrars: ZkSession[] = [];
  admin?: ZkSession;
  readonly root = benchRoot();
  readonly perService: number;

  constructor(
    readonly ensemble: Ensemble,
    readonly config: ScaleConfig,
    readonly consumers: number,
    readonly instances: number,
  ) {
    this.perService = Math.max(1, Math.round(instances / config.services));
  }

  private nextRatio(): number {
    this.ratioValue = (this.ratioValue % 99) + 1;
    return this.ratioValue;
  }

  /** Arms `condition` in every fleet, runs `act`, and collects each consumer's time (epoch ms) or null. */
  async time(condition: Condition, waitMs: number, act: () => Promise<unknown>): Promise<{ at: Array<number | null>; counts: number[]; missedLive: number; loopMaxMs: number }> {
    const id = ++this.expectId;
    const pending = (await Promise.all(this.fleets.map((fleet) => fleet.expect(id, condition, waitMs)))).map((armed) => armed.seen);
    try {
      await act();
    } catch (error) {
      await Promise.allSettled(pending);
      throw error;
    }
    const answers = await Promise.all(pending);
    return {
      at: answers.flatMap((a) => a.at),
      counts: answers.flatMap((a) => a.counts),
      missedLive: answers.reduce((sum, a) => sum + a.missedLive, 0),
      loopMaxMs: round(Math.max(...answers.map((a) => a.loopMaxMs)), 1),
    };
  }

  async setUp(log: (line: string) => void): Promise<void> {
    this.admin = await openAdmin(this.ensemble.connect);
    for (let i = 0; i < REGISTRARS; i++) this.registrars.push(await openAdmin(this.ensemble.connect));
    const names = Array.from({ length: this.config.services }, (_, i) => i);
    await eachLimited(names, REGISTRARS, async (s) => {
      await registerSynthetic(this.registrars[s % REGISTRARS], this.root, serviceName(s), syntheticInstances(this.perService, s));
    });
    log(`  registered ${this.perService * this.config.services} instances under ${this.root}`);
  }

  /**
   * Starts the fleet processes, before this process opens any session: they would inherit its sessions' sockets
   * (the C client does not open them close-on-exec) and keep every dropped connection of the benchmark's own open.
   */
  spawn(): void {
    const processes = Math.ceil(this.consumers / this.config.perProcess);
    for (let p = 0; p < processes; p++) {
      const count = Math.floor(this.consumers / processes) + (p < this.consumers % processes ? 1 : 0);
      this.fleets.push(new Fleet(`fleet-${p + 1}`, count));
    }
  }

  /** Has every fleet load its consumers, and waits for every consumer's full snapshot; returns the per-fleet figures. */
  async load(): Promise<Array<Awaited<ReturnType<Fleet['start']>>>> {
    let next = 0;
    return Promise.all(
      this.fleets.map((fleet) => {
        const consumers = Array.from({ length: fleet.consumers }, () => next++).map((index) => ({ index, services: watchedServices(index, this.config.services, this.config.watch) }));
        return fleet.start({ op: 'start', zk: this.ensemble.connect, root: this.root, sessionTimeout: this.config.sessionTimeoutMs, consumers, perService: this.perService, timeoutMs: this.config.loadTimeoutMs });
      }),
    );
  }

  async changeSeries(kind: 'ratio' | 'added' | 'removed', writes: Array<{ condition: Condition; write: () => Promise<unknown> }>): Promise<ChangeSeries> {
    const latencies: number[] = [];
    let missed = 0;
    let missedLive = 0;
    let loopMaxMs = 0;
    const cpu = { fleets: 0, servers: 0 };
    for (const { condition, write } of writes) {
      let writeAt = 0;
      const before = this.cpuMicros();
      const { at, missedLive: live, loopMaxMs: held } = await this.time(condition, this.config.waitMs, async () => {
        writeAt = epochMs();
        await write();
      });
      const after = this.cpuMicros();
      cpu.fleets += after.fleets - before.fleets;
      cpu.servers += after.servers - before.servers;
      for (const t of at) if (t === null) missed++;
      else latencies.push(Math.max(0, t - writeAt));
      missedLive += live;
      loopMaxMs = Math.max(loopMaxMs, held);
    }
    if (latencies.length === 0) throw new Error(`scale: no consumer saw any ${kind} change within ${this.config.waitMs} ms`);
    const cpuMsPerChange = { fleets: round(cpu.fleets / 1000 / writes.length, 1), servers: round(cpu.servers / 1000 / writes.length, 1) };
    return { writes: writes.length, seen: latencies.length, missed, missedLive, latencyMs: distribution(latencies), loopMaxMs, cpuMsPerChange };
  }

  /** CPU used so far (user + system, µs, from /proc; 10 ms ticks) by the fleet processes and by the servers. */
  private cpuMicros(): { fleets: number; servers: number } {
    return { fleets: groupCpuMicros(this.fleets.map((fleet) => fleet.child.process.pid ?? 0)), servers: groupCpuMicros(this.ensemble.serverPids()) };
  }

  ratioWrites(): Array<{ condition: Condition; write: () => Promise<unknown> }> {
    return Array.from({ length: this.config.repeats }, () => {
      const value = this.nextRatio();
      return { condition: { kind: 'ratio', service: this.hot, value }, write: () => writeConfig(this.admin!, this.root, this.hot, { ratio: value }) };
    });
  }

  instanceWrites(): { added: Array<{ condition: Condition; write: () => Promise<unknown> }>; removed: Array<{ condition: Condition; write: () => Promise<unknown> }> } {
    const dir = `${this.root}/services/${this.hot}/instances`;
    const ids = Array.from({ length: this.config.repeats }, (_, r) => `10.250.${r}.1:8080`);
    return {
      added: ids.map((id) => ({ condition: { kind: 'present', service: this.hot, ids: [id] }, write: () => this.registrars[0].create(`${dir}/${id}`, encodeInstance({ gray: false, weight: 100 }), 'ephemeral') })),
      removed: ids.map((id) => ({ condition: { kind: 'absent', service: this.hot, ids: [id] }, write: () => this.registrars[0].delete(`${dir}/${id}`) })),
    };
  }

  /** `burst` instances of the hot service registered by fresh sessions within `burstMs`, then those sessions closed. */
  async burst(): Promise<BurstResult> {
    const { burst, burstMs, waitMs } = this.config;
    const dir = `${this.root}/services/${this.hot}/instances`;
    const ids = Array.from({ length: burst }, (_, i) => `10.251.${Math.floor(i / 250)}.${(i % 250) + 1}:8080`);
    const sessions: ZkSession[] = [];
    try {
      // Retried: right after a full restart, a new session may be refused for a while (a server still syncing).
      for (let i = 0; i < BURST_SESSIONS; i++) sessions.push(await retrying('opening a burst session', waitMs, () => openAdmin(this.ensemble.connect)));
      let start = 0;
      let lastAck = 0;
      const { at, counts, missedLive, loopMaxMs } = await this.time({ kind: 'present', service: this.hot, ids }, waitMs, async () => {
        start = epochMs();
        const perSlice = Math.ceil(burst / BURST_SLICES);
        const slices = [];
        for (let s = 0; s < BURST_SLICES; s++) {
          await sleep(Math.max(0, start + (s * burstMs) / BURST_SLICES - epochMs()));
          const slice = ids.slice(s * perSlice, (s + 1) * perSlice);
          slices.push(Promise.all(slice.map((id, i) => sessions[i % BURST_SESSIONS].create(`${dir}/${id}`, encodeInstance({ gray: i % 2 === 0, weight: 100 }), 'ephemeral'))));
        }
        await Promise.all(slices);
        lastAck = epochMs();
      });
      const seen = at.filter((t): t is number => t !== null).map((t) => t - start);
      let closedAt = 0;
      const gone = await this.time({ kind: 'absent', service: this.hot, ids }, waitMs, async () => {
        closedAt = epochMs();
        for (const session of sessions.splice(0)) session.close();
      });
      const goneMs = gone.at.filter((t): t is number => t !== null).map((t) => Math.max(0, t - closedAt));
      return {
        instances: burst,
        writeMs: round(lastAck - start, 1),
        allSeenMs: distribution(seen),
        consumersIncomplete: at.length - seen.length,
        incompleteLive: missedLive,
        fewestSeen: Math.min(...counts),
        goneMs: distribution(goneMs),
        goneMissed: gone.at.length - goneMs.length,
        goneMissedLive: gone.missedLive,
        loopMaxMs: { seen: loopMaxMs, gone: gone.loopMaxMs },
      };
    } finally {
      for (const session of sessions) session.close();
    }
  }

  /** A leader loss (the leader stopped, then started again) or a full restart (all three stopped, then started). */
  async fault(kind: 'leader' | 'restart'): Promise<FaultResult> {
    const { ensemble, config } = this;
    const before = await allSessions(this.fleets);
    const sampler = new TrafficSampler(ensemble);
    let traffic: Traffic | undefined;
    let stopped: Server[] = [];
    try {
      await sleep(300);
      const value = this.nextRatio();
      let t0 = 0;
      let quorumAt = 0;
      const { at } = await this.time({ kind: 'ratio', service: this.hot, value }, config.waitMs * 2, async () => {
        if (kind === 'leader') {
          const leader = await ensemble.leader();
          if (!leader) throw new Error('scale: no server says it leads');
          stopped = [leader];
          t0 = epochMs();
          await ensemble.stopServer(leader);
          await ensemble.waitServing(config.waitMs, ensemble.servers.filter((server) => server !== leader));
        } else {
          stopped = [...ensemble.servers];
          t0 = epochMs();
          await Promise.all(stopped.map((server) => ensemble.stopServer(server)));
          await Promise.all(stopped.map((server) => ensemble.relaunch(server)));
          await ensemble.waitServing(config.waitMs);
        }
        quorumAt = epochMs();
        // A fresh session: the admin's own may sit on a connection attempt made during the election (the C client
        // waits 2/3 of the session timeout for an answer), which would time the benchmark's writer, not consumers.
        await retrying(`writing ratio ${value} after the ${kind === 'leader' ? 'leader loss' : 'restart'}`, config.waitMs, async () => {
          const writer = await openAdmin(ensemble.connect);
          try {
            await writeConfig(writer, this.root, this.hot, { ratio: value });
          } finally {
            writer.close();
          }
        });
      });
      // Every consumer that lost its connection has it back, or the wait is over.
      const deadline = epochMs() + config.waitMs;
      let after = await allSessions(this.fleets);
      const dropped = () => after.map((state, i) => state.disconnects > before[i].disconnects || state.expired > before[i].expired);
      while (!after.every((state) => state.connected) && epochMs() < deadline) {
        await sleep(100);
        after = await allSessions(this.fleets);
      }
      await sleep(1000); // the tail of the re-reads, for the traffic figures
      traffic = await sampler.stop();
      after = await allSessions(this.fleets);
      const lost = dropped();
      const reconnected = after.filter((state, i) => lost[i]);
      const fresh = at.filter((t): t is number => t !== null).map((t) => t - t0);
      return {
        stopped: stopped.map((server) => server.id),
        quorumMs: round(quorumAt - t0, 1),
        disconnected: reconnected.length,
        expired: after.reduce((sum, state, i) => sum + state.expired - before[i].expired, 0),
        reconnectedMs: reconnected.every((state) => state.connected) ? round(Math.max(0, ...reconnected.map((state) => state.connectedAt - t0)), 1) : null,
        freshMs: distribution(fresh),
        freshMissed: at.length - fresh.length,
        readsPerConsumer: round(mean(after.map((state, i) => state.reads - before[i].reads)), 1),
        peakPerSecond: traffic.peakPerSecond,
        packets: traffic.packets,
        maxOutstanding: traffic.maxOutstanding,
      };
    } finally {
      if (!traffic) await sampler.stop();
      // The ensemble whole again for what follows, whatever happened.
      for (const server of stopped) if ((await ensemble.mode(server)) === undefined) await ensemble.relaunch(server).catch(() => undefined);
      if (stopped.length) await ensemble.waitServing(config.waitMs);
    }
  }

  private readonly cleanups: Array<() => Promise<unknown>> = [];

  onTearDown(cleanup: () => Promise<unknown>): void {
    this.cleanups.push(cleanup);
  }

  async tearDown(): Promise<void> {
    for (const cleanup of this.cleanups) await cleanup().catch(() => undefined);
    await Promise.all(this.fleets.map((fleet) => fleet.close()));
    for (const session of this.registrars) session.close();
    if (this.admin) {
      await deleteTree(this.admin, this.root).catch(() => undefined);
      this.admin.close();
    }
  }
}

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
