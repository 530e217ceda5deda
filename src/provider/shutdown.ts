/**
 * Graceful shutdown of an HTTP server, apart from the registry: once draining begins every response carries
 * `Connection: close`, so keep-alive clients let go of the instance; at close the server stops accepting, each
 * keep-alive connection is closed as soon as it is idle, and what is still open after a bound is destroyed.
 *
 * Node alone answers a request already in flight at close() with keep-alive and keeps its connection open, which
 * is why in-flight responses are marked too (`_httpMessage` is the response a server socket is serving, what
 * http-terminator and stoppable read as well). No ZooKeeper here: test/unit/shutdown.test.ts drives it with real
 * servers only.
 */
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';

/** How often idle connections are looked for while a close is in progress, ms. */
const IDLE_POLL_MS = 50;

function closeConnectionAfterResponse(_req: IncomingMessage, res: ServerResponse): void {
  if (!res.headersSent) res.setHeader('Connection', 'close');
}

export interface CloseHooks {
  /** Called once the server has stopped accepting. */
  onClosing?(): void;
  /** Called when connections are destroyed because requests outlived `timeoutMs`. */
  onForced?(): void;
}

/** Tracks a server's connections from `new HttpDrain(server)` on, and closes the server gracefully. */
export class HttpDrain {
  private readonly sockets = new Set<Socket>();
  private draining = false;
  private readonly track = (socket: Socket) => {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  };

  constructor(private readonly server: Server) {
    server.on('connection', this.track);
  }

  /** Open connections, for tests and diagnostics. */
  get connections(): number {
    return this.sockets.size;
  }

  /** From now on every response, in flight or new, that has not sent its headers carries `Connection: close`. */
  beginDraining(): void {
    if (this.draining) return;
    this.draining = true;
    this.server.prependListener('request', closeConnectionAfterResponse);
    this.markInFlight();
  }

  /**
   * Stops accepting (by `close`, the server's own close method, which a caller may have replaced on the object),
   * closes keep-alive connections as they go idle, and destroys the remaining ones after `timeoutMs`. Resolves with
   * close()'s error, once the last connection has ended.
   */
  close(close: Server['close'], timeoutMs: number, hooks: CloseHooks = {}): Promise<Error | undefined> {
    this.beginDraining();
    const server = this.server;
    const http = server as Partial<Pick<HttpServer, 'closeIdleConnections' | 'closeAllConnections'>>;
    return new Promise((resolve) => {
      let poll: NodeJS.Timeout | undefined;
      let force: NodeJS.Timeout | undefined;
      close.call(server, (error?: Error) => {
        clearInterval(poll);
        clearTimeout(force);
        resolve(error);
      });
      hooks.onClosing?.();
      const closeIdle = () => {
        this.markInFlight();
        http.closeIdleConnections?.call(server);
      };
      closeIdle();
      poll = setInterval(closeIdle, IDLE_POLL_MS);
      poll.unref();
      force = setTimeout(() => {
        hooks.onForced?.();
        if (http.closeAllConnections) http.closeAllConnections.call(server);
        else for (const socket of this.sockets) socket.destroy();
      }, timeoutMs);
      force.unref();
    });
  }

  /** Sets `Connection: close` on the responses in flight that have not sent their headers yet. */
  private markInFlight(): void {
    for (const socket of this.sockets) {
      const res = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
      if (res && !res.headersSent && typeof res.setHeader === 'function') res.setHeader('Connection', 'close');
    }
  }
}
