/** The scale benchmark's sizes and durations: defaults (the full matrix), the smoke preset, and `--name=value` / BENCH_NAME. */
import { applyOptions, int, list } from './config';
import type { AddonChoice } from './zookeeper-addon';

export const PHASES = ['ratio', 'instance', 'burst', 'leader', 'restart'] as const;
export type Phase = (typeof PHASES)[number];

export interface ScaleConfig {
  /** Consumer sessions per point. */
  consumers: number[];
  /** Instances per point, spread evenly over `services`. */
  instances: number[];
  services: number;
  /**
   * Services each consumer watches, the hot one included. A real consumer calls a handful of services; watching
   * all 100 at 1,000 consumers x 10,000 instances would be 10 million reads at startup and measure a fleet nobody
   * runs. Five, each consumer's four others spread over the rest, gives every service some watchers.
   */
  watch: number;
  /**
   * Consumers per fleet process (each with its own session). A real consumer is a process of its own; packing 100
   * into one made that process's event loop the bottleneck (held for up to 21 s by a burst, long enough for its
   * sessions to expire); 25 keeps 1,000 consumers at 40 processes.
   */
  perProcess: number;
  /** Ratio changes, and instance additions/removals, per point. */
  repeats: number;
  /** Instances registered in the burst, within `burstMs`. */
  burst: number;
  burstMs: number;
  /** The idle window for requests per minute. */
  idleSeconds: number;
  phases: Phase[];
  sessionTimeoutMs: number;
  /** The `zookeeper` addon the fleets load: the installed one, or the copy with the poll-handle fix (bench/zookeeper-addon.ts). */
  addon: AddonChoice;
  /** Longest wait for a change to reach every consumer, and for a fault to play out. */
  waitMs: number;
  /** Longest wait for a fleet process to load its consumers. */
  loadTimeoutMs: number;
  json: string;
  /** The markdown file whose scale section is rewritten ('' for none). */
  doc: string;
  /** Where the SVG charts go ('' for none). */
  charts: string;
}

export const DEFAULT_SCALE_CONFIG: ScaleConfig = {
  consumers: [10, 100, 1000],
  instances: [100, 1000, 10_000],
  services: 100,
  watch: 5,
  perProcess: 25,
  repeats: 5,
  burst: 500,
  burstMs: 1000,
  idleSeconds: 20,
  phases: [...PHASES],
  sessionTimeoutMs: 10_000,
  addon: 'installed',
  waitMs: 60_000,
  loadTimeoutMs: 600_000,
  json: 'bench/results/scale.json',
  doc: 'BENCHMARKS.md',
  charts: 'docs/scale',
};

/**
 * CI's size: 20 consumers in 2 processes, 200 instances; every phase, short waits. The burst is 100 instances: at
 * 500, the removal's event storm held a loaded 2-core machine's fleet loop for seconds (see BENCHMARKS.md section 6).
 */
export const SMOKE_SCALE_CONFIG: ScaleConfig = {
  ...DEFAULT_SCALE_CONFIG,
  consumers: [20],
  instances: [200],
  perProcess: 10,
  burst: 100,
  repeats: 2,
  idleSeconds: 2,
  waitMs: 30_000,
  loadTimeoutMs: 60_000,
};

const SETTERS: Record<string, (c: ScaleConfig, v: string) => void> = {
  consumers: (c, v) => (c.consumers = list(v)),
  instances: (c, v) => (c.instances = list(v)),
  services: (c, v) => (c.services = int(v, 1)),
  watch: (c, v) => (c.watch = int(v, 1)),
  'per-process': (c, v) => (c.perProcess = int(v, 1)),
  repeats: (c, v) => (c.repeats = int(v, 1)),
  burst: (c, v) => (c.burst = int(v, 1)),
  'burst-ms': (c, v) => (c.burstMs = int(v, 1)),
  'idle-seconds': (c, v) => (c.idleSeconds = int(v, 1)),
  phases: (c, v) => {
    const wanted = v.split(',').map((p) => p.trim());
    const bad = wanted.find((p) => !(PHASES as readonly string[]).includes(p));
    if (bad !== undefined) throw new Error(`bench:scale: unknown phase ${JSON.stringify(bad)}; phases: ${PHASES.join(',')}`);
    c.phases = wanted as Phase[];
  },
  'session-timeout-ms': (c, v) => (c.sessionTimeoutMs = int(v, 1000)),
  addon: (c, v) => {
    if (v !== 'installed' && v !== 'patched') throw new Error(`bench:scale: --addon=${JSON.stringify(v)}: use installed or patched`);
    c.addon = v;
  },
  'wait-ms': (c, v) => (c.waitMs = int(v, 1000)),
  'load-timeout-ms': (c, v) => (c.loadTimeoutMs = int(v, 1000)),
  json: (c, v) => (c.json = v),
  doc: (c, v) => (c.doc = v),
  charts: (c, v) => (c.charts = v),
};

export function resolveScaleConfig(argv: readonly string[], env: NodeJS.ProcessEnv): { config: ScaleConfig; overrides: string[] } {
  const smoke = argv.includes('--smoke');
  const config: ScaleConfig = structuredClone(smoke ? SMOKE_SCALE_CONFIG : DEFAULT_SCALE_CONFIG);
  const overrides: string[] = smoke ? ['--smoke'] : [];
  applyOptions(config, SETTERS, argv, env, 'bench:scale', overrides);
  if (config.watch > config.services) throw new Error(`bench:scale: --watch=${config.watch} is more than --services=${config.services}`);
  return { config, overrides };
}
