/**
 * A fleet process of the scale benchmark (run with --expose-gc): many consumers, each a real `createConsumer` with
 * its own ZooKeeper session, driven by the parent over IPC (bench/scale-protocol.ts).
 *
 * A change counts as seen by a consumer when, at one of its `change` events (or at once, if it already holds),
 * its snapshot satisfies the condition: for a ratio, `ratioFor()` returns it, which is what `route()` uses from
 * then on. Times are epoch ms (performance.timeOrigin + now), comparable with the parent's on one machine.
 */
import { EventEmitter } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createConsumer, silentLogger, type GrayConsumer, type ServiceSnapshot } from '../src';
import { epochMs, sleep } from './scale-ensemble';
import type { ChildMessage, Condition, Memory, ParentMessage, SessionState, StartMessage } from './scale-protocol';

const gc = (globalThis as { gc?: () => void }).gc;

function memoryAfterGc(): Memory {
  if (gc) for (let i = 0; i < 4; i++) gc();
  const m = process.memoryUsage();
  return { heapUsedMiB: m.heapUsed / 2 ** 20, rssMiB: m.rss / 2 ** 20 };
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

interface Member {
  consumer: GrayConsumer;
  services: string[];
  state: SessionState;
}

/** The consumer's ZooKeeper session (a private field): the benchmark counts its reads and its session events. */
function sessionOf(consumer: GrayConsumer): EventEmitter & Record<string, unknown> {
  const session = (consumer as unknown as { session?: unknown }).session;
  if (!(session instanceof EventEmitter) || typeof (session as unknown as { getData?: unknown }).getData !== 'function') {
    throw new Error("scale-fleet: GrayConsumer no longer keeps its ZooKeeper session in 'session'; update sessionOf() in bench/scale-fleet.ts");
  }
  return session as EventEmitter & Record<string, unknown>;
}

function track(consumer: GrayConsumer): SessionState {
  const session = sessionOf(consumer);
  const state: SessionState = { connected: false, expired: 0, disconnects: 0, connectedAt: 0, reads: 0 };
  for (const op of ['getData', 'getChildren', 'exists']) {
    const original = (session[op] as (...args: unknown[]) => unknown).bind(session);
    session[op] = (...args: unknown[]) => {
      state.reads++;
      return original(...args);
    };
  }
  session.on('connected', () => {
    state.connected = true;
    state.connectedAt = epochMs();
  });
  session.on('disconnected', () => {
    state.connected = false;
    state.disconnects++;
  });
  session.on('expired', () => {
    state.connected = false;
    state.expired++;
  });
  return state;
}

/** How many of `ids` the snapshot holds: one pass, no allocation (it runs at every change of every consumer). */
function presentCount(snapshot: ServiceSnapshot | undefined, ids: ReadonlySet<string>): number {
  if (!snapshot) return 0;
  let n = 0;
  for (const instance of snapshot.instances) if (ids.has(instance.id)) n++;
  return n;
}

function holds(consumer: GrayConsumer, condition: Condition, ids: ReadonlySet<string>): boolean {
  const snapshot = consumer.snapshot(condition.service);
  if (condition.kind === 'ratio') return snapshot !== undefined && consumer.ratioFor(condition.service) === condition.value;
  const present = presentCount(snapshot, ids);
  return condition.kind === 'present' ? present === ids.size : snapshot !== undefined && present === 0;
}

/**
 * Why a consumer has not seen a change when its wait ends, from its private state (bench-only; any field that has moved
 * reads as undefined): its session as tracked, and the service's catalog entry and mirror parts — loaded, stale (watch
 * not armed), a read in flight, entries held. Written to stderr, which the parent relays.
 */
function describeIncomplete(member: Member, service: string, present: number): string {
  const within = (object: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], object);
  const catalog = within(member.consumer, 'catalog');
  const state = (within(catalog, 'services') as Map<string, unknown> | undefined)?.get(service);
  const mirrored = (within(catalog, 'mirror', 'services') as Map<string, unknown> | undefined)?.get(service) as { parts?: unknown[]; loaded?: boolean } | undefined;
  const parts = (mirrored?.parts ?? []).map((part) => ({
    path: within(part, 'path'),
    loaded: within(part, 'loaded'),
    stale: within(part, 'stale'),
    reading: within(part, 'reading'),
    entries: (within(part, 'entries') as Map<string, unknown> | undefined)?.size,
  }));
  const session = sessionOf(member.consumer);
  return JSON.stringify({
    incomplete: { service, present, tracked: member.state, sessionConnected: within(session, 'connected'), publishing: within(state, 'publishing'), snapshotSize: member.consumer.snapshot(service)?.instances.length, serviceLoaded: mirrored?.loaded, parts },
  });
}

let members: Member[] = [];
/** The longest the event loop was held while a change was being timed: the consumers' work, all in one thread. */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

async function start(message: StartMessage): Promise<void> {
  const before = memoryAfterGc();
  const t0 = epochMs();
  members = message.consumers.map(({ services }) => {
    const consumer = createConsumer({ zk: message.zk, root: message.root, services, sessionTimeout: message.sessionTimeout, logger: silentLogger });
    return { consumer, services, state: track(consumer) };
  });
  const full = () => members.every((m) => m.services.every((service) => (m.consumer.snapshot(service)?.instances.length ?? -1) >= message.perService));
  const deadline = t0 + message.timeoutMs;
  while (!full()) {
    if (epochMs() > deadline) {
      const loaded = members.filter((m) => m.services.every((service) => m.consumer.snapshot(service))).length;
      const sum = (key: 'expired' | 'disconnects' | 'reads') => members.reduce((total, m) => total + m.state[key], 0);
      throw new Error(
        `scale-fleet: ${loaded} of ${members.length} consumers had a full snapshot of their services within ${message.timeoutMs} ms ` +
          `(their sessions: ${sum('expired')} expired, ${sum('disconnects')} disconnects, ${sum('reads')} reads)`,
      );
    }
    await sleep(20);
  }
  const loadMs = epochMs() - t0;
  const after = memoryAfterGc();
  let instancesWatched = 0;
  for (const m of members) for (const service of m.services) instancesWatched += m.consumer.snapshot(service)?.instances.length ?? 0;
  send({ op: 'ready', loadMs, before, after, instancesWatched });
}

function expect(id: number, condition: Condition, timeoutMs: number): void {
  const at: Array<number | null> = members.map(() => null);
  const ids = new Set(condition.kind === 'ratio' ? [] : condition.ids);
  // A consumer whose session expired re-reads everything, which on a starved machine may outlast the wait; one that
  // kept its session and still missed the change points at graykit.
  const expiredBefore = members.map((m) => m.state.expired);
  loopDelay.reset();
  let pending = members.length;
  const listeners: Array<(snapshot: ServiceSnapshot) => void> = [];
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    members.forEach((m, i) => m.consumer.off('change', listeners[i]));
    const counts = condition.kind === 'ratio' ? [] : members.map((m) => presentCount(m.consumer.snapshot(condition.service), ids));
    let described = 0;
    let missedLive = 0;
    members.forEach((m, i) => {
      if (at[i] !== null) return;
      if (m.state.expired === expiredBefore[i]) missedLive++;
      if (described++ < 3) process.stderr.write(`${describeIncomplete(m, condition.service, counts[i] ?? -1)}\n`);
    });
    send({ op: 'seen', id, at, counts, missedLive, loopMaxMs: loopDelay.max / 1e6 });
  };
  members.forEach((m, i) => {
    const check = () => {
      if (at[i] !== null || !holds(m.consumer, condition, ids)) return;
      at[i] = epochMs();
      if (--pending === 0) setImmediate(finish);
    };
    listeners[i] = (snapshot) => {
          if (snapshot.service === condition.service) check();
    };
    m.consumer.on('change', listeners[i]);
    check();
  });
  const timer = setTimeout(finish, timeoutMs);
  if (pending === 0) setImmediate(finish);
  send({ op: 'armed', id });
}

process.on('message', (message: ParentMessage) => {
  const fail = (error: unknown) => send({ op: 'error', message: (error as Error).stack ?? String(error) });
  try {
    switch (message.op) {
      case 'start':
        start(message).catch(fail);
        break;
      case 'expect':
        expect(message.id, message.condition, message.timeoutMs);
        break;
      case 'sessions':
        send({ op: 'sessions', states: members.map((m) => ({ ...m.state })) });
        break;
      case 'close':
        for (const m of members) m.consumer.close();
        send({ op: 'closed' });
        // Let the closes reach the servers, then go.
        setTimeout(() => process.exit(0), 300);
        break;
    }
  } catch (error) {
    fail(error);
  }
});

// The parent gone (crashed, killed): nothing left to measure for.
process.on('disconnect', () => process.exit(1));
