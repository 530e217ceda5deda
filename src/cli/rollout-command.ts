/**
 * `graykit rollout <service> --steps 5,25,50,100 --interval 30s --max-error-rate 1%`: the CLI around `runRollout`.
 * A live view on a TTY (one redrawn line), plain lines otherwise, or one JSON object per event with `--json` (the
 * last is the report). Ctrl-C: see `--on-interrupt`. Exit codes: ROLLOUT_EXIT (exit.ts).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { GrayAdmin } from '../admin/admin';
import { GrayKitError } from '../errors';
import { DEFAULT_ROLLOUT_OPTIONS, runRollout, type RolloutEvent } from '../rollout/rollout';
import { ROLLOUT_EXIT, rolloutExitCode } from './exit';
import { formatDuration, formatPercent, parseDuration, parsePercent, parseSteps } from './parse';
import { formatEvent, formatReport } from './rollout-format';

interface RolloutFlags {
  steps: number[];
  interval: number;
  maxErrorRate: number;
  minRequests: number;
  maxExtensions: number;
  normalConfidence: number;
  consumerMetrics?: string[];
  scrapeTimeout: number;
  onInterrupt: 'rollback' | 'hold';
}

/** What the rollout command needs from the program around it. */
export interface RolloutCommandContext {
  io: { out: (text: string) => void; err: (text: string) => void };
  /** Whether `--json` was given. */
  json(): boolean;
  /** Makes an admin handle from the global options; the command closes it. */
  admin(): GrayAdmin;
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

function cliArg<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
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

export function addRolloutCommand(program: Command, context: RolloutCommandContext): Command {
  return program
    .command('rollout')
    .description('raise the gray ratio step by step, judging the gray lane\'s error rate from live metrics between steps; abort to ratio 0 on a breach, promote after the last step')
    .argument('<service>')
    .requiredOption('--steps <ratios>', 'increasing ratios, e.g. 5,25,50,100', cliArg(parseSteps))
    .requiredOption('--interval <duration>', 'how long each step runs before it is judged, e.g. 30s, 2m', cliArg((text) => parseDuration(text, 'interval')))
    .requiredOption('--max-error-rate <percent>', 'highest acceptable error rate of the gray lane (5xx, and connection errors with --consumer-metrics), e.g. 1%', cliArg((text) => parsePercent(text, 'max-error-rate')))
    .option('--min-requests <n>', 'gray requests a step needs before it is judged', wholeNumber, DEFAULT_ROLLOUT_OPTIONS.minRequests)
    .option('--max-extensions <n>', 'intervals a step may be extended by while it lacks traffic or metrics, before the rollout fails closed', wholeNumber, DEFAULT_ROLLOUT_OPTIONS.maxExtensions)
    .addOption(
      new Option('--normal-confidence <percent>', 'confidence of the test "gray errs more than normal" (0 turns it off)')
        .argParser(cliArg((text) => parsePercent(text, 'normal-confidence')))
        .default(DEFAULT_ROLLOUT_OPTIONS.normalConfidence, formatPercent(DEFAULT_ROLLOUT_OPTIONS.normalConfidence)),
    )
    .option('--consumer-metrics <url>', 'a consumer\'s metrics URL (consumerMetrics()); its connection errors count against the lane (repeatable)', (url: string, urls: string[] = []) => [...urls, url])
    .addOption(
      new Option('--scrape-timeout <duration>', 'longest wait for one metrics page')
        .argParser(cliArg((text) => parseDuration(text, 'scrape-timeout')))
        .default(DEFAULT_ROLLOUT_OPTIONS.scrapeTimeoutMs, formatDuration(DEFAULT_ROLLOUT_OPTIONS.scrapeTimeoutMs)),
    )
    .addOption(new Option('--on-interrupt <policy>', 'on Ctrl-C (SIGINT) or SIGTERM: rollback (ratio 0, verified) or hold (leave the ratio)').choices(['rollback', 'hold']).default('rollback'))
    .action(async (service: string, flags: RolloutFlags) => {
      const { io } = context;
      const json = context.json();
      const tty = !json && process.stdout.isTTY === true;
      let pending = false; // a redrawn line is on screen
      const view = (event: RolloutEvent) => {
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
      };
      const controller = new AbortController();
      let signalName: NodeJS.Signals | undefined;
      const onSignal = (signal: NodeJS.Signals) => {
        if (signalName) {
          io.err(`graykit: ${flags.onInterrupt === 'rollback' ? 'rolling back to ratio 0, ' : ''}please wait\n`);
          return;
        }
        signalName = signal;
        io.err(`${pending ? '\n' : ''}graykit: ${signal}: ${flags.onInterrupt === 'rollback' ? 'rolling back to ratio 0' : 'stopping, ratio held'}\n`);
        pending = false;
        controller.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const admin = context.admin();
      try {
        const report = await runRollout(
          admin,
          {
            service,
            steps: flags.steps,
            intervalMs: flags.interval,
            maxErrorRate: flags.maxErrorRate,
            minRequests: flags.minRequests,
            maxExtensions: flags.maxExtensions,
            normalConfidence: flags.normalConfidence,
            consumerMetrics: flags.consumerMetrics ?? [],
            scrapeTimeoutMs: flags.scrapeTimeout,
            refreshMs: tty ? 1000 : Math.min(5000, Math.max(1000, Math.round(flags.interval / 2))),
            onInterrupt: flags.onInterrupt,
          },
          { onProgress: view, signal: controller.signal },
        );
        let exitCode = rolloutExitCode(report);
        if (signalName === 'SIGTERM' && exitCode === ROLLOUT_EXIT.INTERRUPTED) exitCode = 143;
        if (json) io.out(`${context.jsonSafe({ type: 'report', ...report, exitCode })}\n`);
        else io.out(`${pending ? '\n' : ''}\n${context.terminalSafe(formatReport(report, exitCode))}\n`);
        if (exitCode !== 0) throw new RolloutExit(exitCode);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        admin.close();
      }
    });
}
