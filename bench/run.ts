/**
 * `npm run bench`: runs every part of the benchmark once, side by side, and writes bench/results/latest.json and
 * BENCHMARKS.md. Needs ZK_CONNECT (scripts/with-zookeeper.sh sets it). Exits 0 whatever the figures.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { runBench, type BenchResults } from './bench';
import { resolveConfig, type BenchConfig } from './config';
import { machineInfo, machineLine } from './machine';
import { renderMarkdown } from './report';
import { evaluateTargets } from './targets';

const REPO_ROOT = join(__dirname, '..');

export function commandLine(overrides: string[]): string {
  const env = overrides.filter((o) => o.startsWith('BENCH_'));
  const args = overrides.filter((o) => o.startsWith('--'));
  const npm = `${env.length ? `${env.join(' ')} ` : ''}npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`;
  return `${npm}   (= bash scripts/with-zookeeper.sh node -r ts-node/register/transpile-only bench/run.ts${args.length ? ` ${args.join(' ')}` : ''})`;
}

/** Writes the JSON and the markdown; returns their paths. */
export function writeResults(results: BenchResults, config: BenchConfig): { json: string; markdown: string } {
  const json = isAbsolute(config.resultsFile) ? config.resultsFile : join(REPO_ROOT, config.resultsFile);
  const markdown = isAbsolute(config.markdownFile) ? config.markdownFile : join(REPO_ROOT, config.markdownFile);
  mkdirSync(dirname(json), { recursive: true });
  mkdirSync(dirname(markdown), { recursive: true });
  writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
  const shown = relative(dirname(markdown), json) || json;
  writeFileSync(markdown, renderMarkdown(results, shown));
  return { json, markdown };
}

/** `--render`: rewrite the markdown from the last results (after editing bench/analysis.md), measuring nothing. */
function render(argv: string[]): void {
  const { config } = resolveConfig(argv, process.env);
  const json = isAbsolute(config.resultsFile) ? config.resultsFile : join(REPO_ROOT, config.resultsFile);
  const results = JSON.parse(readFileSync(json, 'utf8')) as BenchResults;
  // Targets are re-evaluated, so that a changed label or bound shows without measuring again; the figures are kept.
  results.targets = evaluateTargets(results);
  const { markdown } = writeResults(results, results.config);
  console.log(`rendered ${relative(process.cwd(), markdown)} from ${relative(process.cwd(), json)}`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--render')) return render(argv.filter((arg) => arg !== '--render'));
  const { config, overrides } = resolveConfig(argv, process.env);
  const zk = process.env.ZK_CONNECT;
  if (!zk) throw new Error('bench: ZK_CONNECT is not set; run `npm run bench` (it starts a throwaway ZooKeeper)');
  const command = commandLine(overrides);
  console.log(machineLine(machineInfo()));
  console.log(`command: ${command}`);
  const results = await runBench(config, { zk, command, log: (line) => console.log(line) });
  const { json, markdown } = writeResults(results, config);
  console.log('');
  for (const row of results.targets) console.log(`${row.verdict.padEnd(6)} ${row.measure}: ${row.result}${row.target === '—' ? '' : ` (target ${row.target})`}`);
  console.log(`\nwrote ${relative(process.cwd(), json)} and ${relative(process.cwd(), markdown)} in ${results.seconds} s`);
}

if (require.main === module) {
  main().then(
    // Exit explicitly: a native ZooKeeper handle or a keep-alive socket must not hold the benchmark open.
    () => process.exit(0),
    (error) => {
      console.error((error as Error).stack ?? error);
      process.exit(1);
    },
  );
}
