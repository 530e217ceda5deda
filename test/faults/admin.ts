/** A raw ZooKeeper session for writing znodes behind graykit's back, on a connect string of the suite's own. */
import { silentLogger } from '../../src';
import { ZkSession } from '../../src/registry/zk-session';

export function adminSessionFor(connect: string): ZkSession {
  return new ZkSession({ connect, sessionTimeout: 10_000, logger: silentLogger });
}
