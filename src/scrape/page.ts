/**
 * Reading metrics pages over HTTP. A page comes from an address an instance advertises in the registry, so it is
 * untrusted input: it is read with a size cap, without following redirects (a redirect could point the reader at
 * another host), within a timeout, and a fleet's pages are read a bounded number at a time. The rollout and the
 * console read every page through here.
 */

/** A metrics page larger than this is not read: graykit's pages are a few KiB, even with many series. */
export const MAX_PAGE_BYTES = 4 * 1024 * 1024;

/** Pages read at once by one scrape. */
export const PAGE_CONCURRENCY = 32;

/** GETs a metrics page's text; rejects on a non-2xx status, a redirect, after `timeoutMs`, or past MAX_PAGE_BYTES. */
export async function readMetricsPage(url: string, timeoutMs: number): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'text/plain' }, redirect: 'error' });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`HTTP ${response.status}`);
  }
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_PAGE_BYTES) {
      await reader.cancel();
      throw new Error(`page over ${MAX_PAGE_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs `job` on every item, at most `limit` at once. */
export async function pool<T>(items: readonly T[], limit: number, job: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await job(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
