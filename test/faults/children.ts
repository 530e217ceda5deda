/**
 * Provider child processes for the fault suite (and the signal-shutdown test): started from the fault suite's
 * compiled copy (GRAYKIT_FAULTS_PROVIDER_JS, made by its global setup), else with ts-node; watched through the JSON
 * lines they print; stopped by their pid only — SIGTERM for a graceful stop (SIGKILL after a deadline), SIGKILL for
 * a crash.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const REPO_ROOT = join(__dirname, '..', '..');
const SCRIPT = join(__dirname, 'provider-process.ts');

export interface ChildEvent {
  event: string;
  at: number;
  [field: string]: unknown;
}

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
  readonly events: ChildEvent[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private readonly waiters = new Set<() => void>();

  constructor(options: ProviderOptions) {
    this.name = options.name ?? `provider:${options.port ?? 0}`;
    const compiled = process.env.GRAYKIT_FAULTS_PROVIDER_JS;
    this.child = spawn(process.execPath, compiled ? [compiled] : ['-r', 'ts-node/register/transpile-only', SCRIPT], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        ZK_CONNECT: options.zk,
        GRAYKIT_ROOT: options.root,
        GRAYKIT_SERVICE: options.service ?? 'faults',
        PORT: String(options.port ?? 0),
        SESSION_TIMEOUT: String(options.sessionTimeout ?? 4000),
        ...(options.drainMs === undefined ? {} : { DRAIN_MS: String(options.drainMs) }),
        APP_VERSION: options.version ?? 'v1',
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as ChildEvent);
      } catch {
        process.stderr.write(`[${this.name}] ${line}\n`);
      }
      for (const wake of this.waiters) wake();
    });
    createInterface({ input: this.child.stderr! }).on('line', (line) => process.stderr.write(`[${this.name}] ${line}\n`));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        resolve({ code, signal });
        for (const wake of this.waiters) wake();
      });
      this.child.once('error', (error) => {
        process.stderr.write(`[${this.name}] could not start: ${error.message}\n`);
        resolve({ code: 1, signal: null });
      });
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
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
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.filter((e) => e.event === event)[nth - 1];
        if (found) return done(() => resolve(found));
        if (!this.running) return done(() => reject(new Error(`${this.name} exited before '${event}' #${nth}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`${this.name}: no '${event}' #${nth} within ${timeoutMs} ms`))), timeoutMs);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Asks the child to end its own ZooKeeper session from outside; resolves once it has expired. */
  expireSession(timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: session not expired within ${timeoutMs} ms`)), timeoutMs);
      this.child.once('message', (message: { type?: string; error?: string }) => {
        clearTimeout(timer);
        if (message.type === 'expired' && !message.error) resolve();
        else reject(new Error(`${this.name}: ${message.error ?? 'unexpected answer'}`));
      });
      this.child.send({ type: 'expire' });
    });
  }

  /** SIGTERM (graceful: the child's handleSignals), then waits for the exit; SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) {
      this.signal('SIGTERM');
      const timer = setTimeout(() => {
        process.stderr.write(`[${this.name}] still running ${timeoutMs} ms after SIGTERM; SIGKILL\n`);
        this.signal('SIGKILL');
      }, timeoutMs);
      try {
        return await this.exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return this.exited;
  }

  /** SIGKILL: a crash, no deregistration. Waits for the exit. */
  async kill(): Promise<void> {
    if (this.running) this.signal('SIGKILL');
    await this.exited;
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      process.kill(this.pid, signal);
    } catch {
      // Already gone: its exit event is on its way.
    }
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
