/**
 * `graykit rollout` spawned as users run it (compiled JavaScript) against a real ZooKeeper, real providers with
 * metrics and a real consumer's traffic: exit codes, JSON events, the text report, Ctrl-C.
 */
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createAdmin, silentLogger, type GrayAdmin } from '../../src';
import { configPath } from '../../src/registry/paths';
import type { ZkSession } from '../../src/registry/zk-session';
import { adminSession, eventually, testZk, uniqueRoot } from '../support/helpers';
import { startMetricsProvider, startTraffic } from '../support/rollout-helpers';

jest.setTimeout(120_000);

const repo = join(__dirname, '..', '..');
// A folder of its own under the git-ignored .test-build, so that cli.test.ts compiling at the same time never
// overwrites these files mid-run.
const buildDir = join(repo, '.test-build', 'rollout-cli');

interface Run {
  pid: number;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number>;
}

describe('graykit rollout (spawned CLI, real ZooKeeper)', () => {
  let raw: ZkSession;
  let root: string;
  let open: Array<{ close(): unknown } | { stop(): Promise<void> }> = [];
  let admin: GrayAdmin;

  beforeAll(() => {
    execFileSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repo, 'tsconfig.build.json'), '--outDir', buildDir]);
  }, 120_000);
  beforeAll(async () => {
    raw = adminSession();
    await raw.whenConnected(10_000);
  });
  afterAll(() => raw.close());
  afterEach(async () => {
    for (const item of open.reverse()) await ('stop' in item ? item.stop() : item.close());
    open = [];
  });

  async function setup(fail?: { every: number; how: '500' | 'reset' }): Promise<void> {
    root = uniqueRoot();
    open.push(await startMetricsProvider({ root, gray: false, version: 'v1' }));
    open.push(await startMetricsProvider({ root, gray: true, version: 'v2', fail }));
    admin = createAdmin({ zk: testZk(), root, logger: silentLogger });
    open.push(admin);
    await admin.setRatio('demo', 0);
    const traffic = await startTraffic({ root, rps: 100 });
    open.push(traffic);
    await eventually(() => expect(traffic.gray.consumer.snapshot('demo')?.instances).toHaveLength(2));
  }

  /** Spawns the compiled CLI; it is killed (by its pid) if it outlives 90 s. */
  function cli(...args: string[]): Run {
    const child = spawn(process.execPath, [join(buildDir, 'cli', 'main.js'), '--zk', testZk(), '--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const guard = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), 90_000);
    const exit = new Promise<number>((resolve) =>
      child.on('close', (code, signal) => {
        clearTimeout(guard);
        resolve(code ?? (signal ? -1 : -2));
      }),
    );
    return { pid: child.pid as number, stdout: () => stdout, stderr: () => stderr, exit };
  }

  async function ratioInZk(): Promise<number | undefined> {
    return JSON.parse(String((await raw.getData(configPath(root, 'demo'))).data)).ratio;
  }

  const jsonLines = (text: string) => text.trim().split('\n').map((line) => JSON.parse(line) as { type: string; [key: string]: unknown });

  test('a gray failing 10 %: exit 10, JSON events, the last one the report; ratio 0 in ZooKeeper', async () => {
    await setup({ every: 10, how: '500' });
    const run = cli('--json', 'rollout', 'demo', '--steps', '20,60,100', '--interval', '1500ms', '--max-error-rate', '1%', '--min-requests', '15', '--max-extensions', '8');
    const code = await run.exit;
    expect({ code, stderr: run.stderr() }).toEqual({ code: 10, stderr: '' });
    const events = jsonLines(run.stdout());
    expect(events[0]).toMatchObject({ type: 'start', service: 'demo', steps: [20, 60, 100] });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['step', 'verdict', 'rollback']));
    const report = events[events.length - 1];
    expect(report).toMatchObject({ type: 'report', outcome: 'aborted', step: 1, ratio: 0, ratioVerified: true, exitCode: 10 });
    expect((report.gray as { http5xx: number }).http5xx).toBeGreaterThanOrEqual(1);
    expect(await ratioInZk()).toBe(0);
  });

  test('a healthy gray: exit 0 and the text report says PROMOTED with each step', async () => {
    await setup();
    const run = cli('rollout', 'demo', '--steps', '50,100', '--interval', '1500ms', '--max-error-rate', '1%', '--min-requests', '15', '--max-extensions', '8');
    const code = await run.exit;
    expect({ code, stderr: run.stderr() }).toEqual({ code: 0, stderr: '' });
    const out = run.stdout();
    expect(out).toMatch(/^rollout demo: steps 50,100 every 1\.5s, max error rate 1\.00%/);
    expect(out).toContain('rollout demo: PROMOTED');
    expect(out).toMatch(/ratio now 0 \(read back from ZooKeeper\)/);
    expect(out).toMatch(/\n1\s+50\s+\d+\s+[\d.]+s\s+0\/\d+\s+0\.00%.*pass\n2\s+100\s+\d+\s+[\d.]+s\s+0\/\d+\s+0\.00%.*pass\n/);
    expect(await ratioInZk()).toBe(0);
  });

  test('Ctrl-C (SIGINT): rolls back to ratio 0, verified, and exits 130', async () => {
    await setup();
    const run = cli('--json', 'rollout', 'demo', '--steps', '20,100', '--interval', '60s', '--max-error-rate', '1%');
    await eventually(() => expect(run.stdout()).toMatch(/"type":"step"/), 30_000);
    await eventually(async () => expect(await ratioInZk()).toBe(20));
    process.kill(run.pid, 'SIGINT');
    const code = await run.exit;
    expect(code).toBe(130);
    const report = jsonLines(run.stdout()).pop();
    expect(report).toMatchObject({ type: 'report', outcome: 'interrupted', ratio: 0, ratioVerified: true });
    expect(run.stderr()).toContain('SIGINT: rolling back to ratio 0');
    expect(await ratioInZk()).toBe(0);
  });

  test('invalid input: exit 2 and nothing changes', async () => {
    root = uniqueRoot();
    admin = createAdmin({ zk: testZk(), root, logger: silentLogger });
    open.push(admin);
    await admin.setRatio('demo', 0);
    for (const args of [
      ['--steps', '50,10', '--interval', '1s', '--max-error-rate', '1%'],
      ['--steps', '10', '--interval', '30', '--max-error-rate', '1%'],
      ['--steps', '10', '--interval', '1s', '--max-error-rate', '150%'],
      ['--steps', '10', '--interval', '1s'],
    ]) {
      const run = cli('rollout', 'demo', ...args);
      expect({ args, code: await run.exit }).toEqual({ args, code: 2 });
      expect(run.stderr()).not.toBe('');
    }
    expect(await ratioInZk()).toBe(0);
  });
});
