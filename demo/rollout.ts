/**
 * Progressive rollout demo: a normal v1 and a gray v2 provider with metrics, a consumer sending ~100
 * requests/s through useGray, and `graykit rollout` run as a real process against them.
 *
 *   bash scripts/with-zookeeper.sh node -r ts-node/register/transpile-only demo/rollout.ts healthy
 *   bash scripts/with-zookeeper.sh node -r ts-node/register/transpile-only demo/rollout.ts failing   # v2: every 10th request 500
 *
 * Traffic goes to 127.0.0.1 only, bounded in count and time; everything started here is stopped by itself.
 */
import { spawn } from 'node:child_process';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import axios from 'axios';
import express from 'express';
import { grayRegister, silentLogger, useGray } from '../src';

const mode = process.argv[2] === 'failing' ? 'failing' : 'healthy';
const zk = process.env.ZK_CONNECT ?? '127.0.0.1:2181';
const root = `/graykit-demo-rollout-${process.pid}`;

async function provider(version: string, gray: boolean, failEvery: number): Promise<Server> {
  const app = express();
  app.use(grayRegister({ zk, root, service: 'demo', version, gray, host: '127.0.0.1', drainMs: 0, logger: silentLogger, metricsPath: '/metrics' }));
  let served = 0;
  app.get('/version', (_req, res) => {
    served++;
    if (failEvery > 0 && served % failEvery === 0) res.status(500).json({ error: 'injected' });
    else res.json({ version });
  });
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function main(): Promise<void> {
  const servers = [await provider('v1', false, 0), await provider('v2', true, mode === 'failing' ? 10 : 0)];
  const http = axios.create({ timeout: 2000 });
  const gray = useGray(http, { zk, root, services: ['demo'], logger: silentLogger });
  await new Promise((resolve) => setTimeout(resolve, 500)); // both registrations reach the consumer's snapshot
  let stop = false;
  const until = Date.now() + 120_000;
  const traffic = (async () => {
    // ~100 requests/s, at most 12 000 requests and 120 s.
    for (let sent = 0; !stop && sent < 12_000 && Date.now() < until; sent++) {
      void http.get('http://demo/version').catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const args = ['rollout', 'demo', '--steps', '10,50,100', '--interval', '3s', '--max-error-rate', '1%', '--min-requests', '20'];
  process.stdout.write(`$ graykit ${args.join(' ')}\n`);
  const cli = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, '..', 'src', 'cli', 'main.ts'), '--zk', zk, '--root', root, ...args], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const code = await new Promise<number>((resolve) => cli.on('exit', (c) => resolve(c ?? -1)));
  process.stdout.write(`$ echo $?\n${code}\n`);
  stop = true;
  await traffic;
  gray.close();
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
  process.exitCode = 0;
}

void main();
