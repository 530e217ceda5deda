/**
 * `createConsole()`: the browser console for gray releases, as a library. It puts together the live model (fed
 * by ZooKeeper watches), the metrics scraper, the HTTP handler and, unless read-only, an admin handle for the
 * writes on the same ZooKeeper session; the result mounts in an existing app (`handler`) or listens by itself
 * (`listen()`), and `close()` ends it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { GrayAdmin } from '../admin/admin';
import { ClosedError, InvalidOptionError } from '../errors';
import { resolveCuratorOptions } from '../registry/curator';
import { resolveConnection } from '../registry/connection';
import { urlHost } from '../registry/paths';
import { graykitVersion } from '../version';
import { loadAssets } from './assets';
import { MetricsScraper, type ScrapeTarget } from './metrics-scraper';
import { ConsoleModel } from './model';
import { resolveConsoleOptions, type ConsoleOptions } from './options';
import { ConsoleServer, type ConsoleHandler } from './server';

/** Where a listening console can be reached. */
export interface ConsoleAddress {
  host: string;
  port: number;
  /** The page's URL; with the token in its fragment (never sent to the server) unless read-only. */
  url: string;
}

/** What `createConsole()` returns. */
export interface GrayConsole {
  /**
   * The request handler, `(req, res)` as node:http and Express call it: `app.use('/gray', grayConsole.handler)`.
   * Answer to the names operators use with `allowedHosts` (localhost and IP addresses are always allowed).
   */
  readonly handler: ConsoleHandler;
  /** The token writes must present; undefined for a read-only console. */
  readonly token?: string;
  readonly readOnly: boolean;
  /** Listens by itself (default: the options' `port` and `host`, 7070 on 127.0.0.1). Once. */
  listen(port?: number, host?: string): Promise<ConsoleAddress>;
  /** The address once listening. */
  readonly address?: ConsoleAddress;
  /** Stops listening (if it did), ends every page's live stream, and closes the ZooKeeper session. Idempotent. */
  close(): Promise<void>;
}

/**
 * Creates the console. Its ZooKeeper session connects in the background; a registry that cannot be reached shows
 * as a banner on the page. Throws InvalidOptionError for options that cannot work.
 *
 * @example
 * const grayConsole = createConsole({ zk: '127.0.0.1:2181' });
 * app.use('/gray', grayConsole.handler);       // in an existing Express app, or:
 * const { url } = await grayConsole.listen();   // http://127.0.0.1:7070/#token=…
 * await grayConsole.close();
 */
export function createConsole(options: ConsoleOptions = {}): GrayConsole {
  const resolved = resolveConsoleOptions(options);
  const connection = resolveConnection(options);
  const curator = resolveCuratorOptions(options.curator);
  const logger = connection.logger;
  const assets = loadAssets();
  const session = connection.openSession();
  const model = new ConsoleModel({ session, root: connection.root, logger, eventLimit: resolved.eventLimit, curator });
  const scraper = new MetricsScraper({
    intervalMs: resolved.scrapeIntervalMs,
    timeoutMs: resolved.scrapeTimeoutMs,
    historyMs: resolved.historyMs,
    consumerMetrics: resolved.consumerMetrics,
    logger,
    targets: (service) => {
      const detail = model.detail(service);
      if (!detail) return undefined;
      const instances: ScrapeTarget[] = [];
      for (const instance of detail.instances) {
        // Invalid data: consumers route nothing to it. Every other instance is charted in its lane, a lane of the
        // registry (the fold charts no lane but its instances').
        if (instance.lane === null) continue;
        // The id is the validated `host:port` (IPv6 in brackets): an authority as it is. The path is appended, never
        // resolved, so that no metricsPath can point the console at another host.
        instances.push({ id: instance.id, lane: instance.lane, url: instance.metricsPath === undefined ? undefined : `http://${instance.id}${instance.metricsPath}` });
      }
      return { ratio: detail.summary.ratio, instances };
    },
  });
  // Writes go through the admin API on the model's own session: one ZooKeeper session per console.
  const admin = resolved.readOnly ? undefined : new GrayAdmin({ zk: options.zk, root: options.root, auth: options.auth, sessionTimeout: options.sessionTimeout, logger, timeout: resolved.timeout }, session);
  const about = {
    version: graykitVersion(),
    readOnly: resolved.readOnly,
    zk: connection.zk,
    root: connection.root,
    scrapeIntervalMs: resolved.scrapeIntervalMs,
    historyMs: resolved.historyMs,
    startedAt: Date.now(),
  };
  const server = new ConsoleServer({ options: resolved, model, scraper, admin, assets, about, logger });
  let http: Server | undefined;
  const sockets = new Set<Socket>();
  let address: ConsoleAddress | undefined;
  let closed = false;

  const grayConsole: GrayConsole = {
    handler: server.handler,
    token: resolved.token,
    readOnly: resolved.readOnly,
    get address() {
      return address;
    },
    async listen(port = resolved.port, host = resolved.host) {
      if (closed) throw new ClosedError('the console');
      if (http) throw new InvalidOptionError('listen', 'the console is listening already');
      const listening = createServer(server.handler);
      http = listening;
      listening.on('connection', (socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      await new Promise<void>((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException) => {
          http = undefined;
          reject(new InvalidOptionError('port', `cannot listen on ${host}:${port}: ${error.code ?? error.message}`, { cause: error }));
        };
        listening.once('error', onError);
        listening.listen(port, host, () => {
          listening.off('error', onError);
          listening.on('error', (error) => logger.error(`console: the HTTP server failed: ${error.message}`));
          resolve();
        });
      });
      const bound = (listening.address() as AddressInfo).port;
      const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
      const base = `http://${urlHost(shown)}:${bound}/`;
      address = { host, port: bound, url: resolved.token === undefined ? base : `${base}#token=${resolved.token}` };
      return address;
    },
    async close() {
      if (closed) return;
      closed = true;
      server.close();
      const listening = http;
      if (listening) {
        await new Promise<void>((resolve) => {
          listening.close(() => resolve());
          for (const socket of sockets) socket.destroy();
        });
      }
      scraper.close();
      model.close();
      admin?.close();
      session.close();
    },
  };
  return grayConsole;
}
