/**
 * The fault suite starts its own ZooKeeper servers; here: make sure ZooKeeper is installed, open the summary, and
 * compile the provider process once. Under ts-node every provider start costs ~3 s of CPU (~0.4 s compiled): on two
 * cores, a restart in the middle of the load would starve the very processes the suite measures.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPO_ROOT = join(__dirname, '..', '..');

export default async function globalSetup(): Promise<void> {
  execFileSync('bash', [join(REPO_ROOT, 'scripts', 'zookeeper.sh'), 'install'], { stdio: 'inherit' });
  const summary = join(mkdtempSync(join(tmpdir(), 'graykit-faults-')), 'summary.jsonl');
  writeFileSync(summary, '');
  process.env.GRAYKIT_FAULTS_SUMMARY = summary;

  // Inside node_modules (ignored by git), so that the compiled files resolve express and zookeeper from the repo.
  const out = join(REPO_ROOT, 'node_modules', '.cache', 'graykit-faults');
  rmSync(out, { recursive: true, force: true });
  // Emit only (--noCheck): `npm run typecheck` and ts-jest check the types.
  execFileSync(
    process.execPath,
    [
      join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      join(REPO_ROOT, 'test', 'faults', 'provider-process.ts'),
      ...['--outDir', out, '--rootDir', REPO_ROOT, '--noCheck', '--module', 'commonjs', '--target', 'ES2022'],
      ...['--moduleResolution', 'node', '--esModuleInterop', '--skipLibCheck', '--resolveJsonModule'],
    ],
    { stdio: 'inherit' },
  );
  process.env.GRAYKIT_FAULTS_PROVIDER_JS = join(out, 'test', 'faults', 'provider-process.js');
}
