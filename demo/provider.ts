/**
 * The demo provider: an Express app that registers itself in ZooKeeper as an instance of the `demo` service.
 *
 * Environment:
 *   GRAYKIT_SERVICE  service name (default `demo`)
 *   PORT             port to listen on (default 0: any free port; the bound port is what gets registered)
 *   LISTEN_HOST      interface to listen on (default: all of them, as a container needs)
 *   APP_VERSION      version label, e.g. `v2` (read by grayRegister)
 *   GRAY             `true` for a gray instance (read by grayRegister)
 *   ZK_CONNECT       ZooKeeper connect string (read by grayRegister; default 127.0.0.1:2181)
 *   GRAYKIT_HOST     host consumers should call (default 127.0.0.1 here, so the demo stays on loopback)
 *
 *   GET  /version                 -> {version, port, gray}, from the registration's live metadata
 *   POST /admin/gray?value=false  -> flips this instance's gray flag live (registration.setGray)
 */
import type { AddressInfo } from 'node:net';
import express, { type Express, type Request, type Response } from 'express';
import { grayRegister, type ProviderRegistration } from '../src';

const service = process.env.GRAYKIT_SERVICE ?? 'demo';
const port = Number(process.env.PORT ?? 0);
const listenHost = process.env.LISTEN_HOST;

/** `?value=true|false`, else undefined. */
function parseFlag(value: unknown): boolean | undefined {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return undefined;
}

function addRoutes(app: Express, registration: ProviderRegistration): void {
  app.get('/version', (req: Request, res: Response) => {
    const { version, gray } = registration.metadata;
    // The socket's local port is the port the server is bound to, also when PORT=0 picked one.
    res.json({ version, port: req.socket.localPort, gray });
  });
  app.post('/admin/gray', async (req: Request, res: Response) => {
    const gray = parseFlag(req.query.value);
    if (gray === undefined) {
      res.status(400).json({ error: 'expected ?value=true or ?value=false' });
      return;
    }
    await registration.setGray(gray);
    res.json({ gray: registration.metadata.gray });
  });
}

function main(): void {
  const app = express();
  const gray = grayRegister({ service, host: process.env.GRAYKIT_HOST ?? '127.0.0.1' });
  const { registration } = gray;
  // Mounted before listen(): grayRegister wraps the app's listen() so that the server registers once it is bound.
  app.use(gray);
  addRoutes(app, registration);

  const server = listenHost === undefined ? app.listen(port) : app.listen(port, listenHost);
  server.on('error', (error) => {
    console.error(`provider ${service}: cannot listen on port ${port}: ${error.message}`);
    process.exit(1);
  });
  registration.on('registered', (path: string) => {
    const { version, gray: isGray } = registration.metadata;
    const boundPort = (server.address() as AddressInfo).port;
    console.log(`provider ${service} ${version ?? '(no version)'} ${isGray ? 'gray' : 'formal'} on port ${boundPort}: registered ${path}`);
  });
  // SIGTERM/SIGINT: deregister first, then close the server, then exit by the signal.
  registration.handleSignals();
}

main();
