/**
 * `npm run bench:scale`: the scale benchmark (bench/scale.ts) on a 3-node ZooKeeper ensemble of its own; writes
 * bench/results/scale.json, the SVG charts and BENCHMARKS.md's scale section (bench/scale-report.ts). Exits 0
 * whatever the figures (a missed target is reported, not a failure); 1 when nothing could be measured.
 *
 *   npm run bench:scale -- --consumers=10,100 --instances=100,1000     (or BENCH_CONSUMERS=10,100 ...)
 *   npm run bench:scale -- --smoke                                      (CI's size)
 *   npm run bench:scale -- --render                                     (the section and charts from the JSON)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { machineLine } from './machine';
import { runScaleBench, type ScaleResults } from './scale';
import { resolveScaleConfig } from './scale-config';
import { scaleTargets, updateScaleSection, writeScaleCharts } from './scale-report';

const REPO_ROOT = join(__dirname, '..');
const fromRoot = (path: string) => (isAbsolute(path) ? path : join(REPO_ROOT, path));

/** Writes the JSON, the charts and the markdown section; returns what was written. */
export function writeScaleResults(results: ScaleResults): string[] {
  const { config } = results;
  const json = fromRoot(config.json);
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
  const written = [json];
  const charts = config.charts ? writeScaleCharts(results, fromRoot(config.charts)) : [];
  written.push(...charts);
  if (config.doc) {
    const doc = fromRoot(config.doc);
    updateScaleSection(doc, results, { json, charts });
    written.push(doc);
  }
  return written;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const render = argv.includes('--render');
  const { config, overrides } = resolveScaleConfig(
    argv.filter((arg) => arg !== '--render'),
    process.env,
  );
  let results: ScaleResults;
  if (render) {
    results = JSON.parse(readFileSync(fromRoot(config.json), 'utf8')) as ScaleResults;
  } else {
    const command = `npm run bench:scale${overrides.length ? ` -- ${overrides.join(' ')}` : ''}`;
    results = await runScaleBench(config, { command, log: (line) => console.log(line) });
    console.log(machineLine(results.machine));
  }
  const written = writeScaleResults(results);
  console.log('');
  for (const row of scaleTargets(results)) console.log(`${row.verdict.padEnd(6)} ${row.measure}: ${row.result} (target ${row.target})`);
  console.log(`\nwrote ${written.map((file) => relative(process.cwd(), file)).join(', ')}`);
  if (!render && results.points.length === 0) process.exitCode = 1;
}

if (require.main === module) {
  // Ctrl-C or a kill: exit through process.exit, so that the ensemble's exit hook stops its servers by pid.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  main().then(
    // Exit explicitly: a native ZooKeeper handle must not hold the benchmark open.
    () => process.exit(process.exitCode ?? 0),
    (error) => {
      console.error((error as Error).stack ?? error);
      process.exit(1);
    },
  );
}
