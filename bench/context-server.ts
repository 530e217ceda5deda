/**
 * The server measured by bench/context.ts: an Express app whose handler does a little async work, with a lane
 * context per request from `grayContext` (`als` or `cls`) or with none. Prints its port, serves until SIGTERM.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { grayContext, type ContextKind } from '../src';
import { contextBackend } from '../src/context/lane-context';

const mode = process.argv[2] as 'none' | ContextKind;
const app = express();
if (mode !== 'none') app.use(grayContext({ context: mode }));
const backend = mode === 'none' ? undefined : contextBackend(mode);
app.get('/work', async (_req, res) => {
  // A few awaits and a timer turn: the async hops a context has to follow in a typical handler.
  await Promise.resolve();
  await new Promise((resolve) => setImmediate(resolve));
  res.json({ lane: backend?.current()?.lane ?? null });
});
const server = app.listen(0, '127.0.0.1', () => console.log((server.address() as AddressInfo).port));
server.keepAliveTimeout = 60_000;
process.on('SIGTERM', () => server.close(() => process.exit(0)));
