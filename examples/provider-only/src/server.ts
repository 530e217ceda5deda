// A provider only (no axios installed): the `catalog` service. GRAY=1 VERSION=v2 starts a gray instance.
//
//   npm run build && ZK_CONNECT=127.0.0.1:2181 GRAYKIT_HOST=127.0.0.1 GRAY=1 VERSION=v2 npm start
import express from 'express';
import { grayRegister, type GrayRegisterOptions } from 'graykit';

const options: GrayRegisterOptions = { service: 'catalog', gray: process.env.GRAY === '1', version: process.env.VERSION ?? 'v1' };
const app = express();
const gray = grayRegister(options);
app.use(gray);

app.get('/items', (req, res) => {
  res.json({ service: 'catalog', version: options.version, laneHeader: req.get('x-gray-lane') ?? null, items: ['a', 'b'] });
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', async () => {
  gray.registration.handleSignals();
  const path = await gray.registration.whenRegistered();
  console.log(`READY catalog ${options.version} ${path} on ${JSON.stringify(server.address())}`);
});
