/**
 * `graykit console [--port 7070] [--host 127.0.0.1] [--read-only] [--token <t>]`: the browser console, served until
 * Ctrl-C (SIGINT) or SIGTERM. Like a notebook server it prints its URL at start, with a generated token in the
 * URL's fragment (a fragment never reaches a server or its logs); a token given with --token or
 * GRAYKIT_CONSOLE_TOKEN is not printed.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { createConsole, type GrayConsole } from '../console/console';
import { DEFAULT_CONSOLE_OPTIONS } from '../console/options';
import { GrayKitError } from '../errors';
import type { Logger } from '../types';
import { formatDuration, parseDuration } from './parse';

interface ConsoleFlags {
  port: number;
  host: string;
  readOnly?: boolean;
  token?: string;
  allowedHost?: string[];
  scrapeInterval: number;
  consumerMetrics?: string[];
}

/** What the console command needs from the program around it. */
export interface ConsoleCommandContext {
  io: { out: (text: string) => void; err: (text: string) => void };
  json(): boolean;
  /** The global connection options (`--zk`, `--root`, `--auth`, `--timeout`). */
  connection(): { zk?: string; root?: string; auth?: string; timeout: number };
  terminalSafe(text: string): string;
  jsonSafe(value: unknown): string;
}

function port(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < 0 || value > 65535) throw new InvalidArgumentError('expected a port from 0 to 65535');
  return value;
}

function interval(text: string): number {
  try {
    return parseDuration(text, 'scrape-interval');
  } catch (error) {
    if (error instanceof GrayKitError) throw new InvalidArgumentError('expected a duration such as 2s or 500ms');
    throw error;
  }
}

export function addConsoleCommand(program: Command, context: ConsoleCommandContext): Command {
  return program
    .command('console')
    .description('the browser console: services, instances, live charts per lane, events; set the ratio, mark, promote, roll back (127.0.0.1 by default; writes need the token)')
    .addOption(new Option('--port <port>', 'port to listen on (0: any free port)').argParser(port).default(DEFAULT_CONSOLE_OPTIONS.port))
    .addOption(new Option('--host <address>', 'address to listen on; anything but loopback exposes the read-only views to the network').default(DEFAULT_CONSOLE_OPTIONS.host))
    .option('--read-only', 'serve no write endpoint at all')
    .addOption(
      new Option('--token <token>', 'the token writes must present (default: a random one, printed in the URL); prefer the env variable, argv is visible to other users').env('GRAYKIT_CONSOLE_TOKEN'),
    )
    .option('--allowed-host <name>', 'a host name (or name:port) the console answers to besides localhost and IP addresses, e.g. behind a proxy (repeatable)', (name: string, names: string[] = []) => [...names, name])
    .addOption(
      new Option('--scrape-interval <duration>', 'how often the metrics of the services open in a page are read')
        .argParser(interval)
        .default(DEFAULT_CONSOLE_OPTIONS.scrapeIntervalMs, formatDuration(DEFAULT_CONSOLE_OPTIONS.scrapeIntervalMs)),
    )
    .option('--consumer-metrics <url>', 'a consumer\'s metrics URL (consumerMetrics()); its connection errors count against the lanes (repeatable)', (url: string, urls: string[] = []) => [...urls, url])
    .action(async (flags: ConsoleFlags) => {
      const { io } = context;
      const json = context.json();
      const connection = context.connection();
      // Registry data shows up in warnings (an invalid znode's reason): escaped for the terminal.
      const say = (level: string) => (message: string) => io.err(`${context.terminalSafe(`graykit console: ${level}${message}`)}\n`);
      const logger: Logger = { debug() {}, info() {}, warn: say(''), error: say('error: ') };
      const tokenGiven = flags.token !== undefined;
      // Read-only with a token from the environment: the token is simply not needed.
      const token = flags.readOnly ? undefined : flags.token;
      let grayConsole: GrayConsole | undefined;
      try {
        grayConsole = createConsole({
          zk: connection.zk,
          root: connection.root,
          auth: connection.auth,
          timeout: connection.timeout,
          logger,
          port: flags.port,
          host: flags.host,
          readOnly: flags.readOnly === true,
          token,
          allowedHosts: flags.allowedHost ?? [],
          scrapeIntervalMs: flags.scrapeInterval,
          consumerMetrics: flags.consumerMetrics ?? [],
        });
        const address = await grayConsole.listen();
        const printed = tokenGiven ? address.url.replace(/#token=.*$/, '') : address.url;
        if (json) {
          io.out(`${context.jsonSafe({ event: 'listening', url: printed, host: address.host, port: address.port, readOnly: grayConsole.readOnly })}\n`);
        } else {
          const writes = grayConsole.readOnly ? 'read-only: no write endpoint' : tokenGiven ? 'writes need the token you gave' : 'writes need the token in this URL';
          io.out(`graykit console: ${printed}\n  ${writes}; metrics every ${formatDuration(flags.scrapeInterval)}; Ctrl-C stops\n`);
        }
        await new Promise<void>((resolve) => {
          const stop = () => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            resolve();
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
      } finally {
        await grayConsole?.close();
      }
    });
}
