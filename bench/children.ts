/**
 * Child processes of the benchmark (providers, the scale probe): ts-node scripts with an IPC channel, so that a
 * child ends when the benchmark does, whatever happens to it. Stopped by pid: SIGTERM, then SIGKILL after a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const REPO_ROOT = join(__dirname, '..');

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last resort: whatever ends this process, its children get SIGTERM (by pid) on the way out. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
}

export function track(child: ChildProcess): void {
  installExitHook();
  live.add(child);
  child.once('exit', () => live.delete(child));
}

export interface TsChild {
  process: ChildProcess;
  /** Resolves with the JSON after `<marker> ` on the child's stdout; rejects when the child exits first or after `timeoutMs`. */
  waitFor<T>(marker: string, timeoutMs: number): Promise<T>;
  /** Everything the child wrote to stderr (last 64 KiB), for error messages. */
  stderr(): string;
  stop(timeoutMs?: number): Promise<void>;
}

export function startTsChild(script: string, env: Record<string, string>, nodeArgs: string[] = []): TsChild {
  const child = spawn(process.execPath, [...nodeArgs, '-r', 'ts-node/register/transpile-only', join(REPO_ROOT, script)], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  track(child);
  let errors = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    errors = (errors + chunk).slice(-65536);
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const wake of waiters) wake();
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      errors += `\nspawn failed: ${error.message}`;
      resolve();
    });
  });
  return {
    process: child,
    stderr: () => errors,
    waitFor<T>(marker: string, timeoutMs: number): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const finish = (error?: Error, value?: T) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (error) reject(error);
          else resolve(value as T);
        };
        const check = () => {
          const line = lines.find((l) => l.startsWith(`${marker} `));
          if (line) finish(undefined, JSON.parse(line.slice(marker.length + 1)) as T);
        };
        const timer = setTimeout(() => finish(new Error(`${script}: no ${marker} within ${timeoutMs} ms; stderr: ${errors.slice(-2000)}`)), timeoutMs);
        waiters.add(check);
        void exited.then(() => setImmediate(() => finish(new Error(`${script} exited (code ${child.exitCode}, signal ${child.signalCode}) before ${marker}; stderr: ${errors.slice(-2000)}`))));
        check();
      });
    },
    async stop(timeoutMs = 8000) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
