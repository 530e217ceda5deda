/**
 * An in-memory ZooKeeper for pure unit tests of what sits on the watch primitive (registry/watch.ts): znodes,
 * one-shot data/exists and child watches, reads that can be held or failed on demand, and session expiry.
 */
import { EventEmitter } from 'node:events';
import { ZooKeeperError } from '../../src/errors';
import { silentLogger } from '../../src/logger';
import type { Logger } from '../../src/types';
import { RegistryCatalog } from '../../src/registry/catalog';
import type { WatchSession } from '../../src/registry/watch';
import type { Stat, Watcher, WatchEvent } from '../../src/registry/zk-session';
import { ZK_CODES } from '../../src/zk-codes';

interface Node {
  data: Buffer | null;
  version: number;
  /** The zxid of the last write to it. */
  mzxid: number;
  /** The owning session's id, '0' for a persistent znode (as ZooKeeper's stat says). */
  ephemeralOwner: string;
}

type ReadKind = 'getData' | 'getChildren' | 'exists';

/** An in-memory ZooKeeper: znodes, one-shot data/exists and child watches, and hooks to hold or fail reads. */
export class FakeZooKeeper implements WatchSession {
  readonly nodes = new Map<string, Node>();
  /** The last write's zxid. */
  private zxid = 0;
  private dataWatches = new Map<string, Set<Watcher>>();
  private childWatches = new Map<string, Set<Watcher>>();
  /** Reads made, in order, with whether they passed a watcher. */
  readonly reads: Array<{ kind: ReadKind; path: string; watched: boolean }> = [];
  private gates: Array<{ kind: ReadKind; path: string; release?: () => void; opened: Promise<void>; open: () => void }> = [];
  private failures: Array<{ kind: ReadKind; path: string; error: Error }> = [];

  /** Creates or changes a znode; `ephemeralOwner` on creation ('0', the default: persistent). */
  set(path: string, data: string | null, ephemeralOwner = '0'): void {
    const existing = this.nodes.get(path);
    this.nodes.set(path, { data: data === null ? null : Buffer.from(data), version: existing ? existing.version + 1 : 0, mzxid: ++this.zxid, ephemeralOwner: existing?.ephemeralOwner ?? ephemeralOwner });
    this.fire(this.dataWatches, path, { type: existing ? 'changed' : 'created', path });
    if (!existing) this.fire(this.childWatches, parentOf(path), { type: 'child', path: parentOf(path) });
  }

  remove(path: string): void {
    if (!this.nodes.delete(path)) return;
    this.zxid++;
    this.fire(this.dataWatches, path, { type: 'deleted', path });
    this.fire(this.childWatches, path, { type: 'deleted', path });
    this.fire(this.childWatches, parentOf(path), { type: 'child', path: parentOf(path) });
  }

  /** Holds the next read of that kind and path until the returned function is called; resolves when it is made. */
  hold(kind: ReadKind, path: string): { made: Promise<void>; release: () => void } {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const gate: { kind: ReadKind; path: string; release?: () => void; opened: Promise<void>; open: () => void } = { kind, path, opened, open };
    this.gates.push(gate);
    return {
      made: opened,
      release: () => {
        if (gate.release) gate.release();
        else gate.release = () => undefined;
      },
    };
  }

  /** Fails the next read of that kind and path with `error` (connection loss by default). */
  failNext(kind: ReadKind, path: string, error: Error = new ZooKeeperError('get', path, ZK_CODES.CONNECTIONLOSS, 'connection loss')): void {
    this.failures.push({ kind, path, error });
  }

  watchersOn(path: string): number {
    return (this.dataWatches.get(path)?.size ?? 0) + (this.childWatches.get(path)?.size ?? 0);
  }

  getData(path: string, watcher?: Watcher): Promise<{ data: Buffer | null; stat: Stat }> {
    return this.read('getData', path, watcher, () => {
      const node = this.nodes.get(path);
      if (!node) throw new ZooKeeperError('get', path, ZK_CODES.NONODE, 'no node');
      if (watcher) this.add(this.dataWatches, path, watcher);
      return { data: node.data, stat: stat(node) };
    });
  }

  getChildren(path: string, watcher?: Watcher): Promise<string[]> {
    return this.read('getChildren', path, watcher, () => {
      if (!this.nodes.has(path)) throw new ZooKeeperError('get children', path, ZK_CODES.NONODE, 'no node');
      if (watcher) this.add(this.childWatches, path, watcher);
      const prefix = `${path}/`;
      return [...this.nodes.keys()].filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes('/')).map((p) => p.slice(prefix.length)).sort();
    });
  }

  exists(path: string, watcher?: Watcher): Promise<Stat | null> {
    return this.read('exists', path, watcher, () => {
      if (watcher) this.add(this.dataWatches, path, watcher); // an exists watch is set whether or not the node exists
      const node = this.nodes.get(path);
      return node ? stat(node) : null;
    });
  }

  /** The answer is computed when the read is released, as a server answers when it processes the request. */
  private async read<T>(kind: ReadKind, path: string, watcher: Watcher | undefined, answer: () => T): Promise<T> {
    this.reads.push({ kind, path, watched: watcher !== undefined });
    const failure = this.failures.findIndex((f) => f.kind === kind && f.path === path);
    if (failure !== -1) {
      const [{ error }] = this.failures.splice(failure, 1);
      await Promise.resolve();
      throw error;
    }
    const gateIndex = this.gates.findIndex((g) => g.kind === kind && g.path === path);
    if (gateIndex !== -1) {
      const [gate] = this.gates.splice(gateIndex, 1);
      await new Promise<void>((resolve) => {
        const done = gate.release;
        gate.release = resolve;
        gate.open();
        if (done) resolve();
      });
    }
    await Promise.resolve();
    return answer();
  }

  private add(map: Map<string, Set<Watcher>>, path: string, watcher: Watcher): void {
    let set = map.get(path);
    if (!set) map.set(path, (set = new Set()));
    set.add(watcher);
  }

  private fire(map: Map<string, Set<Watcher>>, path: string, event: WatchEvent): void {
    const set = map.get(path);
    if (!set) return;
    map.delete(path); // one-shot
    for (const watcher of set) watcher(event);
  }

  /** A new session: the server forgot every watch. */
  expireSession(): void {
    this.dataWatches = new Map();
    this.childWatches = new Map();
  }
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}

function stat(node: Node): Stat {
  return { version: node.version, mzxid: node.mzxid, aversion: 0, ephemeralOwner: node.ephemeralOwner, numChildren: 0, mtime: new Date(0), ctime: new Date(0) };
}

/** What a mirror or a catalog needs of a ZkSession: the double's reads and the connection events. */
export function fakeSession(zk: FakeZooKeeper): EventEmitter & WatchSession & { connected: boolean; unusable: undefined } {
  return Object.assign(new EventEmitter(), { connected: true, unusable: undefined, getData: zk.getData.bind(zk), getChildren: zk.getChildren.bind(zk), exists: zk.exists.bind(zk) });
}

/**
 * A catalog of service `demo` under `/g` over the double's `session`, every change published in its turn (no publish
 * interval, no re-read jitter): the double's interleavings are forced, so each one is seen.
 */
export function demoCatalog(session: ReturnType<typeof fakeSession>, logger: Logger = silentLogger): RegistryCatalog {
  const catalog = new RegistryCatalog({ session: session as never, root: '/g', logger, publishIntervalMs: 0, rereadJitterMs: 0 });
  catalog.watch('demo');
  return catalog;
}
