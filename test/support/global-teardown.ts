import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { SCRIPT } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const dir = process.env.GRAYKIT_TEST_ZK_DIR;
  if (!dir) return;
  execFileSync('bash', [SCRIPT, 'stop', dir], { stdio: 'inherit' });
  rmSync(dir, { recursive: true, force: true });
}
