// ESM TypeScript on Express 5: the `greeter` service, version v2, in the gray lane. GET /chain calls `catalog`
// through graykit and keeps the lane of the incoming request.
//
//   npm run build && ZK_CONNECT=127.0.0.1:2181 GRAYKIT_HOST=127.0.0.1 npm start
import express from 'express';
import axios, { type AxiosResponse } from 'axios';
import { grayRegister, useGray, type GrayRequestConfig, type ServiceConfig } from 'graykit';
import schema from 'graykit/schema/service-config.schema.json' with { type: 'json' };

const VERSION = process.env.VERSION ?? 'v2';
const app = express();
const gray = grayRegister({ service: 'greeter', gray: process.env.GRAY !== '0', version: VERSION });
app.use(gray);

const http = axios.create();
const installed = useGray(http, { services: ['catalog'] }); // TS2345 here when graykit's types saw another axios

app.get('/hello', (_req, res) => {
  res.json({ service: 'greeter', version: VERSION, app: 'esm-express5' });
});

app.get('/chain', async (_req, res) => {
  const items: AxiosResponse<unknown> = await http.get('http://catalog/items');
  const routed: GrayRequestConfig | undefined = items.config.gray; // TS2339 without the augmentation
  res.json({ greeter: VERSION, lane: routed?.lane, catalog: items.data });
});

// The JSON Schema of a service's config znode ships as a subpath export.
const example: ServiceConfig = { ratio: 10 };
console.log(`schema ${String((schema as { title?: string }).title ?? 'loaded')}; example config ${JSON.stringify(example)}`);

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', async () => {
  gray.registration.handleSignals();
  server.on('close', () => installed.close());
  try {
    // A pinned lane on one request: TS2353 without the augmentation.
    const self = await http.get('http://catalog/items', { gray: { lane: 'normal' } });
    const path = await gray.registration.whenRegistered();
    console.log(`READY greeter ${VERSION} ${path} (catalog answered in lane ${self.config.gray?.lane})`);
  } catch (error) {
    console.error(`greeter ${VERSION} could not start: ${(error as Error).message}`);
    process.exit(1);
  }
});
