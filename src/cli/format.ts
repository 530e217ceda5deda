/** Plain-text rendering of the CLI's tables. Pure. */
import type { ServiceStatus } from '../admin/admin';
import type { LaneSummary } from '../admin/lanes';
import type { ServiceSnapshot } from '../registry/catalog';

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function since(date: Date, now: Date): string {
  const seconds = Math.max(0, Math.round((now.getTime() - date.getTime()) / 1000));
  const ago = seconds < 120 ? `${seconds}s` : seconds < 7200 ? `${Math.round(seconds / 60)}m` : `${Math.round(seconds / 3600)}h`;
  return `${date.toISOString().replace(/\.\d+Z$/, 'Z')} (${ago} ago)`;
}

function yesNo(value: unknown): string {
  return value === true || value === 'true' ? 'yes' : 'no';
}

export function formatStatus(status: ServiceStatus, now = new Date()): string {
  const { config } = status;
  const rules = config.config.rules?.length ? `${config.config.rules.length} rule(s)` : 'no rules';
  const head = [
    `service ${status.service}`,
    `ratio ${config.config.ratio ?? '(consumers\' local ratio)'}, ${rules}${config.config.hashBy ? `, hashBy ${config.config.hashBy}` : ''}` +
      `${config.config.laneHeader ? `, laneHeader ${config.config.laneHeader}` : ''}` +
      ` (config version ${config.version === -1 ? 'none' : config.version})`,
  ];
  const named = Object.entries(config.config.lanes ?? {});
  if (named.length) head.push(`lane shares: ${named.map(([lane, share]) => `${lane} ${share}`).join(', ')} (gray: the ratio; base: the rest)`);
  if (config.error) head.push(`config INVALID, consumers keep their last valid one: ${config.error}`);
  const rows = status.instances.map((instance) => {
    const own = instance.own ?? {};
    const gray = instance.effective ? yesNo(instance.effective.gray) : '-';
    const overridden = instance.override && ('gray' in instance.override || 'lane' in instance.override);
    const source = overridden ? `override (own: ${typeof own.lane === 'string' ? `lane ${own.lane}` : yesNo(own.gray)})` : 'own';
    return [
      instance.id,
      String(instance.effective?.version ?? own.version ?? '-'),
      gray,
      source,
      String(instance.effective?.weight ?? '-'),
      instance.effective?.lane ?? '-',
      since(instance.since, now),
      instance.error ? `INVALID: ${instance.error}` : '',
    ];
  });
  const body = rows.length ? table(['INSTANCE', 'VERSION', 'GRAY', 'FLAG FROM', 'WEIGHT', 'LANE', 'SINCE', ''], rows) : '(no instances registered)';
  return `${head.join('\n')}\n${body}`;
}

export function formatSnapshot(snapshot: ServiceSnapshot, fallbackRatio: string): string {
  const rows = snapshot.instances.map((instance) => [instance.id, instance.version ?? '-', yesNo(instance.gray), String(instance.weight)]);
  return [
    `service ${snapshot.service}: ratio ${snapshot.rolloutCrashed ? `0 (its rollout crashed; the config says ${snapshot.config.ratio ?? fallbackRatio})` : (snapshot.config.ratio ?? fallbackRatio)}, ${snapshot.instances.length} routable instance(s)`,
    rows.length ? table(['INSTANCE', 'VERSION', 'GRAY', 'WEIGHT'], rows) : '(no routable instances)',
  ].join('\n');
}

/** `graykit lanes`: each lane, the services that have it, their instances and the lane's share there. */
export function formatLanes(lanes: readonly LaneSummary[]): string {
  const rows = lanes.flatMap(({ lane, services }) =>
    services.map((entry) => [lane, entry.service, entry.share === undefined ? 'rest' : String(entry.share), String(entry.instances.length), entry.instances.join(' ') || '-']),
  );
  return rows.length ? table(['LANE', 'SERVICE', 'SHARE', 'INSTANCES', 'IDS'], rows) : '(no lanes: no services registered)';
}
