/**
 * scripts/zookeeper.sh, the throwaway ZooKeeper of the tests, the demo and the benchmarks: its ports lie below the
 * kernel's ephemeral range. The kernel gives a port inside it to any socket bound to port 0 (a server listening on 0, a
 * connection's local end); held at the moment the server binds it again after a restart, the server cannot start (a
 * standalone) or lead (an ensemble member).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCRIPT } from '../support/global-setup';
import { eventually } from '../support/helpers';
import { boundPorts, ephemeralRangeStart } from '../support/zookeeper-ports';

describe('scripts/zookeeper.sh', () => {
  test('start picks a client port below the ephemeral range, and the server serves there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graykit-zk-script-'));
    try {
      const address = execFileSync('bash', [SCRIPT, 'start', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
      const [port] = boundPorts(dir);
      expect(address).toBe(`127.0.0.1:${port}`);
      expect(port).toBeLessThan(ephemeralRangeStart());
      expect(port).toBeGreaterThanOrEqual(10_000);
      // `start` returns at ruok -> imok, which a server answers before it has loaded its data and serves.
      await eventually(() => expect(execFileSync('bash', [SCRIPT, 'srvr', address], { encoding: 'utf8' })).toMatch(/^Mode: standalone$/m), 20_000, 100);
    } finally {
      execFileSync('bash', [SCRIPT, 'stop', dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
