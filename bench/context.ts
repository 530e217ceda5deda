/**
 * `npm run bench:context`: requests per second of one Express server with no lane context, with AsyncLocalStorage
 * and with cls-hooked, in one run, as ratios to the no-context rate. The server runs in its own process (one core);
 * the load comes from this process over keep-alive sockets on 127.0.0.1, bounded in time. Rounds alternate the
 * three modes so that drift of the machine hits them alike; the median of the rounds is reported.
 *
 * Env: BENCH_CONTEXT_SECONDS (per measurement, default 3), BENCH_CONTEXT_ROUNDS (default 3),
 * BENCH_CONTEXT_CONCURRENCY (default 32). Writes bench/results/context.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus } from 'node:os';
import { join } from 'node:path';

const SECONDS = Number(process.env.BENCH_CONTEXT_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_CONTEXT_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONTEXT_CONCURRENCY ?? 32);
const MODES = ['none', 'als', 'cls'] as const;
type Mode = (typeof MODES)[number];

function startServer(mode: Mode): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, 'context-server.ts'), mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', (chunk) => resolve({ child, port: Number(String(chunk).trim()) }));
    child.once('exit', (code) => reject(new Error(`context server (${mode}) exited with ${code}`)));
  });
}

function stopServer(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** GETs /work with `CONCURRENCY` loops for `seconds`; returns completed requests per second. */
async function load(port: number, seconds: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  const get = () =>
    new Promise<void>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/work', agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject);
    });
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < deadline) {
        await get();
        done++;
      }
    }),
  );
  agent.destroy();
  return done / ((Date.now() - started) / 1000);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`;
  console.log(`machine: ${machine}`);
  console.log(`command: npm run bench:context (BENCH_CONTEXT_SECONDS=${SECONDS} BENCH_CONTEXT_ROUNDS=${ROUNDS} BENCH_CONTEXT_CONCURRENCY=${CONCURRENCY})`);
  const rates: Record<Mode, number[]> = { none: [], als: [], cls: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const mode of MODES) {
      const { child, port } = await startServer(mode);
      try {
        await load(port, Math.min(1, SECONDS)); // warm-up: JIT, sockets
        rates[mode].push(await load(port, SECONDS));
      } finally {
        await stopServer(child);
      }
      console.log(`round ${round} ${mode.padEnd(4)} ${rates[mode][rates[mode].length - 1].toFixed(0)} req/s`);
    }
  }
  const base = median(rates.none);
  const result = Object.fromEntries(MODES.map((mode) => [mode, { rps: Math.round(median(rates[mode])), ratio: Number((median(rates[mode]) / base).toFixed(3)), rounds: rates[mode].map(Math.round) }]));
  console.log('\n| context | req/s (median) | ratio to no context |\n| --- | --- | --- |');
  for (const mode of MODES) console.log(`| ${mode} | ${result[mode].rps} | ${result[mode].ratio.toFixed(2)} |`);
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', 'context.json'), `${JSON.stringify({ machine, seconds: SECONDS, rounds: ROUNDS, concurrency: CONCURRENCY, result }, null, 2)}\n`);
}

void main();
