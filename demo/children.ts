/**
 * The demo's child processes (providers and consumer): started with ts-node, their output prefixed with their name,
 * stopped by pid with SIGTERM (SIGKILL after a deadline), and watched for exits nobody asked for.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const REPO_ROOT = join(__dirname, '..');
const STOP_TIMEOUT_MS = 10_000;

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface DemoChild {
  readonly name: string;
  readonly process: ChildProcess;
  /** Settles when the process has exited. */
  readonly exited: Promise<ExitStatus>;
  /** Set once it has exited. */
  exit?: ExitStatus;
  /** Set when the demo asked it to stop, so that its exit is not a failure. */
  stopping: boolean;
}

/** How the demo's servers end when asked: by the re-raised SIGTERM (graykit's handleSignals), or with code 0. */
export function isCleanExit({ code, signal }: ExitStatus): boolean {
  return signal === 'SIGTERM' || code === 0;
}

export function describeExit({ code, signal }: ExitStatus): string {
  return signal ? `exited by ${signal}` : `exited with code ${code}`;
}

/** Prints each line of a child's stream with the child's name in front. */
function relayLines(stream: NodeJS.ReadableStream | null, name: string, write: (line: string) => void): void {
  if (!stream) return;
  createInterface({ input: stream }).on('line', (line) => write(`  [${name}] ${line}`));
}

export class ChildProcesses {
  private readonly children = new Set<DemoChild>();

  /** Starts `node -r ts-node/register/transpile-only <script>` in the repository with `env` over this env. */
  start(name: string, script: string, env: Record<string, string>): DemoChild {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', script], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // A process group of its own: a Ctrl-C in the terminal reaches only the demo, which then stops its
      // children in order, instead of every process racing to exit at once.
      detached: true,
    });
    relayLines(child.stdout, name, (line) => console.log(line));
    relayLines(child.stderr, name, (line) => console.error(line));
    const entry: DemoChild = {
      name,
      process: child,
      stopping: false,
      exited: new Promise<ExitStatus>((resolve) => {
        child.once('exit', (code, signal) => {
          entry.exit = { code, signal };
          resolve(entry.exit);
        });
        // A spawn failure (no such file, ...) emits 'error' and may never emit 'exit'.
        child.once('error', (error) => {
          console.error(`  [${name}] could not start: ${error.message}`);
          entry.exit = { code: 1, signal: null };
          resolve(entry.exit);
        });
      }),
    };
    this.children.add(entry);
    return entry;
  }

  /** Throws when a child exited without being asked to: whatever the demo waits for will not come. */
  assertAlive(): void {
    for (const child of this.children) {
      if (child.exit && !child.stopping) throw new Error(`${child.name} ${describeExit(child.exit)} (see its output above)`);
    }
  }

  /** SIGTERM to the child's pid, then waits for its exit; SIGKILL when it takes longer than the deadline. */
  async stop(child: DemoChild): Promise<ExitStatus> {
    child.stopping = true;
    if (!child.exit) {
      signal(child, 'SIGTERM');
      const exited = await withDeadline(child.exited, STOP_TIMEOUT_MS);
      if (!exited) {
        console.error(`  [${child.name}] still running ${STOP_TIMEOUT_MS} ms after SIGTERM; sending SIGKILL`);
        signal(child, 'SIGKILL');
      }
    }
    const status = await child.exited;
    this.children.delete(child);
    return status;
  }

  /** Stops every child still known, all at once; says how each one ended. */
  stopAll(): Promise<{ name: string; status: ExitStatus }[]> {
    return Promise.all([...this.children].map(async (child) => ({ name: child.name, status: await this.stop(child) })));
  }
}

function signal(child: DemoChild, name: NodeJS.Signals): void {
  if (child.process.pid === undefined) return;
  try {
    process.kill(child.process.pid, name);
  } catch {
    // Already gone between the check and the kill: its exit event is on its way.
  }
}

/** Resolves with true when `promise` settles within `ms`, false otherwise. */
async function withDeadline(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
