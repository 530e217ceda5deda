/**
 * The page's static files: the console's own (src/console/assets/, shipped in the package as they are: plain
 * HTML, CSS and JavaScript, no build step) and uPlot's, served from its installed package. All are read once at
 * start, compressed once (gzip), and served with an ETag; nothing is fetched from anywhere else, so the console
 * works on a closed network.
 *
 * Both places are found from graykit's package root (the nearest package.json named `graykit` above this module),
 * so the sources (ts-node, jest) and an installed `dist/` resolve them the same way.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { GrayKitError, MissingDependencyError } from '../errors';
import { graykitPackage } from '../version';

/** One file as served. */
export interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

/** The console's own files, in the package: `src/console/assets/` under the package root. */
export const ASSET_DIR = join('src', 'console', 'assets');

const OWN_FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

/** uPlot's files, from its package's `dist/`. */
const UPLOT_FILES: Record<string, string> = {
  'uPlot.iife.min.js': 'text/javascript; charset=utf-8',
  'uPlot.min.css': 'text/css; charset=utf-8',
};

/** graykit's package root, where the console's files are. */
export function packageRoot(): string {
  const found = graykitPackage();
  if (!found) throw new GrayKitError('ERR_GRAYKIT_MISSING_DEPENDENCY', `graykit: the console cannot find graykit's package.json above ${__dirname}: the package is incomplete (reinstall graykit)`);
  return found.dir;
}

function asset(type: string, body: Buffer): Asset {
  return { type, body, gzip: gzipSync(body, { level: 9 }), etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

/** Reads every file the page needs; throws a GrayKitError that says what is missing. */
export function loadAssets(): Map<string, Asset> {
  const base = packageRoot();
  const assets = new Map<string, Asset>();
  const ownDir = join(base, ASSET_DIR);
  for (const [name, type] of Object.entries(OWN_FILES)) {
    const file = join(ownDir, name);
    if (!existsSync(file)) throw new GrayKitError('ERR_GRAYKIT_MISSING_DEPENDENCY', `graykit: the console's file ${file} is missing: the package is incomplete (it must ship ${ASSET_DIR}/)`);
    assets.set(name, asset(type, readFileSync(file)));
  }
  let uplotDir: string;
  try {
    uplotDir = join(dirname(createRequire(join(base, 'package.json')).resolve('uplot/package.json')), 'dist');
  } catch (error) {
    throw new MissingDependencyError('uplot', 'the console\'s charts', { cause: error });
  }
  for (const [name, type] of Object.entries(UPLOT_FILES)) assets.set(name, asset(type, readFileSync(join(uplotDir, name))));
  return assets;
}
