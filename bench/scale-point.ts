/**
 * One point of the scale benchmark: C consumers in fleet processes and I instances across `services` services on the
 * ensemble, and each phase measured against them (changes, a registration burst, a leader loss, a full restart).
 * bench/scale.ts runs the points in order and folds their results.
 */
import { encodeInstance } from '../src/registry/codec';
import type { ZkSession } from '../src/registry/zk-session';
import { groupCpuMicros } from './cpu';
import type { ScaleConfig } from './scale-config';
import { Ensemble, TrafficSampler, epochMs, sleep, type Server, type Traffic } from './scale-ensemble';
import { Fleet } from './scale-fleets';
import type { Condition, SessionState } from './scale-protocol';
import type { BurstResult, ChangeSeries, FaultResult } from './scale-results';
import { distribution, mean, round } from './stats';
import { benchRoot, deleteTree, eachLimited, openAdmin, registerSynthetic, syntheticInstances, writeConfig } from './zk';

const HOT_INDEX = 0;
const REGISTRARS = 4;
const BURST_SESSIONS = 5;
const BURST_SLICES = 10;
const serviceName = (i: number) => `svc-${String(i).padStart(3, '0')}`;

/** The hot service and `watch - 1` others, spread so that every service has watchers. */
export function watchedServices(consumer: number, services: number, watch: number): string[] {
  const names = [serviceName(HOT_INDEX)];
  const others = services - 1;
  for (let j = 1; j < watch && others > 0; j++) names.push(serviceName(1 + ((consumer * (watch - 1) + j - 1) % others)));
  return [...new Set(names)];
}

export async function allSessions(fleets: readonly Fleet[]): Promise<SessionState[]> {
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

/**
 * One point of the matrix (C consumers x I instances): its instance znodes, its fleet processes, and the measurement of
 * each phase against them; torn down whatever happened.
 */
export class Point {
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
