/** graykit's own package: found upwards from this module, in the sources and in dist alike. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface GraykitPackage {
  /** The directory of graykit's package.json. */
  dir: string;
  version: string;
}

let cached: GraykitPackage | null | undefined;

/** The nearest directory above this module whose package.json is named `graykit`, or undefined (read once). */
export function graykitPackage(): GraykitPackage | undefined {
  if (cached !== undefined) return cached ?? undefined;
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'graykit') return (cached = { dir, version: pkg.version ?? 'unknown' });
      } catch {
        // Not JSON: keep looking upwards.
      }
    }
    if (dirname(dir) === dir) return (cached = null) ?? undefined;
  }
}

/** graykit's own version, or 'unknown' when its package.json cannot be found. */
export function graykitVersion(): string {
  return graykitPackage()?.version ?? 'unknown';
}
