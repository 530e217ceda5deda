/**
 * Case (c)'s canary proxy: Debian's nginx with `split_clients`, started as a child process (`daemon off;`) with a
 * temporary prefix, config, pid file and logs, on a free loopback port, and stopped by its pid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { track } from '../scripts/children';

export interface Upstream {
  port: number;
  gray: boolean;
}

export interface NginxProxy {
  port: number;
  pid: number;
  dir: string;
  version: string;
  stop(): Promise<void>;
}

/** The nginx binary to use, or undefined (with the reason) when there is none. */
export function findNginx(configured: string): { path?: string; reason?: string } {
  if (configured === 'none') return { reason: 'disabled (--nginx=none)' };
  const candidates = configured ? [configured] : ['/usr/sbin/nginx', ...(process.env.PATH ?? '').split(':').filter(Boolean).map((dir) => join(dir, 'nginx'))];
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue;
    const probe = spawnSync(candidate, ['-v'], { encoding: 'utf8', timeout: 5000 });
    if (probe.status === 0) return { path: candidate };
  }
  return { reason: configured ? `${configured} is not a working nginx` : 'nginx is not installed (apt-get install nginx-light)' };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * The config: one worker (the machine's other core serves the providers and the client), keep-alive towards the
 * client and the upstreams like the Node agents, and the request id as split key so that each request is split
 * independently at `ratio` %, as graykit's router does.
 */
export function nginxConfig(dir: string, port: number, upstreams: readonly Upstream[], ratio: number): string {
  const servers = (gray: boolean) =>
    upstreams
      .filter((u) => u.gray === gray)
      .map((u) => `    server 127.0.0.1:${u.port};`)
      .join('\n');
  return `# graykit benchmark, case (c): a canary split in nginx. Generated; lives in a temporary directory.
daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
lock_file ${dir}/nginx.lock;
error_log ${dir}/error.log warn;
events {
  worker_connections 1024;
}
http {
  access_log ${dir}/access.log combined buffer=64k flush=1s;
  client_body_temp_path ${dir}/temp/body;
  proxy_temp_path ${dir}/temp/proxy;
  fastcgi_temp_path ${dir}/temp/fastcgi;
  uwsgi_temp_path ${dir}/temp/uwsgi;
  scgi_temp_path ${dir}/temp/scgi;
  keepalive_timeout 120s;
  keepalive_requests 10000000;
  split_clients "\${request_id}" $gray_lane {
    ${ratio}% gray;
    * normal;
  }
  upstream gray {
${servers(true)}
    keepalive 64;
    keepalive_requests 10000000;
  }
  upstream normal {
${servers(false)}
    keepalive 64;
    keepalive_requests 10000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://$gray_lane;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header x-gray-lane $gray_lane;
    }
  }
}
`;
}

export async function startNginx(binary: string, upstreams: readonly Upstream[], ratio: number): Promise<NginxProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'graykit-bench-nginx-'));
  // nginx's workers run as an unprivileged user when started by root: let them reach the temp directories.
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'temp'));
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(dir, port, upstreams, ratio));
  const version = (spawnSync(binary, ['-v'], { encoding: 'utf8' }).stderr ?? '').trim();
  // -e: the error log before the config is read (Debian's default is stderr, which is fine too).
  const child: ChildProcess = spawn(binary, ['-p', `${dir}/`, '-c', conf, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  track(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-8192)));
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      // SIGTERM to the master: fast shutdown, it stops its workers and removes the pid file.
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '';
      await stop();
      throw new Error(`nginx exited at start (code ${child.exitCode}): ${(stderr + log).trim().slice(-1000)}`);
    }
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not listen on 127.0.0.1:${port} within 10 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { port, pid: child.pid as number, dir, version, stop };
}
