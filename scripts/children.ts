/**
 * Child processes for the benchmark, the demos and the fault tests: one way to start a TypeScript (or compiled)
 * script or a binary, read what it prints, wait for a line with a bounded deadline, and stop it by its pid only —
 * SIGTERM, then SIGKILL after a deadline. Whatever ends this process, its children get SIGTERM on the way out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const REPO_ROOT = join(__dirname, '..');

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function describeExit({ code, signal }: ExitStatus): string {
  return signal ? `exited by ${signal}` : `exited with code ${code}`;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Stops `child` with this process, by pid, if it is still running then. */
export function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const running of live) if (running.pid !== undefined && running.exitCode === null && running.signalCode === null) running.kill('SIGTERM');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

export interface ChildOptions {
  /** Shown in messages, and in front of relayed lines. */
  name: string;
  /** A `.ts` script (run with ts-node, relative to the repository) or a compiled `.js` file; or `command`. */
  script?: string;
  /** A binary and its arguments instead of a script. */
  command?: { file: string; args: readonly string[] };
  env?: Record<string, string>;
  /** Node's own flags (`--expose-gc`), for scripts. */
  nodeArgs?: readonly string[];
  /** An IPC channel: the child can see its parent go (`disconnect`), and messages can be sent. Default true. */
  ipc?: boolean;
  /** A process group of its own: a Ctrl-C in the terminal reaches only the parent. Default false. */
  detached?: boolean;
  /** Print the child's stdout/stderr lines with its name in front. Default: stderr only. */
  relay?: { stdout?: boolean; stderr?: boolean };
}

/** A running child: its output, waits for lines and JSON events, and a stop by pid. */
export class Child {
  readonly name: string;
  readonly process: ChildProcess;
  /** Settles once the process has exited (or failed to start). */
  readonly exited: Promise<ExitStatus>;
  exit?: ExitStatus;
  /** Set once a stop was asked for: its exit is then expected. */
  stopping = false;
  /** Every stdout line, in order. */
  readonly lines: string[] = [];
  /** The stdout lines that are JSON objects with an `event` field, parsed. */
  readonly events: Array<{ event: string; [field: string]: unknown }> = [];
  private errors = '';
  private readonly waiters = new Set<() => void>();

  constructor(options: ChildOptions) {
    this.name = options.name;
    const [file, args] = options.command
      ? [options.command.file, options.command.args]
      : [process.execPath, [...(options.nodeArgs ?? []), ...(options.script!.endsWith('.ts') ? ['-r', 'ts-node/register/transpile-only'] : []), join(REPO_ROOT, options.script!)]];
    this.process = spawn(file, [...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: options.ipc === false ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: options.detached ?? false,
    });
    track(this.process);
    const relay = { stdout: false, stderr: true, ...options.relay };
    createInterface({ input: this.process.stdout! }).on('line', (line) => {
      this.lines.push(line);
      if (line.startsWith('{')) {
        try {
          const parsed = JSON.parse(line) as { event?: unknown };
          if (typeof parsed.event === 'string') this.events.push(parsed as Child['events'][number]);
        } catch {
          // Not JSON after all: a plain line.
        }
      }
      if (relay.stdout) console.log(`  [${this.name}] ${line}`);
      this.wake();
    });
    createInterface({ input: this.process.stderr! }).on('line', (line) => {
      this.errors = `${this.errors}${line}\n`.slice(-65536);
      if (relay.stderr) process.stderr.write(`  [${this.name}] ${line}\n`);
    });
    this.exited = new Promise<ExitStatus>((resolve) => {
      this.process.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
        this.wake();
      });
      // A spawn failure (no such file, ...) emits 'error' and may never emit 'exit'.
      this.process.once('error', (error) => {
        this.errors += `\nspawn failed: ${error.message}`;
        this.exit = { code: 1, signal: null };
        resolve(this.exit);
        this.wake();
      });
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get running(): boolean {
    return this.exit === undefined && this.process.exitCode === null && this.process.signalCode === null;
  }

  /** The last 64 KiB the child wrote to stderr, for error messages. */
  stderr(): string {
    return this.errors;
  }

  private wake(): void {
    for (const wake of this.waiters) wake();
  }

  /** Resolves with what `find` returns once it returns something; rejects after `timeoutMs` or when the child exits. */
  waitUntil<T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      const check = () => {
        const found = find();
        if (found !== undefined) return finish(() => resolve(found));
        if (!this.running) finish(() => reject(new Error(`${this.name} ${describeExit(this.exit ?? { code: null, signal: null })} before ${what}; stderr: ${this.errors.slice(-2000)}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms; stderr: ${this.errors.slice(-2000)}`))), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** The `nth` (1-based) JSON event line with that `event`. */
  waitForEvent(event: string, timeoutMs = 20_000, nth = 1): Promise<Child['events'][number]> {
    return this.waitUntil(() => this.events.filter((e) => e.event === event)[nth - 1], `'${event}' #${nth}`, timeoutMs);
  }

  /** The JSON after `<marker> ` on a stdout line. */
  waitForMarker<T>(marker: string, timeoutMs: number): Promise<T> {
    return this.waitUntil(
      () => {
        const line = this.lines.find((l) => l.startsWith(`${marker} `));
        return line === undefined ? undefined : (JSON.parse(line.slice(marker.length + 1)) as T);
      },
      marker,
      timeoutMs,
    );
  }

  /** Sends a signal to the child's pid; a child already gone is not an error. */
  signal(name: NodeJS.Signals): void {
    if (this.pid === undefined) return;
    try {
      process.kill(this.pid, name);
    } catch {
      // Already gone between the check and the kill: its exit event is on its way.
    }
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with how it exited. */
  async stop(timeoutMs = 10_000): Promise<ExitStatus> {
    this.stopping = true;
    if (this.running) {
      this.signal('SIGTERM');
      const timer = setTimeout(() => {
        process.stderr.write(`  [${this.name}] still running ${timeoutMs} ms after SIGTERM; SIGKILL\n`);
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

  /** SIGKILL: a crash. Waits for the exit. */
  async kill(): Promise<ExitStatus> {
    this.stopping = true;
    if (this.running) this.signal('SIGKILL');
    return this.exited;
  }
}

export function startChild(options: ChildOptions): Child {
  return new Child(options);
}

/** Children started together and stopped together; an exit nobody asked for is an error to report. */
export class ChildGroup {
  private readonly children = new Set<Child>();

  start(options: ChildOptions): Child {
    const child = startChild(options);
    this.children.add(child);
    return child;
  }

  /** Throws when a child exited without being asked to: whatever the caller waits for will not come. */
  assertAlive(): void {
    for (const child of this.children) {
      if (child.exit && !child.stopping) throw new Error(`${child.name} ${describeExit(child.exit)} (see its output above)`);
    }
  }

  async stop(child: Child, timeoutMs?: number): Promise<ExitStatus> {
    const status = await child.stop(timeoutMs);
    this.children.delete(child);
    return status;
  }

  /** Stops every child still known, all at once; says how each one ended. */
  stopAll(timeoutMs?: number): Promise<Array<{ name: string; status: ExitStatus }>> {
    return Promise.all([...this.children].map(async (child) => ({ name: child.name, status: await this.stop(child, timeoutMs) })));
  }
}
