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
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { defineConfig } from 'tsdown';

const OPTIONAL_PEERS = ['axios'];

/** Marks the declarations' imports of optional peers, and their module augmentations, with `// @ts-ignore`. */
function ignoreOptionalPeers(dts: string): string {
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
  if (marked === 0) throw new Error('post-build: found no import of an optional peer to mark in dist/index.d.cts');
  return out.join('\n');
}

export default defineConfig({
  entry: { index: 'src/index.ts', 'cli/main': 'src/cli/main.ts' },
  format: 'cjs',
  platform: 'node',
  target: 'node22',
  tsconfig: 'tsconfig.build.json',
  dts: true,
  // Not shipped: the bundle is not minified, so stack traces already point at readable code.
  sourcemap: false,
  clean: true,
  hooks: {
    'build:done': () => {
      const cts = ignoreOptionalPeers(readFileSync('dist/index.d.cts', 'utf8'));
      // Copying is only right for a self-contained declaration bundle (no relative imports of other chunks).
      if (/from ["']\.\.?\//.test(cts)) throw new Error('post-build: dist/index.d.cts imports other files; the .d.mts copy needs them too');
      writeFileSync('dist/index.d.cts', cts);
      writeFileSync('dist/index.d.mts', cts);
      writeFileSync('dist/index.mjs', "export * from './index.cjs';\n");
      // The bin has no importable API.
      rmSync('dist/cli/main.d.cts', { force: true });
    },
  },
});
