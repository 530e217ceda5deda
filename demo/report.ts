/** Counting the demo's calls per instance and printing them as a table. Pure; no I/O but the returned text. */

/** What the consumer's `GET /call` answers: the provider's `{version, port}`, the instance's effective `gray` flag, and where graykit sent it. */
export interface CallResult {
  version?: string;
  port: number;
  gray: boolean;
  lane: 'gray' | 'normal';
  /** `host:port` of the instance chosen. */
  instance: string;
}

/** The calls that reached one instance while it answered with one version and flag. */
export interface TallyRow {
  instance: string;
  port: number;
  version: string;
  gray: boolean;
  calls: number;
}

/** Groups calls by instance, version and gray flag (an instance restarted mid-step shows up twice), sorted by instance. */
export function tally(results: readonly CallResult[]): TallyRow[] {
  const rows = new Map<string, TallyRow>();
  for (const result of results) {
    const version = result.version ?? '-';
    const key = `${result.instance} ${version} ${result.gray}`;
    const row = rows.get(key) ?? { instance: result.instance, port: result.port, version, gray: result.gray, calls: 0 };
    row.calls += 1;
    rows.set(key, row);
  }
  return [...rows.values()].sort((a, b) => a.port - b.port || a.version.localeCompare(b.version));
}

export function percent(part: number, total: number): string {
  return total === 0 ? '-' : `${((100 * part) / total).toFixed(1)}%`;
}

const COLUMNS = [
  { title: 'instance', width: 17 },
  { title: 'version', width: 9 },
  { title: 'gray', width: 6 },
  { title: 'calls', width: 7 },
  { title: 'share', width: 0 },
] as const;

function formatLine(cells: readonly string[]): string {
  return cells.map((cell, i) => cell.padEnd(COLUMNS[i].width)).join('').trimEnd();
}

/** The table of the brief: `instance  version  gray  calls  share`, one line per row. */
export function formatTable(rows: readonly TallyRow[]): string {
  const total = rows.reduce((sum, row) => sum + row.calls, 0);
  const lines = [formatLine(COLUMNS.map((column) => column.title))];
  for (const row of rows) {
    lines.push(formatLine([row.instance, row.version, row.gray ? 'yes' : 'no', String(row.calls), percent(row.calls, total)]));
  }
  return lines.join('\n');
}
