/**
 * Keeping a view of znodes current with ZooKeeper's one-shot watches: the recipe, apart from the views it feeds
 * (catalog.ts builds service snapshots on top of it, as Curator's ServiceCache sits on CuratorCache).
 *
 * - `WatchArm` holds the one arming rule: a watch counts as armed only once the read that set it has succeeded,
 *   and only until it fires. A read made while a watch is armed passes none (ZooKeeper would add a duplicate), and
 *   a watch that fires before its read's answer is processed never counts as armed.
 * - `Coalescer` runs a load one at a time and queues at most one more, so a burst of events costs two reads and a
 *   late answer never overwrites a newer one.
 * - `DirectoryWatch` (children and each child's data), `NodeWatch` (one znode's data, or its absence),
 *   `NodeAndChildWatch` (a znode and one child, as they were at one moment) and `ChildrenWatch` (names only)
 *   combine the two. After a new session, `reset()` forgets every watch; results of
 *   reads started before it are dropped.
 *
 * Everything here talks to ZooKeeper through `WatchSession`, which test/unit/watch.test.ts implements in memory.
 */
import { isZkCode } from '../errors';
import { ZK_CODES } from '../zk-codes';
import type { Stat, Watcher, WatchEvent } from './zk-session';

/** The reads a watch needs: ZkSession's, with their errors (a missing znode is a ZooKeeperError NONODE). */
export interface WatchSession {
  getChildren(path: string, watcher?: Watcher): Promise<string[]>;
  getData(path: string, watcher?: Watcher): Promise<{ data: Buffer | null; stat: Stat }>;
  exists(path: string, watcher?: Watcher): Promise<Stat | null>;
}

/** A znode's data and stat as read. */
export interface NodeValue {
  readonly data: Buffer | null;
  readonly stat: Stat;
}

/** Callbacks of a watched view: `onChange` after a change was applied, `onError` when a read failed (retried). */
export interface WatchHooks {
  /** Whether the owner still wants results (false once it was closed or replaced). */
  isCurrent(): boolean;
  onChange(): void;
  onError(error: Error): void;
}

interface ArmToken {
  fired: boolean;
}

/** One one-shot watch, kept armed by the reads that pass it (see the module comment). */
export class WatchArm {
  private armed?: ArmToken;
  private epoch = 0;

  constructor(
    private readonly onFire: (event: WatchEvent) => void,
    private readonly isCurrent: () => boolean,
  ) {}

  get isArmed(): boolean {
    return this.armed !== undefined;
  }

  /** Runs `read`, giving it a watcher when none is armed; the watch counts as armed once `read` succeeded. */
  async read<T>(read: (watcher: Watcher | undefined) => Promise<T>): Promise<T> {
    if (this.armed) return read(undefined);
    const token: ArmToken = { fired: false };
    const epoch = this.epoch;
    const watcher: Watcher = (event) => {
      token.fired = true;
      if (this.armed === token) this.armed = undefined;
      if (epoch === this.epoch && this.isCurrent()) this.onFire(event);
    };
    const result = await read(watcher);
    if (!token.fired && epoch === this.epoch) this.armed = token;
    return result;
  }

  /** A new session: the server forgot every watch, and watchers set before now are ignored. */
  reset(): void {
    this.armed = undefined;
    this.epoch++;
  }
}

/** Runs `task` one at a time; a call while it runs queues exactly one more run and returns the running one. */
export class Coalescer {
  private running?: Promise<void>;
  private again = false;

  constructor(
    private readonly task: () => Promise<void>,
    private readonly hooks: Pick<WatchHooks, 'isCurrent' | 'onError'>,
  ) {}

  get busy(): boolean {
    return this.running !== undefined;
  }

  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.task()
      .catch((error: Error) => this.hooks.onError(error))
      .finally(() => {
        this.running = undefined;
        if (this.again && this.hooks.isCurrent()) {
          this.again = false;
          void this.run();
        }
      });
    return this.running;
  }
}

/**
 * The children of `path` (passing `watcher` to arm a child watch); [] when `path` does not exist, with an exists
 * watch instead so that its creation is seen.
 */
export async function childrenOrAbsent(session: WatchSession, path: string, watcher: Watcher | undefined): Promise<string[]> {
  for (;;) {
    try {
      return await session.getChildren(path, watcher);
    } catch (error) {
      if (!isZkCode(error, ZK_CODES.NONODE)) throw error;
    }
    if (!(await session.exists(path, watcher))) return [];
    // Created between the two calls: read its children.
  }
}

/**
 * Shared by the views below: loaded state, the view's own watch (a child watch, or an exists watch), a session
 * epoch, and a coalesced load.
 */
abstract class WatchedView {
  loaded = false;
  protected epoch = 0;
  /** The view's own watch; when it fires, the view reads again. */
  protected readonly arm: WatchArm;
  private readonly loader: Coalescer;

  constructor(
    protected readonly session: WatchSession,
    readonly path: string,
    protected readonly hooks: WatchHooks,
  ) {
    this.loader = new Coalescer(() => this.load(), hooks);
    this.arm = new WatchArm(() => void this.reload(), () => this.hooks.isCurrent());
  }

  /** Whether a (re)read is needed: never read, or its watch is not armed. */
  get stale(): boolean {
    return !this.loaded || !this.arm.isArmed;
  }

  /** Whether a read is in flight (it will arm the watch, or fail and be retried). */
  get reading(): boolean {
    return this.loader.busy;
  }

  /** Reads again (coalesced). Failures go to `onError`; the owner retries what is stale. */
  reload(): Promise<void> {
    return this.loader.run();
  }

  /** After a new session: every watch is gone. What was read stays until the next read replaces it whole. */
  reset(): void {
    this.loaded = false;
    this.epoch++;
    this.arm.reset();
  }

  /** True while a load started in `epoch` may still apply its results. */
  protected current(epoch: number): boolean {
    return epoch === this.epoch && this.hooks.isCurrent();
  }

  protected abstract load(): Promise<void>;
}

/** The names of a directory's children, kept current by a child watch. */
export class ChildrenWatch extends WatchedView {
  names: readonly string[] = [];

  protected async load(): Promise<void> {
    const epoch = this.epoch;
    const names = await this.arm.read((watcher) => childrenOrAbsent(this.session, this.path, watcher));
    if (!this.current(epoch)) return;
    this.names = names;
    this.loaded = true;
    this.hooks.onChange();
  }
}

/** One znode's data and stat (null while it does not exist), kept current by an exists watch. */
export class NodeWatch extends WatchedView {
  value: NodeValue | null = null;

  protected async load(): Promise<void> {
    const epoch = this.epoch;
    const value = await readNode(this.session, this.path, this.arm);
    if (!this.current(epoch)) return;
    this.value = value;
    this.loaded = true;
    this.hooks.onChange();
  }
}

/** A znode and one of its children as ZooKeeper held them at one moment (readNodeAndChild). */
export interface NodeAndChild {
  /** The znode's data and stat; null when it does not exist. */
  readonly node: NodeValue | null;
  /** The child's data and stat; null when it does not exist. */
  readonly child: NodeValue | null;
}

/**
 * Reads a znode, then one of its children, then the znode's stat again, until the znode's data did not change in
 * between: its data then held over the whole read of the child, so the two are what ZooKeeper held at one moment
 * (a session's reads are answered in order). Two watched znodes read apart can each be current and still never
 * have held their two values at once — a parent's data read before a change the child's read already shows. With
 * `arms`, each read passes its watch as NodeWatch does.
 */
export async function readNodeAndChild(session: WatchSession, path: string, childPath: string, arms?: { node: WatchArm; child: WatchArm }): Promise<NodeAndChild> {
  for (;;) {
    const node = await readNode(session, path, arms?.node);
    const child = await readNode(session, childPath, arms?.child);
    // A missing znode had no child at that moment either; the child was read for its watch only.
    if (node === null) return { node, child: null };
    const again = await session.exists(path);
    if (again?.version === node.stat.version && again.mzxid === node.stat.mzxid) return { node, child };
    // The znode changed while its child was read: read both again.
  }
}

/** A znode and one of its children (readNodeAndChild), kept current by an exists watch on each. */
export class NodeAndChildWatch extends WatchedView {
  value: NodeAndChild = { node: null, child: null };
  /** The child's watch; `arm` is the znode's. Either firing reads both again. */
  private readonly childArm: WatchArm;

  constructor(session: WatchSession, path: string, readonly childPath: string, hooks: WatchHooks) {
    super(session, path, hooks);
    this.childArm = new WatchArm(() => void this.reload(), () => this.hooks.isCurrent());
  }

  override get stale(): boolean {
    return super.stale || !this.childArm.isArmed;
  }

  override reset(): void {
    super.reset();
    this.childArm.reset();
  }

  protected async load(): Promise<void> {
    const epoch = this.epoch;
    const value = await readNodeAndChild(this.session, this.path, this.childPath, { node: this.arm, child: this.childArm });
    if (!this.current(epoch)) return;
    this.value = value;
    this.loaded = true;
    this.hooks.onChange();
  }
}

/**
 * One znode's data and stat, or null when it does not exist. With `arm`, an exists watch: it fires on creation,
 * deletion and data changes alike.
 */
async function readNode(session: WatchSession, path: string, arm?: WatchArm): Promise<NodeValue | null> {
  const stat = arm ? await arm.read((watcher) => session.exists(path, watcher)) : await session.exists(path);
  if (!stat) return null;
  try {
    return await session.getData(path);
  } catch (error) {
    if (!isZkCode(error, ZK_CODES.NONODE)) throw error; // deleted in between: its watch has fired
    return null;
  }
}

/**
 * The children of one directory znode and each child's data and stat, kept current by a child watch and one data
 * watch per child. A read reads the children that are new or whose watch is not armed (all of them at first, and
 * after a new session, whose reset() drops the arms), drops the children no longer listed, and keeps the updates
 * the watches applied meanwhile; one that fails part-way keeps what it did read, and the retry reads the rest.
 *
 * A child that could not be read leaves the directory `incomplete`: stale, so that the owner's retry reads it, but
 * still loaded once it has been, so that what was read (each child's current data, and the removals) goes on being
 * reported. Unloading it instead would hold back every change of the service, removals included, until the retry got
 * through; leaving it loaded and not stale would leave the children it missed unseen until the directory's next
 * change, which after a rolling deploy may never come.
 */
export class DirectoryWatch extends WatchedView {
  /** Data and stat by child name. */
  entries = new Map<string, NodeValue>();
  /** Each child's data watch; `arm` is the child watch. */
  private readonly childArms = new Map<string, WatchArm>();
  /** A listed child's read failed since the last read that got every one. */
  private incomplete = false;

  override get stale(): boolean {
    return this.incomplete || super.stale;
  }

  override reset(): void {
    super.reset();
    this.incomplete = false;
    this.childArms.clear();
  }

  protected async load(): Promise<void> {
    const epoch = this.epoch;
    const names = await this.arm.read((watcher) => childrenOrAbsent(this.session, this.path, watcher));
    if (!this.current(epoch)) return;
    const listed = new Set(names);
    // After a new session reset() has dropped every child's arm, so every child is read again; after a load that
    // failed part-way, only the children it did not read.
    const toRead = names.filter((name) => !this.entries.has(name) || !this.armOf(name).isArmed);
    // Every read is kept, whichever fail: under load one read in a large directory times out now and then, and
    // throwing the others away made each retry read the whole directory again, and fail again, for good.
    const results = await Promise.allSettled(toRead.map((name) => this.readChild(name)));
    if (!this.current(epoch)) return;
    const { entries } = this;
    for (const name of entries.keys()) if (!listed.has(name)) entries.delete(name);
    for (const name of this.childArms.keys()) if (!listed.has(name)) this.childArms.delete(name);
    let failure: unknown;
    toRead.forEach((name, i) => {
      const result = results[i];
      if (result.status === 'rejected') failure ??= result.reason;
      else if (result.value === 'gone') entries.delete(name);
      else entries.set(name, result.value);
    });
    this.incomplete = failure !== undefined;
    if (failure !== undefined) {
      // The owner's retry reads what is missing; what was read is reported now, if the directory was ever whole.
      if (this.loaded) this.hooks.onChange();
      throw failure;
    }
    this.loaded = true;
    this.hooks.onChange();
  }

  private armOf(name: string): WatchArm {
    let arm = this.childArms.get(name);
    if (!arm) {
      arm = new WatchArm((event) => this.onChildEvent(name, event), () => this.hooks.isCurrent());
      this.childArms.set(name, arm);
    }
    return arm;
  }

  /** Reads one child, arming its data watch; 'gone' when it no longer exists. */
  private async readChild(name: string): Promise<NodeValue | 'gone'> {
    try {
      return await this.armOf(name).read((watcher) => this.session.getData(`${this.path}/${name}`, watcher));
    } catch (error) {
      if (isZkCode(error, ZK_CODES.NONODE)) return 'gone';
      throw error;
    }
  }

  private onChildEvent(name: string, event: WatchEvent): void {
    if (event.type === 'deleted') {
      if (this.entries.delete(name)) this.hooks.onChange();
      return;
    }
    const epoch = this.epoch;
    this.readChild(name).then(
      (result) => {
        if (!this.current(epoch)) return;
        if (result === 'gone') this.entries.delete(name);
        else this.entries.set(name, result);
        this.hooks.onChange();
      },
      (error: Error) => {
        if (!this.current(epoch)) return;
        this.incomplete = true; // the owner's retry re-reads the directory, arming what is missing
        this.hooks.onError(error);
      },
    );
  }
}
