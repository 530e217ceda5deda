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

const JAVASCRIPT = 'text/javascript; charset=utf-8';

/**
 * The console's own files, with their content types: the one list of what the page is made of. Its script is
 * native ES modules, served as they are: app.js starts the page and imports the rest. Each module is listed rather
 * than found by reading the directory, so a package without one fails at start, naming the file, instead of serving
 * a page whose import of it gets a 404.
 */
export const OWN_FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'app.js': JAVASCRIPT,
  'state.js': JAVASCRIPT,
  'dom.js': JAVASCRIPT,
  'format.js': JAVASCRIPT,
  'token.js': JAVASCRIPT,
  'routes.js': JAVASCRIPT,
  'stream.js': JAVASCRIPT,
  'chrome.js': JAVASCRIPT,
  'services-view.js': JAVASCRIPT,
  'charts.js': JAVASCRIPT,
  'service-view.js': JAVASCRIPT,
  'service-head.js': JAVASCRIPT,
  'service-actions.js': JAVASCRIPT,
  'service-rollout.js': JAVASCRIPT,
  'service-instances.js': JAVASCRIPT,
  'service-record.js': JAVASCRIPT,
  'writes.js': JAVASCRIPT,
};

/** The modules of the page's script (app.js and what it imports), in `OWN_FILES`' order. */
export const OWN_SCRIPTS: readonly string[] = Object.keys(OWN_FILES).filter((name) => OWN_FILES[name] === JAVASCRIPT);

/** uPlot's files, from its package's `dist/`. */
const UPLOT_FILES: Record<string, string> = {
  'uPlot.iife.min.js': JAVASCRIPT,
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

/**
 * Reads every file the page needs, under graykit's package root `base`; throws a GrayKitError that says what is
 * missing.
 */
export function loadAssets(base: string = packageRoot()): Map<string, Asset> {
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
