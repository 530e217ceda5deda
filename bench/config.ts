/**
 * The benchmark's sizes and durations: defaults for `npm run bench`, a tiny preset for the smoke test, and
 * overrides from the environment (BENCH_*) or the command line (`npm run bench -- --e2e-seconds=10`).
 */

export interface BenchConfig {
  /** Part 1: routing decision cost in-process. */
  micro: {
    /** Instance counts of the routed service. */
    sizes: number[];
    /** Samples per case; the median is reported. */
    runs: number;
    /** Target duration of one sample, ms (the iteration count is calibrated to it, then fixed). */
    sampleMs: number;
    /** Also measure the cls-hooked lane context (last: it turns on async hooks for the whole process). */
    cls: boolean;
  };
  /** Part 2: end-to-end HTTP throughput and latency. */
  e2e: {
    /** Measured seconds per case, split into `rounds` slices run interleaved with the other cases. */
    seconds: number;
    rounds: number;
    /** Requests in flight per case (closed loop). */
    concurrency: number;
    /** Unmeasured warm-up per case before the first round, seconds. */
    warmupSeconds: number;
    /** Gray share for grayRoute (config znode) and nginx split_clients. */
    ratio: number;
    /** Hard cap on requests per slice, so that no loop is unbounded even on a fast machine. */
    maxRequestsPerSlice: number;
    /** Which of the cases a-f to run (all by default; one alone is for profiling). */
    cases: string[];
  };
  /** Part 3: change -> effect. */
  change: {
    /** Ratio writes (and as many gray-flag flips). */
    count: number;
    /** Longest wait for one change to be seen, ms. */
    timeoutMs: number;
  };
  /** Part 4: split accuracy. */
  split: { decisions: number; ratio: number };
  /** Part 5: scale. */
  scale: {
    services: number;
    instancesPerService: number;
    /** How long to keep counting reads after a change was seen, ms. */
    settleMs: number;
  };
  /** nginx binary: '' finds Debian's (PATH, /usr/sbin/nginx); 'none' skips case (c). */
  nginx: string;
  /** Parts to run (1-5); the others are reported as not run. For profiling one part. */
  parts: number[];
  /** Where latest.json and BENCHMARKS.md go. */
  resultsFile: string;
  markdownFile: string;
}

export const DEFAULT_CONFIG: BenchConfig = {
  micro: { sizes: [3, 100, 1000], runs: 11, sampleMs: 50, cls: true },
  // 0.5 s slices, 240 of them (about 12 minutes for the six cases): per-slice throughput on the 2-core VM moves by
  // ±30 % even when it is quiet, and it takes some 200 rounds to bring the 95 % interval of a median ratio to about
  // ±3 %; 40 rounds leave it at ±5-10 % (BENCHMARKS.md, section 2). `--e2e-seconds=20 --e2e-rounds=40` for a quick look.
  e2e: { seconds: 120, rounds: 240, concurrency: 32, warmupSeconds: 1, ratio: 33, maxRequestsPerSlice: 1_000_000, cases: ['a', 'b', 'c', 'd', 'e', 'f'] },
  change: { count: 200, timeoutMs: 2000 },
  split: { decisions: 100_000, ratio: 33 },
  scale: { services: 50, instancesPerService: 20, settleMs: 300 },
  nginx: '',
  parts: [1, 2, 3, 4, 5],
  resultsFile: 'bench/results/latest.json',
  markdownFile: 'BENCHMARKS.md',
};

/** A run of about ten seconds that exercises every part: what `npm test` runs. */
export const SMOKE_CONFIG: BenchConfig = {
  micro: { sizes: [3, 100], runs: 3, sampleMs: 5, cls: false },
  e2e: { seconds: 0.6, rounds: 2, concurrency: 4, warmupSeconds: 0.1, ratio: 33, maxRequestsPerSlice: 20_000, cases: ['a', 'b', 'c', 'd', 'e', 'f'] },
  change: { count: 20, timeoutMs: 2000 },
  split: { decisions: 10_000, ratio: 33 },
  scale: { services: 5, instancesPerService: 4, settleMs: 100 },
  nginx: '',
  parts: [1, 2, 3, 4, 5],
  // *.tmp: ignored by git (.gitignore), so that a smoke run leaves the committed results alone.
  resultsFile: 'bench/results/smoke-latest.json.tmp',
  markdownFile: 'bench/results/smoke-BENCHMARKS.md.tmp',
};

/** option name (as --name=value or BENCH_NAME) -> how it sets the config */
const SETTERS: Record<string, (config: BenchConfig, value: string) => void> = {
  'micro-sizes': (c, v) => (c.micro.sizes = list(v)),
  'micro-runs': (c, v) => (c.micro.runs = int(v, 1)),
  'micro-sample-ms': (c, v) => (c.micro.sampleMs = num(v, 1)),
  'micro-cls': (c, v) => (c.micro.cls = v !== '0' && v !== 'false'),
  'e2e-seconds': (c, v) => (c.e2e.seconds = num(v, 0.05)),
  'e2e-rounds': (c, v) => (c.e2e.rounds = int(v, 1)),
  concurrency: (c, v) => (c.e2e.concurrency = int(v, 1)),
  'e2e-warmup-seconds': (c, v) => (c.e2e.warmupSeconds = num(v, 0)),
  'e2e-ratio': (c, v) => (c.e2e.ratio = num(v, 0)),
  'max-requests-per-slice': (c, v) => (c.e2e.maxRequestsPerSlice = int(v, 1)),
  'e2e-cases': (c, v) => (c.e2e.cases = v.split(',').map((k) => k.trim()).filter((k) => ['a', 'b', 'c', 'd', 'e', 'f'].includes(k))),
  changes: (c, v) => (c.change.count = int(v, 1)),
  'change-timeout-ms': (c, v) => (c.change.timeoutMs = int(v, 1)),
  decisions: (c, v) => (c.split.decisions = int(v, 1)),
  'split-ratio': (c, v) => (c.split.ratio = num(v, 0)),
  'scale-services': (c, v) => (c.scale.services = int(v, 1)),
  'scale-instances': (c, v) => (c.scale.instancesPerService = int(v, 1)),
  'scale-settle-ms': (c, v) => (c.scale.settleMs = int(v, 0)),
  nginx: (c, v) => (c.nginx = v),
  parts: (c, v) => (c.parts = list(v).filter((n) => n >= 1 && n <= 5)),
  results: (c, v) => (c.resultsFile = v),
  markdown: (c, v) => (c.markdownFile = v),
};

export function num(value: string, min: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new Error(`bench: expected a number >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}
export function int(value: string, min: number): number {
  const n = num(value, min);
  if (!Number.isInteger(n)) throw new Error(`bench: expected a whole number, got ${JSON.stringify(value)}`);
  return n;
}
export function list(value: string): number[] {
  const sizes = value.split(',').map((part) => int(part.trim(), 1));
  if (sizes.length === 0) throw new Error('bench: expected a list of sizes such as 3,100,1000');
  return sizes;
}

export function cloneConfig(config: BenchConfig): BenchConfig {
  return JSON.parse(JSON.stringify(config)) as BenchConfig;
}

/** Env name of an option: `e2e-seconds` -> `BENCH_E2E_SECONDS`. */
export const envName = (option: string) => `BENCH_${option.toUpperCase().replace(/-/g, '_')}`;

export const OPTION_NAMES = Object.keys(SETTERS);

/**
 * The config for this run: the defaults (or the smoke preset with `--smoke` / BENCH_SMOKE=1), then BENCH_* from the
 * environment, then `--name=value` arguments. Returns what was overridden, for the report's command line.
 */
export function resolveConfig(argv: readonly string[], env: NodeJS.ProcessEnv): { config: BenchConfig; overrides: string[] } {
  const smoke = argv.includes('--smoke') || env.BENCH_SMOKE === '1';
  const config = cloneConfig(smoke ? SMOKE_CONFIG : DEFAULT_CONFIG);
  const overrides: string[] = smoke ? ['--smoke'] : [];
  applyOptions(config, SETTERS, argv, env, 'bench', overrides);
  return { config, overrides };
}

/**
 * Sets `config` from BENCH_* in the environment, then from `--name=value` arguments (`--smoke` is a preset, read
 * by the caller); pushes each override to `overrides`, for the report's command line.
 */
export function applyOptions<C>(config: C, setters: Record<string, (c: C, v: string) => unknown>, argv: readonly string[], env: NodeJS.ProcessEnv, command: string, overrides: string[]): void {
  const names = Object.keys(setters);
  for (const option of names) {
    const value = env[envName(option)];
    if (value !== undefined && value !== '') {
      setters[option](config, value);
      overrides.push(`${envName(option)}=${value}`);
    }
  }
  for (const arg of argv) {
    if (arg === '--smoke') continue;
    const match = /^--([a-z0-9-]+)=(.*)$/.exec(arg);
    if (!match || !setters[match[1]]) {
      throw new Error(`${command}: unknown argument ${JSON.stringify(arg)}; options: --smoke ${names.map((o) => `--${o}=`).join(' ')}`);
    }
    setters[match[1]](config, match[2]);
    overrides.push(arg);
  }
}
