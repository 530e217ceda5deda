/**
 * A TCP proxy on 127.0.0.1 that forwards to a real server with a fixed delay on every chunk, each way, in order:
 * a slow network between a graykit client and a real ZooKeeper. `close()` ends every connection it holds.
 */
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

export interface SlowProxy {
  /** `127.0.0.1:<port>`, to use as a connect string. */
  readonly address: string;
  close(): Promise<void>;
}

/** `port`: listen there (a port a client was already told to use); default a free one. */
export async function startSlowProxy(target: string, delayMs: number, port = 0): Promise<SlowProxy> {
  const [host, targetPort] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const delayed = (from: Socket, to: Socket) => {
    from.on('data', (chunk) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!to.destroyed) to.write(chunk);
      }, delayMs);
      timers.add(timer);
    });
  };
  const server = createServer((client) => {
    const upstream = connect(targetPort, host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    delayed(client, upstream);
    delayed(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
