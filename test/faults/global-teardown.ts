/** Prints every scenario's figures together, once the suite is over. */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';

export default async function globalTeardown(): Promise<void> {
  const summary = process.env.GRAYKIT_FAULTS_SUMMARY;
  if (!summary || !existsSync(summary)) return;
  const rows = readFileSync(summary, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  if (rows.length) {
    process.stdout.write('\nfault scenario      sent  failed  retries  re-convergence\n');
    for (const row of rows) {
      process.stdout.write(
        `${String(row.scenario).padEnd(16)} ${String(row.sent).padStart(7)} ${String(row.failed).padStart(7)} ${String(row.retries).padStart(8)}  ${row.convergence}\n`,
      );
    }
  }
  rmSync(dirname(summary), { recursive: true, force: true });
}
