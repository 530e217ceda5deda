/**
 * A real Prometheus server for tests (Debian's `prometheus` package): started on a free loopback port with a
 * temporary data directory and a scrape config listing the test's providers, stopped by its pid.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChild, type Child } from '../../scripts/children';
import { closedPort, eventually } from './helpers';

const BINARY = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export interface TestPrometheus {
  url: string;
  child: Child;
  /** Resolves once every target has been scraped successfully (`up == 1`). */
  whenScraped(targets: readonly string[], timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts Prometheus scraping `targets` (`host:port`) at `metricsPath` every second; resolves once it is ready. */
export async function startPrometheus(targets: readonly string[], metricsPath = '/metrics'): Promise<TestPrometheus> {
  if (!existsSync(BINARY)) throw new Error(`Prometheus is not installed at ${BINARY}: apt-get install -y prometheus (or set PROMETHEUS_BIN)`);
  const dir = mkdtempSync(join(tmpdir(), 'graykit-test-prometheus-'));
  const port = await closedPort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: graykit',
      `    metrics_path: ${metricsPath}`,
      '    static_configs:',
      `      - targets: [${targets.map((t) => `"${t}"`).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const child = startChild({
    name: 'prometheus',
    command: {
      file: BINARY,
      args: [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    },
    ipc: false,
    relay: { stderr: false },
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await eventually(async () => {
      if (!child.running) throw new Error(`prometheus exited: ${child.stderr().slice(-2000)}`);
      expect((await fetch(`${url}/-/ready`)).status).toBe(200);
    }, 30_000, 200);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    child,
    stop,
    async whenScraped(wanted, timeoutMs = 20_000) {
      await eventually(async () => {
        const body = (await (await fetch(`${url}/api/v1/query?query=up`)).json()) as { data: { result: Array<{ metric: { instance: string }; value: [number, string] }> } };
        const up = new Set(body.data.result.filter((r) => r.value[1] === '1').map((r) => r.metric.instance));
        expect(wanted.filter((target) => !up.has(target))).toEqual([]);
      }, timeoutMs, 200);
    },
  };
}
