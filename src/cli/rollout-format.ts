/** Text rendering of a rollout's events and report, for the CLI's live view, and of a recorded rollout. Pure. */
import { describeActor, type RolloutStatus } from '../admin/rollout-record';
import type { AbortReport } from '../rollout/abort';
import { formatRate } from '../rollout/judge';
import { formatSeconds } from '../rollout/latency';
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
        `${event.resumedFrom !== undefined ? `resuming at step ${event.resumedFrom}: ` : ''}rollout ${event.services.join(',')}: steps ${event.steps.join(',')} every ${seconds(event.intervalMs)}, max error rate ${formatRate(event.maxErrorRate)}, ` +
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
    case 'gate':
      return `${event.kind} webhook${event.step > 0 ? ` (step ${event.step})` : ''}: ${event.status}${event.status === 'passed' ? '' : `: ${event.detail}`}`;
    case 'registry':
      return event.detail;
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
  const latency = [report.gray, report.normal].some((stats) => stats.latency);
  const row = (name: string, stats: LaneStats) => [
    name,
    String(stats.instances),
    String(stats.requests),
    String(stats.errors),
    String(stats.http5xx),
    String(stats.connectionErrors),
    formatRate(stats.errorRate),
    ...(latency ? [formatSeconds(stats.latency?.p50 ?? null), formatSeconds(stats.latency?.p99 ?? null)] : []),
  ];
  const several = report.services.length > 1;
  const lastStep = report.history[report.history.length - 1];
  const laneRows = several && lastStep
    ? report.services.flatMap((service) => {
        const part = lastStep.services[service];
        return part ? [row(`${service} gray`, part.gray), row(`${service} normal`, part.normal)] : [];
      })
    : [row('gray', report.gray), row('normal', report.normal)];
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
  const ratioLine = several
    ? report.services.map((service) => `${service}: ratio now ${report.byService[service]?.ratio ?? 'unknown'}${report.byService[service]?.ratioVerified ? ' (read back from ZooKeeper)' : ' (not verified)'}`).join('\n')
    : `ratio now ${report.ratio ?? 'unknown'}${report.ratioVerified ? ' (read back from ZooKeeper)' : ' (not verified)'}`;
  return [
    `rollout ${report.services.join(',')}: ${headline[report.outcome]}${report.outcome === 'promoted' ? '' : at}`,
    report.reason,
    ratioLine,
    '',
    `last step, since it began:`,
    table(['LANE', 'INSTANCES', 'REQUESTS', 'ERRORS', '5XX', 'CONN ERR', 'ERROR RATE', ...(latency ? ['P50', 'P99'] : [])], laneRows),
    '',
    table(['STEP', 'RATIO', 'INTERVALS', 'TIME', 'GRAY ERR/REQ', 'GRAY RATE', 'NORMAL ERR/REQ', 'NORMAL RATE', 'VERDICT'], steps),
    '',
    ...(report.history.some((step) => step.unavailable.length)
      ? ['metrics unreadable at the last read of a step:', ...report.history.flatMap((step) => step.unavailable.map((what) => `  step ${step.step}: ${what}`)), '']
      : []),
    `${seconds(report.durationMs)} in all; exit ${exitCode}`,
  ].join('\n');
}

/** A service's recorded rollout for `graykit status`: running, crashed (and what consumers do), or the last one. */
export function formatRolloutStatus(status: RolloutStatus): string | undefined {
  const doc = status.document;
  if (!doc) return status.error ? `rollout znode ${status.path} INVALID: ${status.error}` : undefined;
  const position = `step ${doc.step}/${doc.steps.length}${doc.step > 0 ? ` (ratio ${doc.steps[doc.step - 1]})` : ''}`;
  const group = doc.services.length > 1 ? ` with ${doc.services.filter((s) => s !== doc.service).join(', ')}` : '';
  const head = status.crashed
    ? `rollout ${doc.id}: CRASHED at ${position}: its process is gone (no lease); ${
        status.consumersAtZero ? 'consumers route at ratio 0 (on-crash rollback)' : 'consumers keep the ratio (on-crash hold)'
      }; continue it with \`graykit rollout --resume ${doc.service}\` or stop it with \`graykit abort ${doc.service}\``
    : doc.state === 'running'
      ? `rollout ${doc.id}: running at ${position}${group}, lease held by ${status.lease ? describeActor(status.lease.by) : 'a rollout process'}`
      : `last rollout ${doc.id}: ${doc.state.toUpperCase()}${doc.endedAt ? ` at ${doc.endedAt}` : ''}${group}: ${doc.reason ?? ''}`;
  const lines = [head, `  steps ${doc.steps.join(',')}; started ${doc.startedAt} by ${describeActor(doc.by)}; on crash: ${doc.onCrash}`];
  for (const resumed of doc.resumed ?? []) lines.push(`  resumed at step ${resumed.step} on ${resumed.at} by ${describeActor(resumed.by)}`);
  if (doc.abort) lines.push(`  abort requested on ${doc.abort.at} by ${describeActor(doc.abort.by)}`);
  if (doc.history.length > 0) {
    const rows = doc.history.map((step) => [
      String(step.step),
      String(step.ratio),
      `${step.gray.errors}/${step.gray.requests}`,
      `${step.normal.errors}/${step.normal.requests}`,
      formatSeconds(step.gray.p99 ?? null),
      step.verdict ?? '-',
    ]);
    lines.push(table(['STEP', 'RATIO', 'GRAY ERR/REQ', 'NORMAL ERR/REQ', 'GRAY P99', 'VERDICT'], rows).replace(/^/gm, '  '));
  }
  return lines.join('\n');
}

/** What `graykit abort` did. */
export function formatAbort(report: AbortReport): string {
  const lines = report.services.map((service) => {
    const part = report.byService[service];
    const ratio = part.ratioVerified ? 'ratio 0 (read back from ZooKeeper)' : `ratio NOT VERIFIED at 0 (${part.error ?? `read ${part.ratio}`}): run \`graykit rollback ${service}\``;
    const state = part.state === 'running' ? 'its process has not recorded the abort yet (it will at its next read)' : `rollout ${part.state ?? 'gone'}`;
    return `${service}: ${part.was === 'crashed' ? 'crashed rollout' : 'running rollout'} aborted; ${ratio}; ${state}`;
  });
  return [`abort rollout ${report.id}:`, ...lines].join('\n');
}
