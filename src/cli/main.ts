#!/usr/bin/env node
/**
 * The `graykit` command: the control plane for operators, built on the public admin API. Exit codes: exit.ts.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_ADMIN_OPTIONS, createAdmin, type GrayAdmin } from '../admin/admin';
import { GrayKitError } from '../errors';
import { silentLogger } from '../logger';
import { digestId, parseCredentials } from '../registry/acl';
import { DEFAULT_ZK_CONNECT } from '../registry/connection';
import { DEFAULT_ROOT } from '../registry/paths';
import { graykitVersion } from '../version';
import { abortRollout } from '../rollout/abort';
import { addConsoleCommand } from './console-command';
import { EXIT, ROLLOUT_EXIT, exitCodeOf } from './exit';
import { formatLanes, formatSnapshot, formatStatus } from './format';
import { addRolloutCommand, RolloutExit } from './rollout-command';
import { formatAbort, formatRolloutStatus } from './rollout-format';

export { EXIT, exitCodeOf } from './exit';

/** How long a finished command lets pending handles close before it exits anyway, ms. */
const EXIT_GRACE_MS = 2000;

interface GlobalOptions {
  zk?: string;
  root?: string;
  auth?: string;
  json?: boolean;
  timeout: number;
}

function parseRatio(value: string): number {
  const ratio = Number(value);
  if (value.trim() === '' || !Number.isFinite(ratio) || ratio < 0 || ratio > 100) throw new InvalidArgumentError('expected a number from 0 to 100');
  return ratio;
}

function parseWholeNumber(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number)) throw new InvalidArgumentError('expected a whole number');
  return number;
}

/**
 * Text for a terminal: registry data is written by others (a provider's version label, an override's fields), so
 * control characters are shown escaped instead of being sent to the terminal (ESC sequences could rewrite the
 * screen, set the window title, or hide lines). Newlines and tabs of graykit's own layout stay.
 */
export function terminalSafe(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** JSON for a pipe: JSON.stringify escapes C0 controls already; C1 controls and bidi overrides are escaped too. */
function jsonSafe(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export interface ProgramIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const STDIO: ProgramIo = { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) };

/** The command. `jsonErrors`: errors are printed by `run` as JSON, so commander prints neither them nor help. */
export function buildProgram(io: ProgramIo = STDIO, jsonErrors = false): Command {
  const program = new Command('graykit')
    .description('Control gray releases in ZooKeeper: status, ratio, flags, promote, rollback, rollout, abort.')
    .version(graykitVersion(), '-V, --version', 'print graykit\'s version')
    .addOption(new Option('--zk <connect>', 'ZooKeeper connect string').env('ZK_CONNECT').default(DEFAULT_ZK_CONNECT))
    .addOption(new Option('--root <path>', 'root znode').env('GRAYKIT_ROOT').default(DEFAULT_ROOT))
    .addOption(
      new Option('--auth <user:password>', 'ZooKeeper digest credentials (the operator identity); prefer the env variable, argv is visible to other users')
        // Checked by createAdmin (InvalidOptionError, exit 2): commander's own errors would echo the secret.
        .env('GRAYKIT_ZK_AUTH'),
    )
    .option('--json', 'machine-readable output')
    .addOption(new Option('--timeout <ms>', 'how long to wait for ZooKeeper, ms').default(DEFAULT_ADMIN_OPTIONS.timeout).argParser(parseWholeNumber))
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: (text, write) => (jsonErrors ? undefined : write(text)) })
    .exitOverride()
    .showHelpAfterError(!jsonErrors);

  const print = (value: unknown, text: string) => io.out(`${program.opts<GlobalOptions>().json ? jsonSafe(value) : terminalSafe(text)}\n`);
  const adminOptions = (options: GlobalOptions) => ({ zk: options.zk, root: options.root, timeout: options.timeout, logger: silentLogger, auth: options.auth });

  /** Runs an action with an admin handle that is closed afterwards. */
  const withAdmin = (action: (admin: GrayAdmin, ...args: never[]) => Promise<void>) =>
    async (...args: unknown[]) => {
      const options = program.opts<GlobalOptions>();
      const admin = createAdmin(adminOptions(options));
      try {
        await action(admin, ...(args as never[]));
      } finally {
        admin.close();
      }
    };

  program
    .command('status')
    .description('services, or one service: instances with version, gray flag (own or override), weight, since; ratio and rules; its rollout (running, crashed, or the last one)')
    .argument('[service]')
    .action(
      withAdmin(async (admin, service?: string) => {
        if (!service) {
          const services = await admin.listServices();
          print(services, services.length ? services.join('\n') : '(no services registered)');
          return;
        }
        const [status, rollout] = await Promise.all([admin.status(service), admin.rollout(service)]);
        const text = formatStatus(status);
        const rolloutText = formatRolloutStatus(rollout);
        print({ ...status, rollout }, rolloutText ? `${text}\n\n${rolloutText}` : text);
      }),
    );

  program
    .command('abort')
    .description('stop the running (or crashed) rollout of a service from anywhere: ratio 0 on each of its services, read back; the rollout ends aborted')
    .argument('<service>')
    .action(
      withAdmin(async (admin, service: string) => {
        const report = await abortRollout(admin, service);
        print(report, formatAbort(report));
        if (!report.ratioVerified) throw new RolloutExit(ROLLOUT_EXIT.UNVERIFIED);
      }),
    );

  program
    .command('ratio')
    .description('set the share (0-100) of requests that go to gray instances (or to the instances of --lane), live')
    .argument('<service>')
    .argument('<ratio>', 'a number from 0 to 100', parseRatio)
    .option('--lane <lane>', 'the lane whose share this is (default gray: the ratio)')
    .action(
      withAdmin(async (admin, service: string, ratio: number, flags: { lane?: string }) => {
        const written = await admin.setShare(service, flags.lane ?? 'gray', ratio);
        print(written, `${service}: ${flags.lane && flags.lane !== 'gray' ? `lane ${flags.lane} share` : 'ratio'} ${ratio} (config version ${written.version})`);
      }),
    );

  program
    .command('lanes')
    .description('the lanes that exist across services: which services have instances in each, and their shares')
    .action(
      withAdmin(async (admin) => {
        const lanes = await admin.lanes();
        print(lanes, formatLanes(lanes));
      }),
    );

  program
    .command('mark')
    .description('override an instance\'s gray flag (kept across its restarts), or clear the override')
    .argument('<service>')
    .argument('<instance>', 'host:port')
    .option('--gray', 'mark gray')
    .option('--normal', 'mark normal (formal)')
    .option('--clear', 'remove the override: the instance\'s own flag applies again')
    .action(
      withAdmin(async (admin, service: string, instance: string, flags: { gray?: boolean; normal?: boolean; clear?: boolean }) => {
        const chosen = [flags.gray, flags.normal, flags.clear].filter(Boolean).length;
        if (chosen !== 1) throw new CommanderError(EXIT.INVALID, 'graykit.usage', 'mark takes exactly one of --gray, --normal, --clear');
        if (flags.clear) {
          const removed = await admin.clearOverride(service, instance);
          print({ service, instance, cleared: removed }, `${service} ${instance}: ${removed ? 'override cleared' : 'had no override'}`);
          return;
        }
        await admin.setOverride(service, instance, { gray: Boolean(flags.gray) });
        print({ service, instance, gray: Boolean(flags.gray) }, `${service} ${instance}: marked ${flags.gray ? 'gray' : 'normal'} (override)`);
      }),
    );

  program
    .command('promote')
    .description('gray instances (or those of --lane) become the base version (an override) and the lane\'s share returns to 0')
    .argument('<service>')
    .option('--lane <lane>', 'the lane to promote (default gray)')
    .action(
      withAdmin(async (admin, service: string, flags: { lane?: string }) => {
        const lane = flags.lane ?? 'gray';
        const promoted = await admin.promote(service, lane);
        print({ service, lane, promoted }, `${service}: promoted ${promoted.length ? promoted.join(', ') : `nothing (no ${lane} instance)`}; ${lane === 'gray' ? 'ratio' : `lane ${lane} share`} 0`);
      }),
    );

  program
    .command('rollback')
    .description('ratio 0: gray instances get no traffic (while a normal instance exists)')
    .argument('<service>')
    .action(
      withAdmin(async (admin, service: string) => {
        const gray = await admin.rollback(service);
        print({ service, ratio: 0, gray }, `${service}: ratio 0; gray instances now idle: ${gray.length ? gray.join(', ') : 'none'}`);
      }),
    );

  program
    .command('watch')
    .description('live view of what consumers route by; redraws on every registry change (Ctrl-C to stop)')
    .argument('<service>')
    .action(async (service: string) => {
      const options = program.opts<GlobalOptions>();
      const admin = createAdmin(adminOptions(options));
      const redraw = process.stdout.isTTY && !options.json;
      admin.watch(service, (snapshot) => {
        if (options.json) io.out(`${jsonSafe(snapshot)}\n`);
        else io.out(`${redraw ? '\x1b[2J\x1b[H' : '\n'}${terminalSafe(`${new Date().toISOString()}\n${formatSnapshot(snapshot, 'local')}`)}\n`);
      });
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      admin.close();
    });

  program
    .command('init')
    .description('lay out a service\'s tree with ACLs (needs --auth, the operator): providers may register instances, only the operator writes config and overrides')
    .argument('<service>')
    .option('--provider <id>', 'a digest identity user:base64(sha1(user:password)) allowed to register instances (repeatable; `graykit digest` computes it)', (id: string, ids: string[] = []) => [...ids, id])
    .action(
      withAdmin(async (admin, service: string, flags: { provider?: string[] }) => {
        const result = await admin.init(service, { providers: flags.provider ?? [] });
        const lines = result.znodes.map((z) => `${z.created ? 'created' : 'exists '} ${z.path}  ${z.acl}`);
        print(result, [...lines, ...result.warnings.map((w) => `warning: ${w}`)].join('\n'));
      }),
    );

  program
    .command('digest')
    .description('print the ZooKeeper digest identity of user:password (read from stdin when omitted), for init --provider and zkCli setAcl')
    .argument('[credentials]', 'user:password; prefer stdin, argv is visible to other users')
    .action(async (credentials?: string) => {
      const text = credentials ?? (await readStdin()).replace(/\r?\n$/, '');
      if (!parseCredentials(text)) throw new CommanderError(EXIT.INVALID, 'graykit.usage', 'digest takes user:password');
      const id = digestId(text);
      print({ id }, id);
    });

  addRolloutCommand(program, {
    io,
    json: () => Boolean(program.opts<GlobalOptions>().json),
    admin: (extra) => createAdmin({ ...adminOptions(program.opts<GlobalOptions>()), ...extra }),
    terminalSafe,
    jsonSafe,
  });

  addConsoleCommand(program, {
    io,
    json: () => Boolean(program.opts<GlobalOptions>().json),
    connection: () => {
      const options = program.opts<GlobalOptions>();
      return { zk: options.zk, root: options.root, auth: options.auth, timeout: options.timeout };
    },
    terminalSafe,
    jsonSafe,
  });

  const config = program.command('config').description('read or replace a service\'s whole config document');
  config
    .command('get')
    .argument('<service>')
    .action(
      withAdmin(async (admin, service: string) => {
        const read = await admin.getConfig(service);
        print(read, `${JSON.stringify(read.config, null, 2)}\n(version ${read.version}${read.error ? `; INVALID: ${read.error}` : ''})`);
      }),
    );
  config
    .command('set')
    .argument('<service>')
    .argument('<document>', 'JSON text, or @file')
    .option('--expect-version <n>', 'write only if the config is still at this version (from `config get`)', parseWholeNumber)
    .action(
      withAdmin(async (admin, service: string, documentText: string, flags: { expectVersion?: number }) => {
        const text = documentText.startsWith('@') ? readFileSync(documentText.slice(1), 'utf8') : documentText;
        let document: unknown;
        try {
          document = JSON.parse(text);
        } catch (error) {
          throw new CommanderError(EXIT.INVALID, 'graykit.usage', `the document is not JSON: ${(error as Error).message}`);
        }
        const written = await admin.setConfig(service, document, flags.expectVersion);
        print(written, `${service}: config written (version ${written.version})`);
      }),
    );
  return program;
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => (text += chunk));
    process.stdin.on('end', () => resolve(text));
    process.stdin.on('error', reject);
  });
}

/**
 * An error as `--json` prints it (on stderr): its code, message and exit code, and the fields graykit's errors
 * carry (service, path, zkCode, option, …). Never a stack, never credentials (errors never hold them).
 */
export function errorJson(error: unknown, exitCode: number): Record<string, unknown> {
  const fields: Record<string, unknown> = { exitCode };
  if (error instanceof GrayKitError) {
    for (const [key, value] of Object.entries(error)) if (key !== 'cause' && (typeof value !== 'object' || value === null)) fields[key] = value;
    return { error: { name: error.name, code: error.code, message: error.message, ...fields } };
  }
  const { name = 'Error', code = 'ERR_GRAYKIT_USAGE', message = String(error), ...rest } = (error ?? {}) as Record<string, unknown>;
  return { error: { name, code, message, ...rest, ...fields } };
}

/** Runs the CLI and resolves with the exit code. */
export async function run(argv: string[], io: ProgramIo = STDIO): Promise<number> {
  const jsonErrors = argv.includes('--json');
  const program = buildProgram(io, jsonErrors);
  const err = io.err;
  const json = () => jsonErrors || Boolean(program.opts<GlobalOptions>().json);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.OK;
      if (error.code === 'graykit.exit') return error.exitCode; // rollout: the report said why
      // Every usage error has one code; commander's own (`commander.invalidArgument`, …) says which.
      if (json()) err(`${jsonSafe(errorJson({ name: 'UsageError', code: 'ERR_GRAYKIT_USAGE', kind: error.code, message: error.message }, EXIT.INVALID))}\n`);
      else if (error.code === 'graykit.usage') err(`graykit: ${error.message}\n`);
      return EXIT.INVALID;
    }
    const code = exitCodeOf(error);
    err(json() ? `${jsonSafe(errorJson(error, code))}\n` : `${terminalSafe((error as Error).message)}\n`);
    return code;
  }
}

if (require.main === module) {
  void run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    // A command that is done exits, even if a handle outlives it: the native ZooKeeper client has been seen (once,
    // under load) to keep a process alive after its session was closed, and a script must never wait on a finished
    // command. Its output is written by then (stdout and stderr are synchronous for files and pipes on Linux).
    setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
  });
}
