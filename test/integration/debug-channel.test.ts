/**
 * NODE_DEBUG=graykit: registry events and every routing decision (service, lane and why, instance) on stderr, in a
 * real child process (util.debuglog reads NODE_DEBUG when a process starts); and nothing of it without the flag.
 */
import { startChild } from '../../scripts/children';
import { startProvider, testZk, uniqueRoot, type TestProvider } from '../support/helpers';

describe('the debug channel (NODE_DEBUG=graykit)', () => {
  const root = uniqueRoot();
  let providers: TestProvider[];

  beforeAll(async () => {
    providers = [await startProvider({ root, service: 'demo', gray: false, version: 'v1' }), await startProvider({ root, service: 'demo', gray: true, version: 'v2' })];
  });
  afterAll(async () => {
    for (const provider of providers) await provider.close();
  });

  async function run(env: Record<string, string>): Promise<string> {
    const child = startChild({ name: 'debug-child', script: 'test/support/debug-child.ts', env: { ZK_CONNECT: testZk(), GRAYKIT_ROOT: root, ...env }, relay: { stderr: false } });
    try {
      await child.waitForMarker('DONE', 30_000);
      await child.exited;
      return child.stderr();
    } finally {
      await child.stop();
    }
  }

  test('with NODE_DEBUG=graykit: the session, and each decision with its lane, why, and instance', async () => {
    const stderr = await run({ NODE_DEBUG: 'graykit' });
    const [normal, gray] = [providers[0].port, providers[1].port];
    expect(stderr).toMatch(/^GRAYKIT \d+: zookeeper connected \(session \w+, new: true\)$/m);
    expect(stderr).toMatch(new RegExp(`^GRAYKIT \\d+: route demo: lane normal \\(ratio\\) -> 127\\.0\\.0\\.1:${normal}$`, 'm'));
    expect(stderr).toMatch(new RegExp(`^GRAYKIT \\d+: route demo: lane gray \\(pinned\\) -> 127\\.0\\.0\\.1:${gray}$`, 'm'));
  }, 60_000);

  test('without it: silent', async () => {
    expect(await run({ NODE_DEBUG: '' })).not.toMatch(/GRAYKIT/);
  }, 60_000);
});
