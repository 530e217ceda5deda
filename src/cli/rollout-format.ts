/** Text rendering of a rollout's events and report, for the CLI's live view. Pure. */
import { formatRate } from '../rollout/judge';
import type { RolloutEvent, RolloutReport } from '../rollout/rollout';
import type { LaneStats } from '../rollout/scrape';
import { table } from './format';

function seconds(ms: number): string {
  return ms >= 10_000 ? `${Math.round(ms / 1000)}s` : `${(ms / 1000).toFixed(1)}s`;
}

function lane(name: string, stats: LaneStats): string {
  return `${name} ${stats.requests} req ${stats.errors} err ${formatRate(stats.errorRate)}`;
}

/** One line per event; undefined for events the text view does not show. */
export function formatEvent(event: RolloutEvent): string | undefined {
  switch (event.type) {
    case 'start':
      return (
        `rollout ${event.service}: steps ${event.steps.join(',')} every ${seconds(event.intervalMs)}, max error rate ${formatRate(event.maxErrorRate)}, ` +
        `min ${event.minRequests} gray requests per step; gray ${event.gray.join(', ')}; normal ${event.normal.join(', ')}`
      );
    case 'step':
      return `step ${event.step}/${event.of}: ratio ${event.ratio}`;
    case 'progress':
      return (
        `step ${event.step}/${event.of} ratio ${event.ratio}  ${seconds(event.remainingMs)} left` +
        `${event.maxIntervals > 1 && event.interval > 1 ? ` (interval ${event.interval}/${event.maxIntervals})` : ''}  |  ${lane('gray', event.gray)}  |  ${lane('normal', event.normal)}` +
        `${event.unavailable.length ? `  |  unreadable: ${event.unavailable.length}` : ''}`
      );
    case 'verdict':
      return `step ${event.step}/${event.of} ratio ${event.ratio}: ${event.extended ? 'waiting one more interval' : event.result}: ${event.reason}`;
    case 'rollback':
      return `rollback: ratio ${event.ratio ?? '?'} ${event.verified ? '(read back from ZooKeeper)' : '(NOT VERIFIED)'}`;
    case 'promote':
      return `promoted ${event.promoted.join(', ') || '(no gray instance)'}; ratio 0`;
    default:
      return undefined;
  }
}

/** The final report, several lines. */
export function formatReport(report: RolloutReport, exitCode: number): string {
  const headline: Record<RolloutReport['outcome'], string> = {
    promoted: 'PROMOTED',
    aborted: 'ABORTED',
    inconclusive: 'FAILED CLOSED',
    interrupted: 'INTERRUPTED',
    conflict: 'STOPPED',
    failed: 'FAILED',
  };
  const row = (name: string, stats: LaneStats) => [
    name,
    String(stats.instances),
    String(stats.requests),
    String(stats.errors),
    String(stats.http5xx),
    String(stats.connectionErrors),
    formatRate(stats.errorRate),
  ];
  const steps = report.history.map((step) => [
    String(step.step),
    String(step.ratio),
    String(step.intervals),
    seconds(step.durationMs),
    `${step.gray.errors}/${step.gray.requests}`,
    formatRate(step.gray.errorRate),
    `${step.normal.errors}/${step.normal.requests}`,
    formatRate(step.normal.errorRate),
    step.verdict?.result ?? 'interrupted',
  ]);
  const at = report.step > 0 ? ` at step ${report.step}/${report.steps.length} (ratio ${report.steps[report.step - 1]})` : '';
  return [
    `rollout ${report.service}: ${headline[report.outcome]}${report.outcome === 'promoted' ? '' : at}`,
    report.reason,
    `ratio now ${report.ratio ?? 'unknown'}${report.ratioVerified ? ' (read back from ZooKeeper)' : ' (not verified)'}`,
    '',
    `last step, since it began:`,
    table(['LANE', 'INSTANCES', 'REQUESTS', 'ERRORS', '5XX', 'CONN ERR', 'ERROR RATE'], [row('gray', report.gray), row('normal', report.normal)]),
    '',
    table(['STEP', 'RATIO', 'INTERVALS', 'TIME', 'GRAY ERR/REQ', 'GRAY RATE', 'NORMAL ERR/REQ', 'NORMAL RATE', 'VERDICT'], steps),
    '',
    ...(report.history.some((step) => step.unavailable.length)
      ? ['metrics unreadable at the last read of a step:', ...report.history.flatMap((step) => step.unavailable.map((what) => `  step ${step.step}: ${what}`)), '']
      : []),
    `${seconds(report.durationMs)} in all; exit ${exitCode}`,
  ].join('\n');
}
