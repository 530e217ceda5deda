/**
 * The published build (`npm run build`; `prepare` runs it on `npm pack`, `npm publish`, `npm install`/`npm ci` in this
 * repository, and when npm installs graykit from git: npm runs only `prepare` for git dependencies, not `prepack`).
 *
 * Layout: one CommonJS build, and an ESM wrapper over it.
 *
 *   dist/index.cjs    + dist/index.d.cts   the library ("require" condition)
 *   dist/index.mjs    + dist/index.d.mts   `export * from './index.cjs'` ("import" condition)
 *   dist/cli/main.cjs                      the `graykit` bin (shebang, executable)
 *
 * Why a wrapper and not a second (ESM) copy of the code: an app that loads graykit both ways (its ESM code imports
 * it, a CommonJS dependency requires it) would otherwise get two copies of every module-level singleton — the lane
 * context backends that `grayContext()` and `grayRoute()` must share, and the error classes that `instanceof`
 * checks — and the lazy `require()` of optional peers (express, the zookeeper addon) works as it does in the source.
 * Node's cjs-module-lexer finds every named export of the CommonJS bundle, so `import { useGray } from 'graykit'`
 * works (scripts/installed checks the two export lists are equal).
 *
 * Why two declaration files with the same text: TypeScript reads `.d.mts` as ESM and `.d.cts` as CommonJS, and
 * resolves their `import ... from "axios"` (and the `declare module 'axios'` augmentation) with the matching
 * condition. An ESM app then gets its augmentation on axios's index.d.ts, a CommonJS app on axios's index.d.cts:
 * the axios types the app itself sees.
 *
 * Optional peers: the declarations import types from axios; an app that only provides (no axios installed) must
 * still type-check with skipLibCheck off, so those imports and the augmentation get a `// @ts-ignore` (the types
 * fall back to `any` there, and an app without axios does not call the axios helpers).
 */
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'tsdown';

// undici-types comes with @types/node: an app without it gets `any` for the dispatcher's undici side.
const OPTIONAL_PEERS = ['axios', 'undici-types'];

/** Marks the declarations' imports of optional peers, and their module augmentations, with `// @ts-ignore`. */
function ignoreOptionalPeers(dts: string): { text: string; marked: number } {
  const lines = dts.split('\n');
  const out: string[] = [];
  let marked = 0;
  for (const line of lines) {
    const peer = OPTIONAL_PEERS.find(
      (name) =>
        new RegExp(`^import .* from ["']${name}["'];$`).test(line) || new RegExp(`^declare module ["']${name}["'] \\{$`).test(line),
    );
    if (peer) {
      out.push(`// @ts-ignore ${peer} is an optional peer dependency: without it these types are any`);
      marked++;
    }
    out.push(line);
  }
  return { text: out.join('\n'), marked };
}

/** Every declaration file under dist/ (entries and the chunks they share), relative paths. */
function declarationFiles(dir = 'dist'): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? declarationFiles(join(dir, entry.name)) : entry.name.endsWith('.d.cts') ? [join(dir, entry.name)] : [],
  );
}

/** The entries users import (each gets an ESM wrapper), besides the bin. */
const LIBRARY_ENTRIES = { index: 'src/index.ts', layout: 'src/layout.ts' };

export default defineConfig({
  entry: { ...LIBRARY_ENTRIES, 'cli/main': 'src/cli/main.ts' },
  format: 'cjs',
  platform: 'node',
  target: 'node20.19',
  tsconfig: 'tsconfig.build.json',
  dts: true,
  // Types only, from @types/node: imported by the declarations, never inlined (an app resolves its own copy).
  deps: { neverBundle: ['undici-types'] },
  // Not shipped: the bundle is not minified, so stack traces already point at readable code.
  sourcemap: false,
  clean: true,
  // All of graykit's code in one shared chunk, the entries (index, layout, the bin) as thin facades over it: with
  // rolldown's default split, a shared chunk required index.cjs for a side effect while index.cjs required that chunk,
  // and the bin, loading the chunk first, read index's exports half-built (Node warned on every run). The declarations
  // keep the default split (their chunks are types only). The bin stays in its own file: it runs when it is the main module.
  outputOptions: (options, _format, { cjsDts }) =>
    cjsDts ? options : { ...options, codeSplitting: { groups: [{ name: 'graykit', test: /[\\/]src[\\/](?!cli[\\/]main\.ts$)/ }] } },
  hooks: {
    'build:done': () => {
      // The bin has no importable API.
      rmSync('dist/cli/main.d.cts', { force: true });
      let marked = 0;
      for (const cts of declarationFiles()) {
        const ignored = ignoreOptionalPeers(readFileSync(cts, 'utf8'));
        marked += ignored.marked;
        writeFileSync(cts, ignored.text);
        // The ESM twin: the same declarations, importing the ESM twins of the chunks they share.
        const mts = ignored.text.replace(/(from\s+["']\.\.?\/[^"']+)\.cjs(["'])/g, '$1.mjs$2');
        writeFileSync(cts.replace(/\.d\.cts$/, '.d.mts'), mts);
      }
      if (marked === 0) throw new Error('post-build: found no import of an optional peer to mark in the declarations');
      for (const entry of Object.keys(LIBRARY_ENTRIES)) writeFileSync(`dist/${entry}.mjs`, `export * from './${entry}.cjs';\n`);
    },
  },
});
