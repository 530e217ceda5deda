/**
 * The demo consumer: an Express app whose `GET /call` calls `http://<service>/version` through graykit's router.
 *
 * Environment:
 *   PORT             port to listen on (default 8080)
 *   LISTEN_HOST      interface to listen on (default: all of them, as a container needs)
 *   GRAYKIT_SERVICE  service to call (default `demo`)
 *   GRAYKIT_RATIO    gray share 0-100 while the service's config znode sets none (read by grayRoute; default 0)
 *   ZK_CONNECT       ZooKeeper connect string (read by grayRoute; default 127.0.0.1:2181)
 *
 *   GET /call     -> the provider's {version, port, gray} plus {lane, instance}: where graykit sent the call
 *   GET /routing  -> {service, ratio, instances}: the consumer's current view of the registry, so that scripts can
 *                    wait for a change to reach it instead of sleeping
 */
import axios, { type AxiosInstance } from 'axios';
import express, { type Express, type Request, type Response } from 'express';
import { grayContext, grayRoute, type GrayRouteInterceptor } from '../src';

const service = process.env.GRAYKIT_SERVICE ?? 'demo';
const port = Number(process.env.PORT ?? 8080);
const listenHost = process.env.LISTEN_HOST;

function addRoutes(app: Express, http: AxiosInstance, route: GrayRouteInterceptor): void {
  app.get('/call', async (_req: Request, res: Response) => {
    try {
      const response = await http.get(`http://${service}/version`);
      const routed = response.config.gray;
      // `gray` as consumers route by it (an operator override included), not only as the provider itself says.
      res.json({ ...response.data, gray: routed?.instance?.gray ?? response.data.gray, lane: routed?.lane, instance: routed?.instance?.id });
    } catch (error) {
      res.status(502).json({ error: (error as Error).message });
    }
  });
  app.get('/routing', (_req: Request, res: Response) => {
    const instances = route.consumer.snapshot(service)?.instances ?? [];
    res.json({
      service,
      ratio: route.consumer.ratioFor(service),
      instances: instances.map(({ id, version, gray, weight }) => ({ id, version, gray, weight })),
    });
  });
}

/** On SIGTERM/SIGINT: stop accepting, close the ZooKeeper session, then exit by the signal, as providers do. */
function handleSignals(server: ReturnType<Express['listen']>, route: GrayRouteInterceptor): void {
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];
  const handler = (signal: NodeJS.Signals) => {
    for (const s of signals) process.off(s, handler);
    server.close(() => {
      route.close();
      process.kill(process.pid, signal);
    });
  };
  for (const signal of signals) process.on(signal, handler);
}

function main(): void {
  // The service is named up front, so the consumer watches it from the start and /routing has a view at once.
  const route = grayRoute({ services: [service] });
  const http = axios.create({ timeout: 5000 });
  http.interceptors.request.use(route);

  const app = express();
  app.use(grayContext());
  addRoutes(app, http, route);

  const server = listenHost === undefined ? app.listen(port) : app.listen(port, listenHost);
  server.on('error', (error) => {
    console.error(`consumer: cannot listen on port ${port}: ${error.message}`);
    process.exit(1);
  });
  server.on('listening', () => console.log(`consumer on port ${port}: GET /call routes to http://${service}/version`));
  handleSignals(server, route);
}

main();
