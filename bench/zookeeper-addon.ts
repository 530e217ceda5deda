/**
 * Which build of the `zookeeper` addon a benchmark's processes load: the installed one (the default: what users
 * run, with graykit's guard against the addon's abort, zk-handle.ts afterRequest), or a copy with
 * patches/zookeeper-<version>-poll-handle.patch (scripts/zookeeper-patched.sh), the fix in the addon itself, for
 * comparing the two or measuring without the guard's re-attaches.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type AddonChoice = 'installed' | 'patched';
const REPO_ROOT = join(__dirname, '..');

/** Makes this process and every process it starts load `choice`; returns how to name it in the results. */
export function useZooKeeperAddon(choice: AddonChoice): string {
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/zookeeper/package.json'), 'utf8')) as { version: string }).version;
  if (choice === 'installed') return `zookeeper ${version} (the installed addon)`;
  const dir = execFileSync('bash', [join(REPO_ROOT, 'scripts/zookeeper-patched.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  process.env.GRAYKIT_ZOOKEEPER_ADDON = dir;
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --require ${join(__dirname, 'zookeeper-redirect.js')}`.trim();
  // This process too: the addon is loaded at the first connection, after this call.
  require('./zookeeper-redirect.js');
  return `zookeeper ${version} + patches/zookeeper-${version}-poll-handle.patch`;
}
