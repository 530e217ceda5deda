/**
 * The operator's side of the demo: writes the service's config znode (`<root>/services/<service>/config`) over a
 * raw ZooKeeper session, as an admin tool would. graykit's public API has no admin client (yet), so this uses the
 * session class the library itself is built on.
 */
import { configPath, encodeConfig, servicePath, silentLogger } from '../src';
import { resolveConnection } from '../src/registry/connection';
import { ZK, ZkSession, isZkCode } from '../src/registry/zk-session';

const CONNECT_TIMEOUT_MS = 10_000;

export class ServiceConfigAdmin {
  /** The same ZooKeeper and root as the children: both come from ZK_CONNECT / GRAYKIT_ROOT. */
  readonly connection = resolveConnection({ logger: silentLogger });
  private readonly session = new ZkSession({ connect: this.connection.zk, sessionTimeout: this.connection.sessionTimeout, logger: silentLogger });

  constructor(readonly service: string) {}

  get configPath(): string {
    return configPath(this.connection.root, this.service);
  }

  connect(): Promise<void> {
    return this.session.whenConnected(CONNECT_TIMEOUT_MS);
  }

  /** Writes `{"ratio": ratio}`, creating the znode (and its parents) when missing. */
  async setRatio(ratio: number): Promise<void> {
    const data = encodeConfig({ ratio });
    try {
      await this.session.setData(this.configPath, data);
    } catch (error) {
      if (!isZkCode(error, ZK.NONODE)) throw error;
      await this.session.mkdirp(servicePath(this.connection.root, this.service));
      await this.session.create(this.configPath, data, 'persistent');
    }
  }

  /** Removes the config znode, so that consumers fall back to their local ratio (a fresh start for the demo). */
  async clearConfig(): Promise<void> {
    try {
      await this.session.delete(this.configPath);
    } catch (error) {
      if (!isZkCode(error, ZK.NONODE)) throw error;
    }
  }

  close(): void {
    this.session.close();
  }
}
