/**
 * The operator's side of the demo, on graykit's admin API (the same calls the `graykit` CLI makes: `graykit ratio`,
 * `graykit promote`, `graykit status`).
 */
import { createAdmin, silentLogger, type GrayAdmin } from '../src';
import { formatStatus } from '../src/cli/format';

const CONNECT_TIMEOUT_MS = 10_000;

export class ServiceConfigAdmin {
  private readonly admin: GrayAdmin = createAdmin({ logger: silentLogger, timeout: CONNECT_TIMEOUT_MS });
  /** The same ZooKeeper and root as the children: both come from ZK_CONNECT / GRAYKIT_ROOT. */
  readonly connection = this.admin.connection;

  constructor(readonly service: string) {}

  get configPath(): string {
    return `${this.connection.root}/services/${this.service}/config`;
  }

  async connect(): Promise<void> {
    await this.admin.listServices();
  }

  /** `graykit ratio <service> <ratio>`. */
  async setRatio(ratio: number): Promise<void> {
    await this.admin.setRatio(this.service, ratio);
  }

  /** A fresh start: an empty config (consumers use their local ratio) and no operator overrides. */
  async reset(instanceIds: string[]): Promise<void> {
    const current = await this.admin.getConfig(this.service);
    if (current.version !== -1) await this.admin.setConfig(this.service, {}, current.version);
    for (const id of instanceIds) await this.admin.clearOverride(this.service, id);
  }

  /** `graykit promote <service>`: gray instances become formal (override), ratio back to 0. */
  promote(): Promise<string[]> {
    return this.admin.promote(this.service);
  }

  /** `graykit status <service>`, as the CLI prints it. */
  async statusText(): Promise<string> {
    return formatStatus(await this.admin.status(this.service));
  }

  close(): void {
    this.admin.close();
  }
}
