/** Ratio 0, verified: the one rollback a rollout, `graykit abort` and an interrupt all use. */
import type { GrayAdmin } from '../admin/admin';
import { shareOf } from '../admin/lanes';
import { InvalidConfigError } from '../errors';
import { sleep } from '../util/time';

/**
 * Sets ratio 0 and reads it back, retrying (a conflicting write, a lost connection) until `timeoutMs`. An invalid
 * config document is replaced by `{"ratio":0}` (consumers were ignoring it anyway).
 */
export async function rollbackVerified(admin: GrayAdmin, service: string, timeoutMs: number, lane = 'gray'): Promise<{ verified: boolean; ratio?: number; error?: string }> {
  const deadline = Date.now() + timeoutMs;
  let ratio: number | undefined;
  let lastError: string | undefined;
  for (;;) {
    try {
      try {
        await admin.setShare(service, lane, 0);
      } catch (error) {
        if (!(error instanceof InvalidConfigError)) throw error;
        const current = await admin.getConfig(service);
        await admin.setConfig(service, { ratio: 0 }, current.version);
      }
      // Read back: the write above may have raced another writer; only what ZooKeeper holds now counts.
      const read = await admin.getConfig(service);
      ratio = lane === 'gray' ? read.config.ratio : shareOf(read.config, lane);
      if (ratio === 0 && read.error === undefined) return { verified: true, ratio };
      lastError = `read back ratio ${ratio ?? '(none)'}${read.error ? ` (invalid config: ${read.error})` : ''}`;
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() >= deadline) return { verified: false, ratio, error: lastError };
    await sleep(200);
  }
}
