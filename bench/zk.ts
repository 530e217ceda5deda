/** The benchmark's raw ZooKeeper access: writes behind graykit's back, as an operator (or zkCli) would. */
import { randomBytes } from 'node:crypto';
import { silentLogger } from '../src';
import { encodeInstance } from '../src/registry/codec';
import { isZkCode } from '../src/errors';
import { ZkSession } from '../src/registry/zk-session';
import { ZK_CODES } from '../src/zk-codes';
import type { InstanceMeta } from '../src/types';

export async function openAdmin(connect: string): Promise<ZkSession> {
  const session = new ZkSession({ connect, sessionTimeout: 10_000, logger: silentLogger });
  try {
    await session.whenConnected(15_000);
  } catch (error) {
    session.close();
    throw error;
  }
  return session;
}

/** A root znode of this run's own, so that a shared ZooKeeper (ZK_CONNECT) is never disturbed. */
export function benchRoot(): string {
  return `/graykit-bench-${randomBytes(5).toString('hex')}`;
}

/** Runs `task` over `items`, `parallel` at a time (ZooKeeper pipelines requests on one session). */
export async function eachLimited<T>(items: readonly T[], parallel: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(parallel, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      await task(items[index], index);
    }
  });
  await Promise.all(workers);
}

export interface SyntheticInstance {
  id: string;
  meta: InstanceMeta;
}

/** `count` instances on made-up addresses (never contacted): every third one gray, all of equal weight. */
export function syntheticInstances(count: number, subnet: number): SyntheticInstance[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `10.${subnet}.${Math.floor(i / 250)}.${(i % 250) + 1}:8080`,
    meta: { gray: i % 3 === 0, version: i % 3 === 0 ? 'v2' : 'v1', weight: 100 },
  }));
}

/** Creates `<root>/services/<service>/instances/<id>` as EPHEMERAL znodes of `session` (parents persistent). */
export async function registerSynthetic(session: ZkSession, root: string, service: string, instances: readonly SyntheticInstance[]): Promise<void> {
  const dir = `${root}/services/${service}/instances`;
  await session.mkdirp(dir);
  await eachLimited(instances, 64, async (instance) => {
    await session.create(`${dir}/${instance.id}`, encodeInstance(instance.meta), 'ephemeral');
  });
}

export async function writeConfig(session: ZkSession, root: string, service: string, config: object): Promise<void> {
  const path = `${root}/services/${service}/config`;
  const data = JSON.stringify(config);
  try {
    await session.setData(path, data);
  } catch (error) {
    if (!isZkCode(error, ZK_CODES.NONODE)) throw error;
    await session.mkdirp(`${root}/services/${service}`);
    await session.create(path, data, 'persistent');
  }
}

/** Deletes `path` and everything under it (depth first). Bounded by the size of the tree; errors are ignored. */
export async function deleteTree(session: ZkSession, path: string, depth = 0): Promise<void> {
  if (depth > 16) return;
  let children: string[] = [];
  try {
    children = await session.getChildren(path);
  } catch {
    return;
  }
  await eachLimited(children, 32, (child) => deleteTree(session, `${path}/${child}`, depth + 1));
  try {
    await session.delete(path);
  } catch {
    // gone already, or an ephemeral of a session that is closing: fine
  }
}
