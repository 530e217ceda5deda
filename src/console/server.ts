/**
 * The console's HTTP face: one request handler (node:http's signature, so it mounts in Express, Connect or a bare
 * server) that serves the page's files, the read API, the live stream, and — unless read-only — the write API.
 *
 * Every request first passes the Host check (security.ts). Writes then need the token in a header, an Origin (when
 * the browser sends one) that is the console's own, and a small JSON body; each write is the admin API's operation,
 * the same as the CLI's, and is recorded in the service's event list. A read-only console has no write route at
 * all: a POST finds nothing (404). The handler never throws into its host: whatever fails becomes a response.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GrayAdmin } from '../admin/admin';
import { AccessDeniedError, ConflictError, GrayKitError, errorKind, type ErrorKind } from '../errors';
import { isValidRatio } from '../registry/codec';
import { isValidServiceName } from '../registry/paths';
import type { Logger, ServiceConfig } from '../types';
import type { Asset } from './assets';
import { percent } from './events';
import { LiveStream } from './live-stream';
import type { MetricsScraper } from './metrics-scraper';
import type { ConsoleModel } from './model';
import type { ResolvedConsoleOptions } from './options';
import { isAllowedHost, isSameOrigin, presentedToken, SECURITY_HEADERS, tokenMatches } from './security';

/** Bodies of writes are a handful of fields. */
const MAX_BODY_BYTES = 4096;
/** Live pushes of one kind per page at most this often. */
const PUSH_THROTTLE_MS = 100;

export interface ConsoleServerContext {
  options: ResolvedConsoleOptions;
  model: ConsoleModel;
  scraper: MetricsScraper;
  /** The admin handle writes go through; undefined for a read-only console. */
  admin?: GrayAdmin;
  assets: ReadonlyMap<string, Asset>;
  /** What the page is told about the console (never the credentials). */
  about: Record<string, unknown>;
  logger: Logger;
}

/** A request handler as node:http and Express call it. */
export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

/** An HTTP answer to a request that cannot be served; the message is shown to the operator. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, error: HttpError): void {
  sendJson(res, error.status, { error: { code: error.code, message: error.message, ...error.extra } }, error.headers);
}

/** Reads a small JSON object body; HttpError 413/415/400 otherwise. */
async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new HttpError(415, 'ERR_CONSOLE_CONTENT_TYPE', 'send the body as application/json');
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) throw new HttpError(413, 'ERR_CONSOLE_BODY_TOO_LARGE', `bodies are at most ${MAX_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'ERR_CONSOLE_BODY_TOO_LARGE', `bodies are at most ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown;
  try {
    body = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new HttpError(400, 'ERR_CONSOLE_BAD_JSON', 'the body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'ERR_CONSOLE_BAD_JSON', 'the body is not a JSON object');
  return body as Record<string, unknown>;
}

/** The HTTP status of each kind of error (errors.ts `errorKind`: the CLI's exit codes read the same kinds). */
export const STATUS_OF_KIND: Readonly<Record<ErrorKind, number>> = Object.freeze({
  invalid: 400,
  accessDenied: 403,
  notFound: 404,
  conflict: 409,
  busy: 409,
  unreachable: 503,
  sessionExpired: 503,
  unknown: 500,
});

/** An error as the page is told it: a GrayKitError with its message, anything else without (see the log). */
export function httpErrorOf(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  const status = STATUS_OF_KIND[errorKind(error)];
  if (!(error instanceof GrayKitError)) return new HttpError(status, 'ERR_CONSOLE_INTERNAL', 'the console failed to serve this request (see its log)');
  // Access denials name no identity: that is the console's own credential.
  if (error instanceof AccessDeniedError) return new HttpError(status, error.code, `ZooKeeper refused the console's identity: ${error.operation} ${error.path} is not allowed`);
  return new HttpError(status, error.code, error.message.replace(/^graykit: /, ''));
}

type Route = (req: IncomingMessage, res: ServerResponse, params: string[]) => Promise<void> | void;

interface RouteEntry {
  method: 'GET' | 'POST';
  pattern: RegExp;
  write: boolean;
  run: Route;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, 'ERR_CONSOLE_BAD_PATH', 'the path is not valid percent-encoding');
  }
}

function checkService(name: string): string {
  if (!isValidServiceName(name)) throw new HttpError(400, 'ERR_GRAYKIT_INVALID_OPTION', `${JSON.stringify(String(name).slice(0, 140))} is not a valid service name`);
  return name;
}

/** The console's routes and its live streams. */
export class ConsoleServer {
  readonly handler: ConsoleHandler;
  private readonly streams = new Set<LiveStream>();
  private readonly routes: RouteEntry[];
  private closed = false;

  constructor(private readonly context: ConsoleServerContext) {
    const reads: RouteEntry[] = [
      { method: 'GET', pattern: /^\/$/, write: false, run: (req, res) => this.serveAsset(req, res, 'index.html') },
      { method: 'GET', pattern: /^\/assets\/([A-Za-z0-9_.-]+)$/, write: false, run: (req, res, [name]) => this.serveAsset(req, res, name) },
      { method: 'GET', pattern: /^\/api\/overview$/, write: false, run: (_req, res) => this.overview(res) },
      { method: 'GET', pattern: /^\/api\/services\/([^/]+)$/, write: false, run: (_req, res, [service]) => this.service(res, checkService(decodeSegment(service))) },
      { method: 'GET', pattern: /^\/api\/stream$/, write: false, run: (req, res) => this.stream(req, res) },
    ];
    const writes: RouteEntry[] = [
      { method: 'POST', pattern: /^\/api\/services\/([^/]+)\/ratio$/, write: true, run: (req, res, [service]) => this.setRatio(req, res, checkService(decodeSegment(service))) },
      {
        method: 'POST',
        pattern: /^\/api\/services\/([^/]+)\/instances\/([^/]+)\/flag$/,
        write: true,
        run: (req, res, [service, id]) => this.setFlag(req, res, checkService(decodeSegment(service)), decodeSegment(id)),
      },
      { method: 'POST', pattern: /^\/api\/services\/([^/]+)\/promote$/, write: true, run: (req, res, [service]) => this.promote(req, res, checkService(decodeSegment(service))) },
      { method: 'POST', pattern: /^\/api\/services\/([^/]+)\/rollback$/, write: true, run: (req, res, [service]) => this.rollback(req, res, checkService(decodeSegment(service))) },
    ];
    // Read-only: the write routes do not exist, so nothing can reach an admin handle (there is none either).
    this.routes = context.options.readOnly ? reads : [...reads, ...writes];
    const server = this;
    this.handler = function grayConsoleHandler(req, res) {
      server.handle(req, res).catch((error: unknown) => server.fail(res, error));
    };
  }

  /** Ends every live stream; later requests get 503. */
  close(): void {
    this.closed = true;
    for (const stream of [...this.streams]) stream.close();
  }

  private fail(res: ServerResponse, error: unknown): void {
    const http = httpErrorOf(error);
    if (http.status >= 500) this.context.logger.error(`console: ${(error as Error)?.stack ?? error}`);
    try {
      if (!res.headersSent) sendError(res, http);
      else res.destroy();
    } catch {
      res.destroy();
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    if (!isAllowedHost(req.headers.host, this.context.options.allowedHosts)) {
      // DNS rebinding: a page on another name must not read or drive the console, even from this machine.
      res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end('graykit console: this host name is not allowed (add it with --allowed-host / allowedHosts)\n');
      return;
    }
    if (this.closed) throw new HttpError(503, 'ERR_GRAYKIT_CLOSED', 'the console is closed');
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    let pathMatched = false;
    for (const route of this.routes) {
      const match = route.pattern.exec(path);
      if (!match) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      if (route.write) this.authorize(req);
      await route.run(req, res, match.slice(1));
      return;
    }
    if (pathMatched) {
      const allowed = [...new Set(this.routes.filter((r) => r.pattern.test(path)).map((r) => (r.method === 'GET' ? 'GET, HEAD' : r.method)))].join(', ');
      throw new HttpError(405, 'ERR_CONSOLE_METHOD', `${req.method} is not served here${this.context.options.readOnly ? ' (the console is read-only)' : ''}`, {}, { Allow: allowed });
    }
    throw new HttpError(404, 'ERR_CONSOLE_NOT_FOUND', `nothing at ${path.slice(0, 200)}${this.context.options.readOnly && req.method === 'POST' ? ' (the console is read-only: it serves no write)' : ''}`);
  }

  private authorize(req: IncomingMessage): void {
    const token = this.context.options.token as string;
    const presented = presentedToken(req);
    if (!tokenMatches(presented, token)) {
      this.context.logger.warn(`console: refused a ${req.method} ${req.url?.slice(0, 200)} from ${req.socket.remoteAddress}: ${presented === undefined ? 'no token' : 'wrong token'}`);
      throw new HttpError(401, 'ERR_CONSOLE_TOKEN', presented === undefined ? 'this write needs the console\'s token (Authorization: Bearer <token>)' : 'wrong token', {}, {
        'WWW-Authenticate': 'Bearer realm="graykit console"',
      });
    }
    if (!isSameOrigin(req)) throw new HttpError(403, 'ERR_CONSOLE_ORIGIN', 'a write must come from the console\'s own page');
  }

  private serveAsset(req: IncomingMessage, res: ServerResponse, name: string): void {
    // Mounted under a prefix (app.use('/gray', ...)), `/gray` must become `/gray/`, or the page's relative links miss.
    const original = (req as IncomingMessage & { originalUrl?: string }).originalUrl;
    if (name === 'index.html' && original !== undefined) {
      const queryAt = original.indexOf('?');
      const path = queryAt === -1 ? original : original.slice(0, queryAt);
      if (!path.endsWith('/')) {
        res.writeHead(308, { Location: `${path}/${queryAt === -1 ? '' : original.slice(queryAt)}`, 'Cache-Control': 'no-store' });
        res.end();
        return;
      }
    }
    const asset = this.context.assets.get(name);
    if (!asset) throw new HttpError(404, 'ERR_CONSOLE_NOT_FOUND', `no asset ${name}`);
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, { ETag: asset.etag, 'Cache-Control': 'no-cache', Vary: 'Accept-Encoding' });
      res.end();
      return;
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? asset.gzip : asset.body;
    res.writeHead(200, {
      'Content-Type': asset.type,
      'Content-Length': body.length,
      ETag: asset.etag,
      // Revalidated every time (a 304 costs a few bytes): an upgraded console never runs an old page.
      'Cache-Control': 'no-cache',
      Vary: 'Accept-Encoding',
      ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private overview(res: ServerResponse): void {
    const { model } = this.context;
    sendJson(res, 200, { console: this.context.about, connection: model.connection, ready: model.ready, services: model.summaries() });
  }

  private service(res: ServerResponse, service: string): void {
    const { model, scraper } = this.context;
    const detail = model.detail(service);
    if (!detail) throw new HttpError(404, 'ERR_GRAYKIT_NOT_FOUND', `service "${service}" is not registered${model.has(service) ? ' yet (still loading)' : ''}`);
    sendJson(res, 200, { ...detail, events: model.events(service), metrics: scraper.history(service) });
  }

  private stream(req: IncomingMessage, res: ServerResponse): void {
    const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
    const service = query.get('service') ?? undefined;
    if (service !== undefined) checkService(service);
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end();
      return;
    }
    const { model, scraper, about } = this.context;
    req.socket.setTimeout(0);
    const stream = new LiveStream(res, { model, scraper, about, throttleMs: PUSH_THROTTLE_MS }, service, (ended) => this.streams.delete(ended));
    this.streams.add(stream);
  }

  /** Runs a write, records it in the service's event list (done or refused), and answers. */
  private async write(req: IncomingMessage, res: ServerResponse, service: string, what: string, run: () => Promise<{ result: Record<string, unknown>; text: string }>): Promise<void> {
    const who = `console (${req.socket.remoteAddress ?? 'unknown'})`;
    try {
      const { result, text } = await run();
      this.context.model.record(service, { at: Date.now(), kind: 'action', level: 'info', text: `${who}: ${text}` });
      sendJson(res, 200, { ok: true, ...result });
    } catch (error) {
      const http = httpErrorOf(error);
      const level = http.status === 409 ? 'warn' : 'error';
      if (http.status !== 404 || this.context.model.has(service)) {
        this.context.model.record(service, { at: Date.now(), kind: 'action', level, text: `${who}: ${what} refused — ${http.message}` });
      }
      if (http.status >= 500) this.context.logger.error(`console: ${what} for service "${service}" failed: ${(error as Error)?.message ?? error}`);
      sendError(res, http);
    }
  }

  private async setRatio(req: IncomingMessage, res: ServerResponse, service: string): Promise<void> {
    const body = await readJsonBody(req);
    const { ratio, expectedVersion } = body;
    if (!isValidRatio(ratio)) throw new HttpError(400, 'ERR_GRAYKIT_INVALID_OPTION', '`ratio` must be a number from 0 to 100');
    if (typeof expectedVersion !== 'number' || !Number.isInteger(expectedVersion) || expectedVersion < -1) {
      throw new HttpError(400, 'ERR_GRAYKIT_INVALID_OPTION', '`expectedVersion` must be the config version the change is based on (-1: no config yet)');
    }
    const admin = this.context.admin as GrayAdmin;
    await this.write(req, res, service, `ratio ${percent(ratio)}`, async () => {
      // The page's version, not a fresh read: a change made meanwhile (the CLI, a rollout, another page) is a
      // conflict to show, never something to overwrite.
      try {
        let was: number | undefined;
        const change = (config: ServiceConfig) => {
          was = config.ratio;
          return { ...config, ratio };
        };
        const written = await admin.updateConfig(service, change, expectedVersion);
        return { result: { version: written.version, ratio }, text: `ratio ${percent(was)} → ${percent(ratio)} (config v${written.version})` };
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        const now = await admin.getConfig(service).catch(() => undefined);
        const at = now ? `: it is at version ${now.version} (ratio ${percent(now.config.ratio)})${now.version === expectedVersion ? '' : `, not ${expectedVersion}`}` : '';
        throw new HttpError(409, error.code, `the config changed meanwhile${at}; nothing was written`, {
          current: now ? { version: now.version, ratio: now.config.ratio ?? null } : undefined,
        });
      }
    });
  }

  private async setFlag(req: IncomingMessage, res: ServerResponse, service: string, id: string): Promise<void> {
    const body = await readJsonBody(req);
    const { gray } = body;
    if (gray !== true && gray !== false && gray !== null) throw new HttpError(400, 'ERR_GRAYKIT_INVALID_OPTION', '`gray` must be true, false, or null (clear the override)');
    const admin = this.context.admin as GrayAdmin;
    const label = gray === null ? `clear the override of ${id}` : `mark ${id} ${gray ? 'gray' : 'normal'}`;
    await this.write(req, res, service, label, async () => {
      if (gray === null) {
        const cleared = await admin.clearOverride(service, id);
        return { result: { cleared }, text: cleared ? `${id}: override cleared` : `${id}: had no override` };
      }
      // The CLI's `graykit mark --gray/--normal`: the override becomes exactly { gray }.
      await admin.setOverride(service, id, { gray });
      return { result: { gray }, text: `${id} marked ${gray ? 'gray' : 'normal'} (override)` };
    });
  }

  private async promote(req: IncomingMessage, res: ServerResponse, service: string): Promise<void> {
    await readJsonBody(req);
    const admin = this.context.admin as GrayAdmin;
    await this.write(req, res, service, 'promote', async () => {
      const promoted = await admin.promote(service);
      return { result: { promoted }, text: `promoted ${promoted.length ? promoted.join(', ') : 'nothing (no gray instance)'}; ratio 0` };
    });
  }

  private async rollback(req: IncomingMessage, res: ServerResponse, service: string): Promise<void> {
    await readJsonBody(req);
    const admin = this.context.admin as GrayAdmin;
    await this.write(req, res, service, 'rollback', async () => {
      const gray = await admin.rollback(service);
      return { result: { gray }, text: `rolled back: ratio 0; gray instances now idle: ${gray.length ? gray.join(', ') : 'none'}` };
    });
  }
}
