/**
 * A provider in a process of its own, for the fault-injection suite and the signal-shutdown test: an Express app
 * with grayRegister() and the opt-in signal handler, on 127.0.0.1.
 *
 * Environment: ZK_CONNECT, GRAYKIT_ROOT, GRAYKIT_SERVICE (default `faults`), PORT (default 0), SESSION_TIMEOUT (ms,
 * default 4000), DRAIN_MS (default: graykit's), APP_VERSION.
 *
 *   GET /work?delay=ms   answers {port, pid, version} after `delay` ms
 *   GET /hold?delay=ms   the same, and reports `request` when it arrives, so that a test can wait for it to be in
 *                        flight
 *
 * It reports its lifecycle on stdout, one JSON object a line: listening (port), registered (path), draining,
 * closing, closed. Over the IPC channel, `{ type: 'expire' }` ends its own ZooKeeper session from outside (as the
 * server does on expiry) and answers `{ type: 'expired' }`. It exits when its parent goes away (IPC disconnect).
 */
import type { AddressInfo, Server } from 'node:net';
import express from 'express';
import { grayRegister } from '../../src';
import type { ZkSession } from '../../src/registry/zk-session';

function report(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, at: Date.now(), ...fields })}\n`);
}

const logger = {
  debug() {},
  info() {},
  warn: (message: string) => console.error(`warn: ${message}`),
  error: (message: string) => console.error(`error: ${message}`),
};

const gray = grayRegister({
  zk: process.env.ZK_CONNECT,
  root: process.env.GRAYKIT_ROOT,
  service: process.env.GRAYKIT_SERVICE ?? 'faults',
  host: '127.0.0.1',
  version: process.env.APP_VERSION ?? 'v1',
  sessionTimeout: Number(process.env.SESSION_TIMEOUT ?? 4000),
  drainMs: process.env.DRAIN_MS === undefined ? undefined : Number(process.env.DRAIN_MS),
  logger,
});
const { registration } = gray;
registration.on('registered', (path: string) => report('registered', { path }));
registration.on('draining', (drainMs: number) => report('draining', { drainMs }));
registration.on('closing', () => report('closing'));
registration.on('closed', () => report('closed'));
registration.handleSignals();

const app = express();
app.use(gray);
let port = 0;
const work = (req: express.Request, res: express.Response) => {
  const delay = Math.min(Number(req.query.delay ?? 0) || 0, 10_000);
  const answer = () => res.json({ port, pid: process.pid, version: registration.metadata.version });
  if (delay > 0) setTimeout(answer, delay);
  else answer();
};
app.get('/work', work);
app.get('/hold', (req, res) => {
  report('request', { path: req.path });
  work(req, res);
});

const server: Server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  port = (server.address() as AddressInfo).port;
  report('listening', { port });
});
server.on('error', (error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});

process.on('message', (message: { type?: string }) => {
  if (message?.type !== 'expire') return;
  // The test helper's twin-client trick, aimed at this process's own session.
  process.env.GRAYKIT_TEST_ZK = process.env.ZK_CONNECT;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { forceExpiry } = require('../support/helpers') as typeof import('../support/helpers');
  const session = (registration as unknown as { session?: ZkSession }).session;
  if (!session) {
    process.send?.({ type: 'expired', error: 'no session' });
    return;
  }
  forceExpiry(session).then(
    () => process.send?.({ type: 'expired' }),
    (error: Error) => process.send?.({ type: 'expired', error: error.message }),
  );
});
// No orphans: when the test process goes away, so does this one.
process.on('disconnect', () => process.exit(0));
