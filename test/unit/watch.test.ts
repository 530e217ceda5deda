/**
 * The watch primitive (src/registry/watch.ts) against an in-memory ZooKeeper double: one-shot watches, reads that
 * can be held or failed on demand, and session resets. Deterministic: every interleaving is forced, none is hoped
 * for. These replace the hand-run bench/repro-lost-config-watch.ts.
 */
import { ZooKeeperError } from '../../src/errors';
import { ChildrenWatch, Coalescer, DirectoryWatch, NodeWatch, readNodeAndChild, WatchArm, type WatchHooks } from '../../src/registry/watch';
import { ZK_CODES } from '../../src/zk-codes';
import { FakeZooKeeper, fakeSession } from '../support/fake-zookeeper';

/** Lets every pending promise continuation run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

function hooks(): WatchHooks & { changes: number; errors: Error[]; current: boolean } {
  const state = {
    changes: 0,
    errors: [] as Error[],
    current: true,
    isCurrent: () => state.current,
    onChange: () => void state.changes++,
    onError: (error: Error) => void state.errors.push(error),
  };
  return state;
}

const text = (watch: NodeWatch) => watch.value?.data?.toString() ?? null;
/** A directory's children as name → data text. */
const texts = (dir: DirectoryWatch) => Object.fromEntries([...dir.entries].map(([name, entry]) => [name, entry.data?.toString()]));

describe('WatchArm: the one arming rule', () => {
  test('a read made while a watch is armed passes none; the watch counts as armed only after its read', async () => {
    const zk = new FakeZooKeeper();
    zk.set('/a', 'x');
    let fired = 0;
    const arm = new WatchArm(() => void fired++, () => true);
    expect(arm.isArmed).toBe(false);
    const read = arm.read((watcher) => zk.getData('/a', watcher));
    expect(arm.isArmed).toBe(false);
    await read;
    expect(arm.isArmed).toBe(true);
    await arm.read((watcher) => zk.getData('/a', watcher));
    expect(zk.reads.map((r) => r.watched)).toEqual([true, false]);
    zk.set('/a', 'y');
    expect(fired).toBe(1);
    expect(arm.isArmed).toBe(false);
  });

  test('a watch that fires before its read has been processed never counts as armed', async () => {
    const zk = new FakeZooKeeper();
    zk.set('/a', 'x');
    const arm = new WatchArm(() => undefined, () => true);
    await arm.read(async (watcher) => {
      const result = await zk.getData('/a', watcher);
      zk.set('/a', 'y'); // the event arrives before the read's continuation runs
      return result;
    });
    expect(arm.isArmed).toBe(false);
  });

  test('after reset, a watcher set in the old session is ignored and its read does not arm', async () => {
    const zk = new FakeZooKeeper();
    zk.set('/a', 'x');
    let fired = 0;
    const arm = new WatchArm(() => void fired++, () => true);
    const held = zk.hold('getData', '/a');
    const read = arm.read((watcher) => zk.getData('/a', watcher));
    await held.made;
    arm.reset();
    held.release();
    await read;
    expect(arm.isArmed).toBe(false);
    zk.set('/a', 'y');
    expect(fired).toBe(0);
  });
});

describe('Coalescer', () => {
  test('a burst of runs costs the running one and one more', async () => {
    let runs = 0;
    let release!: () => void;
    const coalescer = new Coalescer(
      async () => {
        runs++;
        if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
      },
      { isCurrent: () => true, onError: () => undefined },
    );
    const first = coalescer.run();
    for (let i = 0; i < 10; i++) void coalescer.run();
    release();
    await first;
    await settle();
    expect(runs).toBe(2);
    expect(coalescer.busy).toBe(false);
  });

  test('a failing run reports its error and does not reject', async () => {
    const errors: Error[] = [];
    const coalescer = new Coalescer(() => Promise.reject(new Error('boom')), { isCurrent: () => true, onError: (e) => void errors.push(e) });
    await expect(coalescer.run()).resolves.toBeUndefined();
    expect(errors.map((e) => e.message)).toEqual(['boom']);
  });
});

describe('NodeWatch', () => {
  /** A NodeWatch on /cfg over a new double; /cfg is created holding `data` first, unless that is undefined. */
  function watchCfg(data?: string) {
    const zk = new FakeZooKeeper();
    if (data !== undefined) zk.set('/cfg', data);
    const h = hooks();
    return { zk, h, watch: new NodeWatch(zk, '/cfg', h) };
  }

  /** Writes `data` to /cfg and expects the watch to hold it once every continuation has run: a watch was armed. */
  async function expectFollows(zk: FakeZooKeeper, watch: NodeWatch, data: string): Promise<void> {
    zk.set('/cfg', data);
    await settle();
    expect(text(watch)).toBe(data);
  }

  test('follows data changes, creation and deletion, re-arming each time', async () => {
    const { zk, h, watch } = watchCfg();
    await watch.reload();
    expect(watch.value).toBeNull();
    expect(watch.stale).toBe(false);
    for (const value of ['{"ratio":1}', '{"ratio":2}', '{"ratio":3}']) await expectFollows(zk, watch, value);
    zk.remove('/cfg');
    await settle();
    expect(watch.value).toBeNull();
    await expectFollows(zk, watch, '{"ratio":4}');
    expect(h.errors).toEqual([]);
  });

  test('the lost-watch race: an unwatched re-read that ends after the armed watch fired leaves the watch re-armed', async () => {
    // The retry tick queues a read while a watch is armed (so it passes none); the watch fires while that read is in
    // flight. Before the fix the late read marked the watch armed again, and no later change was ever seen.
    const { zk, watch } = watchCfg('v0');
    await watch.reload();
    const held = zk.hold('exists', '/cfg');
    const late = watch.reload(); // an unwatched read: a watch is armed
    await held.made;
    expect(zk.reads[zk.reads.length - 1]).toEqual({ kind: 'exists', path: '/cfg', watched: false });
    zk.set('/cfg', 'v1'); // the armed watch fires while the unwatched read is in flight
    held.release();
    await late;
    await settle();
    expect(text(watch)).toBe('v1');
    expect(watch.stale).toBe(false);
    await expectFollows(zk, watch, 'v2'); // only seen if a watch is really armed
  });

  test('a failed read leaves the view stale and reports the error; the next reload re-arms', async () => {
    const { zk, h, watch } = watchCfg('v0');
    zk.failNext('exists', '/cfg');
    await watch.reload();
    expect(h.errors).toHaveLength(1);
    expect(watch.stale).toBe(true);
    await watch.reload();
    expect(text(watch)).toBe('v0');
    await expectFollows(zk, watch, 'v1');
  });

  test('a session that expires mid-read: the old read is dropped, the old watch ignored, the new read arms', async () => {
    const { zk, h, watch } = watchCfg('v0');
    const held = zk.hold('exists', '/cfg');
    const old = watch.reload();
    await held.made;
    zk.expireSession();
    watch.reset();
    zk.set('/cfg', 'v1');
    held.release();
    await old;
    await settle();
    expect(watch.loaded).toBe(false); // the old session's answer was not applied
    const changesBefore = h.changes;
    await watch.reload();
    expect(text(watch)).toBe('v1');
    expect(h.changes).toBe(changesBefore + 1);
    await expectFollows(zk, watch, 'v2');
  });

  test('an owner that is closed gets no more changes', async () => {
    const { zk, h, watch } = watchCfg();
    await watch.reload();
    const changes = h.changes;
    h.current = false;
    zk.set('/cfg', 'v1');
    await settle();
    expect(h.changes).toBe(changes);
  });
});

describe('ChildrenWatch', () => {
  test('an absent directory is watched for its creation, then for its children', async () => {
    const zk = new FakeZooKeeper();
    const h = hooks();
    const watch = new ChildrenWatch(zk, '/svc', h);
    await watch.reload();
    expect(watch.names).toEqual([]);
    expect(watch.stale).toBe(false);
    zk.set('/svc', '');
    await settle();
    zk.set('/svc/a', '');
    await settle();
    zk.set('/svc/b', '');
    await settle();
    expect(watch.names).toEqual(['a', 'b']);
    zk.remove('/svc/a');
    await settle();
    expect(watch.names).toEqual(['b']);
  });
});

describe('DirectoryWatch', () => {
  /** A DirectoryWatch on /i over a new double, with `children` (name to data) created under /i first; read once. */
  async function watchDir(children: Record<string, string>) {
    const zk = new FakeZooKeeper();
    zk.set('/i', '');
    for (const [name, data] of Object.entries(children)) zk.set(`/i/${name}`, data);
    const h = hooks();
    const dir = new DirectoryWatch(zk, '/i', h);
    await dir.reload();
    return { zk, h, dir };
  }

  test('children and their data: added, changed, deleted, each seen once and re-armed', async () => {
    const { zk, dir } = await watchDir({ a: '1' });
    expect(texts(dir)).toEqual({ a: '1' });
    zk.set('/i/b', '2');
    await settle();
    expect(texts(dir)).toEqual({ a: '1', b: '2' });
    zk.set('/i/a', '1b');
    await settle();
    zk.set('/i/a', '1c');
    await settle();
    expect(texts(dir)).toEqual({ a: '1c', b: '2' });
    zk.remove('/i/b');
    await settle();
    expect(texts(dir)).toEqual({ a: '1c' });
    expect(dir.stale).toBe(false);
    // One data watch per child at most: re-reads never stack duplicate watchers.
    expect(zk.watchersOn('/i/a')).toBe(1);
  });

  test('a child changed while the directory is being re-read keeps its newest data', async () => {
    const { zk, dir } = await watchDir({ a: '1' });
    const held = zk.hold('getChildren', '/i');
    zk.set('/i/b', '2'); // the child watch fires: a directory re-read starts and is held
    await held.made;
    zk.set('/i/a', '1b'); // a's data watch fires meanwhile
    await settle();
    held.release();
    await settle();
    expect(dir.entries.get('a')?.data?.toString()).toBe('1b');
    expect(dir.entries.get('b')?.data?.toString()).toBe('2');
  });

  test('a child data re-read that fails marks the directory for a re-read', async () => {
    const { zk, h, dir } = await watchDir({ a: '1' });
    zk.failNext('getData', '/i/a');
    zk.set('/i/a', '2');
    await settle();
    expect(h.errors).toHaveLength(1);
    expect(dir.stale).toBe(true);
    await dir.reload();
    expect(dir.entries.get('a')?.data?.toString()).toBe('2');
    zk.set('/i/a', '3');
    await settle();
    expect(dir.entries.get('a')?.data?.toString()).toBe('3');
  });

  test('a first read that fails part-way keeps what it read: the retry reads only the rest', async () => {
    const zk = new FakeZooKeeper();
    zk.set('/i', '');
    for (const name of ['a', 'b', 'c', 'd']) zk.set(`/i/${name}`, name);
    const h = hooks();
    const dir = new DirectoryWatch(zk, '/i', h);
    zk.failNext('getData', '/i/c', new ZooKeeperError('get', '/i/c', ZK_CODES.OPERATIONTIMEOUT, 'no answer within 10000 ms'));
    await dir.reload();
    expect(h.errors.map((e) => e.message)).toEqual([expect.stringContaining('no answer')]);
    expect(dir.stale).toBe(true);
    const dataReads = () => zk.reads.filter((r) => r.kind === 'getData').map((r) => r.path);
    expect(dataReads()).toEqual(['/i/a', '/i/b', '/i/c', '/i/d']);
    await dir.reload();
    expect(dataReads()).toEqual(['/i/a', '/i/b', '/i/c', '/i/d', '/i/c']);
    expect(texts(dir)).toEqual({ a: 'a', b: 'b', c: 'c', d: 'd' });
    expect(dir.stale).toBe(false);
    zk.set('/i/a', 'a2');
    await settle();
    expect(dir.entries.get('a')?.data?.toString()).toBe('a2');
  });

  test('a re-read that fails part-way after a full read leaves the directory stale, and reports what it did read', async () => {
    const { zk, h, dir } = await watchDir({ a: '1' });
    const changes = h.changes;
    // b and c appear together: the child watch fires once, and the re-read lists both; c's read times out.
    const held = zk.hold('getChildren', '/i');
    zk.set('/i/b', '2');
    await held.made;
    zk.set('/i/c', '3');
    zk.failNext('getData', '/i/c', new ZooKeeperError('get', '/i/c', ZK_CODES.OPERATIONTIMEOUT, 'no answer within 10000 ms'));
    held.release();
    await settle();
    expect(h.errors.map((e) => e.message)).toEqual([expect.stringContaining('no answer')]);
    // Still loaded (the service keeps being published), but stale: the owner's retry must read c.
    expect(dir.loaded).toBe(true);
    expect(dir.stale).toBe(true);
    expect(texts(dir)).toEqual({ a: '1', b: '2' });
    expect(h.changes).toBe(changes + 1);
    await dir.reload();
    expect(texts(dir)).toEqual({ a: '1', b: '2', c: '3' });
    expect(dir.stale).toBe(false);
    expect(h.changes).toBe(changes + 2);
  });

  test('a child whose re-read fails leaves the directory loaded (so still published) and stale (so retried)', async () => {
    const { zk, h, dir } = await watchDir({ a: '1', b: '2' });
    zk.failNext('getData', '/i/a');
    zk.set('/i/a', '1b'); // a's data watch fires; its re-read fails
    await settle();
    expect(dir.stale).toBe(true);
    expect(dir.loaded).toBe(true);
    const changes = h.changes;
    zk.remove('/i/b');
    await settle();
    expect(dir.entries.has('b')).toBe(false);
    expect(h.changes).toBeGreaterThan(changes);
  });

  test('after a new session the first read replaces the entries whole', async () => {
    const { zk, dir } = await watchDir({ a: '1', b: '2' });
    zk.expireSession();
    dir.reset();
    zk.remove('/i/a'); // no watch sees it: the server forgot them
    zk.set('/i/b', '2b');
    expect(dir.entries.size).toBe(2); // the old view stays until the new read
    await dir.reload();
    expect([...dir.entries.keys()]).toEqual(['b']);
    expect(dir.entries.get('b')?.data?.toString()).toBe('2b');
    zk.set('/i/c', '3');
    await settle();
    expect([...dir.entries.keys()].sort()).toEqual(['b', 'c']);
  });
});

describe('readNodeAndChild: a znode and its child at one moment', () => {
  test('a change of the znode during the child\'s read makes both be read again', async () => {
    const zk = new FakeZooKeeper();
    zk.set('/r', 'running');
    zk.set('/r/lease', '{}');
    const lease = zk.hold('exists', '/r/lease');
    const read = readNodeAndChild(zk, '/r', '/r/lease');
    await lease.made;
    // The rollout ends in order while the lease's read waits: outcome, then the lease deleted.
    zk.set('/r', 'promoted');
    zk.remove('/r/lease');
    lease.release();
    const { node, child } = await read;
    expect([node?.data?.toString(), child]).toEqual(['promoted', null]);
    expect(zk.reads.filter((r) => r.path === '/r' && r.kind === 'exists')).toHaveLength(4); // two rounds
  });

  test('an unchanged znode is read once and its stat once more; a missing one once, with no child', async () => {
    const zk = new FakeZooKeeper();
    expect(await readNodeAndChild(zk, '/r', '/r/lease')).toEqual({ node: null, child: null });
    expect(zk.reads.map((r) => `${r.kind} ${r.path}`)).toEqual(['exists /r', 'exists /r/lease']);
    zk.set('/r', 'x');
    const { node, child } = await readNodeAndChild(zk, '/r', '/r/lease');
    expect([node?.data?.toString(), child]).toEqual(['x', null]);
    expect(zk.reads.slice(2).map((r) => `${r.kind} ${r.path}`)).toEqual(['exists /r', 'getData /r', 'exists /r/lease', 'exists /r']);
  });
});
