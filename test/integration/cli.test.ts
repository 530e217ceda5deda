/**
 * The `graykit` CLI end to end: spawned as a real process against a real ZooKeeper, while a consumer observes each
 * change take effect.
 */
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ConflictError, createAdmin, createConsumer, InvalidConfigError, silentLogger, type GrayAdmin, type GrayConsumer } from '../../src';
import { configPath } from '../../src/registry/paths';
import type { ZkSession } from '../../src/registry/zk-session';
import { adminSession, eventually, forceExpiry, recordingLogger, startProvider, testZk, uniqueRoot, type TestProvider } from '../support/helpers';

const repo = join(__dirname, '..', '..');
const buildDir = join(repo, '.test-build');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

describe('graykit CLI (spawned, real ZooKeeper)', () => {
  let root: string;
  let providers: TestProvider[];
  let consumer: GrayConsumer;
  let raw: ZkSession;
  const consumerLog = recordingLogger();

  /** Runs the compiled CLI against `zk`; one that has not exited within 20 s is killed and reports code -1. */
  function cliAt(zk: string, ...args: string[]): Promise<CliResult> {
    return new Promise((resolve) => {
      execFile(process.execPath, [join(buildDir, 'cli', 'main.js'), '--zk', zk, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
      });
    });
  }
  const cli = (...args: string[]) => cliAt(testZk(), '--root', root, ...args);

  const gray = (port: number) => consumer.snapshot('demo')?.instances.find((instance) => instance.port === port)?.gray;

  beforeAll(async () => {
    // The CLI runs as users run it: compiled JavaScript (compiled once here, into a git-ignored folder).
    execFileSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repo, 'tsconfig.build.json'), '--outDir', buildDir]);
    root = uniqueRoot();
    providers = [
      await startProvider({ root, service: 'demo', gray: true, version: 'v2' }),
      await startProvider({ root, service: 'demo', gray: false, version: 'v1' }),
    ];
    consumer = createConsumer({ zk: testZk(), root, logger: consumerLog, ratio: 0 });
    await consumer.resolve('demo');
    raw = adminSession();
    await raw.whenConnected(10_000);
  }, 120_000);

  afterAll(async () => {
    consumer.close();
    raw.close();
    for (const provider of providers) await provider.close();
  });

  test('status lists the instances with version, flag and its source', async () => {
    const services = await cli('status');
    expect(services).toMatchObject({ code: 0 });
    expect(services.stdout.trim()).toBe('demo');
    const status = await cli('status', 'demo');
    expect(status.code).toBe(0);
    const [g, n] = providers;
    expect(status.stdout).toMatch(new RegExp(`127\\.0\\.0\\.1:${g.port}\\s+v2\\s+yes\\s+own\\s+100`));
    expect(status.stdout).toMatch(new RegExp(`127\\.0\\.0\\.1:${n.port}\\s+v1\\s+no\\s+own\\s+100`));
    const json = JSON.parse((await cli('--json', 'status', 'demo')).stdout);
    expect(json.instances.map((i: { effective: { gray: boolean } }) => i.effective.gray).sort()).toEqual([false, true]);
  });

  test('ratio changes what the consumer routes by, live', async () => {
    expect(await cli('ratio', 'demo', '40')).toMatchObject({ code: 0 });
    await eventually(() => expect(consumer.ratioFor('demo')).toBe(40));
    expect(await cli('ratio', 'demo', '0')).toMatchObject({ code: 0 });
    await eventually(() => expect(consumer.ratioFor('demo')).toBe(0));
  });

  test('mark --normal / --gray overrides an instance\'s flag, and --clear restores its own', async () => {
    const [g] = providers;
    const id = `127.0.0.1:${g.port}`;
    expect(await cli('mark', 'demo', id, '--normal')).toMatchObject({ code: 0 });
    await eventually(() => expect(gray(g.port)).toBe(false));
    expect((await cli('status', 'demo')).stdout).toMatch(/override \(own: yes\)/);
    // The override survives the provider's session loss (it lives in a persistent znode): after the provider
    // re-registers as gray, consumers still see it normal.
    const providerSession = (g.registration as unknown as { session: ZkSession }).session;
    const oldOwner = (await raw.getData(g.registration.path as string)).stat.ephemeralOwner;
    await forceExpiry(providerSession);
    await eventually(async () => expect((await raw.getData(g.registration.path as string)).stat.ephemeralOwner).not.toBe(oldOwner), 15_000);
    await eventually(() => expect(gray(g.port)).toBe(false));
    expect(await cli('mark', 'demo', id, '--clear')).toMatchObject({ code: 0 });
    await eventually(() => expect(gray(g.port)).toBe(true));
  });

  test('promote makes gray instances formal and resets the ratio; rollback sets ratio 0', async () => {
    const [g] = providers;
    expect(await cli('ratio', 'demo', '50')).toMatchObject({ code: 0 });
    const promoted = await cli('promote', 'demo');
    expect(promoted.code).toBe(0);
    expect(promoted.stdout).toContain(`127.0.0.1:${g.port}`);
    await eventually(() => {
      expect({ gray: gray(g.port), ratio: consumer.ratioFor('demo'), snapshot: consumer.snapshot('demo') }).toMatchObject({ gray: false, ratio: 0 });
    });
    expect(await cli('mark', 'demo', `127.0.0.1:${g.port}`, '--clear')).toMatchObject({ code: 0 });
    expect(await cli('ratio', 'demo', '70')).toMatchObject({ code: 0 });
    await eventually(() => expect(consumer.ratioFor('demo')).toBe(70));
    const rollback = await cli('rollback', 'demo');
    expect(rollback.code).toBe(0);
    await eventually(() => expect(consumer.ratioFor('demo')).toBe(0));
    expect(gray(g.port)).toBe(true); // rollback leaves flags alone: gray instances just get no traffic
  });

  test('lanes: status shows each instance\'s lane and the shares; `graykit lanes` lists lanes across services; ratio --lane; promote --lane', async () => {
    const base = await startProvider({ root, service: 'shop', version: 'v1' });
    const preview = await startProvider({ root, service: 'shop', version: 'v-pr', lane: 'pr-42' });
    providers.push(base, preview);
    const set = await cli('ratio', 'shop', '20', '--lane', 'pr-42');
    expect(set).toMatchObject({ code: 0, stdout: expect.stringContaining('shop: lane pr-42 share 20') });
    const status = await cli('status', 'shop');
    expect(status.stdout).toContain('lane shares: pr-42 20');
    expect(status.stdout).toMatch(new RegExp(`127\\.0\\.0\\.1:${preview.port}\\s+v-pr\\s+no\\s+own\\s+100\\s+pr-42`));
    expect(status.stdout).toMatch(new RegExp(`127\\.0\\.0\\.1:${base.port}\\s+v1\\s+no\\s+own\\s+100\\s+normal`));
    const lanes = JSON.parse((await cli('--json', 'lanes')).stdout) as Array<{ lane: string; services: Array<{ service: string; share?: number; instances: string[] }> }>;
    expect(lanes.find((lane) => lane.lane === 'pr-42')).toEqual({ lane: 'pr-42', services: [{ service: 'shop', share: 20, instances: [`127.0.0.1:${preview.port}`] }] });
    expect(lanes.map((lane) => lane.lane)).toEqual(['normal', 'gray', 'pr-42']);
    expect((await cli('lanes')).stdout).toMatch(/pr-42\s+shop\s+20\s+1/);
    const tooMuch = await cli('ratio', 'shop', '81');
    expect(tooMuch.code).toBe(2);
    expect(tooMuch.stderr).toMatch(/"ratio" and "lanes" add up to 101, more than 100/);
    await consumer.resolve('shop');
    const promoted = await cli('promote', 'shop', '--lane', 'pr-42');
    expect(promoted).toMatchObject({ code: 0, stdout: expect.stringContaining(`promoted 127.0.0.1:${preview.port}; lane pr-42 share 0`) });
    await eventually(() => {
      const lanesNow = consumer.snapshot('shop')?.instances.map((instance) => instance.lane);
      expect({ lanes: lanesNow, config: consumer.snapshot('shop')?.config }).toEqual({ lanes: ['normal', 'normal'], config: {} });
    });
  });

  test('invalid input is refused with a clear message and exit 2, and changes nothing', async () => {
    await cli('ratio', 'demo', '10');
    await eventually(() => expect(consumer.ratioFor('demo')).toBe(10));
    const before = await raw.getData(configPath(root, 'demo'));
    for (const args of [
      ['ratio', 'demo', '150'],
      ['ratio', 'demo', 'lots'],
      ['config', 'set', 'demo', '{"ration":50}'],
      ['config', 'set', 'demo', '{"ratio":50'],
      ['mark', 'demo', '127.0.0.1:1'],
      ['ratio', 'Bad/Name', '5'],
    ]) {
      const result = await cli(...args);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr.length).toBeGreaterThan(0);
    }
    expect((await cli('config', 'set', 'demo', '{"ration":50}')).stderr).toContain('unknown field "ration"');
    const after = await raw.getData(configPath(root, 'demo'));
    expect(after.stat.version).toBe(before.stat.version);
    expect(consumer.ratioFor('demo')).toBe(10);
  });

  // Six runs of up to 20 s each: a run that hangs fails its own assertion (code -1), not the test's timeout.
  test('unknown service or instance: exit 4; unreachable ZooKeeper: exit 5', async () => {
    expect((await cli('status', 'nosuch')).code).toBe(4);
    expect((await cli('mark', 'demo', '127.0.0.1:1', '--gray')).code).toBe(4);
    const unreachable = await cliAt('127.0.0.1:1', '--timeout', '300', 'status');
    expect(unreachable.code).toBe(5);
    // It names the address it could not reach; with --json the error is JSON on stderr.
    expect(unreachable.stderr).toMatch(/could not reach ZooKeeper at 127\.0\.0\.1:1 within 300 ms/);
    const asJson = await cliAt('127.0.0.1:1', '--timeout', '300', '--json', 'status');
    expect(asJson.code).toBe(5);
    expect(JSON.parse(asJson.stderr)).toEqual({
      error: expect.objectContaining({ name: 'ZooKeeperError', code: 'ERR_GRAYKIT_ZOOKEEPER', zkCode: -7, operation: 'connect', path: '127.0.0.1:1', exitCode: 5 }),
    });
    const notFound = await cli('--json', 'status', 'nosuch');
    expect(JSON.parse(notFound.stderr).error).toMatchObject({ code: 'ERR_GRAYKIT_NOT_FOUND', exitCode: 4 });
    const usage = await cli('--json', 'ratio', 'demo', '150');
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stderr).error).toMatchObject({ code: 'ERR_GRAYKIT_USAGE', exitCode: 2 });
  }, 130_000);

  test('--version prints the package\'s version', async () => {
    const version = await cli('--version');
    expect(version).toEqual({ code: 0, stdout: `${require('../../package.json').version}\n`, stderr: '' });
  });

  test('an invalid config written behind the CLI\'s back is kept out by consumers', async () => {
    await cli('ratio', 'demo', '20');
    await eventually(() => expect(consumer.ratioFor('demo')).toBe(20));
    await raw.setData(configPath(root, 'demo'), '{"ratio": 900}');
    const read = JSON.parse((await cli('--json', 'config', 'get', 'demo')).stdout);
    expect(read.error).toMatch(/"ratio"/);
    // The consumer saw it (it logged one error naming the znode) and kept its last valid ratio.
    await eventually(() => expect(consumerLog.lines.join('\n')).toContain(`invalid config at ${configPath(root, 'demo')}`));
    expect(consumer.ratioFor('demo')).toBe(20);
    await raw.setData(configPath(root, 'demo'), '{"ratio": 21}');
    await eventually(() => expect(consumer.ratioFor('demo')).toBe(21));
    await raw.setData(configPath(root, 'demo'), 'not json');
    await raw.setData(configPath(root, 'demo'), '{"ratio": 22}');
    await eventually(() => expect(consumer.ratioFor('demo')).toBe(22));
  });

  test('concurrent writes are detected: the second writer of the same version gets a conflict (exit 3)', async () => {
    const read = JSON.parse((await cli('--json', 'config', 'get', 'demo')).stdout) as { version: number };
    expect(await cli('config', 'set', 'demo', '{"ratio":30}', '--expect-version', String(read.version))).toMatchObject({ code: 0 });
    const late = await cli('config', 'set', 'demo', '{"ratio":31}', '--expect-version', String(read.version));
    expect(late.code).toBe(3);
    expect(late.stderr).toMatch(/changed by someone else/);
    await eventually(() => expect(consumer.ratioFor('demo')).toBe(30));
  });
});

describe('admin API compare-and-set', () => {
  let admins: GrayAdmin[];
  afterEach(() => admins.forEach((admin) => admin.close()));

  test('two operators writing from the same read: exactly one wins, the other gets ConflictError', async () => {
    const root = uniqueRoot();
    admins = [createAdmin({ zk: testZk(), root, logger: silentLogger }), createAdmin({ zk: testZk(), root, logger: silentLogger })];
    await admins[0].setRatio('demo', 5);
    const [a, b] = await Promise.all(admins.map((admin) => admin.getConfig('demo')));
    const results = await Promise.allSettled([admins[0].setConfig('demo', { ratio: 10 }, a.version), admins[1].setConfig('demo', { ratio: 20 }, b.version)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(ConflictError);
    expect([10, 20]).toContain((await admins[0].getConfig('demo')).config.ratio);
  });

  test('an invalid document is refused before anything is written', async () => {
    const root = uniqueRoot();
    admins = [createAdmin({ zk: testZk(), root, logger: silentLogger })];
    await expect(admins[0].setConfig('demo', { ratio: -3 })).rejects.toBeInstanceOf(InvalidConfigError);
    expect((await admins[0].getConfig('demo')).version).toBe(-1);
  });
});
