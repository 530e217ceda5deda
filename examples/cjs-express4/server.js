// CommonJS JavaScript on Express 4: the `greeter` service, version v1, in the normal lane. GET /chain calls the
// `catalog` service through graykit; the lane of the incoming request sticks (grayRegister opens a lane context).
//
//   ZK_CONNECT=127.0.0.1:2181 GRAYKIT_HOST=127.0.0.1 node server.js   (GRAYKIT_HOST: the address to advertise)
const express = require('express');
const axios = require('axios');
const { grayRegister, useGray } = require('graykit');

const VERSION = process.env.VERSION || 'v1';
const app = express();
const gray = grayRegister({ service: 'greeter', gray: process.env.GRAY === '1', version: VERSION });
app.use(gray);

const http = axios.create();
const installed = useGray(http, { services: ['catalog'] });

app.get('/hello', (req, res) => {
  res.json({ service: 'greeter', version: VERSION, app: 'cjs-express4' });
});

app.get('/chain', async (req, res, next) => {
  try {
    const items = await http.get('http://catalog/items');
    res.json({ greeter: VERSION, lane: items.config.gray.lane, catalog: items.data });
  } catch (error) {
    next(error);
  }
});

const server = app.listen(Number(process.env.PORT || 0), '127.0.0.1', async () => {
  gray.registration.handleSignals(); // SIGTERM/SIGINT: deregister, drain, close, then exit
  server.on('close', () => installed.close());
  const path = await gray.registration.whenRegistered();
  console.log(`READY greeter ${VERSION} ${path}`);
});
