/**
 * Starts one throwaway ZooKeeper for the whole run (scripts/zookeeper.sh: a free loopback port, a temp data dir),
 * unless ZK_CONNECT names one. Test files isolate themselves with a root znode of their own.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SCRIPT = join(__dirname, '..', '..', 'scripts', 'zookeeper.sh');

export default async function globalSetup(): Promise<void> {
  if (process.env.ZK_CONNECT) {
    process.env.GRAYKIT_TEST_ZK = process.env.ZK_CONNECT;
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'graykit-test-zk-'));
  const connect = execFileSync('bash', [SCRIPT, 'start', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  process.env.GRAYKIT_TEST_ZK = connect;
  process.env.GRAYKIT_TEST_ZK_DIR = dir;
}
