/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): where the time goes under one function, by self time and
 * by inclusive time. How the analysis in BENCHMARKS.md was made:
 *
 *   ZK_CONNECT=... node --cpu-prof --cpu-prof-dir=/tmp/prof -r ts-node/register/transpile-only bench/run.ts \
 *     --parts=1 --micro-sizes=100 --micro-cls=0
 *   node -r ts-node/register/transpile-only bench/cpuprofile-summary.ts /tmp/prof/<file>.cpuprofile grayRouteInterceptor
 *
 * With no function name, the whole profile is summarised.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Summary {
  totalMs: number;
  self: [string, number][];
  inclusive: [string, number][];
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^.*\/(node_modules|src|bench)\//, '$1/').replace(/^file:\/\//, '');
  return `${functionName || '(anonymous)'} ${file}${file ? `:${lineNumber + 1}` : ''}`.slice(0, 120);
}

/** Shares (%) of the time spent under `root` (every frame when omitted). */
export function summarise(profile: Profile, root?: string, top = 20): Summary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const stack: ProfileNode[] = [];
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) stack.push(byId.get(id) as ProfileNode);
    const rootIndex = root === undefined ? stack.length - 1 : stack.findIndex((node) => node.callFrame.functionName === root);
    if (rootIndex < 0) continue;
    const delta = profile.timeDeltas[i] ?? 0;
    total += delta;
    const leaf = frameName(stack[0]);
    self.set(leaf, (self.get(leaf) ?? 0) + delta);
    const seen = new Set<string>();
    for (let j = 0; j <= rootIndex; j++) {
      const name = frameName(stack[j]);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + delta);
    }
  }
  const share = (entries: Map<string, number>): [string, number][] =>
    [...entries]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, micros]) => [name, Math.round((1000 * micros) / Math.max(total, 1)) / 10]);
  return { totalMs: Math.round(total / 1000), self: share(self), inclusive: share(inclusive) };
}

if (require.main === module) {
  const [file, root] = process.argv.slice(2);
  if (!file) {
    console.error('usage: cpuprofile-summary.ts FILE.cpuprofile [FUNCTION]');
    process.exit(2);
  }
  const summary = summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, root);
  console.log(`${summary.totalMs} ms of samples${root ? ` under ${root}` : ''}`);
  console.log('-- self time');
  for (const [name, pct] of summary.self) console.log(`${pct.toFixed(1).padStart(6)} %  ${name}`);
  console.log('-- inclusive time');
  for (const [name, pct] of summary.inclusive) console.log(`${pct.toFixed(1).padStart(6)} %  ${name}`);
}
