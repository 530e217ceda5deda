/**
 * `npm run demo:lanes`: named lanes in a chain edge -> orders -> users (demo/lanes-chain.ts), with a canary lane of
 * users at 10 % and a preview lane pr-42 that only orders has. Sends DEMO_CALLS requests (default 300) of three
 * kinds, prints a table of what served them, and exits non-zero when any request left its lane.
 */
import { CANARY_SHARE, startLaneChain } from './lanes-chain';

const ROOT = process.env.GRAYKIT_ROOT ?? `/graykit-lanes-${process.pid}`;
const CALLS = Number(process.env.DEMO_CALLS ?? 300);

async function main(): Promise<void> {
  console.log(`graykit lanes demo: edge -> orders -> users, ZooKeeper ${process.env.ZK_CONNECT}, root ${ROOT}`);
  const chain = await startLaneChain({ root: ROOT, log: (line) => console.log(line) });
  try {
    const rows = new Map<string, { kind: string; path: string; count: number }>();
    let off = 0;
    let canaryUsers = 0;
    let bucketed = 0;
    for (let i = 0; i < CALLS; i++) {
      const served = await chain.request(i);
      if (!served.onLane) off++;
      if (served.kind === 'x-user-id bucket') {
        bucketed++;
        if (served.hops.includes('users canary [baggage]')) canaryUsers++;
      }
      const path = served.hops.join(' -> ');
      const row = rows.get(`${served.kind}|${path}`) ?? { kind: served.kind, path, count: 0 };
      row.count++;
      rows.set(`${served.kind}|${path}`, row);
    }
    const sorted = [...rows.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.path.localeCompare(b.path));
    const width = Math.max(40, ...sorted.map((row) => row.path.length));
    console.log(`\n${'request'.padEnd(20)}  ${'served by'.padEnd(width)}  calls`);
    for (const row of sorted) console.log(`${row.kind.padEnd(20)}  ${row.path.padEnd(width)}  ${row.count}`);
    console.log(`\n${CALLS} requests, ${off} off their lane; bucketed users in canary: ${canaryUsers}/${bucketed} (share ${CANARY_SHARE} %)`);
    if (off > 0) process.exitCode = 1;
  } finally {
    await chain.close();
  }
}

main().catch((error: unknown) => {
  console.error(`lanes demo failed: ${(error as Error).stack ?? error}`);
  process.exitCode = 1;
});
