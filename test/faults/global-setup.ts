/** The fault suite starts its own ZooKeeper servers; here: make sure ZooKeeper is installed, and open the summary. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default async function globalSetup(): Promise<void> {
  execFileSync('bash', [join(__dirname, '..', '..', 'scripts', 'zookeeper.sh'), 'install'], { stdio: 'inherit' });
  const summary = join(mkdtempSync(join(tmpdir(), 'graykit-faults-')), 'summary.jsonl');
  writeFileSync(summary, '');
  process.env.GRAYKIT_FAULTS_SUMMARY = summary;
}
