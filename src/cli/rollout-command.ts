/**
 * `graykit rollout <service>[,<service>…] --steps 5,25,50,100 --interval 30s --max-error-rate 1%`: the CLI around
 * `runRollout` (and `--resume <service>`: `resumeRollout`). A live view on a TTY (one redrawn line), plain lines
 * otherwise, or one JSON object per event with `--json` (the last is the report). Ctrl-C: see `--on-interrupt`.
 * Exit codes: ROLLOUT_EXIT (exit.ts).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { AdminOptions, GrayAdmin } from '../admin/admin';
import { GrayKitError } from '../errors';
import { DEFAULT_SESSION_TIMEOUT } from '../registry/connection';
import type { QuantileName } from '../rollout/latency';
import { DEFAULT_ROLLOUT_OPTIONS, resumeRollout, runRollout, type RolloutEvent, type RolloutHooks, type RolloutReport } from '../rollout/rollout';
import type { Webhook } from '../rollout/webhooks';
import { EXIT, ROLLOUT_EXIT, rolloutExitCode } from './exit';
import { formatDuration, formatPercent, parseDuration, parseMaxLatency, parsePercent, parseSteps, parseWebhook } from './parse';
import { formatEvent, formatReport } from './rollout-format';

interface RolloutFlags {
  resume?: boolean;
  lane?: string;
  steps?: number[];
  interval?: number;
  maxErrorRate?: number;
  minRequests: number;
  maxExtensions: number;
  normalConfidence: number;
  maxLatency?: Partial<Record<QuantileName, number>>;
  latencyConfidence: number;
  consumerMetrics?: string[];
  prometheus?: string;
  scrapeTimeout: number;
  onInterrupt: 'rollback' | 'hold';
  onCrash: 'rollback' | 'hold';
  sessionTimeout: number;
  webhook?: Webhook[];
  webhookTimeout: number;
  gateTimeout: number;
  gateInterval: number;
  registryTimeout: number;
}

/** What the rollout command needs from the program around it. */
export interface RolloutCommandContext {
  io: { out: (text: string) => void; err: (text: string) => void };
  /** Whether `--json` was given. */
  json(): boolean;
  /** Makes an admin handle from the global options (and `extra`); the command closes it. */
  admin(extra?: AdminOptions): GrayAdmin;
  /** Text for a terminal (control characters escaped) and JSON for a pipe. */
  terminalSafe(text: string): string;
  jsonSafe(value: unknown): string;
}

/** An exit code the rollout chose; `run()` returns it as it is. */
export class RolloutExit extends CommanderError {
  constructor(exitCode: number) {
    super(exitCode, 'graykit.exit', `rollout exit ${exitCode}`);
  }
}

function cliArg<T>(parse: (text: string, previous?: T) => T): (text: string, previous?: T) => T {
  return (text, previous) => {
    try {
      return parse(text, previous);
    } catch (error) {
      if (error instanceof GrayKitError) throw new InvalidArgumentError(error.message.replace(/^graykit: invalid option `[^`]+`: /, ''));
      throw error;
    }
  };
}

function wholeNumber(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < 0) throw new InvalidArgumentError('expected a whole number >= 0');
  return value;
}

const duration = (option: string) => cliArg((text) => parseDuration(text, option));

export function addRolloutCommand(program: Command, context: RolloutCommandContext): Command {
  return program
    .command('rollout')
    .description('raise the gray ratio step by step, judging the gray lane\'s error rate and latency from live metrics between steps; abort to ratio 0 on a breach, promote after the last step')
    .argument('<services>', 'a service, or several separated by commas (rolled out together)')
    .option('--resume', 'continue the crashed rollout of <service> from its recorded step, with its recorded options')
    .option('--lane <lane>', 'the lane rolled out, judged against the base lane: gray (its share is the ratio, the default) or a named lane (its share in the config\'s lanes)')
    .option('--steps <ratios>', 'increasing ratios, e.g. 5,25,50,100 (required unless --resume)', cliArg(parseSteps))
    .option('--interval <duration>', 'how long each step runs before it is judged, e.g. 30s, 2m (required unless --resume)', duration('interval'))
    .option('--max-error-rate <percent>', 'highest acceptable error rate of the gray lane (5xx, and connection errors with --consumer-metrics), e.g. 1% (required unless --resume)', cliArg((text) => parsePercent(text, 'max-error-rate')))
    .option('--min-requests <n>', 'gray requests a step needs before it is judged', wholeNumber, DEFAULT_ROLLOUT_OPTIONS.minRequests)
    .option('--max-extensions <n>', 'intervals a step may be extended by while it lacks traffic or metrics, before the rollout fails closed', wholeNumber, DEFAULT_ROLLOUT_OPTIONS.maxExtensions)
    .addOption(
      new Option('--normal-confidence <percent>', 'confidence of the test "gray errs more than normal" (0 turns it off)')
        .argParser(cliArg((text) => parsePercent(text, 'normal-confidence')))
        .default(DEFAULT_ROLLOUT_OPTIONS.normalConfidence, formatPercent(DEFAULT_ROLLOUT_OPTIONS.normalConfidence)),
    )
    .option('--max-latency <quantile=duration>', 'highest acceptable gray latency quantile from the duration histograms, e.g. p99=250ms (p50, p95, p99; repeatable)', cliArg((text: string, previous?: Partial<Record<QuantileName, number>>) => parseMaxLatency(text, previous)))
    .addOption(
      new Option('--latency-confidence <percent>', 'confidence of the test "gray\'s latency tail is above normal\'s", e.g. 99.9% (0 turns it off)')
        .argParser(cliArg((text) => parsePercent(text, 'latency-confidence')))
        .default(DEFAULT_ROLLOUT_OPTIONS.latencyConfidence, 'off'),
    )
    .option('--consumer-metrics <url>', 'a consumer\'s metrics URL (consumerMetrics()); its connection errors count against the lane (repeatable)', (url: string, urls: string[] = []) => [...urls, url])
    .option('--prometheus <url>', 'read every metric from this Prometheus server (PromQL) instead of the instances\' and consumers\' pages')
    .addOption(
      new Option('--scrape-timeout <duration>', 'longest wait for one metrics page or Prometheus query')
        .argParser(duration('scrape-timeout'))
        .default(DEFAULT_ROLLOUT_OPTIONS.scrapeTimeoutMs, formatDuration(DEFAULT_ROLLOUT_OPTIONS.scrapeTimeoutMs)),
    )
    .addOption(new Option('--on-interrupt <policy>', 'on Ctrl-C (SIGINT) or SIGTERM: rollback (ratio 0, verified) or hold (leave the ratio)').choices(['rollback', 'hold']).default('rollback'))
    .addOption(
      new Option('--on-crash <policy>', 'if this process dies (kill -9, a closed laptop): consumers go to ratio 0 by themselves (rollback) or keep the ratio (hold)')
        .choices(['rollback', 'hold'])
        .default('rollback'),
    )
    .addOption(
      new Option('--session-timeout <duration>', 'this rollout\'s ZooKeeper session timeout: how long after its process dies its lease goes (the dead-man\'s switch)')
        .argParser(duration('session-timeout'))
        .default(DEFAULT_SESSION_TIMEOUT, formatDuration(DEFAULT_SESSION_TIMEOUT)),
    )
    .option('--webhook <kind=url>', 'a webhook: pre-rollout, confirm-step, confirm-promotion (gates: must answer 2xx), rollback, event (notifications) (repeatable)', cliArg((text: string, hooks: Webhook[] = []) => [...hooks, parseWebhook(text)]))
    .addOption(
      new Option('--webhook-timeout <duration>', 'longest wait for one webhook call')
        .argParser(duration('webhook-timeout'))
        .default(DEFAULT_ROLLOUT_OPTIONS.webhookTimeoutMs, formatDuration(DEFAULT_ROLLOUT_OPTIONS.webhookTimeoutMs)),
    )
    .addOption(
      new Option('--gate-timeout <duration>', 'how long a gate webhook may hold the rollout before it fails closed')
        .argParser(duration('gate-timeout'))
        .default(DEFAULT_ROLLOUT_OPTIONS.gateTimeoutMs, formatDuration(DEFAULT_ROLLOUT_OPTIONS.gateTimeoutMs)),
    )
    .addOption(
      new Option('--gate-interval <duration>', 'how often a gate that did not answer 2xx is asked again')
        .argParser(duration('gate-interval'))
        .default(DEFAULT_ROLLOUT_OPTIONS.gateIntervalMs, formatDuration(DEFAULT_ROLLOUT_OPTIONS.gateIntervalMs)),
    )
    .addOption(
      new Option('--registry-timeout <duration>', 'how long a step waits for an unreachable ZooKeeper before the rollout fails closed')
        .argParser(duration('registry-timeout'))
        .default(DEFAULT_ROLLOUT_OPTIONS.registryTimeoutMs, formatDuration(DEFAULT_ROLLOUT_OPTIONS.registryTimeoutMs)),
    )
    .action((serviceList: string, flags: RolloutFlags) => rolloutAction(context, serviceList, flags));
}

/** The rollout command's run: checks the arguments, shows the events, handles signals, prints the report. */
async function rolloutAction(context: RolloutCommandContext, serviceList: string, flags: RolloutFlags): Promise<void> {
  const services = serviceList.split(',').map((name) => name.trim());
  checkRolloutArgs(services, flags);
  const view = eventView(context);
  const interrupt = interruptOnSignals(context, flags, view);
  // The rollout's session holds its lease: its timeout is how long after a crash consumers go to ratio 0.
  const admin = context.admin({ sessionTimeout: flags.sessionTimeout });
  try {
    const hooks: RolloutHooks = { onProgress: view.show, signal: interrupt.signal };
    const report = flags.resume
      ? await resumeRollout(admin, services[0], { ...commonOptions(flags), refreshMs: view.refreshMs((await admin.rollout(services[0])).document?.options.intervalMs ?? 2000) }, hooks)
      : await runRollout(admin, { ...newRolloutOptions(services, flags), refreshMs: view.refreshMs(flags.interval!) }, hooks);
    let exitCode = rolloutExitCode(report);
    if (interrupt.signalName() === 'SIGTERM' && exitCode === ROLLOUT_EXIT.INTERRUPTED) exitCode = 143;
    view.report(report, exitCode);
    if (exitCode !== 0) throw new RolloutExit(exitCode);
  } finally {
    interrupt.dispose();
    admin.close();
  }
}

function checkRolloutArgs(services: string[], flags: RolloutFlags): void {
  if (flags.resume && services.length !== 1) throw new CommanderError(EXIT.INVALID, 'graykit.usage', '--resume takes one service: the rollout records the others');
  if (flags.resume) return;
  const missing = [flags.steps === undefined && '--steps', flags.interval === undefined && '--interval', flags.maxErrorRate === undefined && '--max-error-rate'].filter(Boolean);
  if (missing.length > 0) throw new CommanderError(EXIT.INVALID, 'graykit.usage', `rollout needs ${missing.join(', ')} (or --resume to continue a crashed rollout)`);
}

/** The options a resumed rollout may change (the rest are in its recorded document). */
function commonOptions(flags: RolloutFlags) {
  return {
    scrapeTimeoutMs: flags.scrapeTimeout,
    onInterrupt: flags.onInterrupt,
    webhooks: flags.webhook ?? [],
    webhookTimeoutMs: flags.webhookTimeout,
    gateTimeoutMs: flags.gateTimeout,
    gateIntervalMs: flags.gateInterval,
    registryTimeoutMs: flags.registryTimeout,
  };
}

function newRolloutOptions(services: string[], flags: RolloutFlags) {
  return {
    services,
    ...(flags.lane === undefined ? {} : { lane: flags.lane }),
    steps: flags.steps!,
    intervalMs: flags.interval!,
    maxErrorRate: flags.maxErrorRate!,
    minRequests: flags.minRequests,
    maxExtensions: flags.maxExtensions,
    normalConfidence: flags.normalConfidence,
    maxLatencyMs: flags.maxLatency ?? {},
    latencyConfidence: flags.latencyConfidence,
    consumerMetrics: flags.consumerMetrics ?? [],
    prometheus: flags.prometheus,
    onCrash: flags.onCrash,
    ...commonOptions(flags),
  };
}

interface EventView {
  show(event: RolloutEvent): void;
  report(report: RolloutReport, exitCode: number): void;
  /** Ends a redrawn line before other output; returns the newline to print first, if one is due. */
  breakLine(): string;
  /** How often progress is redrawn: every second on a TTY, otherwise half a step (1–5 s). */
  refreshMs(intervalMs: number): number;
}

/** One JSON object per event (`--json`), a redrawn progress line on a TTY, or plain lines. */
function eventView(context: RolloutCommandContext): EventView {
  const { io } = context;
  const json = context.json();
  const tty = !json && process.stdout.isTTY === true;
  let pending = false; // a redrawn line is on screen
  const breakLine = () => {
    const text = pending ? '\n' : '';
    pending = false;
    return text;
  };
  return {
    show(event) {
      // The report is printed once the rollout returns (its exit code may still change: SIGTERM).
      if (event.type === 'report') return;
      if (json) {
        io.out(`${context.jsonSafe(event)}\n`);
        return;
      }
      const line = formatEvent(event);
      if (line === undefined) return;
      const text = context.terminalSafe(line);
      if (tty && event.type === 'progress') {
        io.out(`\r\x1b[2K${text}`);
        pending = true;
        return;
      }
      io.out(`${pending ? '\r\x1b[2K' : ''}${text}\n`);
      pending = false;
    },
    report(report, exitCode) {
      if (json) io.out(`${context.jsonSafe({ type: 'report', ...report, exitCode })}\n`);
      else io.out(`${breakLine()}\n${context.terminalSafe(formatReport(report, exitCode))}\n`);
    },
    breakLine,
    refreshMs: (intervalMs) => (tty ? 1000 : Math.min(5000, Math.max(1000, Math.round(intervalMs / 2)))),
  };
}

/** SIGINT/SIGTERM abort the rollout once (it rolls back or holds, per `--on-interrupt`); a second one only says to wait. */
function interruptOnSignals(context: RolloutCommandContext, flags: RolloutFlags, view: EventView) {
  const controller = new AbortController();
  let signalName: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    const rollback = flags.onInterrupt === 'rollback';
    if (signalName) {
      context.io.err(`graykit: ${rollback ? 'rolling back to ratio 0, ' : ''}please wait\n`);
      return;
    }
    signalName = signal;
    context.io.err(`${view.breakLine()}graykit: ${signal}: ${rollback ? 'rolling back to ratio 0' : 'stopping, ratio held'}\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    signalName: () => signalName,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
