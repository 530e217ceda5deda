/**
 * The benchmark's providers, in a process of their own: real Express apps with grayRegister() on 127.0.0.1, all in
 * this one process so that every client case (direct, grayRoute, nginx) is served by the same CPU budget.
 *
 * env: ZK_CONNECT, BENCH_ROOT, BENCH_SERVICE, BENCH_PROVIDERS (count; the first one is gray).
 * Prints one line `READY {"providers":[{port,gray}...]}` once every instance is registered, and stops (deregister,
 * close) on SIGTERM or when the parent goes away. Gives up after BENCH_PROVIDER_LIFETIME_MS (default 15 min).
 */
import type { AddressInfo, Server } from 'node:net';
import express from 'express';
import { grayRegister, silentLogger } from '../src';

async function main(): Promise<void> {
  const zk = process.env.ZK_CONNECT;
  const root = process.env.BENCH_ROOT;
  const service = process.env.BENCH_SERVICE;
  const count = Number(process.env.BENCH_PROVIDERS ?? 3);
  if (!zk || !root || !service) throw new Error('provider-child: ZK_CONNECT, BENCH_ROOT and BENCH_SERVICE are required');
  const servers: Server[] = [];
  const providers: { port: number; gray: boolean }[] = [];
  const registrations: Promise<string>[] = [];
  for (let i = 0; i < count; i++) {
    const gray = i === 0;
    const app = express();
    const middleware = grayRegister({ zk, root, service, gray, version: gray ? 'v2' : 'v1', host: '127.0.0.1', logger: silentLogger });
    app.use(middleware);
    const body = { service, version: gray ? 'v2' : 'v1', gray, port: 0 };
    app.get('/version', (_req, res) => {
      res.json(body);
    });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    // Longer than any pause between benchmark rounds, so that no keep-alive socket is closed under a client.
    (server as unknown as { keepAliveTimeout: number }).keepAliveTimeout = 120_000;
    body.port = (server.address() as AddressInfo).port;
    servers.push(server);
    providers.push({ port: body.port, gray });
    registrations.push(middleware.registration.whenRegistered(20_000));
  }
  await Promise.all(registrations);
  process.stdout.write(`READY ${JSON.stringify({ providers })}\n`);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // server.close() deregisters first (graykit hooks it); idle keep-alive sockets are closed too.
    const closing = servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
        }),
    );
    const deadline = setTimeout(() => process.exit(0), 5000);
    void Promise.all(closing).then(() => {
      clearTimeout(deadline);
      process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
  const lifetime = setTimeout(stop, Number(process.env.BENCH_PROVIDER_LIFETIME_MS ?? 15 * 60_000));
  lifetime.unref();
}

main().catch((error) => {
  process.stderr.write(`provider-child: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
