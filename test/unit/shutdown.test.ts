/**
 * provider/shutdown.ts without ZooKeeper: real HTTP servers on 127.0.0.1, real keep-alive clients. What a graceful
 * close must do to connections: mark responses `Connection: close` once draining, close idle keep-alive
 * connections at once, let in-flight requests finish, and destroy what outlives the bound.
 */
import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { HttpDrain } from '../../src/provider/shutdown';

interface Answer {
  status?: number;
  connection?: string;
  error?: string;
}

function get(port: number, path: string, agent: http.Agent | false, onSocket?: (socket: Socket) => void): Promise<Answer> {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection }));
    });
    request.on('socket', (socket) => onSocket?.(socket));
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code }));
  });
}

/** A server whose `/slow?ms=N` answers after N ms and `/hang` never; 'arrived' when either reached its handler. */
async function server() {
  const arrivals = new EventEmitter();
  const srv = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/slow') setTimeout(() => res.end('slow'), Number(url.searchParams.get('ms')));
    else if (url.pathname !== '/hang') res.end('ok');
    if (url.pathname !== '/') arrivals.emit('arrived');
  });
  srv.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const drain = new HttpDrain(srv);
  const port = (srv.address() as AddressInfo).port;
  const inFlight = async (path: string, agent: http.Agent | false = false) => {
    const arrived = once(arrivals, 'arrived');
    const answer = get(port, path, agent);
    await arrived;
    return { answer };
  };
  return { srv, drain, port, inFlight };
}

describe('HttpDrain (real servers, no ZooKeeper)', () => {
  const agents: http.Agent[] = [];
  afterEach(() => agents.splice(0).forEach((agent) => agent.destroy()));
  const keepAlive = () => {
    const agent = new http.Agent({ keepAlive: true });
    agents.push(agent);
    return agent;
  };

  test('draining marks a response already in flight, and new ones, Connection: close', async () => {
    const { srv, drain, port, inFlight } = await server();
    const { answer } = await inFlight('/slow?ms=200', keepAlive());
    drain.beginDraining();
    const fresh = await get(port, '/', keepAlive());
    expect((await answer).connection).toBe('close');
    expect(fresh.connection).toBe('close');
    await drain.close(srv.close, 1000);
  });

  test('close: stops accepting, closes an idle keep-alive connection at once, lets the in-flight request finish', async () => {
    const { srv, drain, port, inFlight } = await server();
    let idle: Socket | undefined;
    expect((await get(port, '/', keepAlive(), (socket) => (idle = socket))).connection).toBe('keep-alive');
    const idleClosed = once(idle!, 'close');
    const { answer } = await inFlight('/slow?ms=300', keepAlive());
    let closing = false;
    const closed = drain.close(srv.close, 5000, { onClosing: () => (closing = true) });
    expect(closing).toBe(true);
    await idleClosed; // without waiting for the 60 s keep-alive timeout
    expect((await get(port, '/', false)).error).toBe('ECONNREFUSED');
    expect(await answer).toMatchObject({ status: 200, connection: 'close' });
    await expect(closed).resolves.toBeUndefined();
    expect(srv.listening).toBe(false);
  });

  test('a request that outlives the bound has its connection destroyed, and close resolves', async () => {
    const { srv, drain, inFlight } = await server();
    const { answer } = await inFlight('/hang');
    let forced = false;
    await drain.close(srv.close, 200, { onForced: () => (forced = true) });
    expect(forced).toBe(true);
    expect((await answer).error).toBe('ECONNRESET');
  });
});
