/**
 * Provider child processes for the fault suite (and the signal-shutdown test): started from the fault suite's
 * compiled copy (GRAYKIT_FAULTS_PROVIDER_JS, made by its global setup), else with ts-node; watched through the JSON
 * lines they print; stopped by their pid only — SIGTERM for a graceful stop (SIGKILL after a deadline), SIGKILL for
 * a crash (scripts/children.ts).
 */
import { relative } from 'node:path';
import { REPO_ROOT, startChild, type Child, type ExitStatus } from '../../scripts/children';

export type ChildEvent = Child['events'][number] & { at: number };

export interface ProviderOptions {
  zk: string;
  root: string;
  port?: number;
  service?: string;
  sessionTimeout?: number;
  drainMs?: number;
  version?: string;
  /** Prefix of the child's stderr lines in this process's output. */
  name?: string;
}

export class ProviderProcess {
  readonly name: string;
  private readonly child: Child;

  constructor(options: ProviderOptions) {
    this.name = options.name ?? `provider:${options.port ?? 0}`;
    const compiled = process.env.GRAYKIT_FAULTS_PROVIDER_JS;
    this.child = startChild({
      name: this.name,
      script: compiled ? relative(REPO_ROOT, compiled) : 'test/faults/provider-process.ts',
      env: {
        ZK_CONNECT: options.zk,
        GRAYKIT_ROOT: options.root,
        GRAYKIT_SERVICE: options.service ?? 'faults',
        PORT: String(options.port ?? 0),
        SESSION_TIMEOUT: String(options.sessionTimeout ?? 4000),
        ...(options.drainMs === undefined ? {} : { DRAIN_MS: String(options.drainMs) }),
        APP_VERSION: options.version ?? 'v1',
      },
    });
  }

  get events(): ChildEvent[] {
    return this.child.events as ChildEvent[];
  }

  get exited(): Promise<ExitStatus> {
    return this.child.exited;
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get running(): boolean {
    return this.child.running;
  }

  /** The port it listens on, once it said so. */
  get port(): number | undefined {
    return this.events.find((event) => event.event === 'listening')?.port as number | undefined;
  }

  count(event: string): number {
    return this.events.filter((e) => e.event === event).length;
  }

  /** Resolves with the `nth` (1-based) event of that name; rejects after `timeoutMs` or when the process exits. */
  waitFor(event: string, timeoutMs = 20_000, nth = 1): Promise<ChildEvent> {
    return this.child.waitForEvent(event, timeoutMs, nth) as Promise<ChildEvent>;
  }

  /** Asks the child to end its own ZooKeeper session from outside; resolves once it has expired. */
  expireSession(timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: session not expired within ${timeoutMs} ms`)), timeoutMs);
      this.child.process.once('message', (message: { type?: string; error?: string }) => {
        clearTimeout(timer);
        if (message.type === 'expired' && !message.error) resolve();
        else reject(new Error(`${this.name}: ${message.error ?? 'unexpected answer'}`));
      });
      this.child.process.send({ type: 'expire' });
    });
  }

  /** SIGTERM (graceful: the child's handleSignals), then waits for the exit; SIGKILL after `timeoutMs`. */
  stop(timeoutMs = 30_000): Promise<ExitStatus> {
    return this.child.stop(timeoutMs);
  }

  /** SIGKILL: a crash, no deregistration. Waits for the exit. */
  async kill(): Promise<void> {
    await this.child.kill();
  }
}

/** Starts a provider process and waits until it is registered. */
export async function startProviderProcess(options: ProviderOptions, timeoutMs = 30_000): Promise<ProviderProcess> {
  const provider = new ProviderProcess(options);
  try {
    await provider.waitFor('registered', timeoutMs);
  } catch (error) {
    await provider.kill();
    throw error;
  }
  return provider;
}
