/**
 * The chain of `npm run demo:lanes` (demo/lanes-chain.ts) on the real test ZooKeeper: edge -> orders -> users through
 * an axios hop, a fetch hop and a hop that reads the lane from baggage alone; a canary lane of users at 10 %, a
 * preview lane pr-42 that only orders has. 300 requests, none off its lane.
 */
import { startLaneChain, type LaneChain } from '../../demo/lanes-chain';
import { testZk, uniqueRoot } from '../support/helpers';

describe('demo:lanes chain (real ZooKeeper, real servers)', () => {
  let chain: LaneChain | undefined;
  afterEach(async () => {
    await chain?.close();
  });

  test('300 requests: pr-42 reaches orders@pr-42 and base elsewhere, bucketed users reach users@canary by their bucket; 0 off their lane', async () => {
    chain = await startLaneChain({ root: uniqueRoot(), zk: testZk() });
    const off: unknown[] = [];
    const reached = { pr42: 0, canaryUsers: 0, drawnCanary: 0 };
    for (let i = 0; i < 300; i++) {
      const served = await chain.request(i);
      if (!served.onLane) off.push(served);
      if (served.hops[1] === 'orders pr-42') reached.pr42++;
      if (served.kind === 'x-user-id bucket' && served.hops[2]?.startsWith('users canary')) reached.canaryUsers++;
      if (served.kind === 'no lane (drawn)' && served.hops[2]?.startsWith('users canary')) reached.drawnCanary++;
    }
    expect(off).toEqual([]);
    expect(reached.pr42).toBe(100);
    expect(reached.canaryUsers).toBeGreaterThan(0); // the bucketed users of canary's buckets (5 of these 100)
    expect(reached.drawnCanary).toBeGreaterThan(0); // about 10 of 100 drawn requests
    expect(reached.drawnCanary).toBeLessThan(30);
  }, 60_000);
});
